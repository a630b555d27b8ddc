"""Outages are 503, bugs are 500; the rate-limit store is not a single point of failure;
every database wait is bounded.

Faults are real: a private PostgreSQL or Redis (tests/support/services.py) is stopped, a
backend is terminated mid-request, the pool is held empty. The shared servers are never
stopped.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from flask import request
from sqlalchemy import select, text

from app import create_app
from app.extensions import db, limiter
from app.models import User
from tests.support.auth import AuthActions, csrf_token
from tests.support.database import new_postgresql_database
from tests.support.metrics import metric_value
from tests.support.passwords import NEW_PASSWORD, PASSWORD, TEST_SECRET_KEY
from tests.support.races import wait_for_lock_waiters
from tests.support.services import private_postgres, private_redis

ALICE = {"login": "alice", "password": PASSWORD}
# What an outage page must never carry.
LEAKS = ("Traceback", "OperationalError", "psycopg2", "sqlalchemy", "redis.exceptions", "127.0.0.1")


def events(caplog, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def metric(client, name: str, **labels: str) -> float:
    return metric_value(client.get("/metrics").get_data(as_text=True), name, **labels)


def build_app(monkeypatch, database_url: str, **env: str):
    monkeypatch.setenv("APP_ENV", "testing")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app()


def migrate(application) -> None:
    from flask_migrate import upgrade

    with application.app_context():
        upgrade()


def registered_app(monkeypatch, database_url: str, **env: str):
    """An app on a migrated database with alice's account created through the form."""
    application = build_app(monkeypatch, database_url, **env)
    migrate(application)
    assert AuthActions(application.test_client()).register().status_code == 302
    return application


def dispose(application) -> None:
    with application.app_context():
        try:
            db.session.remove()
        finally:
            db.engine.dispose()


def assert_outage_page(response) -> str:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"] == "5"
    body = response.get_data(as_text=True)
    assert "temporarily unavailable" in body.lower()
    for leak in LEAKS:
        assert leak not in body
    return body


# --- the database stopped ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_server():
    with private_postgres() as server:
        yield server


@pytest.fixture
def private_app(postgres_server, monkeypatch):
    """An app on a fresh database of the private server, with alice registered; the server is
    started again afterwards whatever the test did to it."""
    if not postgres_server.running():
        postgres_server.start()
    url = postgres_server.create_database(f"outage_{secrets.token_hex(4)}")
    application = registered_app(monkeypatch, url)
    yield application
    if not postgres_server.running():
        postgres_server.start()
    dispose(application)


REQUESTS = {
    "sign-in": ("/auth/login", lambda token: {"csrf_token": token, "login": "alice", "password": PASSWORD}),
    "registration": (
        "/auth/register",
        lambda token: {
            "csrf_token": token,
            "username": "bob",
            "email": "bob@example.com",
            "password": PASSWORD,
            "confirm_password": PASSWORD,
        },
    ),
    "reset": ("/auth/reset", lambda token: {"csrf_token": token, "email": "alice@example.com"}),
    "dashboard": ("/dashboard", None),
}


@pytest.mark.parametrize("kind", REQUESTS)
def test_database_stopped_is_503_with_retry_after_logged_and_counted(
    private_app, postgres_server, kind, caplog
):
    """With PostgreSQL stopped, sign-in, registration, reset and the dashboard answer 503 in
    the site's layout with Retry-After; one dependency.unavailable event, one count."""
    client = private_app.test_client()
    path, form = REQUESTS[kind]
    if kind == "dashboard":
        assert AuthActions(client).login().status_code == 302
        token = None
    else:
        token = csrf_token(client.get(path).get_data(as_text=True))

    before = metric(client, "app_dependency_errors_total", dependency="database")
    postgres_server.stop()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = client.post(path, data=form(token)) if form else client.get(path)

    body = assert_outage_page(response)
    assert 'class="site-header' in body or "<header" in body  # the site's layout, not a bare page
    logged = events(caplog, "dependency.unavailable")
    assert len(logged) == 1
    assert logged[0].dependency == "database"
    assert logged[0].levelno == logging.WARNING
    assert metric(client, "app_dependency_errors_total", dependency="database") == before + 1


