"""Server-side sessions: storage, fixation, revocation, expiry, password change,
account deletion and the dashboard's activity and session lists."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import LoginEvent, User, UserSession, utcnow
from app.security import hash_password
from tests.support.auth import AuthActions, copy_cookies, csrf_token, signed_in, signed_in_client
from tests.support.database import count_rows
from tests.support.passwords import NEW_PASSWORD, PASSWORD, WRONG_PASSWORD

# --- helpers ---------------------------------------------------------------


def create_user(app, username="alice", email=None, password=PASSWORD):
    with app.app_context():
        user = User(
            username=username,
            email=email or f"{username}@example.com",
            password_hash=hash_password(password),
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def session_data(app, client) -> dict:
    """The decoded Flask session cookie of client (empty when there is none)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def session_id_of(app, client) -> str:
    """The UserSession id (digest of the cookie's token) of a signed-in client."""
    token = session_data(app, client)["_user_id"]
    return hashlib.sha256(token.encode()).hexdigest()


def session_rows(app, *where) -> list[UserSession]:
    with app.app_context():
        rows = db.session.scalars(select(UserSession).where(*where)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def set_session(app, session_id, **values):
    with app.app_context():
        db.session.execute(update(UserSession).where(UserSession.id == session_id).values(**values))
        db.session.commit()


def page(client, path="/dashboard") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end)]


# --- storage -----------------------------------------------------------------


def test_sign_in_stores_only_token_digest(app, client, auth):
    """Sign-in creates a UserSession row keyed by SHA-256 of the cookie's token; the token is not stored."""
    user_id = create_user(app)
    auth.login()
    token = session_data(app, client)["_user_id"]
    rows = session_rows(app)
    assert len(rows) == 1
    row = rows[0]
    assert row.user_id == user_id
    assert row.id == hashlib.sha256(token.encode()).hexdigest()
    assert token != row.id
    assert token not in {r.id for r in rows}
    assert row.remember is False
    assert row.ip == "127.0.0.1"
    assert len(token) >= 43  # 256 random bits, URL-safe base64


def test_remember_me_session_is_marked(app):
    """remember_me creates a remembered session and a remember cookie holding the token, not the digest."""
    create_user(app)
    client = signed_in_client(app, remember=True)
    row = session_rows(app)[0]
    assert row.remember is True
    remember = client.get_cookie(app.config["REMEMBER_COOKIE_NAME"])
    assert remember is not None
    assert row.id not in remember.value


def test_every_sign_in_gets_its_own_session(app):
    """Two browsers signing in get two distinct sessions."""
    create_user(app)
    first = signed_in_client(app)
    second = signed_in_client(app)
    assert session_id_of(app, first) != session_id_of(app, second)
    assert count_rows(app, UserSession) == 2


# --- fixation ----------------------------------------------------------------


def test_no_session_fixation(app, client, auth):
    """The session cookie changes at sign-in, and a cookie captured before sign-in stays anonymous."""
    create_user(app)
    client.get("/auth/login")
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    before = client.get_cookie(cookie_name).value
    attacker = app.test_client()
    attacker.set_cookie(cookie_name, before)

    auth.login()
    after = client.get_cookie(cookie_name).value
    assert after != before
    assert signed_in(client)
    assert not signed_in(attacker)


def test_sign_in_drops_pre_login_session_data(app, client, auth):
    """Sign-in starts from an empty session: values planted before it do not survive."""
    create_user(app)
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    auth.login()
    data = session_data(app, client)
    assert "planted" not in data
    assert "_user_id" in data


# --- sign-out revocation -------------------------------------------------------


def test_sign_out_revokes_copied_cookies(app, client, auth):
    """Sign-out deletes the row, so a copy of the cookies taken before is anonymous afterwards."""
    create_user(app)
    auth.login()
    copy = copy_cookies(app, client)
    assert signed_in(copy)
    assert count_rows(app, UserSession) == 1

    assert auth.logout().status_code == 302
    assert count_rows(app, UserSession) == 0
    assert not signed_in(client)
    assert not signed_in(copy)
    assert not signed_in(copy_cookies(app, copy))


def test_sign_out_revokes_remember_cookie(app, auth):
    """A copied remember-me cookie alone signs in before sign-out and is dead after it."""
    create_user(app)
    client = signed_in_client(app, remember=True)
    remember_name = app.config["REMEMBER_COOKIE_NAME"]
    remember_only = copy_cookies(app, client, names=[remember_name])
    assert remember_only.get_cookie(app.config["SESSION_COOKIE_NAME"]) is None
    assert signed_in(remember_only)

    fresh_copy = copy_cookies(app, client, names=[remember_name])
    AuthActions(client).logout()
    assert count_rows(app, UserSession) == 0
    assert not signed_in(fresh_copy)
    assert not signed_in(remember_only)


