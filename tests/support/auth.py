"""Signing up and in through the real forms: the CSRF token of a page, and AuthActions
(flaskr's pattern) driving the register, sign-in and sign-out forms of a Flask test client."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.support.passwords import PASSWORD

if TYPE_CHECKING:
    from flask import Flask
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


def signed_in(client: FlaskClient) -> bool:
    """Whether the client's cookies open the dashboard (else the sign-in page is where it goes)."""
    response = client.get("/dashboard")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/auth/login")
    return response.status_code == 200


def signed_in_client(app: Flask, username: str = "alice", password: str = PASSWORD, remember: bool = False):
    """A new browser signed in as username."""
    client = app.test_client()
    response = AuthActions(client).login(login=username, password=password, remember=remember)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def copy_cookies(app: Flask, source: FlaskClient, names: list[str] | None = None) -> FlaskClient:
    """A new browser of app holding copies of source's cookies (all, or only those named)."""
    target = app.test_client()
    names = names or [app.config["SESSION_COOKIE_NAME"], app.config["REMEMBER_COOKIE_NAME"]]
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value)
    return target
