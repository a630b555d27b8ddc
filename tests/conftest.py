"""Fixtures shared by the whole suite.

Every test that uses the `app` fixture runs once per database backend:
SQLite always, PostgreSQL too when TEST_DATABASE_URL points at a server (each
pytest run gets its own freshly created database, dropped at the end). In CI
(CI=true) a missing TEST_DATABASE_URL is an error, never a silent skip, and
any skipped test fails the run (tests/support/ci.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, outbox
from app.config import normalize_database_url
from app.extensions import db, limiter
from tests.support.auth import AuthActions
from tests.support.ci import in_ci, pytest_sessionfinish  # the hook: in CI a skipped test fails the run
from tests.support.database import empty_tables_on, migrate, new_database, new_postgresql_database
from tests.support.passwords import TEST_SECRET_KEY

__all__ = ["pytest_sessionfinish"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql_only: needs the PostgreSQL server of TEST_DATABASE_URL")
    if in_ci() and not os.environ.get("TEST_DATABASE_URL"):
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


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this pytest run and backend."""
    with new_database(backend, tmp_path_factory.mktemp("db"), "test_flask_auth") as url:
        yield url


@pytest.fixture
def postgresql_database() -> Iterator[tuple[str, str]]:
    """A fresh, migrated PostgreSQL database of this test's own (dropped at the end)."""
    with new_postgresql_database("test_flask_auth_gunicorn") as (url, _admin, name):
        migrate(url)
        yield url, name


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
            empty_tables_on(connection, engine.dialect.name)
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
            empty_tables_on(db.session, db.engine.dialect.name)
            db.session.commit()
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


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
