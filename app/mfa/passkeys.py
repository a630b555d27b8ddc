"""Passkeys (WebAuthn, with py_webauthn): registration, and the assertions that
prove one, as the second factor or alone (a passwordless sign-in).

A passkey is an MfaFactor of kind "passkey" (so factors.has_factor counts it)
with its credential in PasskeyCredential, keyed by the factor's id.

Challenges are server-side and single-use: the browser's session holds only a
random token, the WebAuthnChallenge row named by its digest holds the challenge,
its purpose and its account, and a verification first deletes that row (one
DELETE ... RETURNING): of two requests carrying the same response, one finds
the row, the other nothing. A challenge ends after WEBAUTHN_CHALLENGE_LIFETIME
whether used or not. Origin and RP ID come from the settings, never from the
request.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import SimpleNamespace

from flask import current_app, session
from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import (
    MfaFactor,
    PasskeyCredential,
    User,
    WebAuthnChallenge,
    delete_rows,
    hash_session_token,
    utcnow,
)
from ..sessions import hold_token

PASSKEY = "passkey"
SESSION_KEY = "webauthn_challenge"
REGISTER, SECOND_FACTOR, SIGN_IN = "register", "second_factor", "sign_in"
# A signed-in user confirming a change with a passkey instead of a code.
REAUTH = "reauth"
# A credential response larger than this is not one a browser makes.
MAX_RESPONSE_LENGTH = 16 * 1024


@cache
def _webauthn() -> SimpleNamespace:
    """py_webauthn, imported by the first passkey operation of a worker, not with
    the app: its attestation formats' ASN.1 schemas were a third of the app's
    import time (about 0.12 s of every cold start) and ~7 MiB of each worker, and
    most requests never need it."""
    import webauthn
    from webauthn.helpers import base64url_to_bytes, structs
    from webauthn.helpers.exceptions import WebAuthnException

    return SimpleNamespace(
        generate_authentication_options=webauthn.generate_authentication_options,
        generate_registration_options=webauthn.generate_registration_options,
        options_to_json=webauthn.options_to_json,
        verify_authentication_response=webauthn.verify_authentication_response,
        verify_registration_response=webauthn.verify_registration_response,
        base64url_to_bytes=base64url_to_bytes,
        WebAuthnException=WebAuthnException,
        structs=structs,
        transports={t.value for t in structs.AuthenticatorTransport},
    )


class PasskeyError(Exception):
    """The response proves nothing: reason is "expired" (no usable challenge),
    "unknown" (no such passkey here), "invalid" (the library refused it),
    "counter" (the signature counter went backwards)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason


def enabled() -> bool:
    return bool(current_app.config["WEBAUTHN_ENABLED"])


# --- challenges ----------------------------------------------------------------------------------


def _issue(
    purpose: str, user_id: int | None, name: str | None = None, user_handle: bytes | None = None
) -> bytes:
    """A fresh challenge for this browser, replacing any earlier one of it. Commits."""
    now = utcnow()
    previous = session.get(SESSION_KEY)
    if isinstance(previous, str) and len(previous) <= 128:
        db.session.execute(
            delete(WebAuthnChallenge).where(WebAuthnChallenge.id == hash_session_token(previous))
        )
    # Expired challenges go now, whoever they were for: the table stays bounded
    # even when nobody runs `flask purge`.
    purge_expired(now)
    challenge = secrets.token_bytes(32)
    hold_token(
        SESSION_KEY,
        WebAuthnChallenge,
        user_id,
        now,
        expires_at=now + current_app.config["WEBAUTHN_CHALLENGE_LIFETIME"],
        purpose=purpose,
        challenge=challenge,
        name=name,
        user_handle=user_handle,
    )
    return challenge


@dataclass(frozen=True)
class Issued:
    challenge: bytes
    user_id: int | None
    name: str | None
    user_handle: bytes | None


def _consume(purpose: str, now: datetime | None = None) -> Issued:
    """Take this browser's challenge for `purpose`, once. The caller commits."""
    token = session.pop(SESSION_KEY, None)
    if not isinstance(token, str) or len(token) > 128:
        raise PasskeyError("expired", "no challenge in this session")
    row = db.session.execute(
        delete(WebAuthnChallenge)
        .where(WebAuthnChallenge.id == hash_session_token(token))
        .returning(
            WebAuthnChallenge.purpose,
            WebAuthnChallenge.user_id,
            WebAuthnChallenge.challenge,
            WebAuthnChallenge.name,
            WebAuthnChallenge.user_handle,
            WebAuthnChallenge.expires_at,
        )
    ).first()
    if row is None or row.purpose != purpose or row.expires_at <= (now or utcnow()):
        raise PasskeyError("expired", "the challenge is unknown, used, expired or for something else")
    handle = bytes(row.user_handle) if row.user_handle is not None else None
    return Issued(bytes(row.challenge), row.user_id, row.name, handle)


