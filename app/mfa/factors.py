"""Second factors: TOTP (RFC 6238) and single-use recovery codes.

Every check that consumes something is one conditional UPDATE, so however
many requests carry the same code at once, at most one of them succeeds: the
database serialises the updates of a row, and the losers find the condition
false when they get their turn.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, exists, func, select, update

from ..extensions import db
from ..models import MfaFactor, MfaRecoveryCode, User, utcnow
from . import crypto

TOTP = "totp"
# Accepted around the server's time step: one step (30 s) either side.
TOTP_WINDOW = 1
TOTP_DIGITS = 6
RECOVERY_CODE_COUNT = 10
# 16 characters of a 32-symbol alphabet (no 0/O, 1/I): 80 random bits per code.
RECOVERY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
RECOVERY_LENGTH = 16

_DIGITS = re.compile(rf"^[0-9]{{{TOTP_DIGITS}}}$")
_RECOVERY = re.compile(rf"^[{RECOVERY_ALPHABET}]{{{RECOVERY_LENGTH}}}$")


# --- which factors an account has ----------------------------------------------------------------


def enabled():
    """SQL for "this factor is in use" (not an enrolment in progress)."""
    return MfaFactor.enabled_at.is_not(None)


def has_factor(user_id: int) -> bool:
    """Whether the account has any enabled second factor, whatever its kind."""
    return bool(db.session.scalar(select(exists().where(MfaFactor.user_id == user_id, enabled()))))


def enabled_factors(user_id: int, kind: str | None = None) -> list[MfaFactor]:
    query = select(MfaFactor).where(MfaFactor.user_id == user_id, enabled()).order_by(MfaFactor.id)
    if kind is not None:
        query = query.where(MfaFactor.kind == kind)
    return list(db.session.scalars(query))


def enrolment(user_id: int) -> MfaFactor | None:
    """The TOTP enrolment in progress (its secret shown, not yet confirmed), if any."""
    return db.session.scalars(
        select(MfaFactor).where(
            MfaFactor.user_id == user_id, MfaFactor.kind == TOTP, MfaFactor.enabled_at.is_(None)
        )
    ).first()


# --- TOTP ----------------------------------------------------------------------------------------


def start_totp_enrolment(user: User) -> MfaFactor:
    """A new secret, stored encrypted in a row that counts for nothing until a
    code proves the authenticator has it. Replaces an earlier unfinished one."""
    db.session.execute(
        delete(MfaFactor).where(
            MfaFactor.user_id == user.id, MfaFactor.kind == TOTP, MfaFactor.enabled_at.is_(None)
        )
    )
    factor = MfaFactor(
        user_id=user.id,
        kind=TOTP,
        name="Authenticator app",
        secret=crypto.encrypt(pyotp.random_base32()),
        created_at=utcnow(),
    )
    db.session.add(factor)
    return factor


def totp_secret(factor: MfaFactor) -> str:
    return crypto.decrypt(factor.secret)


def provisioning_uri(factor: MfaFactor, user: User) -> str:
    return pyotp.TOTP(totp_secret(factor)).provisioning_uri(
        name=user.email, issuer_name=current_app.config["MFA_ISSUER"]
    )


def qr_data_uri(uri: str) -> str:
    """The otpauth:// URI as an SVG QR code in a data: URI (an <img>, which the
    CSP allows: nothing inline runs, and no third party sees the secret)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    # Every candidate is compared (no early exit), in constant time.
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def use_totp(factor: MfaFactor, code: str, now: datetime | None = None) -> str:
    """Check a code against the factor and, when right, consume its time step.

    Returns "ok", "wrong" or "replayed" (right, but its step, or a later one,
    was already used). The caller commits.
    """
    now = now or utcnow()
    if not _DIGITS.match(code):
        return "wrong"
    stored = factor.secret
    step = _matching_step(crypto.decrypt(stored), code, now)
    if step is None:
        return "wrong"
    values: dict[str, object] = {"last_used_step": step, "last_used_at": now}
    if crypto.needs_reencryption(stored):
        values["secret"] = crypto.reencrypt(stored)
    claimed = db.session.execute(
        update(MfaFactor)
        .where(
            MfaFactor.id == factor.id,
            (MfaFactor.last_used_step.is_(None)) | (MfaFactor.last_used_step < step),
        )
        .values(**values)
        .returning(MfaFactor.id)
    ).first()
    return "ok" if claimed is not None else "replayed"


# --- recovery codes ------------------------------------------------------------------------------


def normalize_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def _digest(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()


def format_recovery_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def new_recovery_codes(user_id: int) -> list[str]:
    """Void the account's codes and make RECOVERY_CODE_COUNT new ones; the codes
    in clear are returned once, only their digests are stored. The caller commits."""
    db.session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    now = utcnow()
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    for code in codes:
        db.session.add(MfaRecoveryCode(user_id=user_id, code_hash=_digest(code), created_at=now))
    return [format_recovery_code(code) for code in codes]


def recovery_codes_left(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
    )


def use_recovery_code(user_id: int, code: str, now: datetime | None = None) -> bool:
    """Mark the code used if it is one of the account's unused ones. The caller commits."""
    normalized = normalize_recovery_code(code)
    if not _RECOVERY.match(normalized):
        return False
    used = db.session.execute(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user_id,
            MfaRecoveryCode.code_hash == _digest(normalized),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now or utcnow())
        .returning(MfaRecoveryCode.id)
    ).first()
    return used is not None


# --- one entry point for "prove the second factor" -----------------------------------------------


@dataclass(frozen=True)
class Proof:
    ok: bool
    method: str  # "totp" or "recovery_code" (what the code looked like)
    reason: str | None = None  # when not ok: "wrong" or "replayed"


def verify(user_id: int, code: str) -> Proof:
    """A code typed as the second factor: a TOTP code of one of the account's
    authenticators, or one of its recovery codes (consumed). The caller commits."""
    code = (code or "").strip()
    compact = re.sub(r"\s", "", code)
    if _DIGITS.match(compact):
        reasons = []
        for factor in enabled_factors(user_id, TOTP):
            result = use_totp(factor, compact)
            if result == "ok":
                return Proof(True, TOTP)
            reasons.append(result)
        return Proof(False, TOTP, "replayed" if "replayed" in reasons else "wrong")
    if use_recovery_code(user_id, code):
        return Proof(True, "recovery_code")
    return Proof(False, "recovery_code", "wrong")


def remove_all(user_id: int) -> int:
    """Delete every factor (enrolments too) and recovery code of the account;
    returns how many enabled factors there were. The caller commits."""
    count = len(enabled_factors(user_id))
    db.session.execute(delete(MfaFactor).where(MfaFactor.user_id == user_id))
    db.session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    return count
