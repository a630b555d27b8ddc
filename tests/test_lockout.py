"""The lockout, attacked as an attacker would: parallel guesses against a real gunicorn,
a lock set while a right password is being checked, a stranger trying to lock the owner
out, typos spread over time, and the cost of a sign-in for every password length."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import utcnow
from tests.support.auth import AuthActions, csrf_token
from tests.support.passwords import PASSWORD, WRONG_PASSWORD
from tests.support.races import row_held, wait_for_lock_waiters
from tests.support.server import Browser, gunicorn, register

THRESHOLD = 5
MANY_ATTEMPTS = {"RATELIMIT_LOGIN": "1000 per minute", "LOCKOUT_THRESHOLD": THRESHOLD}
INVALID = "Invalid username/e-mail or password."


def create_user(app, username="alice", password=PASSWORD):
    client = app.test_client()
    response = AuthActions(client).register(
        username=username, email=f"{username}@example.com", password=password
    )
    assert response.status_code == 302


def user_row(app, username="alice"):
    with app.app_context():
        return db.session.execute(
            text("SELECT failed_login_count, locked_until FROM users WHERE username = :u"), {"u": username}
        ).one()


def device_rows(app):
    with app.app_context():
        return db.session.execute(text("SELECT failed_login_count, locked_until FROM trusted_devices")).all()


def known_browser(app, username="alice"):
    """A browser that has signed in to the account once (it holds the device cookie), signed out."""
    auth = AuthActions(app.test_client())
    assert auth.login(login=username).status_code == 302
    assert auth.logout().status_code == 302
    return auth


def app_with_owner(make_app):
    """An app with the lockout threshold as the only limit, alice, and her known browser."""
    app = make_app(**MANY_ATTEMPTS)
    create_user(app)
    return app, known_browser(app)


def guess_wrong(auth: AuthActions, times: int = THRESHOLD, **login) -> None:
    """`times` sign-ins with a wrong password, each refused (422)."""
    for _ in range(times):
        assert auth.login(password=WRONG_PASSWORD, **login).status_code == 422


# --- decay --------------------------------------------------------------------------------------


def test_failures_older_than_the_window_no_longer_count(make_app):
    """Four typos, then the window passes: the fifth failure starts a new count instead of locking."""
    app = make_app(**MANY_ATTEMPTS, LOCKOUT_WINDOW=timedelta(minutes=15))
    create_user(app)
    stranger = AuthActions(app.test_client())
    guess_wrong(stranger, THRESHOLD - 1)
    assert user_row(app).failed_login_count == THRESHOLD - 1
    with app.app_context():  # the window's first failure, sixteen minutes ago
        db.session.execute(
            text("UPDATE users SET failed_login_window_start = :t"), {"t": utcnow() - timedelta(minutes=16)}
        )
        db.session.commit()
    assert stranger.login(password=WRONG_PASSWORD).status_code == 422
    row = user_row(app)
    assert row.failed_login_count == 1
    assert row.locked_until is None
    assert stranger.login().status_code == 302


def test_failures_inside_the_window_still_lock(make_app):
    """Control for the decay test: the same failures inside the window lock the account."""
    app = make_app(**MANY_ATTEMPTS, LOCKOUT_WINDOW=timedelta(minutes=15))
    create_user(app)
    stranger = AuthActions(app.test_client())
    guess_wrong(stranger, THRESHOLD - 1)
    with app.app_context():
        db.session.execute(
            text("UPDATE users SET failed_login_window_start = :t"), {"t": utcnow() - timedelta(minutes=14)}
        )
        db.session.commit()
    stranger.login(password=WRONG_PASSWORD)
    assert user_row(app).locked_until is not None
    assert stranger.login().status_code == 422


# --- device cookies: a lockout strangers cannot turn against the owner ---------------------------


def test_stranger_cannot_lock_out_the_owners_known_browser(make_app):
    """Five wrong guesses from an unknown client lock unknown clients out, not the owner's browser."""
    app, owner = app_with_owner(make_app)
    stranger = AuthActions(app.test_client())
    guess_wrong(stranger)
    assert user_row(app).locked_until is not None
    response = stranger.login()  # the right password, from an unknown client: locked
    assert response.status_code == 422
    assert INVALID in response.get_data(as_text=True)
    assert owner.login().status_code == 302
    assert owner.client.get("/dashboard").status_code == 200


