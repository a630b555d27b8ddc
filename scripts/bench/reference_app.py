"""What a typical simple Flask app does per request, written for the benchmark in the style of
Flask's tutorial: a sign-in page rendered from a Jinja template with a form and a CSRF-style token
kept in Flask's signed session cookie, an index listing the 20 newest posts from SQLite with their
authors, and a sign-in POST that checks an argon2id hash (the app's parameters) and signs in.
No extensions: Flask, Jinja, sqlite3 and argon2-cffi only.

bench.py serves it the way a Flask user would, with plain sync workers and no config file:

    REFERENCE_DB=/tmp/x.db gunicorn -w 2 -k sync --pythonpath scripts/bench reference_app:app
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import VerificationError
from flask import Flask, abort, g, redirect, render_template, request, session, url_for

DATABASE = os.environ.get("REFERENCE_DB") or str(Path(tempfile.gettempdir()) / "reference-app.db")
POSTS = 20
USERNAME = "reader"
PASSWORD = "Steady-Load-2026"  # noqa: S105  # nosec B105

hasher = PasswordHasher(
    time_cost=int(os.environ.get("PASSWORD_ARGON2_TIME_COST", "2")),
    memory_cost=int(os.environ.get("PASSWORD_ARGON2_MEMORY_KIB", "19456")),
    parallelism=int(os.environ.get("PASSWORD_ARGON2_PARALLELISM", "1")),
    type=Type.ID,
)

app = Flask(__name__, template_folder=str(Path(__file__).with_name("reference_templates")))
# The same key in every worker (a random one per process would reject the other worker's cookies).
app.config["SECRET_KEY"] = os.environ.get("REFERENCE_SECRET_KEY", "reference-app: loopback benchmark only")


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db() -> None:
    """The schema and data: run once by bench.py before the server starts."""
    db = sqlite3.connect(DATABASE)
    db.executescript(
        """
        DROP TABLE IF EXISTS post; DROP TABLE IF EXISTS user;
        CREATE TABLE user (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT NOT NULL);
        CREATE TABLE post (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES user (id),
            created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, title TEXT NOT NULL, body TEXT NOT NULL);
        """
    )
    db.execute("INSERT INTO user (username, password) VALUES (?, ?)", (USERNAME, hasher.hash(PASSWORD)))
    db.executemany(
        "INSERT INTO post (author_id, created, title, body) VALUES (1, datetime('now', ?), ?, ?)",
        [(f"-{n} minutes", f"Post number {n}", f"The body of post {n}. " * 8) for n in range(POSTS + 10)],
    )
    db.commit()
    db.close()


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@app.route("/")
def index():
    posts = (
        get_db()
        .execute(
            "SELECT p.id, title, body, created, author_id, username"
            " FROM post p JOIN user u ON p.author_id = u.id ORDER BY created DESC LIMIT ?",
            (POSTS,),
        )
        .fetchall()
    )
    return render_template("index.html", posts=posts)


@app.route("/auth/login", methods=("GET", "POST"))
def login():
    error = None
    if request.method == "POST":
        if request.form.get("csrf_token") != session.get("csrf"):
            abort(400)
        user = (
            get_db()
            .execute("SELECT * FROM user WHERE username = ?", (request.form.get("username", ""),))
            .fetchone()
        )
        try:
            ok = user is not None and hasher.verify(user["password"], request.form.get("password", ""))
        except VerificationError:
            ok = False
        if ok:
            session.clear()
            session["user_id"] = user["id"]
            return redirect(url_for("index"))
        error = "Incorrect username or password."
    return render_template("login.html", error=error, csrf_token=_csrf_token())


if __name__ == "__main__":
    init_db()
