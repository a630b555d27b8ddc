"""docker-compose.dev.yml and scripts/setup.sh."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.dev.yml").read_text())


def test_compose_file_validates_against_the_compose_spec():
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.dev.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_stack_shape():
    services = compose()["services"]
    assert set(services) == {"app", "migrate", "db", "redis", "mailpit"}
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("app", "db", "redis"):
        assert "healthcheck" in services[name], name
    # The app starts only after the one-shot migration succeeded and its services are healthy.
    assert services["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["app"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services["migrate"]["command"] == ["migrate"]
    env = services["app"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["RATELIMIT_STORAGE_URI"].startswith("redis://redis:6379")
    assert "${SECRET_KEY" in env["SECRET_KEY"]
    assert "db-data" in compose()["volumes"]
    assert any(v.startswith("db-data:") for v in services["db"]["volumes"])
    assert services["app"]["read_only"] is True
    # E-mails go to Mailpit, whose web UI shows them; links point at the published port.
    assert env["MAIL_SERVER"] == "mailpit" and env["MAIL_USE_TLS"] == "false"
    assert env["APP_BASE_URL"] == "http://127.0.0.1:${APP_PORT:-8000}"
    assert services["app"]["depends_on"]["mailpit"] == {"condition": "service_healthy"}


def test_every_published_port_is_on_loopback():
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_env_file_is_ignored_and_the_example_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0
    example = (ROOT / ".env.example").read_text()
    assert "SECRET_KEY=\n" in example  # no secret is ever committed


def _setup_checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True)
    # Reuse this checkout's virtualenv: the install step then has nothing to download.
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    # The working tree under test, not only what is committed.
    for name in ("scripts/setup.sh", ".env.example", "requirements-dev.txt", "app/requirements.txt"):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_bytes((ROOT / name).read_bytes())
    return checkout


def _run_setup(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "APP_ENV"}}
    return subprocess.run(
        ["bash", "scripts/setup.sh", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _env_values(checkout: Path) -> dict[str, str]:
    lines = (checkout / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_setup_script_bootstraps_and_is_idempotent(tmp_path):
    checkout = _setup_checkout(tmp_path)
    first = _run_setup(checkout)
    assert first.returncode == 0, first.stdout + first.stderr
    values = _env_values(checkout)
    assert len(values["SECRET_KEY"]) >= 32
    assert len(values["POSTGRES_PASSWORD"]) >= 32
    assert oct((checkout / ".env").stat().st_mode)[-3:] == "600"
    tables = {
        row[0]
        for row in sqlite3.connect(checkout / "instance" / "app.db").execute(
            "select name from sqlite_master where type='table'"
        )
    }
    assert {"users", "user_sessions", "login_events", "alembic_version"} <= tables
    assert "make run" in first.stdout

    second = _run_setup(checkout)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _env_values(checkout) == values  # never overwritten
    assert "kept the existing value" in second.stdout


def test_setup_script_keeps_a_secret_the_developer_set(tmp_path):
    checkout = _setup_checkout(tmp_path)
    (checkout / ".env").write_text("SECRET_KEY=" + "m" * 40 + "\n")
    result = _run_setup(checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _env_values(checkout)["SECRET_KEY"] == "m" * 40


def test_setup_script_help_and_bad_arguments(tmp_path):
    checkout = _setup_checkout(tmp_path)
    helped = _run_setup(checkout, "--help")
    assert helped.returncode == 0 and "Usage: scripts/setup.sh" in helped.stdout
    assert not (checkout / ".env").exists()
    wrong = _run_setup(checkout, "--frobnicate")
    assert wrong.returncode == 2 and "unknown argument" in wrong.stderr