def test_json_clients_get_a_json_503(private_app, postgres_server):
    """A client that asks for JSON gets the outage as JSON, with the same Retry-After."""
    client = private_app.test_client()
    assert AuthActions(client).login().status_code == 302
    postgres_server.stop()
    response = client.get("/dashboard", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.is_json
    assert response.get_json() == {
        "status": "unavailable",
        "dependency": "database",
        "message": "The service is temporarily unavailable. Please try again in a moment.",
    }


def test_database_back_means_service_back(private_app, postgres_server):
    """Control: after a restart, the same app object signs in again (no 503 left behind)."""
    client = private_app.test_client()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    postgres_server.stop()
    assert client.post("/auth/login", data={"csrf_token": token, **ALICE}).status_code == 503
    postgres_server.start()
    assert AuthActions(client).login().status_code == 302


# --- bugs stay 500 ------------------------------------------------------------------------------


def test_a_missing_table_is_a_bug_not_an_outage(tmp_path, monkeypatch, caplog):
    """SQLite's OperationalError also means "no such table": that is a bug (500), never a 503."""
    application = build_app(monkeypatch, f"sqlite:///{tmp_path / 'unmigrated.db'}")
    application.config["PROPAGATE_EXCEPTIONS"] = False
    client = application.test_client()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    with caplog.at_level(logging.INFO):
        response = client.post("/auth/login", data={"csrf_token": token, **ALICE})
    assert response.status_code == 500
    assert not events(caplog, "dependency.unavailable")
    dispose(application)


def test_an_integrity_error_is_not_an_outage(make_app):
    """A constraint violation is a bug in our code (500), not a dependency away."""
    application = make_app()
    application.config["PROPAGATE_EXCEPTIONS"] = False

    def duplicate():
        for _ in range(2):
            db.session.add(User(username="twin", email="twin@example.com", password_hash="x"))
        db.session.commit()

    application.add_url_rule("/test-only/duplicate", "test_duplicate", duplicate)
    response = application.test_client().get("/test-only/duplicate")
    assert response.status_code == 500


# --- connections terminated, pool exhausted, teardown after a commit (shared server) --------------


@pytest.fixture
def own_database():
    """A new database on TEST_DATABASE_URL's server (tests using it are postgresql_only)."""
    with new_postgresql_database("test_outages") as (url, admin, name):
        yield url, admin, name


@contextmanager
def users_locked(url: str):
    """An admin transaction holding ACCESS EXCLUSIVE on users until the block ends."""
    import psycopg2

    holder = psycopg2.connect(url)
    try:
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.postgresql_only
def test_a_connection_terminated_mid_request_is_503_not_500(own_database, monkeypatch, caplog):
    """pg_terminate_backend on the backend serving a sign-in: 503, not 500."""
    url, admin, name = own_database
    application = registered_app(monkeypatch, url, DB_LOCK_TIMEOUT_MS="60000")
    client = application.test_client()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    replies = []
    try:
        with users_locked(url):
            worker = threading.Thread(
                target=lambda: replies.append(client.post("/auth/login", data={"csrf_token": token, **ALICE}))
            )
            with caplog.at_level(logging.INFO):
                worker.start()
                wait_for_lock_waiters(url, name, 1)
                with admin.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND wait_event_type = 'Lock'",
                        (name,),
                    )
                worker.join(timeout=30)
        assert len(replies) == 1
        assert_outage_page(replies[0])
        assert [r.dependency for r in events(caplog, "dependency.unavailable")] == ["database"]
        # And the next request gets a fresh connection.
        assert AuthActions(client).login().status_code == 302
    finally:
        dispose(application)


@pytest.fixture
def one_connection_app(own_database, monkeypatch):
    """An app whose request pool has one connection and waits 1 s for it; alice registered."""
    url, _admin, _name = own_database
    application = registered_app(
        monkeypatch, url, DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT_SECONDS="1"
    )
    yield application
    dispose(application)


@pytest.mark.postgresql_only
def test_an_exhausted_pool_is_503(one_connection_app):
    """Every pooled connection busy for longer than DB_POOL_TIMEOUT_SECONDS: 503, not 500."""
    client = one_connection_app.test_client()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    before = metric(client, "app_dependency_errors_total", dependency="database")
    with one_connection_app.app_context(), db.engine.connect() as held:  # the pool's only connection
        held.execute(text("SELECT 1"))
        response = client.post("/auth/login", data={"csrf_token": token, **ALICE})
    assert_outage_page(response)
    assert metric(client, "app_dependency_errors_total", dependency="database") == before + 1


@pytest.mark.postgresql_only
def test_readiness_does_not_queue_behind_an_exhausted_pool(one_connection_app):
    """Readiness has its own small engine: with every request connection busy it still answers."""
    client = one_connection_app.test_client()
    with one_connection_app.app_context(), db.engine.connect() as held:
        held.execute(text("SELECT 1"))
        response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.postgresql_only
