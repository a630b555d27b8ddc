"""The rate limits the views apply, each read from its setting at every request
(so every app, a test's included, has its own), and what they count by."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user, login_required

from .extensions import limiter


def configured_limit(setting: str) -> Callable[[], str]:
    """The limit the setting holds (Flask-Limiter syntax), as Flask-Limiter takes a dynamic one."""

    def limit() -> str:
        return current_app.config[setting]

    return limit


login_limit = configured_limit("RATELIMIT_LOGIN")
register_limit = configured_limit("RATELIMIT_REGISTER")
link_mail_limit = configured_limit("RATELIMIT_RESET")
mfa_limit = configured_limit("RATELIMIT_MFA")
reauth_limit = configured_limit("RATELIMIT_REAUTH")


def per_user() -> str:
    """Rate-limit key of the re-authenticating pages: the signed-in account,
    so one client cannot tie up the password hashing for everyone."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return request.remote_addr or "unknown"


def reauthenticating(methods: list[str] | None = None):
    """A view that asks for the account's password again: signed-in users only,
    limited per account by RATELIMIT_REAUTH (on methods; every one when None)."""
    limit = limiter.limit(reauth_limit, key_func=per_user, methods=methods)

    def decorate(view):
        return login_required(limit(view))

    return decorate
