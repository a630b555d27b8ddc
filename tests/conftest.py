"""Fixtures shared by the whole suite.

Every test that uses the `app` fixture runs once per database backend:
SQLite always, PostgreSQL too when TEST_DATABASE_URL points at a server (each
pytest run gets its own freshly created database, dropped at the end). In CI
(CI=true) a missing TEST_DATABASE_URL is an error, never a silent skip.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app, outbox
from app.config import normalize_database_url
from app.extensions import db, limiter

TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
PASSWORD = "Correct-Horse-42"
TABLES = (
    "webauthn_challenges",
    "passkey_credentials",
    "mfa_pending_sign_ins",
    "mfa_recovery_codes",
    "mfa_factors",
    "mail_outbox",
    "login_events",
    "user_sessions",
    "trusted_devices",
    "users",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql_only: needs the PostgreSQL server of TEST_DATABASE_URL")
    if os.environ.get("CI", "").lower() == "true" and not os.environ.get("TEST_DATABASE_URL"):
        raise pytest.UsageError(
            "CI=true but TEST_DATABASE_URL is not set: the PostgreSQL suite must run in CI"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside CI without TEST_DATABASE_URL, PostgreSQL-only tests are deselected
    (and counted in the summary). In CI that state is refused by pytest_configure."""
    if os.environ.get("TEST_DATABASE_URL"):
        return
    dropped = [item for item in items if item.get_closest_marker("postgresql_only")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", backends(), scope="session")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this pytest run and backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        _migrate(url)
        yield url
        return

    with new_postgresql_database("test_flask_auth") as (url, _admin, _name):
        _migrate(url)
        yield url


@contextmanager
def new_postgresql_database(prefix: str) -> Iterator[tuple[str, object, str]]:
    """A new, empty database on TEST_DATABASE_URL's server, dropped on exit.

    Yields (url, admin connection in autocommit, database name).
    """
    import psycopg2

    server = normalize_database_url(os.environ["TEST_DATABASE_URL"]).replace(
        "postgresql+psycopg2://", "postgresql://"
    )
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(server, name), admin, name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def postgresql_database() -> Iterator[tuple[str, str]]:
    """A fresh, migrated PostgreSQL database of this test's own (dropped at the end)."""
    with new_postgresql_database("test_flask_auth_gunicorn") as (url, _admin, name):
        _migrate(url)
        yield url, name


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APP_ENV", "testing")
        mp.setenv("DATABASE_URL", url)
        mp.setenv("SECRET_KEY", TEST_SECRET_KEY)
        app = create_app()
        with app.app_context():
            upgrade()
            db.engine.dispose()


def _empty_tables() -> None:
    _empty_tables_on(db.session, db.engine.dialect.name)
    db.session.commit()


def _empty_tables_on(connection, dialect: str) -> None:
    if dialect == "postgresql":
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    else:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(autouse=True)
def _shared_database_left_empty(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that writes to the run's shared database without make_app (a gunicorn it
    started, say) leaves it empty for the next test, as make_app's own teardown does."""
    yield
    if "database_url" not in request.fixturenames or "make_app" in request.fixturenames:
        return
    from sqlalchemy import create_engine

    engine = create_engine(normalize_database_url(request.getfixturevalue("database_url")))
    try:
        with engine.begin() as connection:
            _empty_tables_on(connection, engine.dialect.name)
    finally:
        engine.dispose()


@pytest.fixture
def make_app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Flask]]:
    """Build an app on the test database; keyword arguments override settings.

    Settings read from the environment (APP_ENV, DATABASE_URL, ...) can be set
    with monkeypatch before calling; the defaults are the testing ones.
    """
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("APP_ENV", "testing")
    apps: list[Flask] = []

    def factory(**overrides: object) -> Flask:
        app = create_app(dict(overrides) if overrides else None)
        apps.append(app)
        return app

    yield factory

    for app in apps:
        outbox.stop_sender(app)
        with app.app_context():
            db.session.remove()
            limiter.reset()
    if apps:
        with apps[0].app_context():
            _empty_tables()
            db.session.remove()
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


class AuthActions:
    """Drives the real forms, CSRF token included (flaskr's AuthActions)."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def token(self, path: str = "/auth/login") -> str:
        return csrf_token(self.client.get(path).get_data(as_text=True))

    def register(
        self,
        username: str = "alice",
        email: str = "alice@example.com",
        password: str = PASSWORD,
        confirm: str | None = None,
        **kwargs,
    ):
        data = {
            "csrf_token": self.token("/auth/register"),
            "username": username,
            "email": email,
            "password": password,
            "confirm_password": password if confirm is None else confirm,
        }
        return self.client.post("/auth/register", data=data, **kwargs)

    def login(
        self,
        login: str = "alice",
        password: str = PASSWORD,
        remember: bool = False,
        next: str | None = None,
        **kwargs,
    ):
        data = {"csrf_token": self.token(), "login": login, "password": password}
        if remember:
            data["remember_me"] = "y"
        url = "/auth/login" + (f"?next={next}" if next is not None else "")
        return self.client.post(url, data=data, **kwargs)

    def logout(self, **kwargs):
        return self.client.post("/auth/logout", data={"csrf_token": self.token("/dashboard")}, **kwargs)


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