def test_a_lock_held_past_the_lock_timeout_is_503(own_database, monkeypatch):
    """A sign-in waiting on a locked users table gives up after DB_LOCK_TIMEOUT_MS: 503."""
    url, _admin, _name = own_database
    application = registered_app(monkeypatch, url, DB_LOCK_TIMEOUT_MS="200")
    client = application.test_client()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    replies = []
    worker = threading.Thread(
        target=lambda: replies.append(client.post("/auth/login", data={"csrf_token": token, **ALICE}))
    )
    try:
        with users_locked(url):
            worker.start()
            worker.join(timeout=10)  # far beyond the lock timeout; the lock is released after
        worker.join()
        assert_outage_page(replies[0])
    finally:
        dispose(application)


@pytest.mark.postgresql_only
def test_a_committed_write_is_reported_as_success_when_teardown_fails(own_database, monkeypatch, caplog):
    """The connection dies after the commit (the request read on after it): the teardown's
    rollback raises, is logged, and the user still gets the success the commit earned."""
    url, admin, _name = own_database
    application = build_app(monkeypatch, url)
    migrate(application)

    def commit_then_lose_the_connection():
        db.session.add(User(username="carol", email="carol@example.com", password_hash="x"))
        db.session.commit()
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()  # a new transaction
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return "created", 201

    application.add_url_rule("/test-only/commit", "test_commit", commit_then_lose_the_connection)
    try:
        with caplog.at_level(logging.INFO):
            response = application.test_client().get("/test-only/commit")
        assert response.status_code == 201
        assert response.get_data(as_text=True) == "created"
        assert events(caplog, "db.teardown_failed")
        with application.app_context():
            assert db.session.scalars(select(User).where(User.username == "carol")).one()
    finally:
        dispose(application)


@pytest.mark.postgresql_only
def test_every_connection_has_statement_and_lock_timeouts(own_database, monkeypatch):
    """DB_STATEMENT_TIMEOUT_MS and DB_LOCK_TIMEOUT_MS are set on every pooled connection."""
    url, _admin, _name = own_database
    application = build_app(monkeypatch, url, DB_STATEMENT_TIMEOUT_MS="4321", DB_LOCK_TIMEOUT_MS="1234")
    try:
        with application.app_context():
            assert db.session.execute(text("SHOW statement_timeout")).scalar_one() == "4321ms"
            assert db.session.execute(text("SHOW lock_timeout")).scalar_one() == "1234ms"
    finally:
        dispose(application)


def test_sqlite_waits_on_a_locked_database_are_bounded(tmp_path, monkeypatch):
    """SQLite's busy timeout comes from DB_BUSY_TIMEOUT_MS."""
    application = build_app(monkeypatch, f"sqlite:///{tmp_path / 'busy.db'}", DB_BUSY_TIMEOUT_MS="1500")
    with application.app_context():
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar_one() == 1500
    dispose(application)


# --- migrations are not cut by the statement timeout ---------------------------------------------

SLOW_MIGRATION = '''"""A migration slower than the application's statement timeout."""
from alembic import op

revision = "9999_slow"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SELECT pg_sleep(0.5)")


def downgrade():
    pass
'''


@pytest.mark.postgresql_only
def test_migrations_are_not_cut_by_the_statement_timeout(own_database, monkeypatch, tmp_path):
    """flask db upgrade runs with statement_timeout off: a 0.5 s migration step succeeds
    although the application's connections give up after 100 ms."""
    from alembic.script import ScriptDirectory
    from flask_migrate import upgrade

    import app as app_package

    url, _admin, _name = own_database
    directory = tmp_path / "migrations"
    shutil.copytree(Path(app_package.__file__).with_name("migrations"), directory)
    head = ScriptDirectory(str(directory)).get_current_head()
    (directory / "versions" / "9999_slow.py").write_text(SLOW_MIGRATION.format(head=head))
    application = build_app(monkeypatch, url, DB_STATEMENT_TIMEOUT_MS="100")
    try:
        with application.app_context():
            upgrade(directory=str(directory))
            version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            assert version == "9999_slow"
            # Control: the application's own connections are still cut at 100 ms.
            with pytest.raises(Exception, match="statement timeout"):
                db.session.execute(text("SELECT pg_sleep(0.5)"))
            db.session.rollback()
    finally:
        dispose(application)


# --- Redis stopped -------------------------------------------------------------------------------


@pytest.fixture
def redis_server():
    with private_redis() as server:
        yield server
    # The limiter is a process-wide object: leave it on its main storage for the next test.
    limiter._storage_dead = False


