"""Second factors in tests: a clock the server judges TOTP codes by, the code an
authenticator app shows, and alice's way through enrolment and the two sign-in steps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp

from tests.support.auth import AuthActions
from tests.support.passwords import PASSWORD

T0 = datetime(2026, 12, 4, 12, 0, 5, tzinfo=UTC)  # 5 s into a 30 s time step


class Clock:
    """The time the server judges codes by; tests move it step by step."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def step(self, steps: int = 1) -> None:
        self.now += timedelta(seconds=30 * steps)


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def register(app, username="alice", email="alice@example.com") -> AuthActions:
    auth = AuthActions(app.test_client())
    assert auth.register(username=username, email=email).status_code == 302
    return auth


def start_enrolment(auth: AuthActions) -> str:
    """Open the enrolment page and read the secret from it, as a person would type it."""
    token = auth.token("/account/security")
    assert auth.client.post("/account/security/totp/new", data={"csrf_token": token}).status_code == 302
    page = auth.client.get("/account/security/totp").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    return re.search(r'id="totp-secret" class="secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def submit_enrolment(auth, code, password=PASSWORD, current_code=""):
    token = auth.token("/account/security/totp")
    data = {"csrf_token": token, "code": code, "password": password, "current_code": current_code}
    return auth.client.post("/account/security/totp", data=data)


def enable_totp(app, clock) -> tuple[AuthActions, str, list[str]]:
    """alice with an authenticator app; returns her signed-in browser, the secret, her recovery codes."""
    auth = register(app)
    assert auth.login().status_code == 302
    secret = start_enrolment(auth)
    page = submit_enrolment(auth, code_at(secret, clock.now))
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    codes = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", html)
    assert len(codes) == 10
    assert 'download="recovery-codes.txt"' in html
    clock.step()
    return auth, secret, codes


def password_step(app, **kwargs) -> AuthActions:
    auth = AuthActions(app.test_client())
    response = auth.login(**kwargs)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/mfa"
    return auth


def second_step(auth: AuthActions, code: str):
    return auth.client.post("/auth/mfa", data={"csrf_token": auth.token("/auth/mfa"), "code": code})


def is_signed_in(auth: AuthActions) -> bool:
    return auth.client.get("/dashboard").status_code == 200
