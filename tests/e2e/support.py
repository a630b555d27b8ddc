"""What the browser tests share that is not a fixture: the mailbox, the server, users, page helpers.

The fixtures that build these live in conftest.py beside this file.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import pyotp
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, Response, expect

from tests.support.auth import csrf_token
from tests.support.mailbox import Mailbox
from tests.support.passwords import make_password

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCKOUT_THRESHOLD = 3
HTTP_TIMEOUT = 15.0
MAIL_TIMEOUT = 10.0

# What the app says (app/auth/routes.py, app/dashboard/routes.py, and the reset/verification contract).
INVALID_CREDENTIALS = "Invalid username/e-mail or password."
REGISTERED = "Your account is ready. Sign in to continue."
PASSWORD_CHANGED = "Your password has been changed"
SIGNED_OUT = "You have been signed out."
SIGN_IN_FIRST = "Please sign in to see that page."
FORGOT_PASSWORD = "Forgot your password?"
RESET_SENT = "If an account exists for that address, we have sent a link"
RESET_SUBJECT = "Reset your password"
LINK_UNUSABLE = "This link cannot be used"
VERIFY_SUBJECT = "Confirm your e-mail address"
NOT_VERIFIED = "Your e-mail address is not confirmed yet"
SEND_AGAIN = "Send the link again"
VERIFIED = "Your e-mail address is confirmed"


# --- e-mail -------------------------------------------------------------------------------------


# --- users --------------------------------------------------------------------------------------


@dataclass
class User:
    username: str
    email: str
    password: str
    new_password: str


_sequence = iter(range(1, 1_000_000))


def unique_user() -> User:
    username = f"e2e{next(_sequence)}{secrets.token_hex(4)}"
    return User(username, f"{username}@example.com", make_password(), make_password())


def register_over_http(base_url: str, user: User) -> None:
    """Post the registration form without a browser (for tests about something else)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"{base_url}/auth/register", timeout=HTTP_TIMEOUT) as response:
        token = csrf_token(response.read().decode())
    form = {
        "csrf_token": token,
        "username": user.username,
        "email": user.email,
        "password": user.password,
        "confirm_password": user.password,
    }
    # The answer is a redirect to the sign-in page, which the opener follows.
    data = urllib.parse.urlencode(form).encode()
    with opener.open(f"{base_url}/auth/register", data=data, timeout=HTTP_TIMEOUT) as response:
        body = response.read().decode()
        assert urllib.parse.urlsplit(response.url).path == "/auth/login", (response.url, body[:2000])
    assert REGISTERED in body


# --- pages --------------------------------------------------------------------------------------


def path_of(page: Page) -> str:
    return urllib.parse.urlsplit(page.url).path


def flashes(page: Page) -> Locator:
    return page.locator(".flashes")


def form_errors(page: Page) -> Locator:
    return page.locator(".form-errors")


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def submit(page: Page, button: str) -> Response:
    """Click the form's button by its name and wait for the page it leads to."""
    with page.expect_navigation() as navigation:
        page.locator("main").get_by_role("button", name=button, exact=True).click()
    response = navigation.value
    assert response is not None
    return response


def sign_in(page: Page, login: str, password: str) -> Response:
    """Fill and send the sign-in form (opening it first unless it is open)."""
    if path_of(page) != "/auth/login":
        page.goto("/auth/login")
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill(password)
    return submit(page, "Sign in")


def sign_in_ok(page: Page, user: User, password: str | None = None) -> None:
    response = sign_in(page, user.username, password or user.password)
    assert path_of(page) == "/dashboard", (page.url, response.status)
    expect(heading(page)).to_have_text(f"Welcome, {user.username}")


def sign_in_fails(page: Page, login: str, password: str) -> None:
    response = sign_in(page, login, password)
    assert response.status == 422
    assert path_of(page) == "/auth/login"
    expect(form_errors(page)).to_have_text(INVALID_CREDENTIALS)


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.locator("header").get_by_role("button", name="Sign out").click()
    assert path_of(page) == "/auth/login"
    expect(flashes(page)).to_contain_text(SIGNED_OUT)


def request_reset(page: Page, address: str) -> Response:
    """The reset request form, filled and sent."""
    page.goto("/auth/reset")
    page.locator('input[name="email"]').fill(address)
    return submit(page, "Send reset link")


def reset_link(page: Page, mailbox: Mailbox, user: User) -> str:
    """Ask for a reset link for the user and return it from the e-mail."""
    response = request_reset(page, user.email)
    assert response.status == 200
    expect(page.locator("main")).to_contain_text(RESET_SENT)
    mail = mailbox.wait_for_mail(user.email, RESET_SUBJECT)
    assert mail.link.startswith(f"{mailbox.base_url}/auth/reset/"), mail.link
    return mail.link


# --- console errors and CSP violations ----------------------------------------------------------