@pytest.fixture
def redis_app_factory(redis_server, make_app, monkeypatch):
    """Apps whose limits live in the private Redis; it runs again before make_app cleans up."""

    def factory(**env: str):
        monkeypatch.setenv("RATELIMIT_STORAGE_URI", redis_server.url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return make_app()

    yield factory
    if not redis_server.running():
        redis_server.start()


@pytest.fixture
def redis_app(redis_app_factory):
    application = redis_app_factory()
    assert AuthActions(application.test_client()).register().status_code == 302
    return application


def test_sign_in_registration_and_reset_work_with_redis_stopped(redis_app, redis_server, caplog):
    """Limits fall back to the worker's memory: the forms keep working, readiness stays 200
    but names the degraded dependency, the gauge reads 0, and one warning is logged."""
    client = redis_app.test_client()
    assert client.get("/health/ready").get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
    }
    assert metric(client, "app_dependency_up", dependency="redis") == 1.0

    redis_server.stop()
    with caplog.at_level(logging.INFO):
        auth = AuthActions(client)
        assert auth.login().status_code == 302
        auth.logout()
        assert auth.login().status_code == 302
        auth.logout()
        assert auth.register(username="bob", email="bob@example.com").status_code == 302
        token = csrf_token(client.get("/auth/reset").get_data(as_text=True))
        reset = client.post("/auth/reset", data={"csrf_token": token, "email": "alice@example.com"})
        assert reset.status_code == 200
        ready = client.get("/health/ready")

    assert ready.status_code == 200
    assert ready.get_json() == {"status": "degraded", "checks": {"database": "ok", "redis": "unavailable"}}
    assert metric(client, "app_dependency_up", dependency="redis") == 0.0
    warnings = events(caplog, "dependency.degraded")
    assert len(warnings) == 1
    assert warnings[0].dependency == "redis"
    assert warnings[0].levelno == logging.WARNING

    redis_server.start()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        ready = client.get("/health/ready")
    assert ready.get_json()["checks"]["redis"] == "ok"
    assert metric(client, "app_dependency_up", dependency="redis") == 1.0
    assert [r.dependency for r in events(caplog, "dependency.recovered")] == ["redis"]


def test_limits_still_apply_in_memory_with_redis_stopped(redis_app_factory, redis_server):
    """The fallback is a limit, not an open door: the sign-in limit is counted in memory."""
    auth = AuthActions(redis_app_factory(RATELIMIT_LOGIN="2 per minute").test_client())
    redis_server.stop()
    assert auth.login(login="nobody").status_code == 422
    assert auth.login(login="nobody").status_code == 422
    assert auth.login(login="nobody").status_code == 429


def test_the_lockout_still_protects_with_redis_stopped(redis_app, redis_server):
    """The lockout lives in the database: with Redis away it still locks the account."""
    auth = AuthActions(redis_app.test_client())
    redis_server.stop()
    threshold = redis_app.config["LOCKOUT_THRESHOLD"]
    for _ in range(threshold):
        assert auth.login(password="wrong-password-1").status_code == 422
    assert auth.login().status_code == 422  # the right password, refused while locked


