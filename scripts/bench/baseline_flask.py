"""A bare one-route Flask app that answers "ok": Flask's own cost per request,
without the project's extensions (logging, CSRF, sessions, metrics, headers).

bench.py serves it with the project's own gunicorn.conf.py:

    gunicorn -c gunicorn.conf.py --pythonpath scripts/bench baseline_flask:app
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index() -> str:
    return "ok"
