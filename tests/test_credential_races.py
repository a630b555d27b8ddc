"""Password changes and resets against racing requests, and re-authentication: a session
made with the old password never outlives the change, two changes at once leave exactly
one password, a reset link used in parallel works once, a wrong current password is
throttled like a sign-in, and the current session token rotates."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app import sessions as sessions_module
from app import tokens
from app.extensions import db
from app.models import User, UserSession
from tests.support.auth import AuthActions, csrf_token
from tests.support.passwords import NEW_PASSWORD, OTHER_PASSWORD, PASSWORD, WRONG_PASSWORD
from tests.support.races import row_held, start_parallel, wait_for_lock_waiters
from tests.support.server import Browser, gunicorn, server_app_context


def create_user(app):
    assert AuthActions(app.test_client()).register().status_code == 302


def signed_in(app, **kwargs) -> AuthActions:
    auth = AuthActions(app.test_client())
    assert auth.login(**kwargs).status_code == 302
    return auth


def is_signed_in(auth: AuthActions) -> bool:
    return auth.client.get("/dashboard").status_code == 200


def change_password(auth: AuthActions, current=PASSWORD, new=NEW_PASSWORD):
    token = auth.token("/account/password")
    return auth.client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": current, "new_password": new, "confirm_password": new},
    )


def session_count(app) -> int:
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM user_sessions")).scalar()


# --- a sign-in that checked the old password ----------------------------------------------------


def test_session_from_a_sign_in_racing_a_password_change_is_ended(app, monkeypatch):
    """The sign-in checks the old password; the change commits before the sign-in creates its
    session. That session must not work (it carries the old credential version)."""
    create_user(app)
    owner = signed_in(app)
    racer = AuthActions(app.test_client())
    real_start = sessions_module.UserSession.start
    changed = []
    interleaved = threading.Event()

    def start_after_a_change(*args, **kwargs):
        if not interleaved.is_set():  # the interleaving: the change lands between the check and the insert
            interleaved.set()
            # (from another thread: a request of its own, not nested in this one's context)
            thread = threading.Thread(target=lambda: changed.append(change_password(owner).status_code))
            thread.start()
            thread.join()
        return real_start(*args, **kwargs)

    monkeypatch.setattr(sessions_module.UserSession, "start", start_after_a_change)
    assert racer.login().status_code == 302  # the old password was right when checked
    monkeypatch.undo()
    assert changed == [302]
    assert not is_signed_in(racer)
    assert is_signed_in(owner)
    assert AuthActions(app.test_client()).login(password=NEW_PASSWORD).status_code == 302


def test_stale_session_row_is_ended_by_the_loader(app):
    """Whatever created it, a session whose credential version is older than the user's is ended."""
    create_user(app)
    auth = signed_in(app)
    with app.app_context():
        db.session.execute(text("UPDATE users SET credential_version = credential_version + 1"))
        db.session.commit()
    assert not is_signed_in(auth)
    assert session_count(app) == 0


# --- re-authentication --------------------------------------------------------------------------


def test_password_change_rotates_the_session_token(app):
    """A copy of the session cookie taken before the change no longer works; the browser that
    changed the password stays signed in."""
    create_user(app)
    auth = signed_in(app)
    copy = AuthActions(app.test_client())
    copy.client.set_cookie("session", auth.client.get_cookie("session").value)
    assert is_signed_in(copy)
    assert change_password(auth).status_code == 302
    assert is_signed_in(auth)
    assert not is_signed_in(copy)


@pytest.mark.parametrize("page", ["password", "delete", "end-others"])
def test_wrong_current_passwords_end_the_session(make_app, page, caplog):
    """After LOCKOUT_THRESHOLD wrong current passwords on a re-authenticating page, the session
    ends and the event is logged; nothing was changed."""
    app = make_app(LOCKOUT_THRESHOLD=3, RATELIMIT_REAUTH="1000 per minute")
    create_user(app)
    auth = signed_in(app)
    signed_in(app)  # another session, for end-others

    def attempt():
        token = auth.token("/dashboard")
        if page == "password":
            data = {
                "current_password": WRONG_PASSWORD,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            }
            return auth.client.post("/account/password", data={"csrf_token": token, **data})
        path = "/account/delete" if page == "delete" else "/account/sessions/end-others"
        return auth.client.post(path, data={"csrf_token": token, "password": WRONG_PASSWORD})

    assert [attempt().status_code for _ in range(2)] == [422, 422]
    assert is_signed_in(auth)
    response = attempt()
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert not is_signed_in(auth)
    assert "auth.reauth_locked" in caplog.text
    assert session_count(app) == 1  # the other session is untouched
    assert AuthActions(app.test_client()).login().status_code == 302  # the password is unchanged


