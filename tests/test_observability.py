"""Logs and metrics, in process: JSON lines, request ids, named events, no
secrets, no forged lines, and Prometheus counters labelled by route template."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app.extensions import db
from app.models import User, UserSession, utcnow
from tests.support.auth import AuthActions, csrf_token
from tests.support.metrics import metric_value
from tests.support.passwords import PASSWORD

SECRET = "Zebra-Quartz-Secret-77"


def log_records(capsys) -> list[dict]:
    """Every line written to stdout since the last call, each parsed as JSON."""
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    records = []
    for line in lines:
        record = json.loads(line)  # fails the test if any line is not one JSON object
        assert isinstance(record, dict)
        records.append(record)
    return records


def events(records: list[dict], name: str) -> list[dict]:
    return [r for r in records if r.get("event") == name]


def test_every_line_is_a_json_object_with_the_standard_fields(client, capsys):
    capsys.readouterr()
    response = client.get("/auth/login", headers={"User-Agent": "pytest-agent"})
    records = log_records(capsys)
    request_lines = [r for r in records if r["logger"] == "app.requests"]
    assert len(request_lines) == 1
    line = request_lines[0]
    for field in ("time", "level", "logger", "message", "request_id"):
        assert field in line, field
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/auth/login"
    assert line["route"] == "/auth/login"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float) and line["duration_ms"] >= 0
    assert line["remote_addr"] == "127.0.0.1"
    assert line["user_agent"] == "pytest-agent"
    assert line["user_id"] is None
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0


def app_with_env(make_app, monkeypatch, **env: str):
    """An app built with these environment variables, a client of it and its AuthActions."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = make_app()
    client = app.test_client()
    return app, client, AuthActions(client)


def only_user_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id))


def test_request_line_names_the_route_template_and_the_signed_in_user(app, client, auth, capsys):
    auth.register()
    auth.login()
    capsys.readouterr()
    client.get("/dashboard")
    [line] = [r for r in log_records(capsys) if r["logger"] == "app.requests"]
    user_id = only_user_id(app)
    assert line["user_id"] == user_id
    assert line["route"] == "/dashboard"


def test_secret_url_parts_are_logged_as_the_route_template(app, client, auth, capsys):
    """The session id in /account/sessions/<session_id>/end never reaches the logs."""
    auth.register()
    auth.login()
    with app.app_context():
        session_id = db.session.scalar(select(UserSession.id))
    token = csrf_token(client.get("/dashboard").get_data(as_text=True))
    capsys.readouterr()
    client.post(f"/account/sessions/{session_id}/end", data={"csrf_token": token})
    out = capsys.readouterr().out
    assert session_id not in out
    assert '"path": "/account/sessions/<session_id>/end"' in out


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abcdef12-3456", True),
        ("trace.id:0001_ABC", True),
        ("short", False),
        ("x" * 200, False),
        ("bad id with spaces", False),
        ('"quoted"-0000000', False),
        ("", False),
    ],
)
def test_request_id_is_taken_when_well_formed_and_always_echoed(client, capsys, incoming, kept):
    capsys.readouterr()
    response = client.get("/health/live", headers={"X-Request-ID": incoming} if incoming else {})
    echoed = response.headers["X-Request-ID"]
    if kept:
        assert echoed == incoming
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_events_name_who_where_and_when(make_app, monkeypatch, capsys):
    """Each named event is logged with user id, IP and a UTC time."""
    app, client, auth = app_with_env(
        make_app, monkeypatch, LOCKOUT_THRESHOLD="2", RATELIMIT_LOGIN="50 per minute"
    )
    capsys.readouterr()

    auth.register()
    auth.login(login="nobody")
    auth.login()
    user_id = only_user_id(app)
    other = AuthActions(app.test_client())
    other.login()
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": SECRET,
            "confirm_password": SECRET,
        },
    )
    auth.logout()
    auth.login(password="Wrong-Password-1")
    auth.login(password="Wrong-Password-2")
    auth.login(password=SECRET)  # refused: locked
    client.post("/auth/login", data={"login": "x", "password": "y"})  # no CSRF token
    records = log_records(capsys)

    expected = {
        "user.registered": {"user_id": user_id},
        "auth.login_succeeded": {"user_id": user_id},
        "auth.password_changed": {"user_id": user_id},
        "auth.logout": {"user_id": user_id},
        "auth.locked": {"user_id": user_id},
        "security.csrf_failed": {},
    }
    for name, fields in expected.items():
        found = events(records, name)
        assert found, f"no {name} event"
        record = found[0]
        for key, value in fields.items():
            assert record[key] == value, (name, key)
        assert record["ip"] == "127.0.0.1"
        assert datetime.fromisoformat(record["time"]).utcoffset().total_seconds() == 0
        assert record["message"] == name

    reasons = [r["reason"] for r in events(records, "auth.login_failed")]
    assert reasons == ["unknown_account", "bad_password", "bad_password", "locked"]
    ended = {r["reason"] for r in events(records, "session.ended")}
    assert {"password_changed", "logout"} <= ended