def purge_expired(now: datetime) -> int:
    return delete_rows(WebAuthnChallenge, WebAuthnChallenge.expires_at <= now)


# --- what an account has -------------------------------------------------------------------------


def credentials(user_id: int) -> list[PasskeyCredential]:
    return list(
        db.session.scalars(
            select(PasskeyCredential)
            .where(PasskeyCredential.user_id == user_id)
            .order_by(PasskeyCredential.factor_id)
        )
    )


def passkeys(user_id: int) -> list[MfaFactor]:
    """The account's passkey factors (name, created, last used), oldest first."""
    return list(
        db.session.scalars(
            select(MfaFactor)
            .where(MfaFactor.user_id == user_id, MfaFactor.kind == PASSKEY)
            .order_by(MfaFactor.id)
        )
    )


def _descriptors(user_id: int) -> list:
    w = _webauthn()
    found = []
    for credential in credentials(user_id):
        transports = [
            w.structs.AuthenticatorTransport(t)
            for t in (credential.transports or "").split(",")
            if t in w.transports
        ]
        found.append(
            w.structs.PublicKeyCredentialDescriptor(id=bytes(credential.credential_id), transports=transports)
        )
    return found


def _user_handle(user_id: int) -> bytes:
    """The account's WebAuthn user handle: random (no personal data in it), the
    same for each of its passkeys."""
    existing = db.session.scalar(
        select(PasskeyCredential.user_handle).where(PasskeyCredential.user_id == user_id).limit(1)
    )
    return bytes(existing) if existing is not None else secrets.token_bytes(32)


def _settings() -> tuple[str, str]:
    config = current_app.config
    return config["WEBAUTHN_RP_ID"], config["WEBAUTHN_ORIGIN"]


def _timeout_ms() -> int:
    return int(current_app.config["WEBAUTHN_CHALLENGE_LIFETIME"].total_seconds() * 1000)


# --- registration --------------------------------------------------------------------------------


