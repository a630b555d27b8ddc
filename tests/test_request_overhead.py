"""Work a request does not need is not done (the cost itself is measured by
scripts/bench, never asserted here): these tests pin *that* it is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.extensions import limiter


def _spy_on_limit_evaluation(monkeypatch) -> list[str]:
    """Flask-Limiter asks which limits are exempt for every request it evaluates."""
    calls: list[str] = []
    manager = limiter.limit_manager
    exemption_scope = manager.exemption_scope

    def spy(*args, **kwargs):
        calls.append(1)
        return exemption_scope(*args, **kwargs)

    monkeypatch.setattr(manager, "exemption_scope", spy)
    return calls


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/dashboard", "/no-such-page"])
def test_safe_methods_never_reach_the_rate_limiter(client, monkeypatch, method, path):
    """Every limit is on POST: a GET does not even evaluate which limits apply."""
    calls = _spy_on_limit_evaluation(monkeypatch)
    client.open(path, method=method)
    assert calls == []


def test_a_post_still_reaches_the_rate_limiter(client, auth, monkeypatch):
    token = auth.token()
    calls = _spy_on_limit_evaluation(monkeypatch)
    client.post("/auth/login", data={"csrf_token": token, "login": "nobody", "password": "x"})
    assert calls


def test_start_up_does_not_import_alembic_or_webauthn(tmp_path):
    """Flask-Migrate and Alembic (a fifth of the start-up) load only for `flask db` and
    migrations; py_webauthn (a third of the rest, ~7 MiB) with the first passkey operation."""
    code = (
        "import sys\n"
        "from app import create_app\n"
        "app = create_app()\n"
        "client = app.test_client()\n"
        "assert client.get('/health/live').status_code == 200\n"
        "assert b'Sign in with a passkey' in client.get('/auth/login').data\n"
        "print('LOADED', sorted(m for m in ('alembic', 'flask_migrate', 'webauthn') if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "RATELIMIT_STORAGE_URI": "memory://",
        "WEBAUTHN_ORIGIN": "https://auth.example.com",  # passkeys on: the page offers one
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The mail sender's thread logs JSON to stdout too (no tables in this empty database), at any moment,
    # so the answer is found by its marker, not by its place.
    loaded = [line for line in result.stdout.splitlines() if line.startswith("LOADED ")]
    assert loaded == ["LOADED []"], result.stdout[-2000:]


def test_the_migrations_are_there_when_asked_for(app, runner):
    assert Path(app.extensions["migrate"].directory) == Path(app.root_path) / "migrations"
    assert "db" in app.cli.list_commands(None)
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
