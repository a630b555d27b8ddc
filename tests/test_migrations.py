"""Migrations: the history builds exactly the models' schema, round-trips, and drift is detectable."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import Column, MetaData, String, inspect, text

import app as app_package
from app.extensions import db
from tests.support.database import app_for, new_database

APP_TABLES = {"users", "user_sessions", "login_events", "trusted_devices", "mail_outbox"}
APP_TABLES |= {"mfa_factors", "mfa_recovery_codes", "mfa_pending_sign_ins"}
APP_TABLES |= {"passkey_credentials", "webauthn_challenges"}
MIGRATIONS = Path(app_package.__file__).with_name("migrations")


@pytest.fixture
def fresh_database_url(backend, tmp_path):
    """An empty database of this test's own: a SQLite file, or a new PostgreSQL database."""
    with new_database(backend, tmp_path, "test_migrations", migrated=False) as url:
        yield url


@pytest.fixture
def fresh_app(fresh_database_url):
    with app_for(fresh_database_url) as application:
        yield application


def _drift(metadata=None) -> list:
    """Alembic autogenerate's differences between the live database and metadata."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata if metadata is not None else db.metadata)


def _metadata_copy() -> MetaData:
    """A detached copy of the models' metadata that a test may change freely."""
    copy = MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_builds_exactly_the_models_schema_and_round_trips(backend, fresh_app):
    """`flask db upgrade` on an empty database yields the models' schema, and down/up round-trips."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with fresh_app.app_context():
        assert _tables() & APP_TABLES == set()

        upgrade()
        first = _tables()
        assert first >= APP_TABLES
        assert _current_revision() == head
        assert _drift() == []
        if backend == "postgresql":
            with db.engine.connect() as connection:
                data_type = connection.execute(
                    text(
                        "SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = 'users' AND column_name = 'created_at'"
                    )
                ).scalar_one()
            assert data_type == "timestamp with time zone"

        downgrade(revision="base")
        assert _tables() & APP_TABLES == set()
        assert _current_revision() is None

        upgrade()
        assert _tables() == first
        assert _current_revision() == head
        assert _drift() == []

        # The rebuilt schema is usable, constraints included.
        db.session.execute(
            text(
                "INSERT INTO users (username, email, password_hash, created_at) "
                "VALUES ('bob', 'bob@example.com', 'x', CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        assert db.session.execute(text("SELECT failed_login_count FROM users")).scalar_one() == 0


def test_drift_check_reports_a_column_missing_from_migrations(app):
    """The no-drift assertion is live: a model column with no migration is reported."""
    with app.app_context():
        assert _drift() == []

        changed = _metadata_copy()
        changed.tables["users"].append_column(Column("throwaway", String(10), nullable=True))
        diff = _drift(changed)
        added = [d for d in diff if d[0] == "add_column"]
        assert [(d[2], d[3].name) for d in added] == [("users", "throwaway")]

        # The real metadata was not touched by the copy.
        assert "throwaway" not in db.metadata.tables["users"].c
        assert _drift() == []


def test_drift_check_compares_column_types(app):
    """compare_type is on: a changed column length is drift too."""
    with app.app_context():
        changed = _metadata_copy()
        changed.tables["users"].c.username.type = String(64)
        diff = _drift(changed)
        flat = [d for entry in diff for d in (entry if isinstance(entry, list) else [entry])]
        modified = [d for d in flat if d[0] == "modify_type"]
        assert len(modified) == 1
        assert modified[0][2:4] == ("users", "username")


def test_app_uses_the_packaged_migrations_directory(app):
    """Migrate points at app/migrations, whose versions/ holds the one linear history."""
    migrate_ext = app.extensions["migrate"]
    assert Path(migrate_ext.directory).resolve() == MIGRATIONS.resolve()
    assert migrate_ext.configure_args.get("compare_type") is True
    # SQLite cannot ALTER most things: batch mode is what makes future migrations work there.
    assert migrate_ext.configure_args.get("render_as_batch") is True

    versions = MIGRATIONS / "versions"
    files = sorted(p.name for p in versions.glob("*.py"))
    assert "0001_initial_schema.py" in files

    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert {Path(r.path).parent.resolve() for r in revisions} == {versions.resolve()}
    assert len(revisions) == len(files)
    assert revisions[-1].down_revision is None


def test_flask_db_check_passes_on_the_migrated_database(app):
    """`flask db check` (what CI or a deploy can run) finds nothing to generate at head."""
    with app.app_context():
        assert _current_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