_DOCUMENT_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)\b")


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and CSP violations of every page of a context.

    Chromium logs "Failed to load resource: ... status of 404" for a page whose document
    itself is an error answer (a 404 page, a form sent back with 422). That line is the
    browser reporting the HTTP status of the page asked for, not a problem of the page, so
    it is left out when the URL and status are those of a main-frame document; the same
    line for a stylesheet, an icon or any other resource counts.
    """

    console: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    page_errors: list[str] = field(default_factory=list)
    csp: list[dict] = field(default_factory=list)
    documents: set[tuple[str, int]] = field(default_factory=set)  # (url, status) of main-frame pages

    def console_errors(self) -> list[str]:
        errors = []
        for text, url in self.console:
            status = _DOCUMENT_STATUS.match(text)
            if status and (url, int(status.group(1))) in self.documents:
                continue
            errors.append(f"{text} (at {url})")
        return errors

    def all(self) -> list[str]:
        return (
            [f"console error: {c}" for c in self.console_errors()]
            + [f"uncaught exception: {e}" for e in self.page_errors]
            + [f"CSP violation: {json.dumps(v)}" for v in self.csp]
        )


# Recorded on window (window.__cspViolations) and reported at once through a binding, so that a
# violation on a page the test has already left is not lost.
CSP_RECORDER = """
(() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    const violation = {
      page: document.location.href,
      directive: event.violatedDirective,
      blocked: event.blockedURI,
      source: event.sourceFile,
      line: event.lineNumber,
      sample: event.sample,
    };
    window.__cspViolations.push(violation);
    if (typeof window.__e2eCspViolation === 'function') { window.__e2eCspViolation(violation); }
  });
})();
"""


def watch(context: BrowserContext) -> PageProblems:
    """Record the problems of every page this context opens from now on."""
    problems = PageProblems()

    def on_page(page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.console.append((message.text, (message.location or {}).get("url") or page.url))

        def on_response(response: Response) -> None:
            if response.request.is_navigation_request() and response.frame == page.main_frame:
                problems.documents.add((response.url, response.status))

        page.on("console", on_console)
        page.on("response", on_response)
        page.on("pageerror", lambda exc: problems.page_errors.append(f"{exc} (on {page.url})"))

    def on_violation(violation: dict) -> None:
        problems.csp.append(violation)

    context.expose_function("__e2eCspViolation", on_violation)
    context.add_init_script(CSP_RECORDER)
    context.on("page", on_page)
    for page in context.pages:
        on_page(page)
    return problems


def csp_violations_on_window(page: Page) -> list[dict]:
    return page.evaluate("window.__cspViolations || []")


# --- the pages every audit visits ---------------------------------------------------------------


@dataclass(frozen=True)
class AppPage:
    """A page in a given state; `open` brings a fresh context's page there and returns the answer."""

    name: str
    status: int
    open: Callable[[Page, User, Mailbox], Response | None]
    signed_in: bool = False
    new_routes: bool = False  # needs the password reset / e-mail verification routes


# Every page, by name; each page's way of opening it registers itself with @app_page.
PAGES: dict[str, AppPage] = {}


def app_page(name: str, status: int = 200, *, signed_in: bool = False, new_routes: bool = False):
    """Registers the decorated function as the way to open page `name`, which answers `status`."""

    def register(open_: Callable[[Page, User, Mailbox], Response | None]):
        assert name not in PAGES, f"two pages named {name}"
        PAGES[name] = AppPage(name, status, open_, signed_in=signed_in, new_routes=new_routes)
        return open_

    return register


def _goto(path: str) -> Callable[[Page, User, Mailbox], Response | None]:
    return lambda page, _user, _mailbox: page.goto(path)


def _signed_in_at(path: str) -> Callable[[Page, User, Mailbox], Response | None]:
    def open_(page: Page, user: User, _mailbox: Mailbox) -> Response | None:
        sign_in_ok(page, user)
        return page.goto(path)

    return open_


app_page("login")(_goto("/auth/login"))
app_page("register")(_goto("/auth/register"))
app_page("reset-request", new_routes=True)(_goto("/auth/reset"))


@app_page("login-error", 422)
def _login_error(page: Page, user: User, _mailbox: Mailbox) -> Response:
    page.goto("/auth/login")
    response = sign_in(page, user.username, "Wrong-Password-1")
    expect(form_errors(page)).to_have_text(INVALID_CREDENTIALS)
    return response


@app_page("register-error", 422)
def _register_error(page: Page, _user: User, _mailbox: Mailbox) -> Response:
    page.goto("/auth/register")
    response = submit(page, "Create account")
    expect(page.locator(".errors").first).to_be_visible()
    return response


@app_page("reset-request-sent", new_routes=True)
def _reset_sent(page: Page, user: User, mailbox: Mailbox) -> Response:
    response = request_reset(page, user.email)
    expect(page.locator("main")).to_contain_text(RESET_SENT)
    mailbox.wait_for_mail(user.email, RESET_SUBJECT)
    return response


@app_page("reset-form", new_routes=True)
def _reset_form(page: Page, user: User, mailbox: Mailbox) -> Response | None:
    link = reset_link(page, mailbox, user)
    response = page.goto(link)
    expect(page.locator('input[name="new_password"]')).to_be_visible()
    return response