# --- password change ---------------------------------------------------------


def _change_password(client, current, new, confirm=None):
    token = csrf_token(page(client, "/account/password"))
    return client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )


def test_change_password_wrong_current(app):
    """The current password must be right to change it."""
    create_user(app)
    client = signed_in_client(app)
    response = _change_password(client, WRONG_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 422
    assert "Your current password is not correct." in response.get_data(as_text=True)
    client2 = app.test_client()
    assert AuthActions(client2).login().status_code == 302


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("Short1a", None, "Use at least 8 characters."),
        ("alllowercase1", None, "Include an upper-case letter."),
        ("NoDigitsHere", None, "Include a digit."),
        ("Password1", None, "This password is too common"),
        ("Alice-Secret-99", None, "Do not include your username."),
        ("", "", "Choose a new password."),
        (NEW_PASSWORD, "Battery-Staple-78", "The passwords do not match."),
        (PASSWORD, None, "Choose a password different from your current one."),
    ],
)
def test_change_password_policy(app, new, confirm, message):
    """A new password that breaks the policy is refused with 422 and the hash is unchanged."""
    create_user(app)
    client = signed_in_client(app)
    with app.app_context():
        old_hash = db.session.scalar(select(User.password_hash))
    response = _change_password(client, PASSWORD, new, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User.password_hash)) == old_hash


def test_change_password_ends_other_sessions(app):
    """A password change ends every other session, keeps this browser signed in on a new
    session token, and swaps which password works."""
    create_user(app)
    client = signed_in_client(app)
    other = signed_in_client(app)
    remembered = signed_in_client(app, remember=True)
    current_id = session_id_of(app, client)

    response = _change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert "Other devices have been signed out." in page(client)
    rows = session_rows(app)
    assert len(rows) == 1
    assert rows[0].id != current_id
    assert rows[0].id == session_id_of(app, client)
    assert not signed_in(other)
    assert not signed_in(remembered)
    assert signed_in(client)

    fresh = AuthActions(app.test_client())
    assert fresh.login(password=PASSWORD).status_code == 422
    assert fresh.login(password=NEW_PASSWORD).status_code == 302


# --- account deletion --------------------------------------------------------


def _delete_account(client, password):
    token = csrf_token(page(client))
    return client.post("/account/delete", data={"csrf_token": token, "password": password})


def test_delete_account_wrong_password(app):
    """A wrong password deletes nothing."""
    user_id = create_user(app)
    client = signed_in_client(app)
    other = signed_in_client(app)
    response = _delete_account(client, WRONG_PASSWORD)
    assert response.status_code == 422
    assert "That password is not correct; nothing was deleted." in response.get_data(as_text=True)
    assert count_rows(app, User) == 1
    assert count_rows(app, UserSession, UserSession.user_id == user_id) == 2
    assert count_rows(app, LoginEvent, LoginEvent.user_id == user_id) == 2
    assert signed_in(client)
    assert signed_in(other)