def test_redis_dying_while_requests_write_their_rate_limit_headers_is_not_a_500(
    redis_app_factory, redis_server, caplog
):
    """Several sign-ins past their limit check are reading their X-RateLimit numbers from Redis
    when it dies. The first to fail switches the process to the in-memory fallback; the others'
    Redis calls were already under way, so Flask-Limiter would raise from its after_request: an
    outage page (a 500 before the outage handler) for a sign-in that was answered, as the fault
    suite saw once. RATELIMIT_SWALLOW_ERRORS logs the error and leaves those headers out instead
    (with it False, three of these four requests fail)."""
    application = redis_app_factory(RATELIMIT_LOGIN="1000 per minute")
    clients = 4
    past_the_check = threading.Barrier(clients + 1, timeout=30)
    go_on = threading.Event()

    @application.before_request  # after Flask-Limiter's own check: init_app registered it first
    def hold_sign_ins():
        if request.method == "POST" and request.path == "/auth/login":
            past_the_check.wait()
            go_on.wait(timeout=30)

    responses: list = [None] * clients

    def sign_in(index: int) -> None:
        responses[index] = AuthActions(application.test_client()).login(login="nobody")

    threads = [threading.Thread(target=sign_in, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    past_the_check.wait()  # every request has been counted in Redis
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.client_pause(10_000)  # their header reads will hang
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        go_on.set()
        time.sleep(1)  # the views answer and each request blocks on its header read
        redis_server.stop()  # every blocked read fails at once
        for thread in threads:
            thread.join(timeout=30)

    assert [r.status_code for r in responses] == [422] * clients, [
        r.get_data(as_text=True)[:300] for r in responses
    ]
    assert any("X-RateLimit-Remaining" not in r.headers for r in responses)
    # The race did happen: a request failed after another had switched to the fallback.
    assert any("Swallowing error" in record.getMessage() for record in caplog.records)


def test_redis_stopped_under_gunicorn_keeps_sign_in_working(redis_server, tmp_path, database_url):
    """The same outage on the production server: two workers, multiprocess metrics, JSON logs."""
    from tests.support.metrics import scrape, value
    from tests.support.server import Browser, get, gunicorn, register

    with gunicorn(tmp_path, database_url, workers=2, RATELIMIT_STORAGE_URI=redis_server.url) as server:
        register(server)
        assert value(scrape(server), "app_dependency_up", dependency="redis") == 1.0
        redis_server.stop()
        for _ in range(4):  # new connections: both workers get some
            assert Browser(server).submit("/auth/login", ALICE).status == 302
        ready = get(server, "/health/ready")
        samples = scrape(server)
    assert ready.status == 200
    assert '"status":"degraded"' in ready.body.replace(" ", "")
    assert value(samples, "app_dependency_up", dependency="redis") == 0.0
    logs = server.json_logs()
    degraded = [line for line in logs if line.get("event") == "dependency.degraded"]
    assert 1 <= len(degraded) <= 2  # once per worker that met the outage
    assert all(line["level"] == "WARNING" and line["dependency"] == "redis" for line in degraded)
    assert all(line["status"] < 500 for line in logs if line.get("logger") == "app.requests")


# --- nothing after the last commit can turn a success into a failure ------------------------------

AFTER_COMMIT = {
    "registration": (
        "/auth/register",
        lambda token: {
            "csrf_token": token,
            "username": "dave",
            "email": "dave@example.com",
            "password": PASSWORD,
            "confirm_password": PASSWORD,
        },
        302,
    ),
    "sign-in": ("/auth/login", lambda token: {"csrf_token": token, **ALICE}, 302),
    "reset request": ("/auth/reset", lambda token: {"csrf_token": token, "email": "alice@example.com"}, 200),
    "password change": (
        "/account/password",
        lambda token: {
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        302,
    ),
}


@pytest.mark.postgresql_only
@pytest.mark.parametrize("kind", AFTER_COMMIT)
def test_a_table_locked_right_after_the_last_commit_does_not_fail_the_request(
    own_database, monkeypatch, kind
):
    """The fault suite's phantom registration: the users table is locked the moment the
    request's last commit returns (DB_LOCK_TIMEOUT_MS short). A request that read the
    committed user again afterwards (an expired attribute reloaded) waited on the lock and
    told its user 503 for a write that was kept. Nothing after the last commit may touch
    the database."""
    from sqlalchemy import event

    url, _admin, _name = own_database
    application = registered_app(monkeypatch, url, DB_LOCK_TIMEOUT_MS="200")
    path, form, expected = AFTER_COMMIT[kind]
    client = application.test_client()
    if kind == "password change":
        assert AuthActions(client).login().status_code == 302
    commits: list[int] = []
    lock_on: list[int] = []
    holder = []

    def after_commit(session):
        commits.append(1)
        if lock_on and len(commits) == lock_on[0]:
            import psycopg2

            connection = psycopg2.connect(url)
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            holder.append(connection)

    def post():
        token = csrf_token(client.get(path).get_data(as_text=True))
        commits.clear()
        return client.post(path, data=form(token))

    event.listen(db.session, "after_commit", after_commit)
    try:
        # A first request of the same kind (on another account) counts the commits...
        dry = application.test_client()
        if kind == "password change":
            assert AuthActions(dry).register(username="erin", email="erin@example.com").status_code == 302
            assert AuthActions(dry).login(login="erin").status_code == 302
            dry_form = form
        elif kind == "registration":
            dry_form = lambda token: form(token) | {"username": "frank", "email": "frank@example.com"}  # noqa: E731
        else:
            dry_form = form
        token = csrf_token(dry.get(path).get_data(as_text=True))
        commits.clear()
        assert dry.post(path, data=dry_form(token)).status_code == expected
        assert commits, "the request committed nothing"
        # ...and the real one has the table locked right after its last.
        lock_on.append(len(commits))
        response = post()
        assert response.status_code == expected, response.get_data(as_text=True)
        assert holder, f"the lock was never taken ({len(commits)} commits, dry {lock_on})"
    finally:
        event.remove(db.session, "after_commit", after_commit)
        for connection in holder:
            connection.rollback()
            connection.close()
        dispose(application)
