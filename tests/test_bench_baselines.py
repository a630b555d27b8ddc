"""The benchmark's baselines serve: a bare WSGI app under the project's gunicorn.conf.py (whose
hooks must not assume the Flask app), and the reference app's pages (scripts/bench)."""

from __future__ import annotations

import sys

import pytest

from tests.support.auth import csrf_token
from tests.support.server import ROOT, get, gunicorn

BENCH = ROOT / "scripts" / "bench"


def test_gunicorn_conf_serves_a_wsgi_app_that_is_not_the_flask_app(tmp_path):
    # Only what gunicorn.conf.py needs (bind, workers, metrics directory): no app settings at all.
    no_app_settings = dict.fromkeys(("APP_ENV", "SECRET_KEY", "DATABASE_URL", "LOG_LEVEL"))
    with gunicorn(
        tmp_path,
        "",
        app_spec="baseline_wsgi:app",
        args=("--pythonpath", str(BENCH)),
        ready_path="/",
        all_workers=False,
        **no_app_settings,
    ) as server:
        reply = get(server, "/")
    assert (reply.status, reply.body) == (200, "ok")


@pytest.fixture
def reference(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("REFERENCE_DB", str(tmp_path / "ref.db"))
    monkeypatch.setenv("PASSWORD_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("PASSWORD_ARGON2_TIME_COST", "1")
    sys.modules.pop("reference_app", None)
    import reference_app

    reference_app.init_db()
    yield reference_app
    sys.modules.pop("reference_app", None)


def test_the_reference_app_lists_twenty_posts_and_signs_in_through_its_form(reference):
    client = reference.app.test_client()
    index = client.get("/")
    assert index.status_code == 200
    assert index.get_data(as_text=True).count("<article") == reference.POSTS

    page = client.get("/auth/login")
    assert page.status_code == 200 and "session=" in page.headers["Set-Cookie"]
    token = csrf_token(page.get_data(as_text=True))
    form = {"username": reference.USERNAME, "password": reference.PASSWORD}
    assert client.post("/auth/login", data={**form, "csrf_token": "forged"}).status_code == 400
    wrong = client.post("/auth/login", data={**form, "password": "nope", "csrf_token": token})
    assert wrong.status_code == 200 and "Incorrect" in wrong.get_data(as_text=True)
    signed_in = client.post("/auth/login", data={**form, "csrf_token": token})
    assert signed_in.status_code == 302


def test_the_profile_breakdown_gives_each_sample_to_its_innermost_component(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    from pyspy_breakdown import breakdown

    raw = "\n".join(
        [
            # a regular expression inside Werkzeug is Werkzeug's time
            "run (gunicorn/arbiter.py:1);wsgi_app (flask/app.py:2);parse (werkzeug/http.py:3);"
            "match (re/__init__.py:4) 3",
            # SQLAlchemy's call into the DB-API is the driver's
            "handle (gunicorn/workers/gthread.py:1);view (app/dashboard/routes.py:2);"
            "DefaultDialect.do_execute (sqlalchemy/engine/default.py:3) 2",
            "render (jinja2/environment.py:1) 1",
            "emit (logging/__init__.py:1);dumps (json/__init__.py:2) 1",
            "verify (argon2/_password_hasher.py:1) 1",
            "view (app/auth/routes.py:1);helper (flask_login/utils.py:2) 1",
            # an idle pool thread is waiting, not running
            "_bootstrap (threading.py:1);_worker (concurrent/futures/thread.py:2) 5",
        ]
    )
    result = breakdown(raw)
    assert (result.samples, result.waiting) == (9, 5)
    assert dict(result.by_component) == {
        "werkzeug/flask": 3,
        "DB driver": 2,
        "jinja2": 1,
        "logging/json": 1,
        "argon2 (the password hash)": 1,
        "other": 1,
    }
