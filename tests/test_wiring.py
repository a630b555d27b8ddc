"""The app wires itself explicitly: its SQLAlchemy listeners go on its own
engine, not on the global Engine and Pool classes that every engine in the
process shares (a test's, a migration tool's, another app's)."""

from __future__ import annotations

import ast
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db, login_manager
from app.metrics import DB_POOL_IN_USE
from app.sessions import load_user

APP_DIR = Path(__file__).resolve().parent.parent / "app"


def _sqlite_app(tmp_path: Path) -> Flask:
    return create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}"})


def test_foreign_keys_are_on_for_the_apps_sqlite_engine_only(tmp_path: Path) -> None:
    app = _sqlite_app(tmp_path)
    with app.app_context():
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 0
    other.dispose()


def test_the_pool_gauge_counts_the_apps_connections_only(tmp_path: Path) -> None:
    app = _sqlite_app(tmp_path)
    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    before = DB_POOL_IN_USE._value.get()
    with other.connect():
        assert DB_POOL_IN_USE._value.get() == before
    with app.app_context():
        with db.engine.connect():
            assert DB_POOL_IN_USE._value.get() == before + 1
        assert DB_POOL_IN_USE._value.get() == before
    other.dispose()


def test_the_user_loader_is_registered_by_create_app(tmp_path: Path) -> None:
    _sqlite_app(tmp_path)
    assert login_manager._user_callback is load_user


def test_no_module_is_imported_for_its_side_effects_or_listens_globally() -> None:
    """No `import x  # noqa: F401` kept to register something, and no
    @event.listens_for(Engine|Pool, ...) on the classes."""
    problems = []
    for path in APP_DIR.rglob("*.py"):
        source = path.read_text()
        for number, line in enumerate(source.splitlines(), 1):
            if "noqa: F401" in line:
                problems.append(f"{path.name}:{number}: import kept for a side effect")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in {"listens_for", "listen"}:
                target = node.args[0] if node.args else None
                if isinstance(target, ast.Name) and target.id in {"Engine", "Pool"}:
                    problems.append(f"{path.name}:{node.lineno}: listens on the global {target.id} class")
    assert problems == []
