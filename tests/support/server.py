"""The app served as production serves it, for tests: gunicorn -c gunicorn.conf.py in a
subprocess on a free loopback port, with its own PROMETHEUS_MULTIPROC_DIR, stopped as a
whole process group. Used by tests/test_gunicorn.py and the browser suite (tests/e2e), by
the benchmark (scripts/bench/bench.py) for every server it runs, its baselines included, and
by the fault suite (scripts/faults), which stops and starts its app at will (start_gunicorn).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from tests.support.auth import csrf_token
from tests.support.database import app_for
from tests.support.passwords import PASSWORD, TEST_SECRET_KEY
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# The gunicorn of the Python running the tests (whatever virtualenv that is), as a command.
GUNICORN = [sys.executable, "-m", "gunicorn"]
START_TIMEOUT = 20.0
HTTP_TIMEOUT = 15.0


# --- the server -------------------------------------------------------------------------------


def _alive(proc: psutil.Process) -> bool:
    with suppress(psutil.Error):
        return proc.status() != psutil.STATUS_ZOMBIE
    return False


@dataclass
class Server:
    proc: subprocess.Popen
    host: str
    port: int
    stdout_path: Path
    stderr_path: Path
    metrics_dir: Path
    ready_s: float = 0.0  # seconds from the spawn until the server was ready

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the whole process group, SIGKILL if the master is not gone after timeout;
        then SIGKILL to any worker left behind by a master that died first."""
        if self.proc.poll() is None:
            signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(self.proc, signal.SIGKILL)
                self.proc.wait(timeout=5)
        signal_group(self.proc, signal.SIGKILL)

    def worker_processes(self) -> list[psutil.Process]:
        """The master's live children: its workers."""
        with suppress(psutil.Error):
            return [child for child in psutil.Process(self.proc.pid).children() if _alive(child)]
        return []

    def workers(self) -> set[int]:
        return {worker.pid for worker in self.worker_processes()}

    def ready_workers(self) -> set[int]:
        """Workers that built the app: its app_info gauge (gauge_max_<pid>.db) is one of the last steps."""
        files = {int(p.stem.rsplit("_", 1)[1]) for p in self.metrics_dir.glob("gauge_max_*.db")}
        return self.workers() & files

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def output(self, last_lines: int = 0) -> str:
        """stdout and stderr, or only the last lines of each."""
        parts = {"stdout": self.stdout(), "stderr": self.stderr_path.read_text(errors="replace")}
        if last_lines:
            parts = {name: "\n".join(text.splitlines()[-last_lines:]) for name, text in parts.items()}
        return "\n".join(f"--- {name} ---\n{text}" for name, text in parts.items())

    def json_logs(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout().splitlines()]

    def log_offset(self) -> int:
        return self.stdout_path.stat().st_size

    def json_logs_since(self, offset: int) -> list[dict]:
        """Log entries written after offset; a line that is not a JSON object becomes level NOT-JSON."""
        with open(self.stdout_path, "rb") as fh:
            fh.seek(offset)
            lines = fh.read().decode(errors="replace").splitlines()
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            entries.append(entry if isinstance(entry, dict) else {"level": "NOT-JSON", "message": line})
        return entries


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def start_gunicorn(
    run_dir: Path,
    database_url: str,
    *,
    module: str = "app",
    app_spec: str | None = None,
    config: str | None = "gunicorn.conf.py",
    args: Sequence[str] = (),
    cwd: Path = ROOT,
    ready_path: str = "/health/live",
    all_workers: bool = True,
    workers: int = 1,
    port: int | None = None,
    timeout: float = START_TIMEOUT,
    poll: float = 0.1,
    **env: str | None,
) -> Server:
    """Start gunicorn -c <config> <args> <app_spec> (default "<module>:create_app()") and wait
    until ready_path answers 200 and (all_workers) every worker has built the app; the server's
    ready_s is the time that took from the spawn, polled every `poll` seconds.

    With config=None gunicorn runs bound by --bind and reads no config file given on its command
    line (it still reads ./gunicorn.conf.py of cwd). Keyword arguments are environment variables
    (None removes a default one). A server that does not become ready is stopped, then
    reported with pytest.fail. The caller stops the server (Server.stop); gunicorn() does.
    """
    port = port or free_port()
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_dir = run_dir / "metrics"
    environment: dict[str, str | None] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(run_dir),
        # gunicorn's control socket goes under XDG_RUNTIME_DIR: one per server, not ~/.gunicorn.
        "XDG_RUNTIME_DIR": str(run_dir),
        "APP_ENV": "testing",
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": database_url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "info",
    }
    environment.update(env)
    options = ["-c", config] if config else ["--bind", f"127.0.0.1:{port}"]
    stdout_path, stderr_path = run_dir / "stdout.log", run_dir / "stderr.log"
    with open(stdout_path, "ab") as out, open(stderr_path, "ab") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*GUNICORN, *options, *args, app_spec or f"{module}:create_app()"],
            cwd=cwd,
            env={k: v for k, v in environment.items() if v is not None},
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    server = Server(proc, "127.0.0.1", port, stdout_path, stderr_path, metrics_dir)
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode} while starting\n{server.output()}")
            if time.perf_counter() > started + timeout:
                pytest.fail(f"gunicorn did not become ready in {timeout} s\n{server.output()}")
            if not all_workers or len(server.ready_workers()) >= workers:
                with suppress(OSError, http.client.HTTPException):
                    if get(server, ready_path).status == 200:
                        server.ready_s = time.perf_counter() - started
                        return server
            time.sleep(poll)
    except BaseException:
        server.stop()
        raise


