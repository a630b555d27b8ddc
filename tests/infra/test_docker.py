"""The container, built and run on this machine by a real Docker engine.

The official python:3.12-slim cannot be pulled here, so the build uses the
stand-in base that scripts/ci/docker-engine.sh imports (Debian bookworm with
python3), passed through the Dockerfile's PYTHON_IMAGE build argument.
Run with `make test-infra` (which prepares the engine).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.auth import csrf_token
from tests.support.container import REPORT, docker
from tests.support.database import new_postgresql_database
from tests.support.ports import free_port
from tests.support.standins import docker_build

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
BIN = ROOT / ".venv" / "bin"
IMAGE = f"flask-auth:test-{secrets.token_hex(3)}"
SECRET = "container-test-secret-" + "k" * 32


@pytest.fixture(scope="session")
def base_image() -> str:
    name = os.environ.get("BASE_IMAGE")
    assert name, "run through `make test-infra` (scripts/ci/docker-engine.sh sets BASE_IMAGE)"
    assert os.environ.get("DOCKER_HOST"), "DOCKER_HOST is not set"
    docker("image", "inspect", name)
    REPORT["base image"] = f"{name} ({os.environ.get('BASE_IMAGE_KIND', 'unknown')})"
    return name


@pytest.fixture(scope="session")
def image(base_image: str):
    revision = (
        subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        or "unknown"
    )
    docker_build(
        "-f",
        str(DOCKERFILE),
        "--build-arg",
        f"PYTHON_IMAGE={base_image}",
        "--build-arg",
        "VERSION=9.8.7",
        "--build-arg",
        f"REVISION={revision}",
        "-t",
        IMAGE,
        str(ROOT),
    )
    size = int(docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout.strip())
    REPORT["image size"] = f"{size / 1e6:.0f} MB ({size} bytes)"
    yield {"name": IMAGE, "revision": revision}
    docker("image", "rm", "-f", IMAGE, check=False)


@pytest.fixture(scope="session")
def inspect(image) -> dict:
    return json.loads(docker("image", "inspect", image["name"]).stdout)[0]


def test_hadolint_has_no_warnings():
    result = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_base_is_the_official_pinned_image():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.12-slim$", text, re.M)
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)", text, re.M)) == 2


def test_image_metadata(image, inspect):
    config = inspect["Config"]
    assert config["User"] == "10001:10001"
    assert "8000/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"] == ["/usr/local/bin/docker-entrypoint"]
    assert config["Cmd"] == ["serve"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    health = config["Healthcheck"]["Test"]
    assert health[0] == "CMD" and health[1] == "python"
    assert "/health/live" in " ".join(health)
    assert "curl" not in " ".join(health)
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "9.8.7"
    assert labels["org.opencontainers.image.revision"] == image["revision"]
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_final_image_holds_only_what_it_needs(image):
    """No compiler, no pip cache, no tests, no .git; a user with no login shell."""
    script = (
        "set -e; "
        "for tool in gcc cc make git; do if command -v $tool; then echo HAS-$tool; fi; done; "
        "ls -a /srv; "
        "ls /root/.cache 2>/dev/null || echo no-root-cache; "
        "getent passwd app; id -u; id -g; "
        "touch /srv/app/x 2>/dev/null && echo CODE-WRITABLE || echo code-read-only; "
        "python -c 'import app, flask; print(\"imports-ok\")'"
    )
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image["name"], "-c", script).stdout
    assert "HAS-" not in out, out
    entries = set(out.split())
    assert {"app", "gunicorn.conf.py"} <= entries
    assert not {"tests", ".git", "Makefile", "README.md", "docker", ".venv"} & entries
    assert "no-root-cache" in out
    assert re.search(r"^app:x:10001:10001::/nonexistent:/usr/sbin/nologin$", out, re.M), out
    assert "\n10001\n10001\n" in out
    assert "code-read-only" in out
    assert "imports-ok" in out


def _run_flags(*extra: str) -> list[str]:
    """A locked-down run: read-only root, only /tmp writable, no privileges."""
    return [
        "--read-only",
        "--tmpfs",
        "/tmp:rw,noexec,nosuid,size=64m",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-e",
        f"SECRET_KEY={SECRET}",
        "-e",
        "DATABASE_URL=sqlite:////tmp/app.db",
        # The image is APP_ENV=production with memory:// rate limits: one worker,
        # or gunicorn.conf.py refuses to start (limits would be per worker).
        "-e",
        "WEB_CONCURRENCY=1",
        *extra,
    ]


def test_migrate_is_a_separate_command_that_works_read_only(image):
    check = (
        "import sqlite3; print(sorted(r[0] for r in sqlite3.connect('/tmp/app.db')"
        ".execute(\"select name from sqlite_master where type='table'\")))"
    )
    out = docker(
        "run",
        "--rm",
        "--network",
        "none",
        *_run_flags("-e", f"CHECK={check}"),
        "--entrypoint",
        "sh",
        image["name"],
        "-c",
        'docker-entrypoint migrate && python -c "$CHECK"',
    )
    assert "'users'" in out.stdout and "'alembic_version'" in out.stdout, out.stdout + out.stderr


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _register_and_sign_in(port: int) -> None:
    """A user registers and signs in through the real forms, CSRF tokens included."""
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def form(path: str, **fields: str):
        page = opener.open(base + path, timeout=10).read().decode()
        token = csrf_token(page)
        data = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
        return opener.open(base + path, data, timeout=30)

    password = "Container-Test-42"
    reply = form(
        "/auth/register",
        username="docker",
        email="docker@example.com",
        password=password,
        confirm_password=password,
    )
    assert reply.url.endswith("/auth/login"), reply.url
    reply = form("/auth/login", login="docker", password=password)
    assert reply.url.endswith("/dashboard"), reply.url
    assert "Welcome, docker" in reply.read().decode()


def _wait_for(container: str, port: int, path: str = "/health/ready") -> str:
    """Polls PATH until it answers 200 (for 60 s at most) and returns that answer's body."""
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        try:
            status, body = _get(f"http://127.0.0.1:{port}{path}")
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.3)
    logs = docker("logs", container, check=False).stdout[-3000:]
    pytest.fail(f"{path} never answered 200 ({status}): {logs}")


