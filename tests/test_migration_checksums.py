"""Released migrations never change (Flyway's checksums, for Alembic).

A revision may already be applied to a database somewhere: editing it afterwards
changes nothing there, and that database then differs from a fresh one built from
the edited history. So each revision's PostgreSQL SQL, as `flask db upgrade --sql
<previous>:<revision>` and `flask db downgrade --sql <revision>:<previous>` print it
(Alembic's offline mode: no server is contacted), is pinned below by its SHA-256.
A change is made by a new revision, never by editing a released one.

A new revision fails here until its checksums are added to CHECKSUMS (the failure
prints them): add them once the revision is final, in the commit that adds it.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

import app as app_package
from tests.support.database import app_for

MIGRATIONS = Path(app_package.__file__).with_name("migrations")

# The URL only picks the dialect: offline mode renders SQL and never connects.
OFFLINE_URL = "postgresql://postgres@offline.invalid:5432/never_connected"

# revision: (SHA-256 of its upgrade SQL, SHA-256 of its downgrade SQL), PostgreSQL.
Checksums = dict[str, tuple[str, str]]
CHECKSUMS: Checksums = {
    "0001": (
        "6d2134aea8c5a0e893aeb01588836dc20f32e8f20a11b43fe20cc5b3f9a8b925",
        "98d4120d933c5706396ca40efe3f0fa87a83d33fb76da9e321afbfbd17911b70",
    ),
    "0002": (
        "abf3e4fcf3d5b5152957a3710d65da9b9f94e80c82eb7c2fb9bcfdc686c75d4b",
        "758bcb18463e1b4372099c40161fc0cfab6e4e3afb36f6b36e5c53c8640a2e72",
    ),
    "0003": (
        "936a9588d924e82662e1e808bc81e116281cc2d3a0fa3ed9f3821e4f9c5725e3",
        "b7edc0dea76ec2065fff2ce139c4d431b62496e5496335d7868d07740c7fa36a",
    ),
    "0004": (
        "807aa2411618efc1201a9825746c09a7684c8e622e6ae7ce1836b0ae3e5e9569",
        "c6ebd013b1da8b5f3e684174eb76c4978bf7fc7a3a71731b585c9166c4ad4923",
    ),
    "0005": (
        "81dcdddd14c1dd20895aa7a9d19e1473c676768f72436fe7754d00ab75a4b72d",
        "851fedeea28fb23649a8a3456bb2e12caf57c322fc385b45be3ce5ca5bd91a5c",
    ),
    "0006": (
        "0c0fcee0b12f27fc617b8c88ad9b0326c652a1437388714728b28a995993f090",
        "867320747025e1703a92d6bb827c3b3db8080e21e170ff976e6b59555cbd2a3a",
    ),
}


def sha256(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def _offline_sql(application, directory: Path, operation, revision_range: str) -> str:
    """What `flask db upgrade|downgrade --sql revision_range` prints, for directory's history."""
    config = application.extensions["migrate"].migrate.get_config(str(directory))
    config.output_buffer = io.StringIO()
    operation(config, revision_range, sql=True)
    return config.output_buffer.getvalue()


def render(directory: Path = MIGRATIONS) -> dict[str, tuple[str, str]]:
    """{revision: (upgrade SQL, downgrade SQL)} for each revision of directory's (linear)
    history: from the revision before it to it, and back, rendered for PostgreSQL."""
    rendered = {}
    with app_for(OFFLINE_URL) as application, application.app_context():
        for script in ScriptDirectory(str(directory)).walk_revisions():
            assert not isinstance(script.down_revision, tuple), "the history is linear"
            revision, previous = script.revision, script.down_revision or "base"
            rendered[revision] = (
                _offline_sql(application, directory, command.upgrade, f"{previous}:{revision}"),
                _offline_sql(application, directory, command.downgrade, f"{revision}:{previous}"),
            )
    return rendered