def test_delete_account(app):
    """The right password deletes the user, its events and every session, and signs out."""
    user_id = create_user(app)
    bob_id = create_user(app, "bob")
    client = signed_in_client(app)
    other = signed_in_client(app, remember=True)
    bob = signed_in_client(app, "bob")

    response = _delete_account(client, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert "Your account and its history have been deleted." in client.get("/auth/login").get_data(
        as_text=True
    )
    assert count_rows(app, User, User.id == user_id) == 0
    assert count_rows(app, LoginEvent, LoginEvent.user_id == user_id) == 0
    assert count_rows(app, UserSession, UserSession.user_id == user_id) == 0
    assert not signed_in(client)
    assert not signed_in(other)
    # Other accounts are untouched.
    assert count_rows(app, User, User.id == bob_id) == 1
    assert count_rows(app, LoginEvent, LoginEvent.user_id == bob_id) == 1
    assert signed_in(bob)
    assert AuthActions(app.test_client()).login().status_code == 422


# --- expiry ------------------------------------------------------------------


def test_idle_timeout_ends_session(app):
    """A non-remembered session idle longer than SESSION_IDLE_TIMEOUT is ended and its row deleted."""
    create_user(app)
    client = signed_in_client(app)
    session_id = session_id_of(app, client)
    set_session(
        app, session_id, last_seen_at=utcnow() - app.config["SESSION_IDLE_TIMEOUT"] + timedelta(minutes=1)
    )
    assert signed_in(client)
    set_session(
        app, session_id, last_seen_at=utcnow() - app.config["SESSION_IDLE_TIMEOUT"] - timedelta(minutes=1)
    )
    assert not signed_in(client)
    assert session_rows(app) == []


def test_absolute_lifetime_ends_active_session(app):
    """A session older than SESSION_LIFETIME ends even though it was just used."""
    create_user(app)
    client = signed_in_client(app)
    session_id = session_id_of(app, client)
    now = utcnow()
    set_session(app, session_id, created_at=now - app.config["SESSION_LIFETIME"] + timedelta(minutes=1))
    assert signed_in(client)
    set_session(
        app,
        session_id,
        created_at=now - app.config["SESSION_LIFETIME"] - timedelta(minutes=1),
        last_seen_at=now,
    )
    assert not signed_in(client)
    assert session_rows(app) == []


def test_remember_me_survives_idleness_until_remember_lifetime(app):
    """A remembered session outlives the idle timeout and SESSION_LIFETIME, but not REMEMBER_LIFETIME."""
    create_user(app)
    client = signed_in_client(app, remember=True)
    session_id = session_id_of(app, client)
    now = utcnow()
    idle = now - app.config["SESSION_IDLE_TIMEOUT"] - timedelta(hours=1)
    set_session(
        app,
        session_id,
        last_seen_at=idle,
        created_at=now - app.config["SESSION_LIFETIME"] - timedelta(hours=1),
    )
    assert signed_in(client)
    assert len(session_rows(app)) == 1

    set_session(app, session_id, created_at=now - app.config["REMEMBER_LIFETIME"] - timedelta(minutes=1))
    assert not signed_in(client)
    assert session_rows(app) == []
    remember_only = copy_cookies(app, client, names=[app.config["REMEMBER_COOKIE_NAME"]])
    assert not signed_in(remember_only)


def test_expiry_settings_come_from_environment(make_app, monkeypatch):
    """SESSION_IDLE_TIMEOUT_SECONDS from the environment sets the idle timeout."""
    monkeypatch.setenv("SESSION_IDLE_TIMEOUT_SECONDS", "300")
    app = make_app()
    assert app.config["SESSION_IDLE_TIMEOUT"] == timedelta(seconds=300)
    create_user(app)
    client = signed_in_client(app)
    set_session(app, session_id_of(app, client), last_seen_at=utcnow() - timedelta(seconds=360))
    assert not signed_in(client)


def test_last_seen_written_at_most_once_per_minute(app):
    """last_seen_at is not rewritten on every request, only when it is over a minute old."""
    create_user(app)
    client = signed_in_client(app)
    session_id = session_id_of(app, client)
    first = session_rows(app)[0].last_seen_at
    assert signed_in(client)
    assert signed_in(client)
    assert session_rows(app)[0].last_seen_at == first

    two_minutes_ago = utcnow() - timedelta(minutes=2)
    set_session(app, session_id, last_seen_at=two_minutes_ago)
    before = utcnow()
    assert signed_in(client)
    touched = session_rows(app)[0].last_seen_at
    assert touched >= before
    assert touched > two_minutes_ago


# --- dashboard -----------------------------------------------------------------


def test_dashboard_shows_last_ten_events(app):
    """The dashboard lists the newest 10 sign-in events with IP and result, no more."""
    user_id = create_user(app)
    start = utcnow() - timedelta(hours=2)
    with app.app_context():
        for i in range(12):
            db.session.add(
                LoginEvent(
                    user_id=user_id,
                    created_at=start + timedelta(minutes=i),
                    ip=f"192.0.2.{101 + i}",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
                    success=i % 2 == 0,
                )
            )
        db.session.commit()
    client = signed_in_client(app)
    events = section(page(client), 'id="events-title"', 'id="sessions-title"')
    body = events[events.index("<tbody>") : events.index("</tbody>")]
    assert body.count("<tr>") == 10
    # Newest first: this sign-in, then the 9 newest stored events; the 3 oldest are left out.
    assert "127.0.0.1" in body
    for i in range(3, 12):
        assert f"192.0.2.{101 + i}" in body
    for i in range(3):
        assert f"192.0.2.{101 + i}" not in body
    assert body.count("badge-ok") == 1 + 4
    assert body.count("badge-fail") == 5
    assert "Firefox on Linux" in body


def test_dashboard_times_are_utc_with_a_machine_readable_value(app):
    """Each time reads "YYYY-MM-DD HH:MM UTC" inside a <time> carrying the exact ISO value."""
    user_id = create_user(app)
    with app.app_context():
        db.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(created_at=utcnow().replace(2024, 2, 29, 23, 5, 9, 120))
        )
        db.session.commit()
    html = page(signed_in_client(app))
    assert '<dd><time datetime="2024-02-29T23:05:09.000120+00:00">2024-02-29 23:05 UTC</time></dd>' in html


