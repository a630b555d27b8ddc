"""One session, many requests at once, against a real gunicorn on SQLite and PostgreSQL:
when the touch interval runs out, exactly one request writes last_seen_at and every
request is answered (SQLite used to answer some with 500 "database is locked")."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from app.config import normalize_database_url
from tests.support.database import new_database
from tests.support.passwords import PASSWORD
from tests.support.server import Browser, get, gunicorn

PARALLEL = 32

TRIGGERS = {
    "sqlite": [
        "CREATE TABLE touch_log (n INTEGER)",
        "CREATE TRIGGER touch_logged AFTER UPDATE OF last_seen_at ON user_sessions "
        "BEGIN INSERT INTO touch_log VALUES (1); END",
    ],
    "postgresql": [
        "CREATE TABLE touch_log (n INTEGER)",
        "CREATE FUNCTION log_touch() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO touch_log VALUES (1); RETURN NEW; END $$",
        "CREATE TRIGGER touch_logged AFTER UPDATE OF last_seen_at ON user_sessions "
        "FOR EACH ROW EXECUTE FUNCTION log_touch()",
    ],
}


@pytest.fixture
def touch_counted_database(backend, tmp_path):
    """A fresh migrated database whose user_sessions.last_seen_at writes are counted in touch_log."""
    with new_database(backend, tmp_path, "test_touch") as url:
        yield url


def _execute(url: str, *statements: str) -> list:
    engine = create_engine(normalize_database_url(url))
    try:
        with engine.begin() as connection:
            results = [connection.execute(text(statement)) for statement in statements]
            return [r.scalar() if r.returns_rows else None for r in results]
    finally:
        engine.dispose()


def test_parallel_requests_across_the_touch_interval_write_once(backend, touch_counted_database, tmp_path):
    url = touch_counted_database
    _execute(url, *TRIGGERS[backend])
    with gunicorn(tmp_path / "run", url, workers=2) as server:
        browser = Browser(server)
        fields = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
        assert browser.submit("/auth/register", {**fields, "confirm_password": PASSWORD}).status == 302
        assert browser.submit("/auth/login", {"login": "alice", "password": PASSWORD}).status == 302
        cookie = browser.cookie_header()
        # The interval (a minute at the default idle timeout) ran out a moment ago.
        shift = (
            "UPDATE user_sessions SET last_seen_at = last_seen_at - interval '61 seconds'"
            if backend == "postgresql"
            else "UPDATE user_sessions SET last_seen_at = datetime(last_seen_at, '-61 seconds')"
        )
        _execute(url, shift, "DELETE FROM touch_log")
        barrier = threading.Barrier(PARALLEL)
        statuses: list[int] = []

        def request() -> None:
            barrier.wait()
            statuses.append(get(server, "/dashboard", headers={"Cookie": cookie}).status)

        threads = [threading.Thread(target=request) for _ in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert statuses == [200] * PARALLEL, server.output()
        [writes] = _execute(url, "SELECT count(*) FROM touch_log")
        assert writes == 1
