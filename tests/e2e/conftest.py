"""Fixtures of the browser suite: the real app under gunicorn, an SMTP server, Chromium.

One gunicorn (gunicorn.conf.py, as production runs it) serves the whole session
on a free loopback port, with a migrated SQLite database of its own, and sends
its e-mail to an aiosmtpd server that keeps every message (mailbox). The
browser is Debian's Chromium (/usr/bin/chromium, or E2E_CHROMIUM): Playwright
cannot download its own build here, and a missing Chromium fails the suite, it
never skips it.

Every test makes its own users (new_user), so the tests depend neither on each
other nor on their order. After each test, the server's log must hold no 5xx
answer and no ERROR line from that test's time (no_server_errors).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from tests.support.database import migrate
from tests.support.mailbox import Mailbox, ReceivedMail
from tests.support.mailbox import smtp_server as mail_server
from tests.support.ports import free_port
from tests.support.server import Server, gunicorn

from .support import (
    ARTIFACTS,
    DESKTOP,
    LOCKOUT_THRESHOLD,
    PageProblems,
    User,
    register_over_http,
    unique_user,
    watch,
)

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# --- Chromium (pytest-playwright's fixtures, overridden) ----------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the browser suite needs it and is never skipped. "
            "Install it (as root: apt-get update && apt-get install -y --no-install-recommends chromium) "
            "or point E2E_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def base_url(live_server: Server) -> str:
    """page.goto("/auth/login") goes to this session's gunicorn."""
    return live_server.base_url


@pytest.fixture(scope="session")
def passkey_base_url(app_port: int) -> str:
    """The server under the name passkeys work on (WEBAUTHN_ORIGIN)."""
    return f"http://localhost:{app_port}"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, base_url: str) -> dict:
    """Every context: this session's server as base URL. The viewport is set per context (make_context)."""
    return {**browser_context_args, "base_url": base_url, "locale": "en-GB"}


# --- SMTP ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def smtp_server(app_port: int) -> Iterator[tuple[int, Mailbox]]:
    """aiosmtpd on 127.0.0.1 (a free port), no TLS, no authentication: the app's MAIL_SERVER."""
    with mail_server(f"http://127.0.0.1:{app_port}") as server:
        yield server


@pytest.fixture
def mailbox(smtp_server: tuple[int, Mailbox]) -> Mailbox:
    """Every message the app sent in this session (tests tell theirs apart by the address)."""
    return smtp_server[1]


@pytest.fixture
def wait_for_mail(mailbox: Mailbox) -> Callable[..., ReceivedMail]:
    """wait_for_mail(to, subject_contains, timeout=10.0) -> the message and the first link in its text."""
    return mailbox.wait_for_mail


# --- the app under gunicorn ---------------------------------------------------------------------


def server_settings(port: int, smtp: tuple[int, Mailbox]) -> dict[str, str]:
    """What this suite changes from tests.support.server.gunicorn's defaults."""
    return {
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48)[:48],
        # Cheap hashes keep the suite fast.
        "PASSWORD_ARGON2_MEMORY_KIB": "8",
        "PASSWORD_ARGON2_TIME_COST": "1",
        "GUNICORN_THREADS": "4",
        # This suite is not about rate limits: tests/test_rate_limits.py is.
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_LOGIN": "1000 per minute",
        "RATELIMIT_REGISTER": "1000 per minute",
        "RATELIMIT_RESET": "1000 per minute",
        "MAIL_PER_ACCOUNT_LIMIT": "100 per hour",
        "LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp[0]),
        "MAIL_USE_TLS": "false",
        "MAIL_FROM": "Flask Auth <no-reply@example.com>",
        "APP_BASE_URL": f"http://127.0.0.1:{port}",
        # No browser takes an IP address as a WebAuthn RP ID: passkeys are used on
        # http://localhost:PORT (a secure context too), the same server.
        "WEBAUTHN_ORIGIN": f"http://localhost:{port}",
        "LOG_FORMAT": "json",
    }


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, app_port: int, smtp_server: tuple[int, Mailbox]
) -> Iterator[Server]:
    """gunicorn -c gunicorn.conf.py "app:create_app()" on a freshly migrated SQLite database."""
    run_dir = tmp_path_factory.mktemp("e2e-server")
    database_url = f"sqlite:///{run_dir / 'e2e.db'}"
    migrate(database_url)
    with gunicorn(run_dir, database_url, port=app_port, **server_settings(app_port, smtp_server)) as server:
        yield server


@pytest.fixture(autouse=True)
def no_server_errors(live_server: Server) -> Iterator[None]:
    """No answer of 500 or more, and no ERROR line, in the server's log while the test ran."""
    offset = live_server.log_offset()
    yield
    time.sleep(0.1)  # the last request's log line
    bad = [
        entry
        for entry in live_server.json_logs_since(offset)
        if entry.get("level") in {"ERROR", "CRITICAL", "NOT-JSON"}
        or (entry.get("logger") == "app.requests" and int(entry.get("status") or 0) >= 500)
    ]
    assert not bad, "the server logged errors during this test:\n" + "\n".join(map(json.dumps, bad))


# --- users, contexts, artifacts -----------------------------------------------------------------


@pytest.fixture
def new_user(base_url: str) -> Callable[..., User]:
    """new_user(register=True) -> a User with a unique username, e-mail address and passwords.

    register=True creates the account through the registration form over HTTP (no browser);
    user.new_password is a second valid password for tests that change it.
    """

    def make(register: bool = True) -> User:
        user = unique_user()
        if register:
            register_over_http(base_url, user)
        return user

    return make


@pytest.fixture
def make_context(new_context, browser, browser_context_args: dict) -> Iterator[Callable[..., BrowserContext]]:
    """make_context(**options) -> a new context (1280x800 unless told), closed after the test.

    Made by pytest-playwright's new_context, so --tracing/--screenshot/--video cover it;
    except a context with a base_url of its own (the passkey tests' http://localhost:PORT),
    which pytest-playwright's new_context cannot take: that one is made and closed here.
    Every page it opens is watched (support.watch): a console error, an uncaught exception
    or a CSP violation on any page of any test fails that test at teardown.
    """
    watched: list[tuple[BrowserContext, PageProblems]] = []
    own: list[BrowserContext] = []

    def make(**options) -> BrowserContext:
        if "base_url" in options:
            context = browser.new_context(**{**browser_context_args, "viewport": DESKTOP, **options})
            own.append(context)
        else:
            context = new_context(**{"viewport": DESKTOP, **options})
        watched.append((context, watch(context)))
        return context

    make.problems_of = lambda context: next(p for c, p in watched if c is context)  # type: ignore[attr-defined]
    yield make
    for context in own:
        context.close()
    found = [problem for _, problems in watched for problem in problems.all()]
    assert not found, "the browser reported problems on the pages of this test:\n" + "\n".join(found)


@pytest.fixture
def context(make_context) -> BrowserContext:
    """The `page` fixture's context: pytest-playwright's, at 1280x800, watched."""
    return make_context()


@pytest.fixture
def watched_context(make_context) -> Callable[..., tuple[BrowserContext, PageProblems]]:
    """watched_context(**options) -> (a new context, the problems of every page it opens)."""

    def make(**options) -> tuple[BrowserContext, PageProblems]:
        context = make_context(**options)
        return context, make_context.problems_of(context)

    return make


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/e2e under the repository root (git ignores test-artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