def test_a_known_browser_locks_only_itself(make_app):
    """Wrong passwords from a known browser lock that browser; the account stays open to others."""
    app, owner = app_with_owner(make_app)
    guess_wrong(owner)
    [device] = device_rows(app)
    assert device.locked_until is not None
    assert owner.login().status_code == 422
    assert user_row(app).locked_until is None
    assert AuthActions(app.test_client()).login().status_code == 302


def _copy_device_cookie(app, source, target) -> None:
    name = app.config["DEVICE_COOKIE_NAME"]
    cookie = source.client.get_cookie(name)
    assert cookie is not None
    target.client.set_cookie(name, cookie.value)


def test_another_accounts_device_cookie_counts_as_unknown(make_app):
    """A device cookie is bound to one account: bob's browser guessing at alice is an unknown client."""
    app = make_app(**MANY_ATTEMPTS)
    create_user(app)
    create_user(app, "bob")
    bob = known_browser(app, "bob")
    guess_wrong(bob, login="alice")
    assert user_row(app).locked_until is not None
    assert [row.failed_login_count for row in device_rows(app)] == [0]


@pytest.mark.parametrize("value", ["forged", "tampered"])
def test_forged_device_cookie_counts_as_unknown(make_app, value):
    """A cookie that is not ours, or ours with a changed payload, gives no trust."""
    app, owner = app_with_owner(make_app)
    real = owner.client.get_cookie(app.config["DEVICE_COOKIE_NAME"]).value
    forged = "eyJ1IjoxLCJuIjoieCJ9.abc.def" if value == "forged" else "x" + real[1:]
    attacker = AuthActions(app.test_client())
    attacker.client.set_cookie(app.config["DEVICE_COOKIE_NAME"], forged)
    guess_wrong(attacker)
    assert user_row(app).locked_until is not None
    assert attacker.login().status_code == 422
    assert owner.login().status_code == 302


def test_copied_device_cookie_is_the_same_device(make_app):
    """Control: a copy of the real cookie is that device (the lock follows the cookie)."""
    app, owner = app_with_owner(make_app)
    copy = AuthActions(app.test_client())
    _copy_device_cookie(app, owner, copy)
    guess_wrong(copy)
    assert user_row(app).locked_until is None
    assert owner.login().status_code == 422  # the same device, now locked


def test_unlock_user_lifts_device_locks_too(make_app):
    """`flask unlock-user` lifts the lock of unknown clients and of every known browser."""
    app, owner = app_with_owner(make_app)
    stranger = AuthActions(app.test_client())
    for _ in range(THRESHOLD):
        owner.login(password=WRONG_PASSWORD)
        stranger.login(password=WRONG_PASSWORD)
    result = app.test_cli_runner().invoke(args=["unlock-user", "alice"])
    assert result.exit_code == 0, result.output
    assert owner.login().status_code == 302
    assert stranger.login().status_code == 302


# --- the cost of a sign-in ----------------------------------------------------------------------


class CountingSlot:
    """The per-process password-hash slot, counting how often it is taken."""

    def __init__(self, inner):
        self.inner = inner
        self.taken = 0

    def __enter__(self):
        self.taken += 1
        return self.inner.__enter__()

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)


@pytest.mark.parametrize("length", [8, 128, 129, 300, 512])
def test_sign_in_costs_one_hash_whether_or_not_the_account_exists(make_app, length):
    """Every password length the form accepts costs exactly one hash check, for a known
    account (wrong password) and for an unknown one: no timing oracle."""
    app = make_app(**MANY_ATTEMPTS)
    create_user(app)
    auth = AuthActions(app.test_client())
    auth.login(login="nobody", password=WRONG_PASSWORD)  # builds the dummy hash once, outside the count
    slot = CountingSlot(app.extensions["password_hash_slots"])
    app.extensions["password_hash_slots"] = slot
    password = ("Wrong-Horse-99" * 40)[:length]
    costs = {}
    for login in ("alice", "nobody"):
        slot.taken = 0
        assert auth.login(login=login, password=password).status_code == 422
        costs[login] = slot.taken
    assert costs == {"alice": 1, "nobody": 1}


def test_a_password_the_form_refuses_costs_no_hash_for_anyone(make_app):
    """Over 512 characters the form refuses before any lookup: the same (zero) cost for both."""
    app = make_app(**MANY_ATTEMPTS)
    create_user(app)
    auth = AuthActions(app.test_client())
    slot = CountingSlot(app.extensions["password_hash_slots"])
    app.extensions["password_hash_slots"] = slot
    for login in ("alice", "nobody"):
        assert auth.login(login=login, password="x" * 513).status_code == 422
    assert slot.taken == 0


