"""Server-side sessions: Flask-Login's user id is a random session token whose
digest is a UserSession row. Deleting the row ends the session, whatever
copies of the cookie exist."""

from __future__ import annotations

from datetime import datetime

from flask import after_this_request, current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import and_, delete, func, inspect, or_, select, update

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
    row = db.session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id == hash_session_token(token))
    ).first()
    if row is None:
        return None
    user_session, user = row
    now = utcnow()
    reason = _expiry_reason(user_session, now)
    if reason is None and user_session.credential_version != user.credential_version:
        # The password changed after the sign-in that created this session
        # checked the old one (even if the two raced).
        reason = "credentials_changed"
    if reason:
        user_id = user_session.user_id
        db.session.execute(delete(UserSession).where(UserSession.id == user_session.id))
        db.session.commit()
        log_event("session.ended", user_id=user_id, reason=reason)
        return None
    # One conditional write per session per interval: of the requests that
    # find the interval over at the same moment, only the first one writes.
    cutoff = now - current_app.config["SESSION_TOUCH_INTERVAL"]
    if user_session.last_seen_at <= cutoff:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == user_session.id, UserSession.last_seen_at <= cutoff)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    user.session_token = token
    user.current_session = user_session
    return user


def client_user_agent() -> str | None:
    value = request.headers.get("User-Agent")
    return value[:255] if value else None


def sign_in(user: User, *, credential_version: int, remember: bool) -> None:
    """Start a fresh session for user; any identity the old cookie held is dropped.

    credential_version is the value read with the password hash that was
    checked (see UserSession.start).
    """
    session.clear()
    token = UserSession.start(
        user.id,
        credential_version=credential_version,
        ip=request.remote_addr,
        user_agent=client_user_agent(),
        remember=remember,
    )
    db.session.flush()
    enforce_session_cap(user.id)
    db.session.commit()
    user.session_token = token
    login_user(user, remember=remember)


def _expire_remember_cookie() -> None:
    """Tell the browser to drop the remember-me cookie, with the attributes it
    was set with (a __Host- cookie is only replaced by a Secure one)."""
    config = current_app.config

    @after_this_request
    def expire(response):
        response.delete_cookie(
            config["REMEMBER_COOKIE_NAME"],
            path=config["REMEMBER_COOKIE_PATH"],
            secure=config["REMEMBER_COOKIE_SECURE"],
            httponly=True,
            samesite=config["REMEMBER_COOKIE_SAMESITE"],
        )
        return response


def current_session_id(user: User) -> str | None:
    """The id of the session serving this request; known even when the row
    was expired by a rollback or deleted by another request meanwhile."""
    current = getattr(user, "current_session", None)
    return inspect(current).identity[0] if current is not None else None


def sign_out(user: User, reason: str = "logout") -> None:
    """End the current session in the database and in the browser (the
    session cookie and the remember-me cookie)."""
    current = current_session_id(user)
    if current is not None:
        db.session.execute(delete(UserSession).where(UserSession.id == current))
        db.session.commit()
        log_event("session.ended", user_id=user.id, reason=reason)
    logout_user()
    session.clear()
    _expire_remember_cookie()


def restart_after_credential_change(user: User, credential_version: int, reason: str) -> int:
    """After this request changed the password: end every session of user,
    this one included, and give this browser a new session token stamped with
    the new credential_version (a copy of the old cookie no longer works).
    Returns how many other sessions were ended. Commits."""
    current = user.current_session
    remember = bool(current.remember) if current is not None else False
    ended = db.session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.id != current_session_id(user))
    ).rowcount
    if current is not None:
        db.session.delete(current)
    sign_in(user, credential_version=credential_version, remember=remember)
    if ended:
        log_event("session.ended", user_id=user.id, reason=reason, count=ended)
    return ended


def count_reauth_failure(user: User) -> bool:
    """Count a wrong current password typed in this session; True when that
    was one too many and the session has been ended (and the event logged)."""
    current = current_session_id(user)
    if current is None:
        return False
    failures = db.session.execute(
        update(UserSession)
        .where(UserSession.id == current)
        .values(reauth_failures=UserSession.reauth_failures + 1)
        .returning(UserSession.reauth_failures)
    ).scalar()
    db.session.commit()
    log_event("auth.reauth_failed", user_id=user.id, failures=failures)
    if failures is None or failures >= current_app.config["LOCKOUT_THRESHOLD"]:
        log_event("auth.reauth_locked", user_id=user.id)
        sign_out(user, reason="reauth_failed")
        return True
    return False


def end_other_sessions(user: User, reason: str) -> int:
    """End every session of user except the one serving this request."""
    keep = current_session_id(user)
    statement = delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        statement = statement.where(UserSession.id != keep)
    count = db.session.execute(statement).rowcount or 0
    db.session.commit()
    if count:
        log_event("session.ended", user_id=user.id, reason=reason, count=count)
    return count


def _live(now: datetime):
    """SQL for "this session has not expired" (the rules of _expiry_reason)."""
    config = current_app.config
    return or_(
        and_(
            UserSession.remember.is_(True),
            UserSession.created_at >= now - config["REMEMBER_LIFETIME"],
        ),
        and_(
            UserSession.remember.is_(False),
            UserSession.created_at >= now - config["SESSION_LIFETIME"],
            UserSession.last_seen_at >= now - config["SESSION_IDLE_TIMEOUT"],
        ),
    )


def active_sessions(user: User, *, limit: int | None = None, offset: int = 0) -> list[UserSession]:
    """The user's live sessions, most recently used first (a page of them)."""
    query = (
        select(UserSession)
        .where(UserSession.user_id == user.id, _live(utcnow()))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def count_active_sessions(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id, _live(utcnow()))
    )


def enforce_session_cap(user_id: int) -> int:
    """Keep at most SESSION_MAX_PER_USER sessions: a sign-in beyond the cap
    ends the least recently used ones. Returns how many were ended."""
    cap = current_app.config["SESSION_MAX_PER_USER"]
    keep = (
        select(UserSession.id)
        .where(UserSession.user_id == user_id)
        .order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc())
        .limit(cap)
        .scalar_subquery()
    )
    ended = (
        db.session.execute(
            delete(UserSession)
            .where(UserSession.user_id == user_id, UserSession.id.not_in(keep))
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    if ended:
        log_event("session.ended", user_id=user_id, reason="session_limit", count=ended)
    return ended


def purge_expired(now: datetime) -> int:
    """Delete every expired session (the loader would end each at its next use anyway)."""
    return (
        db.session.execute(
            delete(UserSession).where(~_live(now)).execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