def checksum_problems(rendered: dict[str, tuple[str, str]], checksums: Checksums) -> list[str]:
    """What is wrong with rendered's revisions against the pinned checksums, one sentence each."""
    problems = []
    for revision, (upgrade_sql, downgrade_sql) in sorted(rendered.items()):
        actual = (sha256(upgrade_sql), sha256(downgrade_sql))
        if revision not in checksums:
            problems.append(
                f"revision {revision} has no checksum: once it is final, add its checksum to CHECKSUMS "
                f"in tests/test_migration_checksums.py: {revision!r}: {actual!r},"
            )
            continue
        changed = [
            name
            for name, now, pinned in zip(("upgrade", "downgrade"), actual, checksums[revision], strict=True)
            if now != pinned
        ]
        if changed:
            problems.append(
                f"revision {revision}'s {' and '.join(changed)} SQL changed: a released migration must "
                "not change (it may already be applied somewhere); revert the edit and write a new "
                "revision for the change. (If a SQLAlchemy or Alembic upgrade changed how the same "
                "operations render, compare `flask db upgrade --sql` before and after, and update the "
                "checksums in that upgrade's commit.)"
            )
    for revision in sorted(checksums.keys() - rendered.keys()):
        problems.append(
            f"revision {revision} is in CHECKSUMS but no longer in the history: "
            "a released migration must not be removed"
        )
    return problems


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[str, str]]:
    return render()


def test_offline_sql_is_the_same_on_every_run(rendered):
    """Nothing in the rendered SQL varies between runs, so it is hashed as it is."""
    assert render() == rendered
    upgrade_sql, downgrade_sql = rendered["0001"]
    assert "CREATE TABLE users (" in upgrade_sql
    assert "TIMESTAMP WITH TIME ZONE" in upgrade_sql  # PostgreSQL's SQL, not SQLite's
    assert "DROP TABLE users;" in downgrade_sql


def test_released_migrations_are_unchanged(rendered):
    """Every revision's SQL is what it was when released, and every revision is pinned."""
    problems = checksum_problems(rendered, CHECKSUMS)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def migrations_copy(tmp_path) -> Path:
    """A copy of app/migrations that a test may edit."""
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_an_edited_revision_is_reported(migrations_copy):
    """The guard is live: a column type changed in a released revision fails, naming it."""
    path = migrations_copy / "versions" / "0002_email_verified_at.py"
    source = path.read_text()
    assert "sa.DateTime(timezone=True)" in source
    path.write_text(source.replace("sa.DateTime(timezone=True)", "sa.DateTime()"))

    problems = checksum_problems(render(migrations_copy), CHECKSUMS)

    assert len(problems) == 1, problems
    assert problems[0].startswith("revision 0002's upgrade SQL changed")
    assert "a released migration must not change" in problems[0]
    assert "write a new revision" in problems[0]


def test_a_revision_without_a_checksum_is_reported(migrations_copy):
    """A new revision fails until its checksums are in CHECKSUMS, and the failure says so."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    (migrations_copy / "versions" / "9999_new.py").write_text(
        f'''"""a new revision"""
from alembic import op
import sqlalchemy as sa

revision = '9999'
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('nickname', sa.String(length=32), nullable=True))


def downgrade():
    op.drop_column('users', 'nickname')
'''
    )

    rendered = render(migrations_copy)
    problems = checksum_problems(rendered, CHECKSUMS)

    assert len(problems) == 1, problems
    assert problems[0].startswith("revision 9999 has no checksum")
    assert "add its checksum to CHECKSUMS" in problems[0]
    upgrade_sql, downgrade_sql = rendered["9999"]
    assert f"'9999': ('{sha256(upgrade_sql)}', '{sha256(downgrade_sql)}')," in problems[0]


def test_a_removed_revision_is_reported():
    """A pinned revision gone from the history is reported too."""
    problems = checksum_problems({}, {"0001": ("a", "b")})
    assert problems == [
        "revision 0001 is in CHECKSUMS but no longer in the history: a released migration must not be removed"
    ]