def test_account_deleted_and_rate_limited_events(make_app, monkeypatch, capsys):
    app, client, auth = app_with_env(make_app, monkeypatch, RATELIMIT_LOGIN="3 per minute")
    auth.register()
    auth.login()
    user_id = only_user_id(app)
    token = csrf_token(client.get("/dashboard").get_data(as_text=True))
    capsys.readouterr()
    client.post("/account/delete", data={"csrf_token": token, "password": PASSWORD})
    for _ in range(3):
        auth.login(password="Wrong-Password-1")
    records = log_records(capsys)
    [deleted] = events(records, "account.deleted")
    assert deleted["user_id"] == user_id
    assert "account_deleted" in {r["reason"] for r in events(records, "session.ended")}
    limited = events(records, "security.rate_limited")
    assert limited and limited[0]["path"] == "/auth/login"
    assert any(r.get("status") == 429 for r in records if r["logger"] == "app.requests")


def test_no_secret_ever_reaches_the_logs(make_app, monkeypatch, capsys):
    """Passwords, hashes, session tokens and ids, cookies and CSRF tokens stay
    out of the logs, whatever is posted and whichever path the request takes."""
    app, client, auth = app_with_env(make_app, monkeypatch, LOCKOUT_THRESHOLD="3")
    capsys.readouterr()
    secrets_seen: set[str] = {SECRET, PASSWORD}

    page = client.get("/auth/register").get_data(as_text=True)
    secrets_seen.add(csrf_token(page))
    auth.register(password=SECRET)
    # Posted secrets in every field, including ones the forms do not have.
    token = auth.token()
    secrets_seen.add(token)
    client.post(
        "/auth/login",
        data={"csrf_token": token, "login": SECRET + "x", "password": SECRET, "extra": SECRET},
    )
    client.post("/auth/register", data={"password": SECRET, "csrf_token": "forged-" + SECRET})
    auth.login(password=SECRET, remember=True)
    for cookie in ("session", "remember_token"):
        value = client.get_cookie(cookie)
        assert value is not None, cookie
        secrets_seen.add(value.value)
    with app.app_context():
        secrets_seen.update(db.session.scalars(select(User.password_hash)))
        secrets_seen.update(db.session.scalars(select(UserSession.id)))
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    secrets_seen.add(token)
    client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "Not-" + SECRET,
            "new_password": SECRET,
            "confirm_password": SECRET,
        },
    )
    auth.logout()
    for attempt in range(4):  # a lockout, then refusals
        auth.login(password=f"Wrong-{SECRET}-{attempt}")

    out = capsys.readouterr().out
    assert "auth.locked" in out and "user.registered" in out  # the flow was logged
    for secret in secrets_seen:
        assert secret not in out, f"secret leaked into logs: {secret[:12]}..."


def test_hostile_values_cannot_forge_a_line(client, capsys):
    """Newlines and quotes in what a client sends stay inside one JSON string."""
    capsys.readouterr()
    forged = '{"level": "CRITICAL", "message": "forged"}'
    client.get("/nope%0A" + forged.replace('"', "%22").replace(" ", "%20"))
    client.get("/auth/login", headers={"User-Agent": 'agent" , "level": "CRITICAL\\'})
    records = log_records(capsys)  # each line parses as one object
    request_lines = [r for r in records if r["logger"] == "app.requests"]
    assert len(request_lines) == 2
    assert all(r["level"] != "CRITICAL" for r in records)
    assert request_lines[0]["path"].startswith("/nope\n")
    assert request_lines[0]["status"] == 404
    assert request_lines[1]["user_agent"] == 'agent" , "level": "CRITICAL\\'


def test_text_format_keeps_one_line_per_record(make_app, monkeypatch, capsys):
    monkeypatch.setenv("LOG_FORMAT", "text")
    client = make_app().test_client()
    capsys.readouterr()
    client.get("/nope%0Aforged-line")
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "app.requests" in line]
    assert len(lines) == 1
    assert "forged-line" in lines[0]
    assert "status=404" in lines[0]
    assert not out.lstrip().startswith("{")


