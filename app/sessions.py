"""Server-side sessions: Flask-Login's user id is a random session token whose
digest is a UserSession row. Deleting the row ends the session, whatever
copies of the cookie exist."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import delete, select, update

from .extensions import db, login_manager
from .models import User, UserSession, hash_session_token, utcnow
from .observability import log_event


def _expiry_reason(user_session: UserSession, now: datetime) -> str | None:
    config = current_app.config
    lifetime = config["REMEMBER_LIFETIME"] if user_session.remember else config["SESSION_LIFETIME"]
    if now - user_session.created_at > lifetime:
        return "lifetime_exceeded"
    # Remember-me sessions exist to outlive idleness; only their absolute
    # lifetime ends them.
    if not user_session.remember and now - user_session.last_seen_at > config["SESSION_IDLE_TIMEOUT"]:
        return "idle_timeout"
    return None


@login_manager.user_loader
def load_user(token: str) -> User | None:
    if not token or len(token) > 128:
        return None
    user_session = db.session.get(UserSession, hash_session_token(token))
    if user_session is None:
        return None
    now = utcnow()
    reason = _expiry_reason(user_session, now)
    if reason:
        user_id = user_session.user_id
        db.session.delete(user_session)
        db.session.commit()
        log_event("session.ended", user_id=user_id, reason=reason)
        return None
    # Write last_seen_at at most once per interval, not on every request.
    if now - user_session.last_seen_at >= current_app.config["SESSION_TOUCH_INTERVAL"]:
        db.session.execute(
            update(UserSession).where(UserSession.id == user_session.id).values(last_seen_at=now)
        )
        db.session.commit()
        user_session = db.session.get(UserSession, user_session.id)
        if user_session is None:  # ended by another request meanwhile
            return None
    user = user_session.user
    user.session_token = token
    user.current_session = user_session
    return user


def client_user_agent() -> str | None:
    value = request.headers.get("User-Agent")
    return value[:255] if value else None


def sign_in(user: User, *, remember: bool) -> None:
    """Start a fresh session for user; any identity the old cookie held is dropped."""
    session.clear()
    token = UserSession.start(user, ip=request.remote_addr, user_agent=client_user_agent(), remember=remember)
    db.session.commit()
    user.session_token = token
    login_user(user, remember=remember)


def sign_out(user: User, reason: str = "logout") -> None:
    """End the current session in the database and in the browser."""
    current = getattr(user, "current_session", None)
    if current is not None:
        db.session.execute(delete(UserSession).where(UserSession.id == current.id))
        db.session.commit()
        log_event("session.ended", user_id=user.id, reason=reason)
    logout_user()
    session.clear()


def end_other_sessions(user: User, reason: str) -> int:
    """End every session of user except the one serving this request."""
    keep = user.current_session.id if user.current_session else None
    statement = delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        statement = statement.where(UserSession.id != keep)
    count = db.session.execute(statement).rowcount or 0
    db.session.commit()
    if count:
        log_event("session.ended", user_id=user.id, reason=reason, count=count)
    return count


def active_sessions(user: User) -> list[UserSession]:
    now = utcnow()
    rows = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.last_seen_at.desc())
    ).all()
    return [row for row in rows if _expiry_reason(row, now) is None]
