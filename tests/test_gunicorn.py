"""The app as production serves it: a real gunicorn (gunicorn.conf.py) in a subprocess.

Each test starts its own gunicorn on a free loopback port with its own
PROMETHEUS_MULTIPROC_DIR, and stops its whole process group at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.metrics import scrape, value
from tests.support.passwords import PASSWORD, PRODUCTION_SECRET_KEY
from tests.support.server import HTTP_TIMEOUT, Browser, Reply, Server, get, gunicorn

# --- HTTP ---------------------------------------------------------------------------------------


# --- metrics ------------------------------------------------------------------------------------


LOGIN_PAGE = {"method": "GET", "route": "/auth/login", "status": "200"}


def login_page_count(samples: dict) -> float | None:
    return value(samples, "flask_http_request_duration_seconds_count", **LOGIN_PAGE)


def per_worker_login_pages(server: Server) -> dict[int, float]:
    """GET /auth/login 200 count recorded by each worker pid (its own histogram file)."""
    counts = {}
    for path in server.metrics_dir.glob("histogram_*.db"):
        if not _has_data(path):
            continue
        pid = int(path.stem.rsplit("_", 1)[1])
        samples = {
            (s.name, frozenset(s.labels.items())): s.value
            for metric in MultiProcessCollector.merge([str(path)], accumulate=True)
            for s in metric.samples
        }
        counts[pid] = login_page_count(samples) or 0.0
    return counts


def _has_data(path: Path) -> bool:
    """A worker creates its file empty and sizes it a moment later: skip it in that moment."""
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def livesum_gauge(server: Server, pid: int) -> float | None:
    path = server.metrics_dir / f"gauge_livesum_{pid}.db"
    if not _has_data(path):
        return None
    for metric in MultiProcessCollector.merge([str(path)], accumulate=True):
        for sample in metric.samples:
            if sample.name == "db_pool_connections_in_use":
                return sample.value
    return None


def wait_for(condition, what: str, server: Server, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}\n{server.output()}")


def load_login_pages(server: Server, count: int) -> None:
    """count GET /auth/login, each on a new connection, six at a time."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: get(server, "/auth/login").status, range(count)))
    assert statuses == [200] * count


# --- tests --------------------------------------------------------------------------------------


def test_metrics_are_aggregated_across_workers(tmp_path, database_url):
    """/metrics sums every worker's samples, counts a failed sign-in once and keeps route labels bounded."""
    n = 60
    with gunicorn(tmp_path, database_url, workers=3) as server:
        # New connections go to whichever worker accepts first: add batches until two have served some.
        load_login_pages(server, n)
        while len(served := {p: c for p, c in per_worker_login_pages(server).items() if c}) < 2:
            assert n < 600, f"one worker served all {n} requests: {served}"
            load_login_pages(server, 12)
            n += 12
        assert sum(served.values()) == n

        browser = Browser(server)
        failed = browser.submit("/auth/login", {"login": "nobody-here", "password": PASSWORD})
        assert failed.status == 422
        assert get(server, "/nope/123").status == 404
        assert get(server, "/nope/456").status == 404

        samples = scrape(server)

    assert login_page_count(samples) == n + 1  # the sign-in form was fetched once more
    assert value(samples, "flask_http_request_total", method="GET", status="200") >= n + 1
    assert (
        value(
            samples,
            "flask_http_request_duration_seconds_count",
            method="POST",
            route="/auth/login",
            status="422",
        )
        == 1
    )
    assert value(samples, "auth_logins_total", result="unknown_account") == 1
    assert value(samples, "auth_logins_total", result="success") == 0
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert value(samples, "flask_http_request_duration_seconds_count", **unmatched) == 2
    labels = [dict(key) for _, key in samples]
    assert not [item for item in labels if any("/nope" in v for v in item.values())]


def test_metrics_scrape_survives_an_empty_metrics_file(tmp_path, database_url):
    """An empty metrics file (a worker between creating and sizing it, or SIGKILLed in that instant)
    must not turn every /metrics scrape into a 500 and hide all the other workers' samples."""
    with gunicorn(tmp_path, database_url, workers=2) as server:
        load_login_pages(server, 5)
        # What a worker killed between open() and truncate() in MmapedDict leaves behind for good;
        # 2**22 + 1 is above Linux's largest pid_max, so no live process owns it.
        (server.metrics_dir / f"counter_{2**22 + 1}.db").touch()
        reply = get(server, "/metrics")
        assert reply.status == 200, f"{reply}\n{server.output()}"
        samples = scrape(server)
    assert login_page_count(samples) == 5
    assert value(samples, "auth_logins_total", result="unknown_account") == 0


