"""Probes for the orchestrator: liveness does no I/O, readiness asks the database.

Liveness is answered by the gunicorn worker itself before a request reaches the
thread pool (app/gunicorn_worker.py); this route serves the same answer under the
development server. Readiness has an engine of its own (one or two connections,
short timeouts) so it never queues behind a request pool that a locked table has
emptied, and gunicorn runs it on threads reserved for probes.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app, jsonify
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..dependencies import check_redis
from ..extensions import db
from . import bp

logger = logging.getLogger(__name__)
_engine_lock = threading.Lock()


@bp.route("/live")
def live():
    return jsonify(status="ok")


def _probe_engine(app: Flask) -> Engine:
    """A small engine for readiness alone, built once per app (and process)."""
    engine = app.extensions.get("health_engine")
    if engine is not None:
        return engine
    with _engine_lock:
        engine = app.extensions.get("health_engine")
        if engine is None:
            engine = _build_probe_engine(app)
            app.extensions["health_engine"] = engine
    return engine


def _build_probe_engine(app: Flask) -> Engine:
    if db.engine.dialect.name != "postgresql":
        return db.engine  # SQLite: a file, no pool to starve
    timeout = app.config["HEALTH_DB_TIMEOUT_SECONDS"]
    return create_engine(
        db.engine.url,
        hide_parameters=True,
        pool_size=1,
        max_overflow=1,
        pool_timeout=timeout,
        pool_pre_ping=True,  # a connection killed by a restart must not fail a probe
        pool_recycle=300,
        connect_args={
            "connect_timeout": timeout,
            "options": f"-c statement_timeout={timeout * 1000}",
            "application_name": "readiness",
        },
    )


def _database_ready() -> str | None:
    """None when the database answers SELECT 1 in time, else the reason."""
    try:
        with _probe_engine(current_app._get_current_object()).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return "database unreachable"
    return None


@bp.route("/ready")
def ready():
    """200 while the database answers. Redis away is reported but stays 200:
    every pod shares the same Redis, and rate limits fall back to memory."""
    reason = _database_ready()
    if reason:
        return jsonify(status="unavailable", reason=reason), 503
    checks = {"database": "ok"}
    redis = check_redis()
    if redis is not None:
        checks["redis"] = redis
    status = "ok" if all(value == "ok" for value in checks.values()) else "degraded"
    return jsonify(status=status, checks=checks)


# /health is the same check as /health/ready, for load balancers that ask the root.
bp.add_url_rule("", endpoint="health", view_func=ready)
