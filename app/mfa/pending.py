"""The pending sign-in: after a right password, before the second factor.

The browser's (signed) session cookie holds only a random token; the row it
names (MfaPendingSignIn, by the token's SHA-256) holds the account, the
credential version the password was checked against, the lockout scope and
where to go next, and ends after PENDING_LIFETIME whatever the client keeps.
Nobody is signed in meanwhile (no session row, no Flask-Login identity), so no
account page opens; completing it starts a fresh session (sessions.sign_in,
which clears the cookie's old contents: no fixation).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import session
from sqlalchemy import delete, select

from ..extensions import db
from ..models import MfaPendingSignIn, delete_rows, hash_session_token, increment, utcnow
from ..sessions import hold_token

PENDING_LIFETIME = timedelta(minutes=5)
MAX_FAILURES = 5
SESSION_KEY = "mfa_pending"


def start(
    user_id: int, *, credential_version: int, device_id: str | None, remember: bool, next_url: str
) -> None:
    """Hold the sign-in server-side and give this browser its token. Commits."""
    now = utcnow()
    # The account's finished or abandoned steps go now: rows stay bounded.
    db.session.execute(
        delete(MfaPendingSignIn).where(
            MfaPendingSignIn.user_id == user_id, MfaPendingSignIn.expires_at <= now
        )
    )
    # A fresh session: whatever the cookie held before goes (no fixation).
    session.clear()
    hold_token(
        SESSION_KEY,
        MfaPendingSignIn,
        user_id,
        now,
        expires_at=now + PENDING_LIFETIME,
        credential_version=credential_version,
        device_id=device_id,
        remember=remember,
        next_url=next_url,
    )


def current(now: datetime | None = None) -> MfaPendingSignIn | None:
    """This browser's pending sign-in, if it has one that has not expired."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) > 128:
        return None
    return db.session.scalar(
        select(MfaPendingSignIn).where(
            MfaPendingSignIn.id == hash_session_token(token), MfaPendingSignIn.expires_at > (now or utcnow())
        )
    )


def has_token() -> bool:
    return SESSION_KEY in session


def count_failure(pending_id: str) -> int:
    """One more wrong code, atomically; the new count (0: the row is gone). The caller commits."""
    failures = increment(MfaPendingSignIn.failures, pending_id)
    return failures or 0


def finish(pending_id: str) -> bool:
    """Delete the row; False when another request finished it first. The caller commits."""
    result = db.session.execute(delete(MfaPendingSignIn).where(MfaPendingSignIn.id == pending_id))
    session.pop(SESSION_KEY, None)
    return bool(result.rowcount)


def forget() -> None:
    session.pop(SESSION_KEY, None)


def purge_expired(now: datetime) -> int:
    return delete_rows(MfaPendingSignIn, MfaPendingSignIn.expires_at <= now)