def test_reauthentication_is_rate_limited_per_user(make_app):
    """One signed-in account cannot tie up the password hashing: its password checks are
    limited across all its sessions."""
    app = make_app(RATELIMIT_REAUTH="2 per minute", LOCKOUT_THRESHOLD=100)
    create_user(app)
    first, second = signed_in(app), signed_in(app)

    def wrong_change(auth):
        return change_password(auth, current=WRONG_PASSWORD).status_code

    assert [wrong_change(first), wrong_change(second)] == [422, 422]
    assert wrong_change(first) == 429
    assert wrong_change(second) == 429


def _other_session_form(app, auth):
    html = auth.client.get("/dashboard").get_data(as_text=True)
    ids = re.findall(r"/account/sessions/([0-9a-f]{64})/end", html)
    return ids, csrf_token(html)


@pytest.mark.parametrize("which", ["one", "all"])
def test_ending_other_sessions_asks_for_the_password(app, which):
    """Ending another session, or all of them, first asks for the password (ASVS 7.5.2): the
    button gives a confirmation page, a wrong password ends nothing, the right one does."""
    create_user(app)
    auth = signed_in(app)
    other = signed_in(app)
    ids, token = _other_session_form(app, auth)
    path = "/account/sessions/end-others"
    if which == "one":
        target = next(i for i in ids if i != _this_session_id(app, auth))
        path = f"/account/sessions/{target}/end"

    page = auth.client.post(path, data={"csrf_token": token})
    assert page.status_code == 200
    assert 'autocomplete="current-password"' in page.get_data(as_text=True)
    assert is_signed_in(other)

    wrong = auth.client.post(path, data={"csrf_token": token, "password": WRONG_PASSWORD})
    assert wrong.status_code == 422
    assert is_signed_in(other)

    right = auth.client.post(path, data={"csrf_token": token, "password": PASSWORD})
    assert right.status_code == 302
    assert not is_signed_in(other)
    assert is_signed_in(auth)


def _this_session_id(app, auth) -> str:
    import hashlib

    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        data = serializer.loads(auth.client.get_cookie("session").value)
    return hashlib.sha256(data["_user_id"].encode()).hexdigest()


def test_sign_out_expires_the_remember_me_cookie(app):
    """Signing out tells the browser to drop the remember-me cookie too."""
    create_user(app)
    auth = signed_in(app, remember=True)
    assert auth.client.get_cookie("remember_token") is not None
    response = auth.logout()
    assert response.status_code == 302
    expired = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")]
    assert len(expired) == 1
    assert "Expires=Thu, 01 Jan 1970" in expired[0] or "Max-Age=0" in expired[0]
    assert auth.client.get_cookie("remember_token") is None


def test_a_session_in_use_every_ten_seconds_never_goes_idle(make_app, monkeypatch):
    """With a 60 s idle timeout, a session used every 10 s stays signed in for two minutes:
    last_seen_at is written often enough (the touch interval follows the idle timeout)."""
    monkeypatch.setenv("SESSION_IDLE_TIMEOUT_SECONDS", "60")
    app = make_app()
    create_user(app)
    auth = signed_in(app)
    for _ in range(12):  # ten seconds pass between requests, twelve times
        with app.app_context():
            row = db.session.scalars(select(UserSession)).one()
            row.last_seen_at = row.last_seen_at - timedelta(seconds=10)
            db.session.commit()
        assert is_signed_in(auth)


# --- races against a real gunicorn on PostgreSQL ------------------------------------------------


