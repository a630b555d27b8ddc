"""Query budget: how many SQL statements each page may issue, and that no GET
writes anything but the throttled last_seen_at touch.

Every statement any engine sends from the request's thread is counted (a
SQLAlchemy before_cursor_execute listener), so a lazy load, an extra round-trip
or a write slipped into a GET shows up here. A budget is the exact count: a page
that needs fewer statements fails too until its budget is lowered, so a gain is
pinned as soon as it is made. Never raise one without saying why.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine

from app import tokens
from app.extensions import db
from app.models import LoginEvent, User, UserSession, utcnow
from tests.support.auth import AuthActions, csrf_token
from tests.support.passwords import PASSWORD, WRONG_PASSWORD

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """The SQL statements sent from this thread (any engine) while inside."""
    thread = threading.get_ident()
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        if threading.get_ident() == thread:
            seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _over_or_under(budget: int, statements: list[str]) -> str:
    verdict = "over budget" if len(statements) > budget else "under budget: lower the budget to pin the gain"
    return f"{len(statements)} statements, budget {budget} ({verdict}):\n" + "\n".join(statements)


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if _WRITE.match(s)]


# --- the pages and their budgets ---------------------------------------------


def get_budget(path: str, budget: int = 0, *, signed_in: bool = False, status: int = 200, note: str = ""):
    """A row (name, signed in, request, expected status, statement budget); the name is
    "GET <path>" with the note, if any, in parentheses."""
    name = f"GET {path} ({note})" if note else f"GET {path}"
    return (name, signed_in, path, status, budget)


# GETs must write nothing.
GET_BUDGETS = [
    *(get_budget(path, note="anonymous") for path in ("/auth/login", "/auth/register", "/auth/reset")),
    get_budget("/", status=302, note="anonymous"),
    get_budget("/static/style.css"),
    get_budget("/health/live"),
    get_budget("/health/ready", 1),
    get_budget("/dashboard", 4, signed_in=True, note="signed in"),
    get_budget("/account/sessions", 2, signed_in=True, note="signed in"),
    get_budget("/account/password", 1, signed_in=True, note="signed in"),
    get_budget("/auth/login", 1, signed_in=True, status=302, note="signed in: redirect"),
    get_budget("/dashboard", status=302, note="anonymous: redirect"),
]

POST_BUDGETS = [
    ("POST /auth/login (right password)", PASSWORD, 302, 7),
    ("POST /auth/login (wrong password)", WRONG_PASSWORD, 422, 3),
]


def _history(app: Flask, client: FlaskClient, *, browsers: int, failures: int) -> FlaskClient:
    """alice, signed in through the form in a new browser, with `failures` failed
    attempts since and `browsers` other live sessions (rows written directly:
    the rate limits and the lockout would stop real attempts)."""
    assert AuthActions(client).register().status_code == 302
    browser = app.test_client()
    assert AuthActions(browser).login().status_code == 302
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == "alice"))
        now = utcnow()
        for i in range(failures):
            db.session.add(
                LoginEvent(
                    user_id=user_id, success=False, ip="192.0.2.1", created_at=now + timedelta(seconds=i + 1)
                )
            )
        for i in range(browsers):
            UserSession.start(
                user_id,
                credential_version=0,
                ip=f"192.0.2.{i + 2}",
                user_agent="Firefox",
                remember=i % 2 == 0,
            )
        db.session.commit()
    browser.get("/dashboard")  # the first request of a browser may differ (a first connection, a cookie)
    return browser


@pytest.mark.parametrize(
    ("name", "signed_in", "path", "status", "budget"), GET_BUDGETS, ids=[row[0] for row in GET_BUDGETS]
)
def test_a_get_issues_its_budget_of_statements_and_writes_nothing(
    app, client, name, signed_in, path, status, budget
):
    browser = _history(app, client, browsers=2, failures=2) if signed_in else client
    browser.get(path)  # the first visit may differ (a first connection, a cookie); measure the second
    with counted_statements() as statements:
        response = browser.get(path)
    assert response.status_code == status
    assert len(statements) == budget, _over_or_under(budget, statements)
    assert writes(statements) == []


@pytest.mark.parametrize(
    ("name", "password", "status", "budget"), POST_BUDGETS, ids=[row[0] for row in POST_BUDGETS]
)
def test_a_sign_in_issues_its_budget_of_statements(app, client, name, password, status, budget):
    assert AuthActions(client).register().status_code == 302
    browser = app.test_client()
    token = csrf_token(browser.get("/auth/login").get_data(as_text=True))
    with counted_statements() as statements:
        response = browser.post(
            "/auth/login", data={"csrf_token": token, "login": "alice", "password": password}
        )
    assert response.status_code == status
    assert len(statements) == budget, _over_or_under(budget, statements)


def test_a_browser_back_with_only_its_remember_me_cookie_costs_what_a_signed_in_one_does(app, client):
    """The remember-me cookie restores the session through the same one-query loader, writing nothing."""
    assert AuthActions(client).register().status_code == 302
    remembered = app.test_client()
    assert AuthActions(remembered).login(remember=True).status_code == 302
    for _ in range(2):  # a new browser each time: only the remember-me cookie, no session cookie
        browser = app.test_client()
        name = app.config["REMEMBER_COOKIE_NAME"]
        browser.set_cookie(name, remembered.get_cookie(name).value)
        with counted_statements() as statements:
            assert browser.get("/dashboard").status_code == 200
    budget = _budget("GET /dashboard (signed in)")
    assert len(statements) == budget, _over_or_under(budget, statements)
    assert writes(statements) == []


def test_a_password_reset_link_reads_its_user_once_and_writes_nothing_on_a_get(app, client):
    """GET of a reset link: the token's user, one query; the change itself is a POST.
    (The address confirmation link is the one GET meant to write: following it is
    the confirmation.)"""
    assert AuthActions(client).register().status_code == 302
    with app.app_context():
        token = tokens.make_token(tokens.RESET_LINK, db.session.scalars(select(User)).one())
    browser = app.test_client()
    browser.get(f"/auth/reset/{token}")
    with counted_statements() as statements:
        assert browser.get(f"/auth/reset/{token}").status_code == 200
    assert len(statements) == 1, _over_or_under(1, statements)
    assert writes(statements) == []


def _budget(name: str) -> int:
    return next(row[-1] for row in GET_BUDGETS if row[0] == name)


def test_the_dashboard_issues_as_many_statements_for_a_long_history_as_for_a_short_one(app, client):
    """No statement per row: many sign-ins, failures and sessions cost what one does."""
    browser = _history(app, client, browsers=0, failures=0)
    with counted_statements() as few:
        assert browser.get("/dashboard").status_code == 200
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == "alice"))
        now = utcnow()
        for i in range(12):
            db.session.add(
                LoginEvent(user_id=user_id, success=i % 3 == 0, created_at=now + timedelta(seconds=i))
            )
        for i in range(8):
            UserSession.start(user_id, credential_version=0, ip=None, user_agent=None, remember=i % 2 == 0)
        db.session.commit()
    with counted_statements() as many:
        page = browser.get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "failed sign-in attempt" in html and "See all 9 active sessions" in html
    assert len(many) == len(few), "\n".join(many)


def test_a_get_writes_only_the_last_seen_touch_and_only_once_its_interval_ran_out(app, client):
    browser = _history(app, client, browsers=1, failures=0)
    with app.app_context():
        db.session.execute(
            update(UserSession).values(
                last_seen_at=utcnow() - app.config["SESSION_TOUCH_INTERVAL"] - timedelta(seconds=1)
            )
        )
        db.session.commit()
    with counted_statements() as statements:
        assert browser.get("/dashboard").status_code == 200
    touches = writes(statements)
    assert len(touches) == 1, touches
    assert re.match(r"UPDATE user_sessions SET last_seen_at=", touches[0]), touches[0]
    with counted_statements() as statements:
        assert browser.get("/dashboard").status_code == 200
    assert writes(statements) == []  # the interval starts again


def test_the_counter_sees_a_lazy_load(app, client):
    """The listener counts what the ORM sends on its own (so the budgets mean something)."""
    _history(app, client, browsers=1, failures=0)
    with app.app_context():
        event_row = db.session.query(LoginEvent).first()
        db.session.expunge_all()
        event_row = db.session.get(LoginEvent, event_row.id)
        with counted_statements() as statements:
            assert event_row.user.username == "alice"
    assert len(statements) == 1