def test_killed_worker_keeps_its_counters_but_not_its_gauges(tmp_path, database_url):
    """A SIGKILLed worker's requests stay counted; its live gauge (a held DB connection) is dropped."""
    with gunicorn(tmp_path, database_url, module="tests.support.slow_app", workers=3) as server:
        failures: list[BaseException] = []

        def hold_connection() -> None:
            try:
                get(server, "/test/slow?seconds=10&hold_db=1")
            except (OSError, http.client.HTTPException) as exc:  # the worker dies under it
                failures.append(exc)

        holder_thread = threading.Thread(target=hold_connection)
        holder_thread.start()
        try:
            holder = wait_for(
                lambda: next((p for p in server.workers() if livesum_gauge(server, p) == 1), None),
                "a worker holding a database connection",
                server,
            )
            assert value(scrape(server), "db_pool_connections_in_use") == 1

            # Requests until the holder has served some (any worker may take a new connection).
            sent = 0
            while not per_worker_login_pages(server).get(holder) and sent < 600:
                load_login_pages(server, 12)
                sent += 12
            killed_share = per_worker_login_pages(server).get(holder)
            assert killed_share, f"worker {holder} never served a request"
            assert login_page_count(scrape(server)) == sent

            os.kill(holder, signal.SIGKILL)
            wait_for(
                lambda: (
                    holder not in server.workers()
                    and len(server.ready_workers()) == 3
                    and not (server.metrics_dir / f"gauge_livesum_{holder}.db").exists()
                ),
                "gunicorn to replace the killed worker",
                server,
            )
            holder_thread.join(timeout=HTTP_TIMEOUT)
            assert failures, "the request on the killed worker got an answer"

            samples = scrape(server)
            assert login_page_count(samples) == sent
            assert value(samples, "flask_http_request_total", method="GET", status="200") >= sent
            assert value(samples, "db_pool_connections_in_use") == 0
            assert per_worker_login_pages(server)[holder] == killed_share
        finally:
            holder_thread.join(timeout=HTTP_TIMEOUT)


def test_sigterm_drains_in_flight_requests(tmp_path, database_url):
    """SIGTERM: the running request completes, no new request is served, and the master exits 0."""
    with gunicorn(
        tmp_path,
        database_url,
        module="tests.support.slow_app",
        workers=1,
        GUNICORN_GRACEFUL_TIMEOUT="10",
    ) as server:
        replies: list[Reply] = []
        errors: list[BaseException] = []

        def slow_request() -> None:
            try:
                replies.append(get(server, "/test/slow?seconds=4"))
            except BaseException as exc:
                errors.append(exc)

        in_flight = threading.Thread(target=slow_request)
        in_flight.start()
        wait_for(lambda: "slow request started" in server.stdout(), "the slow request to start", server)
        server.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "Handling signal: term" in server.stdout(), "the master to take SIGTERM", server)

        def refused() -> bool:
            try:
                get(server, "/health/live")
            except ConnectionRefusedError:
                return True
            except (ConnectionError, http.client.HTTPException):
                return False  # accepted by a listener still open, then dropped
            return False

        # New connections are refused outright (the load balancer retries them
        # elsewhere) while the request in flight is still running.
        wait_for(refused, "new connections to be refused", server)
        assert not replies, "the slow request finished before the drain was observed"

        in_flight.join(timeout=HTTP_TIMEOUT)
        assert not errors, errors
        assert len(replies) == 1
        assert (replies[0].status, replies[0].body) == (200, "done")
        # The bound only keeps a hung server from hanging the suite; exit 0 means no forced kill.
        assert server.proc.wait(timeout=15) == 0, server.output()


