"""Error pages: every error a user can meet is a rendered page, never a traceback."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .events import emit
from .extensions import db

PAGES = {
    400: ("Bad request", "The request could not be understood. Please go back and try again."),
    403: ("Forbidden", "You do not have permission to do that."),
    404: ("Page not found", "There is no page at this address."),
    405: ("Method not allowed", "This page does not accept that kind of request."),
    413: ("Request too large", "What you sent is larger than this site accepts."),
    429: ("Too many requests", "You have tried too often. Please wait a minute and try again."),
    500: ("Something went wrong", "An unexpected error occurred. It has been logged; please try again."),
}


def render_error(code: int, message: str | None = None, headers=None):
    title, default_message = PAGES[code]
    body = render_template(
        f"errors/{code}.html", code=code, title=title, message=message or default_message, error_page=True
    )
    return body, code, headers or {}


def handle_http_exception(exc: HTTPException):
    code = exc.code or 500
    if code not in PAGES:
        return exc
    headers = {}
    if code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return render_error(code, headers=headers)


def handle_csrf_error(exc: CSRFError):
    emit("security.csrf_failed", reason=exc.description, path=request.path)
    return render_error(
        400, "This form has expired or was not sent from this site. Reload the page and try again."
    )


def handle_rate_limited(exc: RateLimitExceeded):
    emit("security.rate_limited", path=request.path, limit=str(exc.limit.limit))
    return render_error(429)


def handle_internal_error(exc: InternalServerError):
    db.session.rollback()
    return render_error(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(InternalServerError, handle_internal_error)
    app.register_error_handler(HTTPException, handle_http_exception)