def registration_options(user: User, name: str) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge is
    kept for this browser and this account. Commits."""
    rp_id, _origin = _settings()
    handle = _user_handle(user.id)
    existing = _descriptors(user.id)
    challenge = _issue(REGISTER, user.id, name, handle)
    w = _webauthn()
    options = w.generate_registration_options(
        rp_id=rp_id,
        rp_name=current_app.config["WEBAUTHN_RP_NAME"],
        user_id=handle,
        user_name=user.email,
        user_display_name=user.username,
        challenge=challenge,
        timeout=_timeout_ms(),
        attestation=w.structs.AttestationConveyancePreference.NONE,
        authenticator_selection=w.structs.AuthenticatorSelectionCriteria(
            resident_key=w.structs.ResidentKeyRequirement.REQUIRED,
            user_verification=w.structs.UserVerificationRequirement.REQUIRED,
        ),
        # The same authenticator twice would be one device under two names.
        exclude_credentials=existing,
    )
    return w.options_to_json(options)


def register(user: User, response: str) -> MfaFactor:
    """Verify navigator.credentials.create()'s answer and keep the passkey
    (enabled at once). Raises PasskeyError. The caller commits."""
    issued = _consume(REGISTER)
    if issued.user_id != user.id or issued.user_handle is None:
        raise PasskeyError("expired", "the challenge was issued to another account")
    rp_id, origin = _settings()
    try:
        verified = _webauthn().verify_registration_response(
            credential=_bounded(response),
            expected_challenge=issued.challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except (_webauthn().WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyError("invalid", str(exc)) from None
    taken = db.session.scalar(
        select(PasskeyCredential.factor_id).where(PasskeyCredential.credential_id == verified.credential_id)
    )
    if taken is not None:
        raise PasskeyError("invalid", "this credential is already registered")
    now = utcnow()
    factor = MfaFactor(
        user_id=user.id,
        kind=PASSKEY,
        name=(issued.name or "Passkey")[:64],
        created_at=now,
        enabled_at=now,
    )
    db.session.add(factor)
    db.session.flush()
    db.session.add(
        PasskeyCredential(
            factor_id=factor.id,
            user_id=user.id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=_transports(response),
            user_handle=issued.user_handle,
            backed_up=bool(verified.credential_backed_up),
        )
    )
    return factor


def _bounded(response: str) -> str:
    if not isinstance(response, str) or not response or len(response) > MAX_RESPONSE_LENGTH:
        raise PasskeyError("invalid", "no credential, or too large")
    return response


def _transports(response: str) -> str | None:
    try:
        listed = json.loads(response).get("response", {}).get("transports") or []
    except (ValueError, AttributeError):
        return None
    kept = [t for t in listed if isinstance(t, str) and t in _webauthn().transports]
    return ",".join(kept)[:255] or None


# --- assertions ----------------------------------------------------------------------------------


def authentication_options(purpose: str, user_id: int | None = None) -> str:
    """Options for navigator.credentials.get(), as JSON. A passwordless sign-in
    (user_id None) lists no credential (the authenticator offers its
    discoverable ones) and requires user verification. Commits."""
    rp_id, _origin = _settings()
    allowed = _descriptors(user_id) if user_id is not None else []
    challenge = _issue(purpose, user_id)
    w = _webauthn()
    options = w.generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=_timeout_ms(),
        allow_credentials=allowed,
        user_verification=(
            w.structs.UserVerificationRequirement.REQUIRED
            if purpose == SIGN_IN
            else w.structs.UserVerificationRequirement.PREFERRED
        ),
    )
    return w.options_to_json(options)


@dataclass(frozen=True)
class Assertion:
    user_id: int
    factor_id: int


def _credential_id(response: str) -> bytes:
    try:
        data = json.loads(response)
        return _webauthn().base64url_to_bytes(data["rawId"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PasskeyError("invalid", "no credential id") from None


def verify_assertion(
    purpose: str, response: str, now: datetime | None = None, *, user_id: int | None = None
) -> Assertion:
    """Check navigator.credentials.get()'s answer against this browser's challenge
    for `purpose` and the passkey it names, and record its use (new counter,
    last used). Raises PasskeyError. The caller commits (the challenge is spent
    either way)."""
    issued = _consume(purpose, now)
    if user_id is not None and issued.user_id != user_id:
        raise PasskeyError("expired", "the challenge was issued to another account")
    response = _bounded(response)
    credential = db.session.scalar(
        select(PasskeyCredential).where(PasskeyCredential.credential_id == _credential_id(response))
    )
    if credential is None or (issued.user_id is not None and credential.user_id != issued.user_id):
        raise PasskeyError("unknown", "no passkey with that id for this sign-in")
    if purpose == SIGN_IN:
        handle = _returned_user_handle(response)
        if handle is None or handle != bytes(credential.user_handle):
            raise PasskeyError("invalid", "the user handle does not match the passkey's account")
    rp_id, origin = _settings()
    stored_count = int(credential.sign_count)
    try:
        verified = _webauthn().verify_authentication_response(
            credential=response,
            expected_challenge=issued.challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=bytes(credential.public_key),
            credential_current_sign_count=stored_count,
            require_user_verification=purpose == SIGN_IN,
        )
    except (_webauthn().WebAuthnException, ValueError, KeyError, TypeError) as exc:
        message = str(exc)
        reason = "counter" if "sign count" in message.lower() else "invalid"
        raise PasskeyError(reason, message) from None
    # py_webauthn refused a counter that did not grow when either count is non-zero
    # (a cloned authenticator); two zeros mean an authenticator that keeps none.
    new_count = int(verified.new_sign_count)
    # Only over the counter that was checked: two uses of one authenticator at
    # once cannot both move it.
    moved = db.session.execute(
        update(PasskeyCredential)
        .where(
            PasskeyCredential.factor_id == credential.factor_id, PasskeyCredential.sign_count == stored_count
        )
        .values(sign_count=new_count, backed_up=bool(verified.credential_backed_up))
        .returning(PasskeyCredential.factor_id)
    ).first()
    if moved is None:
        raise PasskeyError("counter", "the counter moved meanwhile")
    db.session.execute(
        update(MfaFactor).where(MfaFactor.id == credential.factor_id).values(last_used_at=now or utcnow())
    )
    return Assertion(credential.user_id, credential.factor_id)


def _returned_user_handle(response: str) -> bytes | None:
    try:
        raw = json.loads(response)["response"].get("userHandle")
        return _webauthn().base64url_to_bytes(raw) if raw else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def remove(user_id: int, factor_id: int) -> bool:
    """Delete one of the account's passkeys (its credential goes with it). The caller commits."""
    result = db.session.execute(
        delete(MfaFactor).where(
            MfaFactor.id == factor_id, MfaFactor.user_id == user_id, MfaFactor.kind == PASSKEY
        )
    )
    return bool(result.rowcount)
