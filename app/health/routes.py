"""Probes for the orchestrator: liveness does no I/O, readiness asks the database."""

from __future__ import annotations

import logging

from flask import current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from . import bp

logger = logging.getLogger(__name__)


@bp.route("/live")
def live():
    return jsonify(status="ok")


def _database_ready() -> str | None:
    """None when the database answers SELECT 1 in time, else the reason."""
    timeout_ms = current_app.config["HEALTH_DB_TIMEOUT_SECONDS"] * 1000
    try:
        with db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SET statement_timeout = {int(timeout_ms)}"))
            connection.execute(text("SELECT 1"))
            if connection.dialect.name == "postgresql":
                connection.execute(text("RESET statement_timeout"))
    except SQLAlchemyError as exc:
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return "database unreachable"
    return None


@bp.route("/ready")
def ready():
    reason = _database_ready()
    if reason:
        return jsonify(status="unavailable", reason=reason), 503
    return jsonify(status="ok", checks={"database": "ok"})


# /health is the same check as /health/ready, for load balancers that ask the root.
bp.add_url_rule("", endpoint="health", view_func=ready)