def test_dashboard_warns_about_failures_since_previous_sign_in(app):
    """A warning counts failed attempts since the previous sign-in, and is absent when there were none."""
    create_user(app)
    auth = AuthActions(app.test_client())
    for _ in range(2):
        auth.login(password=WRONG_PASSWORD)
    auth.login()
    html = page(auth.client)
    assert 'class="warning"' in html
    assert "<strong>2 failed sign-in attempts</strong>" in html

    auth.logout()
    auth.login()
    html = page(auth.client)
    assert 'class="warning"' not in html
    assert "failed sign-in attempt" not in html

    auth.logout()
    auth.login(password=WRONG_PASSWORD)
    auth.login()
    html = page(auth.client)
    assert "<strong>1 failed sign-in attempt</strong>" in html


def test_dashboard_lists_active_sessions(app):
    """Every active session of the user is listed, with this device marked once; others' sessions are not."""
    create_user(app)
    create_user(app, "bob")
    client = signed_in_client(app)
    other = signed_in_client(app)
    bob = signed_in_client(app, "bob")
    sessions = section(page(client), 'id="sessions-title"', 'id="delete-title"')
    assert f"/account/sessions/{session_id_of(app, client)}/end" in sessions
    assert f"/account/sessions/{session_id_of(app, other)}/end" in sessions
    assert f"/account/sessions/{session_id_of(app, bob)}/end" not in sessions
    assert sessions.count("This device") == 1
    assert "Sign out all other sessions" in sessions


def test_end_one_other_session(app):
    """Signing out one other session ends only that one."""
    create_user(app)
    client = signed_in_client(app)
    target = signed_in_client(app)
    bystander = signed_in_client(app)
    target_id = session_id_of(app, target)
    token = csrf_token(page(client))
    response = client.post(
        f"/account/sessions/{target_id}/end", data={"csrf_token": token, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert not signed_in(target)
    assert signed_in(bystander)
    assert signed_in(client)
    assert target_id not in {row.id for row in session_rows(app)}
    assert count_rows(app, UserSession) == 2


def test_end_session_needs_csrf(app):
    """Ending a session without the CSRF token is refused and ends nothing."""
    create_user(app)
    client = signed_in_client(app)
    target = signed_in_client(app)
    response = client.post(f"/account/sessions/{session_id_of(app, target)}/end")
    assert response.status_code == 400
    assert signed_in(target)


def test_end_other_users_session_is_404(app):
    """A user cannot end another user's session: 404, and nothing ends."""
    create_user(app)
    create_user(app, "bob")
    client = signed_in_client(app)
    bob = signed_in_client(app, "bob")
    token = csrf_token(page(client))
    response = client.post(f"/account/sessions/{session_id_of(app, bob)}/end", data={"csrf_token": token})
    assert response.status_code == 404
    response = client.post(f"/account/sessions/{'0' * 64}/end", data={"csrf_token": token})
    assert response.status_code == 404
    assert signed_in(bob)
    assert signed_in(client)
    assert count_rows(app, UserSession) == 2


def test_end_own_current_session_signs_out(app):
    """Ending this device's own session from the list signs it out."""
    create_user(app)
    client = signed_in_client(app)
    token = csrf_token(page(client))
    response = client.post(f"/account/sessions/{session_id_of(app, client)}/end", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert not signed_in(client)
    assert count_rows(app, UserSession) == 0


def test_end_all_other_sessions(app):
    """Ending "all other sessions" ends the others and keeps this one (and other users' sessions)."""
    create_user(app)
    create_user(app, "bob")
    client = signed_in_client(app)
    others = [signed_in_client(app), signed_in_client(app, remember=True)]
    bob = signed_in_client(app, "bob")
    token = csrf_token(page(client))
    response = client.post("/account/sessions/end-others", data={"csrf_token": token, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert "Signed out 2 other sessions." in page(client)
    assert all(not signed_in(other) for other in others)
    assert signed_in(bob)
    assert {row.id for row in session_rows(app)} == {session_id_of(app, client), session_id_of(app, bob)}


_LOGOUT_FORM = re.compile(r'<form method="post" action="/auth/logout"[^>]*>(.*?)</form>', re.S)


@pytest.mark.parametrize("path", ["/dashboard", "/account/password"])
def test_sign_out_button_on_signed_in_pages(app, path):
    """Every signed-in page carries a working sign-out form with its CSRF token."""
    create_user(app)
    client = signed_in_client(app)
    form = _LOGOUT_FORM.search(page(client, path))
    assert form is not None
    assert "Sign out" in form.group(1)
    response = client.post("/auth/logout", data={"csrf_token": csrf_token(form.group(1))})
    assert response.status_code == 302
    assert not signed_in(client)