@contextmanager
def gunicorn(run_dir: Path, database_url: str, **options) -> Iterator[Server]:
    """start_gunicorn(run_dir, database_url, **options), stopped on exit."""
    server = start_gunicorn(run_dir, database_url, **options)
    try:
        yield server
    finally:
        server.stop()


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: str


def get(server: Server, path: str, headers: dict[str, str] | None = None) -> Reply:
    """One request on a NEW connection (so any worker may take it)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read().decode())
    finally:
        conn.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Keeps cookies, does not follow redirects, and returns error statuses instead of raising."""

    def __init__(self, server: Server):
        self.server = server
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def _open(self, request: urllib.request.Request) -> Reply:
        try:
            with self.opener.open(request, timeout=HTTP_TIMEOUT) as response:
                return Reply(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers, error.read().decode())

    def cookie_header(self) -> str:
        """This browser's cookies as one Cookie header, for raw parallel requests."""
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)

    def get(self, path: str) -> Reply:
        return self._open(urllib.request.Request(self.server.base_url + path))  # noqa: S310 (http://)

    def post(self, path: str, data: dict[str, str]) -> Reply:
        body = urlencode(data).encode()
        request = urllib.request.Request(self.server.base_url + path, data=body, method="POST")  # noqa: S310
        return self._open(request)

    def submit(self, path: str, fields: dict[str, str]) -> Reply:
        """GET the form, then POST it with the page's CSRF token."""
        page = self.get(path)
        assert page.status == 200, f"{page}\n{self.server.output()}"
        return self.post(path, {"csrf_token": csrf_token(page.body), **fields})


def register(server: Server, username: str = "alice", password: str = PASSWORD) -> Browser:
    """A browser that has just created the account <username> (<username>@example.com)."""
    browser = Browser(server)
    reply = browser.submit(
        "/auth/register",
        {
            "username": username,
            "email": f"{username}@example.com",
            "password": password,
            "confirm_password": password,
        },
    )
    assert reply.status == 302, reply
    return browser


@contextmanager
def server_app_context(database_url: str) -> Iterator[object]:
    """An app context on a server's database with the servers' SECRET_KEY (so tokens and
    secrets made here are the server's), its connections closed after; yields the app."""
    with app_for(database_url) as flask_app, flask_app.app_context():
        yield flask_app
