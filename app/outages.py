"""Outages are 503, bugs are 500.

An error that means a dependency is away (the database unreachable, disconnected,
out of pooled connections or past its statement/lock timeout; Redis unreachable
where it is required) is answered 503 with Retry-After and a short "try again in
a moment" page, logged once as `dependency.unavailable` with the dependency's name
and counted in app_dependency_errors_total{dependency}. Anything else, an
IntegrityError or a missing table included, stays a 500: it is a bug, and alerts
must be able to tell the two apart.
"""

from __future__ import annotations

from contextlib import suppress

import redis.exceptions
from flask import Flask, Response, current_app, g, jsonify, render_template, request
from limits.errors import StorageError
from sqlalchemy import exc as sa_exc

from . import metrics
from .events import emit
from .extensions import db

DATABASE = "database"
REDIS = "redis"

MESSAGE = "The service is temporarily unavailable. Please try again in a moment."

# SQLite's OperationalError also means "no such table" or a syntax error (bugs);
# only these messages mean the file is busy or out of reach.
_SQLITE_OUTAGES = ("database is locked", "database table is locked", "disk i/o error", "unable to open")

# The classes a handler is registered for; classify() has the last word.
HANDLED = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    StorageError,
)


def _database_outage(exc: BaseException) -> bool:
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True  # a connection lost, or the pool empty for pool_timeout
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if type(orig).__module__.startswith("sqlite3"):
        return isinstance(exc, sa_exc.OperationalError) and str(orig).lower().startswith(_SQLITE_OUTAGES)
    # psycopg2: OperationalError is the server or the link (connection refused or
    # closed, admin shutdown, too many connections, statement or lock timeout,
    # deadlock); InterfaceError is a connection already closed on our side.
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))


def classify(exc: BaseException) -> str | None:
    """The dependency an error says is away (DATABASE, REDIS), or None for a bug."""
    seen = 0
    while exc is not None and seen < 5:
        if _database_outage(exc):
            return DATABASE
        if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, StorageError)):
            return REDIS
        exc, seen = exc.__cause__, seen + 1
    return None


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def unavailable_response(dependency: str, retry_after: int):
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if _wants_json():
        body = jsonify(status="unavailable", dependency=dependency, message=MESSAGE)
        return body, 503, headers
    if "_login_user" not in g:
        # Flask-Login's template context would load the user now, from the
        # database that just failed: the outage page is rendered signed out.
        g._login_user = current_app.login_manager.anonymous_user()
    page = render_template(
        "errors/503.html", code=503, title="Temporarily unavailable", message=MESSAGE, error_page=True
    )
    return page, 503, headers


def handle_dependency_error(exc: Exception):
    dependency = classify(exc)
    if dependency is None:
        raise exc  # a bug: Flask answers 500 and logs the traceback
    with suppress(Exception):  # the connection is likely gone: what we report is exc
        db.session.rollback()
    emit(
        "dependency.unavailable",
        dependency=dependency,
        error=type(exc).__name__,
        path=request.path,
    )
    g.dependency_unavailable = dependency
    return unavailable_response(dependency, current_app.config["DEPENDENCY_RETRY_AFTER_SECONDS"])


def _keep_retry_after(response: Response) -> Response:
    """Flask-Limiter's headers would raise Retry-After to its window's reset (a
    minute): an outage's answer says when to retry the dependency."""
    if g.get("dependency_unavailable"):
        response.headers["Retry-After"] = str(current_app.config["DEPENDENCY_RETRY_AFTER_SECONDS"])
    return response


def init_app(app: Flask) -> None:
    for cls in HANDLED:
        app.register_error_handler(cls, handle_dependency_error)
    for name in (DATABASE, REDIS):
        metrics.DEPENDENCY_ERRORS.labels(dependency=name)
    # Registered before the limiter's after_request, so it runs after it.
    app.after_request(_keep_retry_after)
