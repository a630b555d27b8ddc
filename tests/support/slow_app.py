"""The real app plus one test-only route, served by gunicorn in tests/test_gunicorn.py.

GET /test/slow?seconds=N sleeps N seconds (at most 10) and answers "done";
with hold_db=1 it keeps a database connection checked out of the pool while
it sleeps (so db_pool_connections_in_use is 1 in that worker meanwhile).
Production never imports this module: it is only named on gunicorn's command line by the tests.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, request
from sqlalchemy import text

from app import create_app as _create_app
from app.extensions import db

logger = logging.getLogger("tests.slow_app")


def create_app() -> Flask:
    application = _create_app()

    @application.get("/test/slow")
    def slow():
        seconds = min(float(request.args.get("seconds", "1")), 10.0)
        logger.info("slow request started", extra={"seconds": seconds})
        if request.args.get("hold_db") == "1":
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                time.sleep(seconds)
        else:
            time.sleep(seconds)
        return "done"

    return application