def _tables(container: str) -> str:
    return docker(
        "exec",
        container,
        "python",
        "-c",
        "import sqlite3; print(sorted(r[0] for r in sqlite3.connect('/tmp/app.db')"
        ".execute(\"select name from sqlite_master where type='table'\")))",
    ).stdout


def test_serves_read_only_as_non_root_and_stops_cleanly(image):
    """The default command serves gunicorn on 8000 (published on 127.0.0.1
    only), does not migrate by itself, turns healthy through its HEALTHCHECK,
    and exits 0 on SIGTERM (docker stop)."""
    port = free_port()
    container = docker(
        "run",
        "-d",
        "-p",
        f"127.0.0.1:{port}:8000",
        "--health-interval",
        "1s",
        "--health-start-period",
        "1s",
        "-e",
        "SECURE_COOKIES=false",
        *_run_flags(),
        image["name"],
    ).stdout.strip()
    try:
        assert json.loads(_wait_for(container, port, "/health/live")) == {"status": "ok"}

        assert _tables(container).strip() == "[]", "serving must not run migrations"
        docker("exec", container, "docker-entrypoint", "migrate")
        assert "'users'" in _tables(container)
        _wait_for(container, port)
        status, page = _get(f"http://127.0.0.1:{port}/auth/login")
        assert status == 200 and "Sign in" in page
        _register_and_sign_in(port)

        assert docker("exec", container, "id", "-u").stdout.strip() == "10001"
        write = docker("exec", container, "sh", "-c", "touch /srv/x || touch /opt/x", check=False)
        assert write.returncode != 0

        deadline = time.monotonic() + 30
        health = ""
        while time.monotonic() < deadline:
            health = docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()
            if health == "healthy":
                break
            time.sleep(0.5)
        assert health == "healthy"

        logs = docker("logs", container).stdout
        lines = [line for line in logs.splitlines() if line.strip()]
        assert lines and all(line.startswith("{") for line in lines), logs[-2000:]

        docker("stop", "-t", "20", container, timeout=60)
        state = json.loads(docker("inspect", container).stdout)[0]["State"]
        assert state["ExitCode"] == 0, docker("logs", container, check=False).stdout[-2000:]
    finally:
        docker("rm", "-f", container, check=False)


@pytest.fixture
def postgresql_database():
    """A fresh database on the machine's PostgreSQL, reached through its socket."""
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with new_postgresql_database("test_container", server) as (_url, _admin, name):
        yield name


def test_serves_on_the_machines_postgresql_after_migrate(image, postgresql_database):
    """No network but the published port: PostgreSQL through its Unix socket,
    mounted into the container; migrate first, then serve."""
    socket_dir = "/var/run/postgresql"
    url = f"postgresql://postgres@/{postgresql_database}?host={socket_dir}"
    flags = [*_run_flags(), "-v", f"{socket_dir}:{socket_dir}", "-e", f"DATABASE_URL={url}"]
    migrate = docker("run", "--rm", "--network", "none", *flags, image["name"], "migrate", check=False)
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]

    port = free_port()
    container = docker(
        "run", "-d", "-p", f"127.0.0.1:{port}:8000", "-e", "SECURE_COOKIES=false", *flags, image["name"]
    ).stdout.strip()
    try:
        _wait_for(container, port)
        status, page = _get(f"http://127.0.0.1:{port}/auth/login")
        assert status == 200 and "Sign in" in page
        _register_and_sign_in(port)
        import psycopg2

        server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        conn = psycopg2.connect(server.rsplit("/", 1)[0] + "/" + postgresql_database)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM users WHERE username = 'docker'")
                assert cursor.fetchone() == (1,)
        finally:
            conn.close()
    finally:
        docker("rm", "-f", container, check=False)
