"""Server-side sessions: Flask-Login's user id is a random session token whose
digest is a UserSession row. Deleting the row ends the session, whatever
copies of the cookie exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask, after_this_request, current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import Integer, Row, and_, bindparam, delete, func, or_, select, update

from .events import emit
from .extensions import db, login_manager
from .models import (
    User,
    UserSession,
    UTCDateTime,
    add_token_row,
    delete_rows,
    hash_session_token,
    increment,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class CurrentSession:
    """The session serving this request, as the user loader found it."""

    id: str  # the UserSession id (digest of the cookie's token)
    remember: bool


def init_app(app: Flask) -> None:
    """Flask-Login for this app, with load_user as its user loader."""
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    # Our sessions are server-side records checked on every request; Flask-Login's
    # "strong" protection would add nothing but a broken remember-me on IP change.
    login_manager.session_protection = None


def _expiry_reason(remember: bool, created_at: datetime, last_seen_at: datetime, now: datetime) -> str | None:
    config = current_app.config
    lifetime = config["REMEMBER_LIFETIME"] if remember else config["SESSION_LIFETIME"]
    if now - created_at > lifetime:
        return "lifetime_exceeded"
    # Remember-me sessions exist to outlive idleness; only their absolute
    # lifetime ends them.
    if not remember and now - last_seen_at > config["SESSION_IDLE_TIMEOUT"]:
        return "idle_timeout"
    return None


# The user and the few columns of its session the checks need, in one query.
# Built once: only the digest changes from one request to the next.
_LOAD_USER = (
    select(
        User,
        UserSession.created_at.label("session_created_at"),
        UserSession.last_seen_at.label("session_last_seen_at"),
        UserSession.remember.label("session_remember"),
        UserSession.credential_version.label("session_credential_version"),
    )
    .join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.id == bindparam("session_id"))
)


def load_user(token: str) -> User | None:
    if not token or len(token) > 128:
        return None
    session_id = hash_session_token(token)
    row = db.session.execute(_LOAD_USER, {"session_id": session_id}).first()
    if row is None:
        return None
    user = row[0]
    now = utcnow()
    reason = _expiry_reason(row.session_remember, row.session_created_at, row.session_last_seen_at, now)
    if reason is None and row.session_credential_version != user.credential_version:
        # The password changed after the sign-in that created this session
        # checked the old one (even if the two raced).
        reason = "credentials_changed"
    if reason:
        db.session.execute(delete(UserSession).where(UserSession.id == session_id))
        db.session.commit()
        emit("session.ended", user_id=user.id, reason=reason)
        return None
    # One conditional write per session per interval: of the requests that
    # find the interval over at the same moment, only the first one writes.
    cutoff = now - current_app.config["SESSION_TOUCH_INTERVAL"]
    if row.session_last_seen_at <= cutoff:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.last_seen_at <= cutoff)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    user.session_token = token
    user.current_session = CurrentSession(session_id, bool(row.session_remember))
    return user


def hold_token(key: str, model: type, user_id: int | None, now: datetime, **columns) -> None:
    """Add a row of model for the account user_id (a pending sign-in, a passkey
    challenge), keyed by the digest of a fresh token that this browser's
    session keeps under key; columns are the row's others. Commits."""
    token = add_token_row(model, user_id, now, **columns)
    db.session.commit()
    session[key] = token


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
    """The id of the session serving this request (None when there is none)."""
    current = getattr(user, "current_session", None)
    return current.id if current is not None else None


def sign_out(user: User, reason: str = "logout") -> None:
    """End the current session in the database and in the browser (the
    session cookie and the remember-me cookie)."""
    current = current_session_id(user)
    if current is not None:
        db.session.execute(delete(UserSession).where(UserSession.id == current))
        db.session.commit()
        emit("session.ended", user_id=user.id, reason=reason)
    logout_user()
    session.clear()
    _expire_remember_cookie()


