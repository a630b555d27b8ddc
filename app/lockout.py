"""Account lockout that parallel guesses cannot outrun and strangers cannot
turn against the owner.

Counting: a failure is counted, and the lock set, in one conditional
``UPDATE ... WHERE not locked ... RETURNING`` issued after the password hash
was checked, never from a value read before it. However many attempts arrive
at once, at most LOCKOUT_THRESHOLD of them are counted per lock: the others
find the row locked (the database serialises the updates of one row) and are
refused as locked, and a right password arriving after the lock was set is
refused too. Failures older than LOCKOUT_WINDOW (from the first failure of a
window) no longer count.

Scope (OWASP's device cookie): after a successful sign-in the browser gets a
signed, HttpOnly cookie bound to the account, naming a TrustedDevice row.
Attempts carrying a valid one are counted and locked on that row, per
browser; attempts without one are counted on the account's own row, as
"untrusted clients". A stranger can lock out unknown clients, never the
owner's known browser.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import case, literal, or_, select, update

from .extensions import db
from .models import TrustedDevice, User, UTCDateTime
from .tokens import signer

_DEVICE_SALT = "flask-auth/device"


@dataclass(frozen=True)
class Scope:
    """Where an attempt's failures are counted: a trusted device or the account itself."""

    model: type[User] | type[TrustedDevice]
    key: int | str

    @property
    def trusted(self) -> bool:
        return self.model is TrustedDevice


def _serializer() -> URLSafeTimedSerializer:
    return signer(_DEVICE_SALT)


def _device_id(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def trusted_device(user_id: int) -> str | None:
    """The TrustedDevice id named by this request's device cookie, when the
    cookie is validly signed for this account, not too old, and its row exists."""
    raw = request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"])
    if not raw or len(raw) > 512:
        return None
    max_age = int(current_app.config["DEVICE_COOKIE_LIFETIME"].total_seconds())
    try:
        data = _serializer().loads(raw, max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict) or data.get("u") != user_id or not isinstance(data.get("n"), str):
        return None
    device_id = _device_id(data["n"])
    found = db.session.scalar(
        select(TrustedDevice.id).where(TrustedDevice.id == device_id, TrustedDevice.user_id == user_id)
    )
    return found


def scope_for(user_id: int, device_id: str | None) -> Scope:
    return Scope(TrustedDevice, device_id) if device_id else Scope(User, user_id)


def _not_locked(model, now: datetime):
    return or_(model.locked_until.is_(None), model.locked_until <= now)


def _at(moment: datetime | None):
    return literal(moment, UTCDateTime())


def record_failure(scope: Scope, now: datetime) -> str:
    """Count one wrong password in scope, atomically. Returns "counted",
    "locked_now" (this failure set the lock) or "locked" (already locked:
    the attempt was not counted)."""
    config = current_app.config
    model = scope.model
    fresh = or_(
        model.failed_login_window_start.is_(None),
        model.failed_login_window_start <= now - config["LOCKOUT_WINDOW"],
    )
    count = case((fresh, 1), else_=model.failed_login_count + 1)
    locks = count >= config["LOCKOUT_THRESHOLD"]
    row = db.session.execute(
        update(model)
        .where(model.id == scope.key, _not_locked(model, now))
        .values(
            failed_login_count=case((locks, 0), else_=count),
            failed_login_window_start=case(
                (locks, _at(None)), (fresh, _at(now)), else_=model.failed_login_window_start
            ),
            locked_until=case((locks, _at(now + config["LOCKOUT_DURATION"])), else_=_at(None)),
        )
        .returning(model.locked_until)
    ).first()
    if row is None:
        return "locked"
    return "locked_now" if row.locked_until is not None else "counted"


def record_success(
    scope: Scope,
    user_id: int,
    credential_version: int,
    now: datetime,
    rehash: tuple[str, str] | None = None,
    *,
    complete: bool = True,
) -> bool:
    """Mark a right password as a sign-in, atomically; False when the scope was
    locked meanwhile or the password changed since its hash was read.

    rehash is (the hash that was checked, its replacement): the replacement
    is stored only over that very hash, so a password changed meanwhile (or a
    parallel sign-in's rehash) is never overwritten, and losing that race
    does not refuse the sign-in.

    complete=False is the password step of a two-step sign-in: the same
    checks, but no failure is cleared (nor last_login_at set) until the
    second step completes, or the password alone would wipe the wrong codes
    counted so far and someone without the second factor could guess codes
    for ever, a few at a time."""
    if not complete:
        check = select(User.id).where(User.id == user_id, User.credential_version == credential_version)
        if scope.trusted:
            check = check.join(TrustedDevice, TrustedDevice.user_id == User.id).where(
                TrustedDevice.id == scope.key, _not_locked(TrustedDevice, now)
            )
        else:
            check = check.where(_not_locked(User, now))
        allowed = db.session.execute(check).first()
        if allowed is None:
            return False
        _store_rehash(user_id, rehash)
        return True
    cleared = {"failed_login_count": 0, "failed_login_window_start": None, "locked_until": None}
    if scope.trusted:
        device = db.session.execute(
            update(TrustedDevice)
            .where(TrustedDevice.id == scope.key, _not_locked(TrustedDevice, now))
            .values(last_used_at=now, **cleared)
            .returning(TrustedDevice.id)
        ).first()
        if device is None:
            return False
    values: dict[str, object] = {"last_login_at": now}
    if not scope.trusted:
        values.update(cleared)
    statement = update(User).where(User.id == user_id, User.credential_version == credential_version)
    if not scope.trusted:
        statement = statement.where(_not_locked(User, now))
    if db.session.execute(statement.values(**values).returning(User.id)).first() is None:
        return False
    _store_rehash(user_id, rehash)
    return True


def _store_rehash(user_id: int, rehash: tuple[str, str] | None) -> None:
    if rehash is not None:
        checked_hash, new_hash = rehash
        db.session.execute(
            update(User)
            .where(User.id == user_id, User.password_hash == checked_hash)
            .values(password_hash=new_hash)
        )


def trust_device(response: Response, user_id: int, device_id: str | None, now: datetime) -> None:
    """After a sign-in: keep this browser's device cookie, or give it one."""
    if device_id is not None:
        return
    nonce = secrets.token_urlsafe(32)
    db.session.add(TrustedDevice(id=_device_id(nonce), user_id=user_id, created_at=now, last_used_at=now))
    config = current_app.config
    response.set_cookie(
        config["DEVICE_COOKIE_NAME"],
        _serializer().dumps({"u": user_id, "n": nonce}),
        max_age=int(config["DEVICE_COOKIE_LIFETIME"].total_seconds()),
        secure=config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",
    )


def unlock(user_id: int) -> None:
    """Lift every lock of the account: unknown clients and each known device."""
    cleared = {"failed_login_count": 0, "failed_login_window_start": None, "locked_until": None}
    db.session.execute(update(User).where(User.id == user_id).values(**cleared))
    db.session.execute(update(TrustedDevice).where(TrustedDevice.user_id == user_id).values(**cleared))
