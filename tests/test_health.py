"""Health probes: liveness never touches the database, readiness reports it honestly and recovers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from app import create_app
from app.extensions import db
from tests.support.database import new_postgresql_database
from tests.support.passwords import TEST_SECRET_KEY

# Nothing listens on port 1: connecting fails at once with "connection refused".
UNREACHABLE_URL = "postgresql://postgres@127.0.0.1:1/none"

# What a 503 body must never carry: exception names, driver messages, the database's address.
LEAKS = ("Traceback", "OperationalError", "psycopg2", "sqlalchemy", "refused", "127.0.0.1", "none")


def _build_app(monkeypatch, database_url):
    monkeypatch.setenv("APP_ENV", "testing")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return create_app()


def _dispose(application) -> None:
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def unreachable_app(monkeypatch):
    application = _build_app(monkeypatch, UNREACHABLE_URL)
    yield application
    _dispose(application)


def _assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"status", "reason"}
    assert body["status"] != "ok"
    assert isinstance(body["reason"], str)
    assert body["reason"]
    text = response.get_data(as_text=True)
    for leak in LEAKS:
        assert leak not in text


def test_live_is_ok(client):
    """Liveness answers 200 {"status": "ok"} on every backend."""
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health/ready", "/health"])
def test_ready_is_ok_when_database_answers(client, path):
    """Readiness (and the /health alias) report the database as ok on every backend."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}


def test_live_does_no_database_io(app, client):
    """A spy on every connection pool (readiness has one of its own on PostgreSQL):
    liveness checks out no connection, readiness does."""
    checkouts = []

    def spy(*_args):
        checkouts.append(1)

    event.listen(Pool, "checkout", spy)
    try:
        assert client.get("/health/live").status_code == 200
        assert checkouts == []
        assert client.get("/health/ready").status_code == 200
        assert len(checkouts) >= 1
    finally:
        event.remove(Pool, "checkout", spy)


def test_live_stays_up_when_database_is_unreachable(unreachable_app):
    """The process is alive even when its database is not: liveness must not restart it."""
    client = unreachable_app.test_client()
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health/ready", "/health"])
def test_ready_is_503_without_leaking_details(unreachable_app, path):
    """An unreachable database makes readiness 503 with a plain reason, no exception text."""
    client = unreachable_app.test_client()
    _assert_unavailable(client.get(path))
    # Liveness is still fine right after, in the same app.
    assert client.get("/health/live").status_code == 200


@pytest.fixture
def own_database_url(backend, tmp_path):
    """A database this test may break: a SQLite file in a not-yet-existing folder, or a new
    PostgreSQL database (dropped afterwards). Yields (url, folder) or (url, (admin, name))."""
    if backend == "sqlite":
        folder = tmp_path / "later"
        yield f"sqlite:///{folder / 'app.db'}", folder
        return

    with new_postgresql_database("test_health") as (url, admin, name):
        yield url, (admin, name)


def _cut_off(admin, name: str) -> None:
    """Refuse new connections to the database and end the existing ones."""
    with admin.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        # pg_terminate_backend only signals: wait (bounded) until the backends are gone.
        deadline = time.monotonic() + 10
        while True:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))
            if cursor.fetchone()[0] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)


def _restore(admin, name: str) -> None:
    with admin.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_readiness_recovers_without_restart(backend, own_database_url, monkeypatch):
    """Readiness follows the database down and back up with the same app object (no restart).

    PostgreSQL: connections refused and the pooled ones killed, then allowed again.
    SQLite: the database's folder is missing (cannot open), then created.
    """
    url, handle = own_database_url
    application = _build_app(monkeypatch, url)
    client = application.test_client()
    try:
        if backend == "postgresql":
            admin, name = handle
            assert client.get("/health/ready").status_code == 200
            _cut_off(admin, name)
            _assert_unavailable(client.get("/health/ready"))
            _assert_unavailable(client.get("/health"))
            assert client.get("/health/live").status_code == 200
            _restore(admin, name)
            response = client.get("/health/ready")
        else:
            folder = handle
            _assert_unavailable(client.get("/health/ready"))
            folder.mkdir()
            response = client.get("/health/ready")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}
        assert client.get("/health").status_code == 200
    finally:
        _dispose(application)
