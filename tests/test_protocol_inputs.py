"""Protocol inputs that no browser form sends: JSON bodies and file parts on
every form endpoint, and forwarded client addresses that are not addresses."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from app import tokens
from app.extensions import db
from app.models import LoginEvent, User, UserSession
from app.security import hash_password
from tests.support.auth import csrf_token
from tests.support.passwords import PASSWORD

# Every value JSON can carry that a form field cannot.
JSON_VALUES = {
    "object": {"a": 1},
    "number": 42,
    "float": 1.5,
    "true": True,
    "false": False,
    "list": ["x", "y"],
    "empty-list": [],
    "null": None,
}
FIELDS = ("login", "password", "username", "email", "confirm_password", "current_password", "new_password")


def _create_alice(app) -> int:
    with app.app_context():
        user = User(username="alice", email="alice@example.com", password_hash=hash_password(PASSWORD))
        db.session.add(user)
        db.session.commit()
        return user.id


def _setup(app):
    """An account, a signed-in client holding a CSRF token, and the URL of every POST route."""
    user_id = _create_alice(app)
    with app.app_context():
        reset_token = tokens.make_token(tokens.RESET_LINK, db.session.get(User, user_id))
    other = app.test_client()  # a second session, for /account/sessions/<id>/end
    _sign_in(other)
    client = app.test_client()
    token = _sign_in(client)
    with app.app_context():
        session_ids = db.session.scalars(select(UserSession.id)).all()
    values = {"token": reset_token, "session_id": session_ids[0]}
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            url = rule.rule.replace("<token>", values["token"])
            urls.append(url.replace("<session_id>", values["session_id"]))
    assert len(urls) >= 10
    return client, token, urls


def _sign_in(client) -> str:
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    response = client.post("/auth/login", data={"csrf_token": token, "login": "alice", "password": PASSWORD})
    assert response.status_code == 302
    return csrf_token(client.get("/account/password").get_data(as_text=True))


@pytest.mark.parametrize("kind", sorted(JSON_VALUES))
def test_json_bodies_on_every_form_endpoint_get_400(app, kind):
    """A JSON body (with the CSRF token in its header, so it reaches the form) is refused
    with 400 by every POST route, whatever JSON value each field carries; nothing is signed out."""
    client, token, urls = _setup(app)
    body = json.dumps({field: JSON_VALUES[kind] for field in FIELDS} | {"csrf_token": token})
    for url in urls:
        response = client.post(
            url, data=body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert response.status_code == 400, (url, response.status_code)
        assert "accepts only" in response.get_data(as_text=True), url
    assert client.get("/dashboard").status_code == 200


@pytest.mark.parametrize("field", FIELDS)
def test_file_parts_on_every_form_endpoint_get_400(app, field):
    """A file part in a form field (beside the right CSRF token) is refused with 400
    by every POST route."""
    client, token, urls = _setup(app)
    for url in urls:
        data = {"csrf_token": token, "login": "alice", "password": PASSWORD}
        data[field] = (io.BytesIO(PASSWORD.encode()), "password.txt")
        response = client.post(url, data=data, content_type="multipart/form-data")
        assert response.status_code == 400, (url, response.status_code)
    assert client.get("/dashboard").status_code == 200


def test_multipart_without_files_still_works(app):
    """A multipart form with text parts only is an ordinary form: the sign-in works."""
    client = app.test_client()
    _create_alice(app)
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    response = client.post(
        "/auth/login",
        data={"csrf_token": token, "login": "alice", "password": PASSWORD},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(LoginEvent.success)) is True


# --- forwarded client addresses ----------------------------------------------

BAD_FORWARDED_FOR = [
    "not-an-ip",
    "<script>alert(1)</script>",
    "1.2.3.4.5",
    "203.0.113.7:443",
    "unknown",
    "x" * 200,
    "",
]


def _addresses(app) -> tuple[list, list]:
    with app.app_context():
        events = db.session.scalars(select(LoginEvent.ip).order_by(LoginEvent.id)).all()
        sessions = db.session.scalars(select(UserSession.ip)).all()
        db.session.remove()
    return events, sessions


@pytest.mark.parametrize("forwarded", BAD_FORWARDED_FOR)
def test_forwarded_for_that_is_no_ip_is_ignored(make_app, forwarded):
    """Behind one trusted proxy, an X-Forwarded-For that is not an IP address is ignored:
    the peer address is stored on the sign-in event and the session, never the raw value."""
    app = make_app(TRUSTED_PROXIES=1)
    _create_alice(app)
    client = app.test_client()
    headers = {"X-Forwarded-For": forwarded}
    token = csrf_token(client.get("/auth/login", headers=headers).get_data(as_text=True))
    data = {"csrf_token": token, "login": "alice", "password": PASSWORD}
    response = client.post("/auth/login", data=data, headers=headers)
    assert response.status_code == 302
    assert _addresses(app) == (["127.0.0.1"], ["127.0.0.1"])


def test_valid_forwarded_for_is_used_and_normalised(make_app):
    """A valid forwarded address is still the client's address (IPv6 in its short form)."""
    app = make_app(TRUSTED_PROXIES=1)
    _create_alice(app)
    client = app.test_client()
    headers = {"X-Forwarded-For": "198.51.100.1, 2001:DB8:0:0::7"}
    token = csrf_token(client.get("/auth/login", headers=headers).get_data(as_text=True))
    data = {"csrf_token": token, "login": "alice", "password": PASSWORD}
    assert client.post("/auth/login", data=data, headers=headers).status_code == 302
    assert _addresses(app) == (["2001:db8::7"], ["2001:db8::7"])


def test_bad_forwarded_for_values_share_the_peer_rate_limit(make_app):
    """A client cannot mint fresh rate-limit keys with made-up X-Forwarded-For values:
    they all count against the peer address."""
    app = make_app(TRUSTED_PROXIES=1, RATELIMIT_LOGIN="3 per minute")
    client = app.test_client()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    statuses = []
    for forwarded in BAD_FORWARDED_FOR[:5]:
        response = client.post(
            "/auth/login",
            data={"csrf_token": token, "login": "nobody", "password": PASSWORD},
            headers={"X-Forwarded-For": forwarded},
        )
        statuses.append(response.status_code)
    assert statuses == [422, 422, 422, 429, 429]
