"""The application factory: the only place that wires things together."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import event

from .config import Config, config_class
from .extensions import engines_of
from .middleware import TrustedProxyFix

__version__ = "0.1.0"

MIGRATIONS_DIR = str(Path(__file__).with_name("migrations"))


def create_app(config: Mapping[str, object] | str | None = None) -> Flask:
    """Build an app.

    config may be an APP_ENV name ("testing"), or a mapping of settings that
    override the ones read from the environment (APP_ENV in the mapping picks
    the class).
    """
    app = Flask(__name__, instance_relative_config=True)
    app.cli = _AppGroup(app)
    overrides: dict[str, object] = {}
    env_name = os.environ.get("APP_ENV")
    if isinstance(config, str):
        env_name = config
    elif config is not None:
        overrides = dict(config)
        env_name = str(overrides.pop("APP_ENV", env_name) or "development")
    settings: Config = config_class(env_name)(instance_path=app.instance_path)
    app.config.from_object(settings)
    app.config["APP_ENV"] = settings.ENV_NAME
    app.config["APP_VERSION"] = __version__
    app.config.update(overrides)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    register_extensions(app)
    register_blueprints(app)
    register_template_filters(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from . import dependencies, forms, mail, metrics, observability, outages, outbox, security, sessions
    from .extensions import csrf, db, limiter

    observability.init_app(app)  # first: its hooks must see every request

    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, hops)  # type: ignore[method-assign]

    db.init_app(app)
    for engine in engines_of(app):
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_foreign_keys)
    app.extensions["migrate"] = _MigrateOnDemand(app)
    csrf.init_app(app)
    # Before the limiter: a 503's Retry-After is set after the limiter's headers.
    outages.init_app(app)
    limiter.init_app(app)
    sessions.init_app(app)  # Flask-Login and its user loader
    security.init_app(app)
    forms.init_app(app)  # a POST body that is no HTML form is a 400 before any form reads it
    mail.init_app(app)
    outbox.init_app(app)
    metrics.init_app(app)
    dependencies.init_app(app)  # Redis watched: degraded, not down, when it goes away


def init_migrate(app: Flask) -> None:
    """Flask-Migrate: `flask db ...`, with app/migrations and batch mode (SQLite)."""
    # Alembic announces each of its built-in plugins at INFO when imported; imported
    # before logging was set up, as it used to be, those lines were never shown.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from flask_migrate import Migrate

    from .extensions import db

    Migrate(directory=MIGRATIONS_DIR).init_app(app, db, render_as_batch=True, compare_type=True)


class _MigrateOnDemand:
    """app.extensions["migrate"] until something asks for it: Flask-Migrate
    imports Alembic, about a fifth of the app's start-up, and only `flask db`,
    flask_migrate.upgrade() and app/migrations/env.py use it. The first
    attribute read sets Flask-Migrate up (it replaces this entry) and answers."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def __getattr__(self, name: str):
        if self._app.extensions.get("migrate") is self:
            init_migrate(self._app)
        return getattr(self._app.extensions["migrate"], name)


class _AppGroup(AppGroup):
    """The app's CLI, whose `db` group (Flask-Migrate's) is set up when it is asked for."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app.name)
        self._app = app

    def list_commands(self, ctx) -> list[str]:
        return sorted({*super().list_commands(ctx), "db"})

    def get_command(self, ctx, name: str):
        if name == "db" and name not in self.commands:
            init_migrate(self._app)
        return super().get_command(ctx, name)


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    """SQLite ignores ON DELETE CASCADE unless asked on each connection
    (listens to this app's SQLite engine only: see register_extensions)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def register_blueprints(app: Flask) -> None:
    from .auth import bp as auth_bp
    from .dashboard import bp as dashboard_bp
    from .health import bp as health_bp
    from .mfa import bp as mfa_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(mfa_bp)


def register_template_filters(app: Flask) -> None:
    from .dashboard.labels import describe_user_agent, when

    app.add_template_filter(when, "when")
    app.add_template_filter(describe_user_agent, "browser")


def register_errorhandlers(app: Flask) -> None:
    from .errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from .cli import init_app

    init_app(app)
