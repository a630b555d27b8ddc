"""Signed, expiring, single-use links for password reset and e-mail confirmation.

A token is an itsdangerous signature (SECRET_KEY, a salt per purpose; `signer`,
which also verifies with SECRET_KEY_FALLBACKS) over
the user's id and a fingerprint of the state the link may change: the
password hash for a reset, the address and its confirmation time for a
confirmation. Using the link changes that state, so the same link (or any
older one) no longer matches: single use without a table of used tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .extensions import db
from .models import User

RESET_LINK = "password-reset"
CONFIRM_LINK = "email-verification"


class TokenError(Exception):
    """The link cannot be used; `reason` says why (for the page and the log)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "expired", "invalid" or "used"


def signer(salt: str) -> URLSafeTimedSerializer:
    """Signs with SECRET_KEY and verifies with it or any of SECRET_KEY_FALLBACKS
    (itsdangerous signs with the last key of the list and accepts them all)."""
    config = current_app.config
    return URLSafeTimedSerializer([*config["SECRET_KEY_FALLBACKS"], config["SECRET_KEY"]], salt=salt)


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return signer(f"flask-auth/{purpose}")


def _fingerprint(purpose: str, user: User) -> str:
    if purpose == RESET_LINK:
        state = user.password_hash
    else:
        verified = user.email_verified_at.isoformat() if user.email_verified_at else ""
        state = f"{user.email}|{verified}"
    return hashlib.sha256(state.encode()).hexdigest()[:32]


def make_token(purpose: str, user: User) -> str:
    return _serializer(purpose).dumps({"uid": user.id, "fp": _fingerprint(purpose, user)})


def load_user(purpose: str, token: str, max_age: timedelta) -> User:
    """The user a valid, unexpired, unused token was made for; TokenError otherwise."""
    try:
        data = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise TokenError("expired") from None
    except BadSignature:
        raise TokenError("invalid") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("uid"), int)
        or not isinstance(data.get("fp"), str)
    ):
        raise TokenError("invalid")
    user = db.session.get(User, data["uid"])
    if user is None:
        raise TokenError("invalid")
    if not hmac.compare_digest(data["fp"], _fingerprint(purpose, user)):
        raise TokenError("used")
    return user
