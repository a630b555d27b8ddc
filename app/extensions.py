"""Every Flask extension, created unbound. create_app() binds them to an app.

Keeping them here (and nowhere else) means blueprints can import them without
importing the app, and tests can build as many apps as they like.
"""

from contextlib import suppress

from flask import Flask, current_app, request
from flask_limiter import Limiter as _Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager as _LoginManager
from flask_login import decode_cookie, encode_cookie
from flask_sqlalchemy import SQLAlchemy as _SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names: Alembic needs them to alter or drop a
# constraint later, and SQLite's batch mode needs them to copy tables.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SQLAlchemy(_SQLAlchemy):
    """Flask-SQLAlchemy whose end-of-request cleanup never replaces the response.

    The session is removed (its transaction rolled back) after the response is
    built. When the connection died after a commit, that rollback raises, and
    stock Flask-SQLAlchemy lets it escape: gunicorn then sends a bare 500 for a
    write that was committed. Here the failure is logged, the session's
    connections are invalidated (the pool replaces them) and the session is
    dropped from the registry, so the next request starts clean.
    """

    def _teardown_session(self, exc: BaseException | None) -> None:
        try:
            super()._teardown_session(exc)
        except Exception as error:  # nothing may escape a teardown
            from .events import emit

            emit("db.teardown_failed", error=type(error).__name__)
            with suppress(Exception):  # invalidating a dead connection may fail too
                self.session.registry().invalidate()
            self.session.registry.clear()


# Objects stay loaded after a commit: a view that reads the user it just saved
# (user.id for the log line, the session's login) must not query again after the
# write it reports, or a database gone at that moment turns a kept write into a
# 503 (the fault suite saw it: a registration kept while its user was told it
# failed). Each request's session is new, so nothing stale outlives a request.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


class LoginManager(_LoginManager):
    """Flask-Login, taking a remember-me cookie signed with one of SECRET_KEY_FALLBACKS
    too (Flask's own session cookie does by itself): a SECRET_KEY rotation signs no
    remembered browser out. Such a cookie is read as if signed with SECRET_KEY."""

    def _load_user_from_remember_cookie(self, cookie):
        if decode_cookie(cookie) is None:
            for key in reversed(current_app.config["SECRET_KEY_FALLBACKS"]):
                payload = decode_cookie(cookie, key=key)
                if payload is not None:
                    cookie = encode_cookie(payload)
                    break
        return super()._load_user_from_remember_cookie(cookie)


login_manager = LoginManager()


def engines_of(app: Flask) -> list[Engine]:
    """This app's engines, made by db.init_app(app): where the app's SQLAlchemy
    event listeners go (never on the global Engine or Pool classes, which would
    reach every engine in the process, a test's or a tool's included)."""
    with app.app_context():
        return list(db.engines.values())


csrf = CSRFProtect()
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Limiter(_Limiter):
    """Flask-Limiter, not consulted at all on GET/HEAD/OPTIONS.

    Every limit here is on POST. The request filter below already exempts the
    safe methods, but Flask-Limiter only asks it after resolving the endpoint
    and its limits, twice per limited view (its before_request hook and the
    view's decorator): about 5% of GET /auth/login. Its one entry point for
    both, _check_request_limit, returns at once instead.
    """

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if request.method in SAFE_METHODS:
            return None
        return super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


# The client address comes from request.remote_addr, which ProxyFix rewrites
# from X-Forwarded-For only when TRUSTED_PROXIES says how many hops to trust.
limiter = Limiter(key_func=get_remote_address)


@limiter.request_filter
def _safe_methods_are_not_limited() -> bool:
    """Every limit here is on POST: GET/HEAD/OPTIONS are never counted (the
    same rule as Limiter._check_request_limit, for any other way in)."""
    return request.method in SAFE_METHODS