def restart_after_credential_change(user: User, credential_version: int, reason: str) -> int:
    """After this request changed the password: end every session of user,
    this one included, and give this browser a new session token stamped with
    the new credential_version (a copy of the old cookie no longer works).
    Returns how many other sessions were ended. Commits."""
    current = user.current_session
    remember = current.remember if current is not None else False
    ended = db.session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.id != current_session_id(user))
    ).rowcount
    if current is not None:
        db.session.execute(delete(UserSession).where(UserSession.id == current.id))
    sign_in(user, credential_version=credential_version, remember=remember)
    if ended:
        emit("session.ended", user_id=user.id, reason=reason, count=ended)
    return ended


def count_reauth_failure(user: User) -> bool:
    """Count a wrong current password typed in this session; True when that
    was one too many and the session has been ended (and the event logged)."""
    current = current_session_id(user)
    if current is None:
        return False
    failures = increment(UserSession.reauth_failures, current)
    db.session.commit()
    emit("auth.reauth_failed", user_id=user.id, failures=failures)
    if failures is None or failures >= current_app.config["LOCKOUT_THRESHOLD"]:
        emit("auth.reauth_locked", user_id=user.id)
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
        emit("session.ended", user_id=user.id, reason=reason, count=count)
    return count


def _live_where(remember_since, session_since, idle_since):
    """SQL for "this session has not expired" (the rules of _expiry_reason),
    given the three cut-off times as values or bound parameters."""
    return or_(
        and_(UserSession.remember.is_(True), UserSession.created_at >= remember_since),
        and_(
            UserSession.remember.is_(False),
            UserSession.created_at >= session_since,
            UserSession.last_seen_at >= idle_since,
        ),
    )


def _live_cutoffs(now: datetime) -> dict[str, datetime]:
    config = current_app.config
    return {
        "remember_since": now - config["REMEMBER_LIFETIME"],
        "session_since": now - config["SESSION_LIFETIME"],
        "idle_since": now - config["SESSION_IDLE_TIMEOUT"],
    }


def _live(now: datetime):
    return _live_where(**_live_cutoffs(now))


def count_live_sessions() -> int:
    """How many sessions of all users can still be used (the auth_sessions_active gauge)."""
    return db.session.scalar(select(func.count()).select_from(UserSession).where(_live(utcnow()))) or 0


# A page of a user's live sessions with the columns the session list shows, and
# how many live sessions there are in all (a window count over the same rows).
# Built once, like _LOAD_USER: building a statement costs more than running it.
_ACTIVE_SESSIONS = (
    select(
        UserSession.id,
        UserSession.user_agent,
        UserSession.ip,
        UserSession.last_seen_at,
        UserSession.remember,
        func.count().over().label("total"),
    )
    .where(
        UserSession.user_id == bindparam("user_id"),
        _live_where(
            bindparam("remember_since", type_=UTCDateTime()),
            bindparam("session_since", type_=UTCDateTime()),
            bindparam("idle_since", type_=UTCDateTime()),
        ),
    )
    .order_by(UserSession.last_seen_at.desc(), UserSession.id)
    .limit(bindparam("limit", type_=Integer()))
    .offset(bindparam("offset", type_=Integer()))
)


def active_sessions(user: User, *, limit: int, offset: int = 0) -> tuple[list[Row], int]:
    """A page of the user's live sessions, most recently used first, and how
    many live sessions there are in all, in one query (the total is 0 when the
    page is past the end). Each row has id, user_agent, ip, last_seen_at and
    remember."""
    rows = db.session.execute(
        _ACTIVE_SESSIONS, {"user_id": user.id, "limit": limit, "offset": offset, **_live_cutoffs(utcnow())}
    ).all()
    return rows, (rows[0].total if rows else 0)


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
    ended = delete_rows(UserSession, UserSession.user_id == user_id, UserSession.id.not_in(keep))
    if ended:
        emit("session.ended", user_id=user_id, reason="session_limit", count=ended)
    return ended


def purge_expired(now: datetime) -> int:
    """Delete every expired session (the loader would end each at its next use anyway)."""
    return delete_rows(UserSession, ~_live(now))
