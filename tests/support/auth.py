"""Signing up and in through the real forms: the CSRF token of a page, and AuthActions
(flaskr's pattern) driving the register, sign-in and sign-out forms of a Flask test client."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.support.passwords import PASSWORD

if TYPE_CHECKING:
    from flask.testing import FlaskClient

# The hidden csrf_token input of a form, whatever the order of its attributes.
_CSRF = re.compile(
    r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"|<input[^>]*\bvalue="([^"]+)"[^>]*\bname="csrf_token"'
)


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in the page."""
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


class AuthActions:
    """Drives the real forms, CSRF token included (flaskr's AuthActions)."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def token(self, path: str = "/auth/login") -> str:
        return csrf_token(self.client.get(path).get_data(as_text=True))

    def register(
        self,
        username: str = "alice",
        email: str = "alice@example.com",
        password: str = PASSWORD,
        confirm: str | None = None,
        **kwargs,
    ):
        data = {
            "csrf_token": self.token("/auth/register"),
            "username": username,
            "email": email,
            "password": password,
            "confirm_password": password if confirm is None else confirm,
        }
        return self.client.post("/auth/register", data=data, **kwargs)

    def login(
        self,
        login: str = "alice",
        password: str = PASSWORD,
        remember: bool = False,
        next: str | None = None,
        **kwargs,
    ):
        data = {"csrf_token": self.token(), "login": login, "password": password}
        if remember:
            data["remember_me"] = "y"
        url = "/auth/login" + (f"?next={next}" if next is not None else "")
        return self.client.post(url, data=data, **kwargs)

    def logout(self, **kwargs):
        return self.client.post("/auth/logout", data={"csrf_token": self.token("/dashboard")}, **kwargs)