def _terminate_backends(url: str, name: str) -> int:
    import psycopg2

    admin = psycopg2.connect(url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            return cursor.fetchone()[0]
    finally:
        admin.close()


@pytest.mark.postgresql_only
def test_pooled_connections_survive_a_postgresql_backend_kill(tmp_path, postgresql_database):
    """pool_pre_ping: after the server kills every backend, the next requests reconnect instead of 500."""
    url, name = postgresql_database
    with gunicorn(tmp_path, url, workers=1) as server:
        alice = Browser(server)
        credentials = {"login": "alice", "password": PASSWORD}
        registered = alice.submit(
            "/auth/register",
            {
                "username": "alice",
                "email": "alice@example.com",
                "password": PASSWORD,
                "confirm_password": PASSWORD,
            },
        )
        assert registered.status == 302, registered
        assert alice.submit("/auth/login", credentials).status == 302
        assert alice.get("/dashboard").status == 200
        assert get(server, "/health/ready").status == 200

        assert _terminate_backends(url, name) >= 1  # the pool's idle connections, now dead

        assert get(server, "/health/ready").status == 200
        assert alice.get("/dashboard").status == 200  # the session is looked up in the database
        bob = Browser(server)
        assert bob.submit("/auth/login", credentials).status == 302
        assert bob.get("/dashboard").status == 200

        assert _terminate_backends(url, name) >= 1
        assert bob.submit("/account/password", {}).status != 500  # a POST after a kill too
    requests = [line for line in server.json_logs() if line["logger"] == "app.requests"]
    assert requests
    assert all(line["status"] < 500 for line in requests), requests
    assert "readiness check failed" not in server.stdout()


def test_production_logs_are_json_lines_with_request_ids(tmp_path, database_url):
    """In production every stdout line (gunicorn's too) is one JSON object; request ids are echoed."""
    with gunicorn(
        tmp_path,
        database_url,
        workers=2,
        APP_ENV="production",
        SECRET_KEY=PRODUCTION_SECRET_KEY,
        LOG_FORMAT=None,
        # Two workers in production need shared rate limits (gunicorn.conf.py refuses memory://).
        RATELIMIT_STORAGE_URI=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    ) as server:
        given = get(server, "/auth/login", headers={"X-Request-ID": "abcdef12-req", "User-Agent": "probe/1"})
        forged = get(server, "/auth/login", headers={"X-Request-ID": "bad id"})
        missing = get(server, "/nope/123")
    assert server.proc.returncode == 0, server.output()

    assert (given.status, forged.status, missing.status) == (200, 200, 404)
    assert given.headers["X-Request-ID"] == "abcdef12-req"
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["X-Request-ID"])

    lines = server.stdout().splitlines()
    logs = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert all(isinstance(entry, dict) for entry in logs)
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in logs)
    gunicorn_messages = [e["message"] for e in logs if e["logger"] == "gunicorn.error"]
    assert any(m.startswith("Listening at: http://127.0.0.1:") for m in gunicorn_messages)
    assert sum(m.startswith("Booting worker with pid") for m in gunicorn_messages) >= 2
    assert server.stderr_path.read_text() == ""

    by_id = {e["request_id"]: e for e in logs if e["logger"] == "app.requests"}
    line = by_id["abcdef12-req"]
    fields = {"method", "path", "route", "status", "duration_ms", "remote_addr", "request_id"}
    assert fields <= line.keys()
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "GET",
        "/auth/login",
        "/auth/login",
        200,
    )
    assert line["remote_addr"] == "127.0.0.1"
    assert line["user_agent"] == "probe/1"
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    assert by_id[forged.headers["X-Request-ID"]]["path"] == "/auth/login"
    not_found = by_id[missing.headers["X-Request-ID"]]
    assert (not_found["path"], not_found["route"], not_found["status"]) == ("/nope/123", None, 404)
    assert "bad id" not in server.stdout()


@pytest.mark.parametrize(
    ("networks", "expected"),
    [(None, 200), ("10.0.0.0/8", 404)],
    ids=["default-private-networks", "loopback-not-listed"],
)
def test_metrics_restricted_to_allowed_networks_in_production(tmp_path, database_url, networks, expected):
    """Production /metrics answers loopback by default and 404s a client outside METRICS_ALLOWED_NETWORKS."""
    with gunicorn(
        tmp_path,
        database_url,
        APP_ENV="production",
        SECRET_KEY=PRODUCTION_SECRET_KEY,
        METRICS_ALLOWED_NETWORKS=networks,
    ) as server:
        reply = get(server, "/metrics")
        spoofed = get(server, "/metrics", headers={"X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"})
    assert reply.status == expected
    assert spoofed.status == expected  # a forwarded-for header does not change who the client is
    if expected == 200:
        assert "flask_http_request_duration_seconds" in reply.body
        assert 'app_info{version="' in reply.body
    else:
        assert "flask_http_request" not in reply.body
        assert "app_info" not in reply.body