def _register_and_sign_in(server, count: int) -> list[Browser]:
    first = Browser(server)
    reply = first.submit(
        "/auth/register",
        {
            "username": "alice",
            "email": "alice@example.com",
            "password": PASSWORD,
            "confirm_password": PASSWORD,
        },
    )
    assert reply.status == 302, reply
    browsers = [Browser(server) for _ in range(count)]
    for browser in browsers:
        assert browser.submit("/auth/login", {"login": "alice", "password": PASSWORD}).status == 302
    return browsers


def _signs_in(server, password: str) -> bool:
    return Browser(server).submit("/auth/login", {"login": "alice", "password": password}).status == 302


@pytest.mark.postgresql_only
def test_two_simultaneous_password_changes_leave_exactly_one(tmp_path, postgresql_database):
    """Two sessions change the password at the same moment: both answer cleanly, exactly one
    new password is in force, the one whose page said so, and every other session is ended."""
    url, name = postgresql_database
    with gunicorn(tmp_path, url, workers=2, RATELIMIT_LOGIN="1000 per minute") as server:
        first, second, bystander = _register_and_sign_in(server, 3)
        forms = []
        for browser, new in ((first, NEW_PASSWORD), (second, OTHER_PASSWORD)):
            page = browser.get("/account/password")
            fields = {"current_password": PASSWORD, "new_password": new, "confirm_password": new}
            forms.append((browser, {"csrf_token": csrf_token(page.body), **fields}))
        with row_held(url, "SELECT id FROM users WHERE username = 'alice' FOR UPDATE"):
            posts = [lambda b=b, f=f: b.post("/account/password", f) for b, f in forms]
            threads, replies = start_parallel(posts)
            wait_for_lock_waiters(url, name, 2)
        for thread in threads:
            thread.join(timeout=15)
        statuses = [(r.status, r.headers.get("Location")) for r in replies]
        assert sorted(statuses) == [(302, "/auth/login"), (302, "/dashboard")], server.output()
        winner = 0 if statuses[0][1] == "/dashboard" else 1
        in_force = [NEW_PASSWORD, OTHER_PASSWORD][winner]
        loser_password = [NEW_PASSWORD, OTHER_PASSWORD][1 - winner]
        assert [first, second][winner].get("/dashboard").status == 200
        assert [first, second][1 - winner].get("/dashboard").status == 302
        assert bystander.get("/dashboard").status == 302
        assert _signs_in(server, in_force)
        assert not _signs_in(server, loser_password)
        assert not _signs_in(server, PASSWORD)
        assert "Traceback" not in server.output()


@pytest.mark.postgresql_only
def test_reset_link_used_in_parallel_works_once(tmp_path, postgresql_database):
    """Three submissions of one reset link at the same moment: one changes the password, the
    others get the used-link page; the password set is the winner's."""
    url, name = postgresql_database
    with gunicorn(tmp_path, url, workers=2, RATELIMIT_RESET="1000 per minute") as server:
        _register_and_sign_in(server, 0)
        link = _reset_link(url)
        passwords = [NEW_PASSWORD, OTHER_PASSWORD, "Third-New-Pass-99"]
        posts = []
        for new in passwords:
            browser = Browser(server)
            page = browser.get(link)
            assert page.status == 200, page
            posts.append(
                (browser, {"csrf_token": csrf_token(page.body), "new_password": new, "confirm_password": new})
            )
        with row_held(url, "SELECT id FROM users WHERE username = 'alice' FOR UPDATE"):
            threads, replies = start_parallel([lambda b=b, f=f: b.post(link, f) for b, f in posts])
            wait_for_lock_waiters(url, name, 3)
        for thread in threads:
            thread.join(timeout=15)
        statuses = [r.status for r in replies]
        assert sorted(statuses) == [302, 400, 400], server.output()
        for reply in replies:
            if reply.status == 400:
                assert "The link has already been used" in reply.body
        winner = passwords[statuses.index(302)]
        assert _signs_in(server, winner)
        assert [p for p in passwords if _signs_in(server, p)] == [winner]


def _reset_link(url: str) -> str:
    """A reset link for alice, signed with the server's SECRET_KEY."""
    with server_app_context(url):
        user = db.session.scalars(select(User)).one()
        return f"/auth/reset/{tokens.make_token(tokens.RESET_LINK, user)}"