def test_log_level_filters_request_lines(make_app, monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    client = make_app().test_client()
    capsys.readouterr()
    client.get("/auth/login")
    assert "app.requests" not in capsys.readouterr().out


@pytest.mark.parametrize(("name", "value"), [("LOG_LEVEL", "chatty"), ("LOG_FORMAT", "xml")])
def test_bad_log_settings_are_refused(make_app, monkeypatch, name, value):
    from app.config import ConfigError

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        make_app()


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_endpoint_speaks_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "# TYPE flask_http_request_duration_seconds histogram" in text
    assert metric_value(text, "app_info", version=client.application.config["APP_VERSION"]) == 1.0
    assert "db_pool_connections_in_use" in text


def test_requests_are_counted_by_route_template_never_raw_path(client, auth):
    auth.register()
    auth.login()
    for suffix in ("a1", "b2", "c3"):
        client.get(f"/nope/{suffix}")
    client.get("/dashboard")
    text = client.get("/metrics").get_data(as_text=True)
    assert "/nope/" not in text
    assert (
        metric_value(
            text, "flask_http_request_duration_seconds_count", method="GET", route="<unmatched>", status="404"
        )
        == 3.0
    )
    assert (
        metric_value(
            text, "flask_http_request_duration_seconds_count", method="GET", route="/dashboard", status="200"
        )
        == 1.0
    )


def test_auth_counters_move_with_what_happens(make_app, monkeypatch):
    _, client, auth = app_with_env(
        make_app, monkeypatch, LOCKOUT_THRESHOLD="2", RATELIMIT_LOGIN="5 per minute"
    )

    def snapshot():
        text = client.get("/metrics").get_data(as_text=True)
        return {
            "success": metric_value(text, "auth_logins_total", result="success"),
            "bad_password": metric_value(text, "auth_logins_total", result="bad_password"),
            "unknown_account": metric_value(text, "auth_logins_total", result="unknown_account"),
            "locked": metric_value(text, "auth_logins_total", result="locked"),
            "registrations": metric_value(text, "auth_registrations_total"),
            "lockouts": metric_value(text, "auth_lockouts_total"),
            "rate_limited": metric_value(text, "auth_rate_limited_total"),
        }

    before = snapshot()
    auth.register()
    auth.login()
    auth.logout()
    auth.login(login="ghost")
    auth.login(password="Wrong-Password-1")
    auth.login(password="Wrong-Password-2")
    auth.login()  # locked
    auth.login()  # the 6th POST: over the limit
    after = snapshot()
    delta = {key: after[key] - before[key] for key in before}
    assert delta == {
        "success": 1,
        "bad_password": 2,
        "unknown_account": 1,
        "locked": 1,
        "registrations": 1,
        "lockouts": 1,
        "rate_limited": 1,
    }


@pytest.mark.parametrize(
    ("allowed", "remote", "status"),
    [
        ("", "203.0.113.9", 200),
        ("10.0.0.0/8", "10.1.2.3", 200),
        ("10.0.0.0/8", "203.0.113.9", 404),
        ("10.0.0.0/8,192.168.0.0/16", "192.168.1.1", 200),
        ("fc00::/7", "fd00::1", 200),
        ("fc00::/7", "127.0.0.1", 404),
    ],
)
def test_metrics_can_be_limited_to_networks(make_app, monkeypatch, allowed, remote, status):
    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", allowed)
    client = make_app().test_client()
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == status
    if status == 404:
        assert "auth_logins_total" not in response.get_data(as_text=True)


def test_metrics_default_networks_per_environment(make_app, monkeypatch):
    """Open in development; private ranges only in production."""
    monkeypatch.delenv("METRICS_ALLOWED_NETWORKS", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    client = make_app().test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    monkeypatch.setenv("APP_ENV", "development")
    client = make_app().test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


def test_bad_metrics_networks_are_refused(make_app, monkeypatch):
    from app.config import ConfigError

    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-network")
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_NETWORKS"):
        make_app()


def test_the_request_log_names_the_user_without_going_back_to_the_database(app):
    """After a commit the signed-in user's attributes are expired; the request log line
    must not reload them (with the database just gone, that query was a 500 in `make faults`)."""
    from flask import g
    from sqlalchemy import event

    from app.observability import _signed_in_user_id

    with app.app_context():
        user = User(username="alice", email="alice@example.com", password_hash="x")
        db.session.add(user)
        db.session.commit()  # expires every attribute of user
        user_id = db.session.get(User, user.id).id
        db.session.expire(user)
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        with app.test_request_context():
            g._login_user = user
            assert _signed_in_user_id() == user_id
        assert statements == []


def test_active_sessions_are_counted_in_the_database_at_scrape_time(app, client, auth):
    def active() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        assert re.search(r"(?m)^auth_sessions_active ", text), "no auth_sessions_active sample"
        return metric_value(text, "auth_sessions_active")

    assert active() == 0.0
    auth.register()
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        assert AuthActions(browser).login().status_code == 302
    assert active() == 2.0
    AuthActions(browsers[0]).logout()
    assert active() == 1.0
    with app.app_context():  # the other one idles past the timeout: it cannot be used any more
        stale = utcnow() - app.config["SESSION_IDLE_TIMEOUT"] - timedelta(minutes=1)
        db.session.execute(update(UserSession).values(last_seen_at=stale))
        db.session.commit()
    assert active() == 0.0


def test_a_scrape_answers_without_the_active_sessions_when_the_database_fails(app, client):
    with app.app_context():
        db.session.execute(text("ALTER TABLE user_sessions RENAME TO user_sessions_away"))
        db.session.commit()
    try:
        response = client.get("/metrics")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert "auth_sessions_active " not in body and "flask_http_request_duration_seconds" in body
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE user_sessions_away RENAME TO user_sessions"))
            db.session.commit()
