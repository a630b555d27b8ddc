"""The benchmark's baselines serve: a bare WSGI app under the project's gunicorn.conf.py (whose
hooks must not assume the Flask app), and the reference app's pages (scripts/bench)."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time

import pytest

from tests.support.auth import csrf_token
from tests.support.ports import free_port
from tests.support.server import GUNICORN, ROOT, signal_group

BENCH = ROOT / "scripts" / "bench"


def test_gunicorn_conf_serves_a_wsgi_app_that_is_not_the_flask_app(tmp_path):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    argv = [*GUNICORN, "-c", "gunicorn.conf.py", "--pythonpath", str(BENCH), "baseline_wsgi:app"]
    log = tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/")
                response = conn.getresponse()
                status, body = response.status, response.read().decode()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"no answer in 20 s:\n{log.read_text()}")
                time.sleep(0.1)
        assert (status, body) == (200, "ok")
    finally:
        signal_group(proc, 15)
        proc.wait(timeout=15)


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
