"""Databases for tests: a testing app on a given database, per-test PostgreSQL databases
(created on TEST_DATABASE_URL's server, dropped with FORCE at the end), the migrations
applied to a fresh one, and the app's tables emptied between tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from tests.support.passwords import TEST_SECRET_KEY

# Every table of the app, children first (the order DELETE needs).
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


# --- apps ------------------------------------------------------------------------------------


@contextmanager
def app_for(database_url: str, **env: str) -> Iterator[object]:
    """create_app() with APP_ENV=testing, the tests' SECRET_KEY and database_url (keyword
    arguments are more environment variables), set while the block runs; the app's
    connections are closed after. Yields the app (no app context)."""
    from app import create_app
    from app.extensions import db

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APP_ENV", "testing")
        mp.setenv("DATABASE_URL", database_url)
        mp.setenv("SECRET_KEY", TEST_SECRET_KEY)
        for name, value in env.items():
            mp.setenv(name, value)
        flask_app = create_app()
        try:
            yield flask_app
        finally:
            with flask_app.app_context():
                db.session.remove()
                db.engine.dispose()


def migrate(database_url: str) -> None:
    """`flask db upgrade` on database_url: the schema of the migrations' head."""
    from flask_migrate import upgrade

    with app_for(database_url) as flask_app, flask_app.app_context():
        upgrade()


def empty_tables_on(connection, dialect: str) -> None:
    """Delete every row of the app's tables (and restart PostgreSQL's sequences)."""
    if dialect == "postgresql":
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    else:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))


# --- PostgreSQL databases ----------------------------------------------------------------------


def _server_url(server: str | None) -> str:
    from app.config import normalize_database_url

    url = server if server is not None else os.environ["TEST_DATABASE_URL"]
    return normalize_database_url(url).replace("postgresql+psycopg2://", "postgresql://")


def with_database(url: str, name: str) -> str:
    """url with its database name replaced by name."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextmanager
def admin_connection(server: str | None = None) -> Iterator[object]:
    """An autocommit psycopg2 connection to server (default TEST_DATABASE_URL), closed on exit."""
    import psycopg2

    admin = psycopg2.connect(_server_url(server))
    admin.autocommit = True
    try:
        yield admin
    finally:
        admin.close()


def create_database(server: str, name: str) -> str:
    """CREATE DATABASE name on server; returns its URL (kept: for servers that are thrown away)."""
    with admin_connection(server) as admin, admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    return with_database(_server_url(server), name)


@contextmanager
def new_postgresql_database(prefix: str, server: str | None = None) -> Iterator[tuple[str, object, str]]:
    """A new, empty database on server (default TEST_DATABASE_URL's), dropped on exit.

    Yields (url, admin connection in autocommit, database name).
    """
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with admin_connection(server) as admin:
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
            yield with_database(_server_url(server), name), admin, name
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def new_database(backend: str, directory: Path, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """A database of its own for backend ("sqlite": a file in directory; "postgresql": a new
    database on TEST_DATABASE_URL's server, dropped on exit), migrated unless told; yields its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / f'{prefix}.db'}"
        if migrated:
            migrate(url)
        yield url
        return
    with new_postgresql_database(prefix) as (url, _admin, _name):
        if migrated:
            migrate(url)
        yield url


def count_rows(app, model, *where) -> int:
    """How many rows of model's table (meeting the where clauses) app's database holds."""
    from sqlalchemy import func, select

    from app.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))