@app_page("reset-link-unusable", 400, new_routes=True)
def _reset_unusable(page: Page, _user: User, _mailbox: Mailbox) -> Response | None:
    response = page.goto("/auth/reset/not-a-valid-token")
    expect(heading(page)).to_have_text(LINK_UNUSABLE)
    return response


_dashboard = app_page("dashboard", signed_in=True)(_signed_in_at("/dashboard"))


@app_page("dashboard-after-a-failure", signed_in=True)
def _dashboard_after_a_failure(page: Page, user: User, mailbox: Mailbox) -> Response | None:
    sign_in_fails(page, user.username, "Wrong-Password-1")
    response = _dashboard(page, user, mailbox)
    expect(page.get_by_role("alert")).to_contain_text("1 failed sign-in attempt")
    return response


_change_password = app_page("change-password", signed_in=True)(_signed_in_at("/account/password"))


@app_page("change-password-error", 422, signed_in=True)
def _change_password_error(page: Page, user: User, mailbox: Mailbox) -> Response:
    _change_password(page, user, mailbox)
    response = submit(page, "Change password")
    expect(page.locator(".errors").first).to_be_visible()
    return response


def read_totp_secret(page: Page) -> str:
    """The secret as the enrolment page shows it (groups of four), without the spaces."""
    return page.locator("#totp-secret").inner_text().replace(" ", "")


def totp_code(secret: str, ahead: int = 0) -> str:
    """The code of the time step `ahead` steps from now (the server accepts one step
    either side, and a step once: a later step's code is new even within the same 30 s)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * ahead)


def start_totp(page: Page) -> Response:
    page.goto("/account/security")
    return submit(page, "Set up an authenticator app")


def enable_totp(page: Page, user: User) -> tuple[str, list[str]]:
    """On a signed-in page: set up an authenticator app; returns its secret and the recovery codes."""
    start_totp(page)
    expect(heading(page)).to_have_text("Set up an authenticator app")
    secret = read_totp_secret(page)
    page.locator('input[name="code"]').fill(totp_code(secret))
    page.locator('input[name="password"]').fill(user.password)
    response = submit(page, "Turn on")
    assert response.status == 200, response.url
    expect(heading(page)).to_have_text("Your recovery codes")
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10, codes
    return secret, codes


_security = app_page("security", signed_in=True)(_signed_in_at("/account/security"))


@app_page("enrol-totp", signed_in=True)
def _enrol_totp(page: Page, user: User, _mailbox: Mailbox) -> Response | None:
    sign_in_ok(page, user)
    response = start_totp(page)
    expect(page.locator("#totp-secret")).to_be_visible()
    return response


@app_page("enrol-totp-error", 422, signed_in=True)
def _enrol_totp_error(page: Page, user: User, mailbox: Mailbox) -> Response | None:
    _enrol_totp(page, user, mailbox)
    response = submit(page, "Turn on")
    expect(page.locator(".errors").first).to_be_visible()
    return response


@app_page("recovery-codes", signed_in=True)
def _recovery_codes(page: Page, user: User, _mailbox: Mailbox) -> Response | None:
    sign_in_ok(page, user)
    start_totp(page)
    secret = read_totp_secret(page)
    page.locator('input[name="code"]').fill(totp_code(secret))
    page.locator('input[name="password"]').fill(user.password)
    return submit(page, "Turn on")


@app_page("security-with-totp", signed_in=True)
def _security_with_totp(page: Page, user: User, mailbox: Mailbox) -> Response | None:
    _recovery_codes(page, user, mailbox)
    return page.goto("/account/security")


@app_page("mfa-second-step")
def _second_step(page: Page, user: User, mailbox: Mailbox) -> Response | None:
    _recovery_codes(page, user, mailbox)
    sign_out(page)
    response = sign_in(page, user.username, user.password)
    assert path_of(page) == "/auth/mfa", page.url
    return response


@app_page("mfa-second-step-error", 422)
def _second_step_error(page: Page, user: User, mailbox: Mailbox) -> Response | None:
    _second_step(page, user, mailbox)
    page.locator('input[name="code"]').fill("000000")
    response = submit(page, "Continue")
    expect(page.locator(".errors").first).to_be_visible()
    return response


@app_page("not-found", 404)
def _not_found(page: Page, _user: User, _mailbox: Mailbox) -> Response | None:
    response = page.goto("/no-such-page")
    expect(heading(page)).to_have_text("Page not found")
    return response


SCREENSHOT_PAGES = [
    "login",
    "register",
    "reset-request",
    "reset-form",
    "dashboard",
    "change-password",
    "not-found",
    "security",
    "enrol-totp",
    "recovery-codes",
    "security-with-totp",
    "mfa-second-step",
]


def open_page(name: str, page: Page, user: User, mailbox: Mailbox) -> None:
    spec = PAGES[name]
    response = spec.open(page, user, mailbox)
    assert response is not None, f"{name}: no response"
    assert response.status == spec.status, f"{name}: {response.url} answered {response.status}"
    expect(page.locator("main")).to_be_visible()