# --- operators ----------------------------------------------------------------------------------


def test_cli_end_sessions_ends_every_session_of_the_account(make_app):
    """`flask end-sessions NAME` ends every session of that account and no other (ASVS 7.4.5)."""
    app = make_app(**MANY_ATTEMPTS)
    create_user(app)
    create_user(app, "bob")
    alices = [AuthActions(app.test_client()) for _ in range(2)]
    for auth in alices:
        assert auth.login().status_code == 302
    bob = AuthActions(app.test_client())
    assert bob.login(login="bob").status_code == 302
    result = app.test_cli_runner().invoke(args=["end-sessions", "alice@example.com"])
    assert result.exit_code == 0, result.output
    assert "Ended 2 sessions of alice." in result.output
    assert all(auth.client.get("/dashboard").status_code == 302 for auth in alices)
    assert bob.client.get("/dashboard").status_code == 200
    result = app.test_cli_runner().invoke(args=["end-sessions", "nobody"])
    assert result.exit_code != 0
    assert "No account named 'nobody'" in result.output


# --- parallel guesses against a real gunicorn ---------------------------------------------------

GUNICORN_ENV = {"RATELIMIT_LOGIN": "1000 per minute", "LOCKOUT_THRESHOLD": str(THRESHOLD)}


def _judged(server, offset: int) -> list[str]:
    return [
        entry.get("reason")
        for entry in server.json_logs_since(offset)
        if entry.get("event") == "auth.login_failed" and entry.get("user_id") is not None
    ]


def test_parallel_wrong_passwords_are_judged_at_most_threshold_times(tmp_path, database_url):
    """30 wrong passwords at once from unknown clients: exactly THRESHOLD are judged (counted as
    bad passwords), every other one is refused as locked, and the right password then fails."""
    with gunicorn(tmp_path, database_url, workers=2, **GUNICORN_ENV) as server:
        register(server)
        browsers = [Browser(server) for _ in range(30)]
        pages = [b.get("/auth/login") for b in browsers]
        forms = [
            {"csrf_token": csrf_token(p.body), "login": "alice", "password": WRONG_PASSWORD} for p in pages
        ]
        offset = server.log_offset()
        barrier = threading.Barrier(len(browsers))

        def attempt(i):
            barrier.wait()
            return browsers[i].post("/auth/login", forms[i]).status

        with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
            statuses = list(pool.map(attempt, range(len(browsers))))
        assert statuses == [422] * len(browsers)
        time.sleep(0.2)  # the last log lines
        reasons = _judged(server, offset)
        assert len(reasons) == len(browsers), server.output()
        assert reasons.count("bad_password") == THRESHOLD, reasons
        assert reasons.count("locked") == len(browsers) - THRESHOLD
        assert Browser(server).submit("/auth/login", {"login": "alice", "password": PASSWORD}).status == 422


@pytest.mark.postgresql_only
def test_lock_set_while_a_right_password_is_checked_wins(tmp_path, postgresql_database):
    """The lock decided after the hash: a right password whose check overlaps a parallel attempt
    that sets the lock does not sign in (it was signed in by a value read before the hash)."""
    import psycopg2

    url, name = postgresql_database
    with gunicorn(tmp_path, url, workers=1, **GUNICORN_ENV) as server:
        register(server)
        browser = Browser(server)
        page = browser.get("/auth/login")
        form = {"csrf_token": csrf_token(page.body), "login": "alice", "password": PASSWORD}
        replies = []
        # The parallel attempt: it holds alice's row while it decides to lock it.
        with row_held(url, "SELECT id FROM users WHERE username = 'alice' FOR UPDATE") as cursor:
            thread = threading.Thread(target=lambda: replies.append(browser.post("/auth/login", form)))
            thread.start()
            wait_for_lock_waiters(url, name, 1)
            cursor.execute(
                "UPDATE users SET locked_until = now() + interval '10 minutes' WHERE username = 'alice'"
            )
        thread.join(timeout=15)
        assert [r.status for r in replies] == [422]
        assert browser.get("/dashboard").status == 302
        with psycopg2.connect(url) as check, check.cursor() as cursor:
            cursor.execute("SELECT locked_until IS NOT NULL FROM users WHERE username = 'alice'")
            assert cursor.fetchone() == (True,)
