"""Benchmark the app as production serves it, against what a Flask user would otherwise run.

    .venv/bin/python scripts/bench/bench.py [--rounds 4] [--duration 8] [--quick] [--write-results]
    .venv/bin/python scripts/bench/bench.py --profile [--write-results]

It installs wrk when missing, migrates a fresh database (SQLite, or a bench_<random> database on the
PostgreSQL server of $BENCH_DATABASE_URL, dropped at the end), measures the cold start, serves the app
(`gunicorn -c gunicorn.conf.py`, APP_ENV=production), bare WSGI and bare Flask under the same
gunicorn.conf.py, and bare Flask and reference_app.py under plain `gunicorn -w 2 -k sync` (every target
is a ratio to bare Flask there), drives each endpoint with wrk round after round beside the argon2id hash
ceiling, and prints a markdown table of medians and the targets (PASS/MISS); --write-results writes it
to scripts/bench/RESULTS.md. With --profile it records one worker with py-spy under load instead.
scripts/bench/README.md explains every step and number.

Everything it starts is stopped, and everything it creates removed, on any exit (Ctrl-C included).
Exit status: 0 when the measurements are valid (even if a target is missed), 1 when a run saw 4xx/5xx
responses, 2 when the harness could not run (a server did not start, wrk could not be installed, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess  # runs only the fixed argv this benchmark builds  # nosec B404
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the test harness's server starter and browser
import pytest  # noqa: E402 - tests.support.server reports a server that would not start with pytest.fail

from app.config import BY_NAME  # noqa: E402
from tests.support.database import new_postgresql_database  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.server import Browser, Server, get, gunicorn, signal_group  # noqa: E402

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_PATH = BENCH_DIR / "RESULTS.md"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
# The reference servers run the way a Flask user would run them: no gunicorn.conf.py.
PLAIN_SYNC_ARGS = ("-w", "2", "-k", "sync")

DASHBOARD_USER = "bench"
FLOOD_USER = "bench-login"
# Policy-compliant: upper, lower, digit, and it contains neither username.
PASSWORD = "Steady-Load-2026"  # noqa: S105 - a throwaway account in a throwaway database  # nosec B105
SEED_SIGN_INS = 10
# The liveness probe beside the sign-in flood: 2 connections, each pausing this long between requests
# (about 40 probes/s in all), each request on a new connection like the kubelet's: a probe's latency,
# not a second flood competing for the CPU.
PROBE_PAUSE_MS = 50
RAISED_LIMIT = "1000000 per minute"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/14"
# argon2id with the production defaults declared in app/config.py (OWASP: m=19 MiB, t=2, p=1), or
# the PASSWORD_ARGON2_* values of this environment, which the servers under test inherit too.
ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM = (
    BY_NAME[f"PASSWORD_ARGON2_{name}"].read(os.environ, "production")
    for name in ("MEMORY_KIB", "TIME_COST", "PARALLELISM")
)
HASH_LABEL = f"argon2id m={ARGON2_MEMORY_KIB} KiB, t={ARGON2_TIME_COST}, p={ARGON2_PARALLELISM}"
ENV_OVERRIDES = ("GUNICORN_WORKER_CLASS", "WEB_CONCURRENCY", "GUNICORN_THREADS", "PASSWORD_HASH_CONCURRENCY")

# Bounds on every wait, so that nothing can hang the run.
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
COMMAND_TIMEOUT_S = 300.0
MAX_HASH_CHECKS = 100_000
MAX_RETRIES_PER_MEASUREMENT = 2

# Issue 14's targets, against bare Flask under plain `gunicorn -w 2 -k sync` in the same run.
TARGETS_VS_FLASK_SYNC = {"live": 0.90, "login_get": 0.66, "dashboard": 0.35}
TARGET_LOGIN_VS_CEILING = 0.90
TARGET_FLOOD_P99_MS = 50.0
TARGET_RSS_MIB = 64.0  # not counting one hash's working memory (ARGON2_MEMORY_KIB)
TARGET_COLD_START_S = 0.5


class BenchError(RuntimeError):
    """The harness itself could not do its job (not a missed target)."""


def say(message: str = "") -> None:
    print(message, flush=True)


def workers_of(server: Server) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(server.proc.pid).children()
    return []


def rss_kib(proc: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        return proc.memory_info().rss // 1024  # VmRSS
    return 0


def hwm_kib(proc: psutil.Process) -> int:
    """VmHWM, the peak RSS: psutil has no field for it, /proc/<pid>/status has."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        lines = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        return int(next(line for line in lines if line.startswith("VmHWM:")).split()[1])
    return 0


# Processes outside the harness's tree that belong to the system under test: the PostgreSQL
# backends serving the bench database (their process title names it).
OWN_PROCESS_TITLES: list[str] = []


def _cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of the process and of its reaped children."""
    with contextlib.suppress(psutil.Error):
        t = proc.cpu_times()
        return t.user + t.system + t.children_user + t.children_system
    return 0.0


def _own_cpu_seconds() -> tuple[float, dict[int, float]]:
    """CPU seconds of this harness and all its descendants, reaped children included; and those
    of each process named in OWN_PROCESS_TITLES."""
    me = psutil.Process()
    tree = sum(_cpu_seconds(proc) for proc in [me, *me.children(recursive=True)])
    own = {}
    if OWN_PROCESS_TITLES:
        for proc in psutil.process_iter(["cmdline"]):
            title = " ".join(proc.info["cmdline"] or [])
            if any(marker in title for marker in OWN_PROCESS_TITLES):
                own[proc.pid] = _cpu_seconds(proc)
    return tree, own


def _machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all CPUs since boot; steal time counts as busy."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + t.irq + t.softirq + t.steal
    return busy, busy + t.idle + t.iowait


class ForeignCpu:
    """Share of all CPUs used by processes that are not this harness, its descendants or the
    database backends serving the bench database."""

    def __init__(self) -> None:
        self.tree, self.own = _own_cpu_seconds()
        self.busy, self.total = _machine_seconds()

    def stop(self) -> float:
        tree, own = _own_cpu_seconds()
        # A backend that ended meanwhile (a recycled worker's connection) keeps its last known time.
        own_after = sum(own.values()) + sum(t for pid, t in self.own.items() if pid not in own)
        ours = tree - self.tree + own_after - sum(self.own.values())
        busy, total = _machine_seconds()
        return max(0.0, (busy - self.busy - ours) / max(1e-9, total - self.total))


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the process, wait a bounded time, then SIGKILL whatever is left of its process
    group (gunicorn workers included) and wait until it is gone."""
    family = []
    with contextlib.suppress(psutil.Error):
        family = psutil.Process(proc.pid).children(recursive=True)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            proc.send_signal(sig)
            proc.wait(timeout=STOP_GRACE_S)
    signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        say(f"warning: process {proc.pid} did not exit after SIGKILL")
    psutil.wait_procs(family, timeout=STOP_GRACE_S)


def run_command(argv: list[str], env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT_S):
    """Run a command to completion (output captured); returns CompletedProcess."""
    return subprocess.run(  # noqa: S603 - fixed argv built by this script  # nosec B603
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_checked(argv: list[str], env: dict[str, str], what: str) -> str:
    result = run_command(argv, env)
    if result.returncode != 0:
        raise BenchError(f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def sign_in(server: Server, fields: dict[str, str], to: str = "") -> tuple[Browser, str, str]:
    """Sign in through the real form (CSRF token, cookies), checked to answer 302 (to `to`): the
    browser, now signed in, and the form's cookie and POST body that wrk can replay."""
    browser = Browser(server)
    page, form_cookie = browser.get("/auth/login"), browser.cookie_header()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.body)
    if page.status != 200 or not form_cookie.startswith("session=") or not token:
        raise BenchError(
            f"GET /auth/login answered {page.status} (cookie {form_cookie!r}, token {bool(token)})"
        )
    data = {**fields, "csrf_token": token.group(1)}
    reply = browser.post("/auth/login", data)
    if reply.status != 302 or not reply.headers.get("Location", "").endswith(to):
        raise BenchError(f"sign-in as {fields} answered {reply.status} -> {reply.headers.get('Location')!r}")
    return browser, form_cookie, urllib.parse.urlencode(data)


class Bench:
    """One run: its arguments, temporary directory, environment, resolved settings and cleanups."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="flask-auth-bench-"))
        self.cleanups = contextlib.ExitStack()
        self.env: dict[str, str] = {}
        self.settings: dict[str, object] = {}
        self.db_label = "SQLite"
        self.wrk = "wrk"
        self.wrk_version = ""
        self.server_count = 0

    def on_cleanup(self, what: str, action: Callable[[], None]) -> None:
        def quietly() -> None:
            try:
                action()
            except Exception as exc:
                say(f"warning: cleanup of {what} failed: {exc}")

        self.cleanups.callback(quietly)

    def cleanup(self) -> None:
        self.cleanups.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_dir(self, name: str) -> Path:
        self.server_count += 1
        return self.tmp / f"{name}-{self.server_count}"

    def serve_app(self) -> contextlib.AbstractContextManager[Server]:
        """The app as the test harness serves it, with this run's production environment: gunicorn
        -c gunicorn.conf.py "app:create_app()", ready once every worker has built the app."""
        env = {k: v for k, v in self.env.items() if k not in ("GUNICORN_BIND", "PROMETHEUS_MULTIPROC_DIR")}
        env.pop("WEB_CONCURRENCY", None)
        return gunicorn(
            self.run_dir("app"), env.pop("DATABASE_URL"), workers=int(self.settings["workers"]), **env
        )

    @contextlib.contextmanager
    def serve(
        self, name: str, app_spec: list[str], ready_path: str = "/", *, plain_sync: bool = False
    ) -> Iterator[tuple[Server, float]]:
        """Serve app_spec with gunicorn and gunicorn.conf.py (or, with plain_sync, the way a Flask
        user would: `gunicorn -w 2 -k sync` and no config file); yields the server once ready_path
        answers 200, and the seconds that took from the spawn (polled every 10 ms)."""
        port, run = free_port(), self.run_dir(name)
        run.mkdir()
        env, log = dict(self.env), run / "output.log"
        if plain_sync:
            # gunicorn reads ./gunicorn.conf.py and $GUNICORN_CMD_ARGS by default: run it where
            # there is no config file, with no extra arguments.
            env.pop("GUNICORN_CMD_ARGS", None)
            env.update(REFERENCE_DB=str(self.tmp / "reference.db"), REFERENCE_SECRET_KEY=env["SECRET_KEY"])
            argv = [*PLAIN_SYNC_ARGS, "--bind", f"{HOST}:{port}", "--pythonpath", str(BENCH_DIR)]
            cwd = BENCH_DIR
        else:
            # Each server its own metrics directory: on_starting empties it.
            env.update(GUNICORN_BIND=f"{HOST}:{port}", PROMETHEUS_MULTIPROC_DIR=str(run / "metrics"))
            argv, cwd = ["-c", "gunicorn.conf.py"], ROOT
        command = [str(BIN / "gunicorn"), *argv, *app_spec]
        with open(log, "wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen(  # noqa: S603 - fixed argv  # nosec B603
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = Server(proc, HOST, port, log, log, run / "metrics")
        try:
            while True:
                if proc.poll() is not None:
                    raise BenchError(
                        f"{name} exited with {proc.returncode} before it was ready:\n{log_tail(log)}"
                    )
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if get(server, ready_path).status == 200:
                        break
                if time.perf_counter() > started + READY_TIMEOUT_S:
                    raise BenchError(f"{name} not ready after {READY_TIMEOUT_S:.0f} s:\n{log_tail(log)}")
                time.sleep(0.01)
            yield server, time.perf_counter() - started
        finally:
            stop(proc)

    def ensure_wrk(self) -> None:
        apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "wrk"]
        attempts = {
            "wrk is not installed: running `apt-get install -y wrk`": [install],
            "  the install failed: running `apt-get update`, then the install again": [
                ["apt-get", "update"],
                install,
            ],
        }
        for message, steps in attempts.items():
            if shutil.which("wrk"):
                break
            say(message)
            results = [run_command(argv, apt_env, timeout=600) for argv in steps]
        if not (path := shutil.which("wrk")):
            raise BenchError(
                f"wrk is still missing after apt-get install:\n{results[-1].stdout}\n{results[-1].stderr}"
            )
        self.wrk, version = path, run_command([path, "-v"], timeout=10)
        self.wrk_version = (version.stdout + version.stderr).strip().splitlines()[0]
        say(f"wrk: {path} ({self.wrk_version})")

    def prepare_database(self) -> str:
        admin_url = os.environ.get("BENCH_DATABASE_URL", "").strip()
        if not admin_url:
            path = self.tmp / "bench.db"
            self.db_label = "SQLite (file in a temporary directory)"
            say(f"database: SQLite file {path} (set BENCH_DATABASE_URL for PostgreSQL)")
            return f"sqlite:///{path}"

        # The test suite's fresh database (CREATE, and DROP ... WITH (FORCE) at the end) on this server.
        url, admin, name = self.cleanups.enter_context(new_postgresql_database("bench", server=admin_url))
        self.on_cleanup(f"database {name}", lambda: say(f"dropped database {name}"))
        OWN_PROCESS_TITLES.append(f" {name} ")  # "postgres: USER DBNAME HOST(PORT) STATE"
        version, host = admin.server_version, urllib.parse.urlsplit(admin_url)
        self.db_label = (
            f"PostgreSQL {version // 10000}.{version % 10000} (database {name} on {host.hostname})"
        )
        say(f"database: created {name} on {host.hostname}:{host.port or 5432} (dropped at the end)")
        return url

    def build_env(self, database_url: str) -> None:
        env = dict(os.environ)
        env.pop("BENCH_DATABASE_URL", None)
        env.update(APP_ENV="production", SECRET_KEY=secrets.token_urlsafe(36)[:48], DATABASE_URL=database_url)
        env.update(SECURE_COOKIES="false", RATELIMIT_LOGIN=RAISED_LIMIT, RATELIMIT_REGISTER=RAISED_LIMIT)
        env.update(LOG_LEVEL="INFO")
        # Production with several workers needs shared rate limits: gunicorn.conf.py
        # refuses memory:// there. The local Redis unless the environment names one.
        env.setdefault("RATELIMIT_STORAGE_URI", BENCH_REDIS_URL)
        self.env = env
        say(
            "settings for this run (everything else as in production):\n"
            "  APP_ENV=production, SECRET_KEY random (48 chars), DATABASE_URL as above\n"
            f"  rate limits RAISED for the run: RATELIMIT_LOGIN and RATELIMIT_REGISTER = {RAISED_LIMIT!r}\n"
            "    (production: 10 and 5 per minute per client IP; every request here comes from 127.0.0.1)\n"
            "  SECURE_COOKIES=false: plain HTTP on loopback, so the cookie is 'session', "
            "not '__Host-session'\n"
            f"  RATELIMIT_STORAGE_URI={env['RATELIMIT_STORAGE_URI']} (shared by the workers)\n"
            "  LOG_LEVEL=INFO: per-request JSON logs stay ON (part of production cost); gunicorn's\n"
            "    stdout/stderr go to a file in the temporary directory"
        )
        for key in (key for key in ENV_OVERRIDES if key in env):
            say(f"  from your environment: {key}={env[key]}")

    def read_gunicorn_settings(self) -> dict[str, object]:
        code = (
            "import json, runpy\nns = runpy.run_path('gunicorn.conf.py')\n"
            "keys = ['workers', 'worker_class', 'threads', 'keepalive', 'max_requests',"
            " 'max_requests_jitter', 'timeout', 'backlog']\nprint(json.dumps({k: ns.get(k) for k in keys}))\n"
        )
        settings = json.loads(run_checked([sys.executable, "-c", code], self.env, "reading gunicorn.conf.py"))
        settings["PASSWORD_HASH_CONCURRENCY"] = int(self.env.get("PASSWORD_HASH_CONCURRENCY", "1"))
        self.settings = settings
        return settings

    def migrate_and_create_users(self) -> None:
        flask = str(BIN / "flask")
        say("running `flask --app app db upgrade`")
        run_checked([flask, "--app", "app", "db", "upgrade"], self.env, "flask db upgrade")
        for user in (DASHBOARD_USER, FLOOD_USER):
            say(f"running `flask --app app create-user {user} {user}@example.com --password ...`")
            argv = [flask, "--app", "app", "create-user", user, f"{user}@example.com", "--password", PASSWORD]
            run_checked(argv, self.env, "flask create-user")

    def init_reference_db(self) -> None:
        env = dict(self.env, REFERENCE_DB=str(self.tmp / "reference.db"))
        run_checked([sys.executable, str(BENCH_DIR / "reference_app.py")], env, "reference_app.py init")

    def wrk_script(
        self, name: str, *, method: str = "GET", body: str = "", cookie: str = "", pause_ms: int = 0
    ) -> Path:
        path = self.tmp / f"{name}.lua"
        path.write_text(lua_script(method=method, body=body, cookie=cookie, pause_ms=pause_ms))
        return path

    def run_wrk(self, url: str, script: Path, duration: float, threads: int, connections: int) -> WrkResult:
        return self.finish_wrk(self.start_wrk(url, script, duration, threads, connections), duration)

    def start_wrk(
        self, url: str, script: Path, duration: float, threads: int, connections: int
    ) -> subprocess.Popen:
        if not url.startswith(f"http://{HOST}:"):
            raise BenchError(f"refusing to load anything but {HOST}: {url}")
        options = f"-t{threads} -c{max(connections, threads)} -d{max(1, round(duration))}s --timeout 10s"
        argv = [self.wrk, *options.split(), "--latency", "-s", str(script), url]
        proc = subprocess.Popen(  # noqa: S603 - fixed argv  # nosec B603
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        self.on_cleanup("wrk", lambda: proc.poll() is None and stop(proc, signal.SIGKILL))
        return proc

    def finish_wrk(self, proc: subprocess.Popen, duration: float) -> WrkResult:
        try:
            out, err = proc.communicate(timeout=duration + 30)
        except subprocess.TimeoutExpired:
            stop(proc, signal.SIGKILL)
            raise BenchError("wrk did not finish in time") from None
        for line in out.splitlines():
            if line.startswith("BENCH_JSON "):
                return WrkResult.parse(line[len("BENCH_JSON ") :])
        raise BenchError(f"wrk exited {proc.returncode} without a summary:\n{out}\n{err}")

    def while_loading(
        self, url: str, script: Path, threads: int, connections: int, action: Callable[[], T]
    ) -> tuple[T, WrkResult]:
        """Run action while wrk loads url (for --duration seconds, started 1 s before and ending
        1 s after); action's result and wrk's."""
        load = self.start_wrk(url, script, self.args.duration + 2, threads, connections)
        time.sleep(1.0)
        return action(), self.finish_wrk(load, self.args.duration + 2)


def lua_string(value: str) -> str:
    if not all(32 <= ord(ch) < 127 for ch in value):
        raise BenchError(f"unexpected characters for a Lua string: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(*, method: str = "GET", body: str = "", cookie: str = "", pause_ms: int = 0) -> str:
    lines = ["-- generated by scripts/bench/bench.py", f"wrk.method = {lua_string(method)}"]
    lines.append('wrk.headers["User-Agent"] = "flask-auth-bench/1 (wrk)"')
    if body:
        lines.append(f"wrk.body = {lua_string(body)}")
        lines.append('wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"')
    if cookie:
        lines.append(f'wrk.headers["Cookie"] = {lua_string(cookie)}')
    if pause_ms:
        # A paced probe, not a flood: each connection waits this long before its next request, and
        # like the kubelet's HTTP probe every request comes on a new connection (which either
        # worker may accept), not on a kept-alive one pinned to a worker.
        lines.append(f"function delay() return {int(pause_ms)} end")
        lines.append('wrk.headers["Connection"] = "close"')
    return "\n".join(lines) + "\n\n" + (BENCH_DIR / "wrk_summary.lua").read_text()


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    codes: dict[int, int]

    @classmethod
    def parse(cls, text: str) -> WrkResult:
        raw = json.loads(text)
        ms = {f"{key}_ms": raw[f"{key}_us"] / 1000 for key in ("p50", "p90", "p99", "max")}
        codes = {int(k): v for k, v in raw["codes"].items()}
        return cls(raw["requests"], raw["duration_us"] / 1e6, **ms, errors=raw["errors"], codes=codes)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def bad(self) -> int:
        """Responses that were not 2xx or 3xx."""
        return sum(n for status, n in self.codes.items() if not 200 <= status < 400)

    def describe(self) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.codes.items()))
        text = f"{self.rps:8.1f} req/s  p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:8.2f} ms  [{codes}]"
        if socket_errors := {k: v for k, v in self.errors.items() if v and k != "status"}:
            text += f"  socket errors {socket_errors}"
        return text


def _hasher():
    from argon2 import PasswordHasher, Type

    return PasswordHasher(ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, type=Type.ID)


def _start_together(barrier) -> None:
    global _barrier  # the barrier of this hash-ceiling process, given by the pool
    _barrier = barrier


def _hash_rate(stored_hash: str, seconds: float) -> float:
    """Checks per second of one process (argon2 raises if it refuses the right password)."""
    hasher = _hasher()
    hasher.verify(stored_hash, PASSWORD)  # warm up
    _barrier.wait(timeout=60)
    started, count = time.perf_counter(), 0
    while time.perf_counter() < started + seconds and count < MAX_HASH_CHECKS:
        hasher.verify(stored_hash, PASSWORD)
        count += 1
    return count / (time.perf_counter() - started)


def hash_ceiling(seconds: float, processes: int) -> float:
    """Total password checks per second of `processes` processes, started together."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, ctx, _start_together, (ctx.Barrier(processes),)) as pool:
        stored = [_hasher().hash(PASSWORD)] * processes
        return sum(pool.map(_hash_rate, stored, [seconds] * processes, timeout=seconds + 90))


class RssSampler(threading.Thread):
    """The highest VmRSS of the server's workers, sampled every `interval` seconds."""

    def __init__(self, server: Server, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.stop_event = threading.Event()
        self.peak_kib = 0
        self.workers_seen: set[int] = set()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            for worker in workers_of(self.server):
                self.workers_seen.add(worker.pid)
                self.peak_kib = max(self.peak_kib, rss_kib(worker))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)


CASES = (
    # key, label, server, path, script
    ("wsgi", "bare WSGI `GET /`", "wsgi", "/", "get"),
    ("flask", "bare Flask `GET /`", "flask", "/", "get"),
    ("flask_sync", "**bare Flask `GET /`, plain sync** (the reference)", "flask_sync", "/", "get"),
    ("ref_login", "reference app `GET /auth/login` (plain sync)", "ref", "/auth/login", "get"),
    ("ref_index", "reference app `GET /` (20 posts, plain sync)", "ref", "/", "get"),
    ("ref_login_post", "reference app `POST /auth/login` (sync)", "ref", "/auth/login", "ref_login_post"),
    ("live", "`GET /health/live`", "app", "/health/live", "get"),
    ("login_get", "`GET /auth/login`", "app", "/auth/login", "get"),
    ("dashboard", "`GET /dashboard` (signed in)", "app", "/dashboard", "dashboard"),
    ("login_post", "`POST /auth/login` (sign-in, 302)", "app", "/auth/login", "login_post"),
)


@dataclass
class Measurements:
    runs: dict[str, list[WrkResult]] = field(default_factory=lambda: {key: [] for key, *_ in CASES})
    flood_health: list[WrkResult] = field(default_factory=list)
    flood_login: list[WrkResult] = field(default_factory=list)
    ceilings: list[float] = field(default_factory=list)
    cold_starts: list[float] = field(default_factory=list)
    rss_after_kib: list[int] = field(default_factory=list)
    ref_rss_after_kib: list[int] = field(default_factory=list)
    hwm_after_kib: list[int] = field(default_factory=list)
    rss_peak_kib: int = 0
    workers_seen: int = 0
    log_lines: int = 0
    log_bytes: int = 0
    busy_before: float = 0.0
    busy_after: float = 0.0
    foreign: list[float] = field(default_factory=list)
    repeated: int = 0
    noisy_kept: int = 0

    def all_results(self) -> list[WrkResult]:
        return [r for runs in self.runs.values() for r in runs] + self.flood_health + self.flood_login


def url(server: Server, path: str) -> str:
    return server.base_url + path


def seed_app(bench: Bench, app: Server) -> dict[str, Path]:
    """Sign in through the real form and write the wrk scripts that replay the app's requests."""
    say(f"\nseeding: {SEED_SIGN_INS} sign-ins as {DASHBOARD_USER!r} through the real form (CSRF, cookies)")
    for _ in range(SEED_SIGN_INS):
        browser, _, _ = sign_in(app, {"login": DASHBOARD_USER, "password": PASSWORD}, to="/dashboard")
    page = browser.get("/dashboard")
    if page.status != 200 or f"Welcome, {DASHBOARD_USER}" not in page.body:
        raise BenchError(f"GET /dashboard with the session cookie answered {page.status}, not the dashboard")
    say(f"  GET /dashboard with the last session cookie: 200, 'Welcome, {DASHBOARD_USER}'")
    # The sign-in flood uses a second account: every successful sign-in adds
    # a session row, and the dashboard lists the account's sessions, so
    # flooding 'bench' would make GET /dashboard slower round after round.
    _, form_cookie, body = sign_in(app, {"login": FLOOD_USER, "password": PASSWORD})
    say(f"  POST /auth/login as {FLOOD_USER!r} with a real CSRF token + form cookie: 302 (wrk replays it)")
    return {
        "get": bench.wrk_script("get"),
        "probe": bench.wrk_script("probe", pause_ms=PROBE_PAUSE_MS),
        "dashboard": bench.wrk_script("dashboard", cookie=browser.cookie_header()),
        "login_post": bench.wrk_script("login_post", method="POST", body=body, cookie=form_cookie),
    }


def cold_starts(bench: Bench, count: int = 3) -> list[float]:
    say(f"\ncold start: spawn gunicorn -> first 200 from /health/ready ({count} starts)")
    times = []
    for attempt in range(1, count + 1):
        with bench.serve("coldstart", ["app:create_app()"], "/health/ready") as (_, seconds):
            times.append(seconds)
        say(f"  cold start {attempt}/{count}: {seconds:.3f} s")
    return times


SERVERS = (
    # key, name as printed, app, plain sync
    ("wsgi", "bare WSGI", "baseline_wsgi:app", False),
    ("flask", "bare Flask", "baseline_flask:app", False),
    ("flask_sync", "Flask sync", "baseline_flask:app", True),
    ("ref", "reference", "reference_app:app", True),
)


def start_servers(bench: Bench, stack: contextlib.ExitStack) -> dict[str, Server]:
    say("\nstarting the servers")
    servers = {"app": stack.enter_context(bench.serve_app())}
    say(f'  app          gunicorn -c gunicorn.conf.py "app:create_app()"  on {servers["app"].base_url}')
    for key, name, spec, plain_sync in SERVERS:
        if key == "ref":
            bench.init_reference_db()
        app_spec = [spec] if plain_sync else ["--pythonpath", "scripts/bench", spec]
        servers[key], _ = stack.enter_context(
            bench.serve(key.replace("_", "-"), app_spec, plain_sync=plain_sync)
        )
        how = (
            f"{' '.join(PLAIN_SYNC_ARGS)} {spec} (no config file)"
            if plain_sync
            else f"-c gunicorn.conf.py {spec}"
        )
        say(f"  {name:12} gunicorn {how}  on {servers[key].base_url}")
    return servers


def wrk_scripts(bench: Bench, servers: dict[str, Server]) -> dict[str, Path]:
    """The scripts wrk replays: the app's (seed_app) and the reference app's sign-in POST."""
    from reference_app import PASSWORD as REF_PASSWORD
    from reference_app import USERNAME as REF_USERNAME

    scripts = seed_app(bench, servers["app"])
    _, ref_cookie, ref_body = sign_in(servers["ref"], {"username": REF_USERNAME, "password": REF_PASSWORD})
    say("  reference app: POST /auth/login with its token + cookie: 302 (wrk replays it)")
    scripts["ref_login_post"] = bench.wrk_script(
        "ref_login_post", method="POST", body=ref_body, cookie=ref_cookie
    )
    return scripts


FLOOD_LABEL = "  (the flood: POST /auth/login)"


class Rounds:
    """The measured rounds: every endpoint, the flood with its probe, the hash ceiling; each
    measurement repeated (within budget) when other processes took the CPU."""

    def __init__(self, bench: Bench, servers: dict[str, Server], scripts: dict[str, Path], m: Measurements):
        self.bench, self.args, self.servers, self.scripts, self.m = bench, bench.args, servers, scripts, m
        self.settle = 0.5 if self.args.quick else 1.0
        self.retries_left = self.args.max_retries_total
        self.cpus = os.cpu_count() or 1

    def wrk(self, key: str, duration: float) -> WrkResult:
        _, _, server_key, path, script = next(case for case in CASES if case[0] == key)
        url_ = url(self.servers[server_key], path)
        return self.bench.run_wrk(
            url_, self.scripts[script], duration, self.args.threads, self.args.connections
        )

    def warm_up(self) -> None:
        say("\nwarm-up: 1 s of wrk per endpoint (not counted)")
        for key, _label, server_key, _path, _script in CASES:
            result = self.wrk(key, 1)
            if result.bad:
                raise BenchError(
                    f"warm-up of {key} saw non-2xx/3xx responses: {result.codes}; the server's log ends:\n"
                    + log_tail(self.servers[server_key].stderr_path, 15)
                )
            time.sleep(self.settle)

    def measured(self, what: str, action: Callable[[], T], describe: Callable[[T], str]) -> T:
        """Run one measurement; repeat it (within budget) when other processes took the CPU."""
        for attempt in range(1 + MAX_RETRIES_PER_MEASUREMENT):
            meter = ForeignCpu()
            result = action()
            foreign = meter.stop()
            say(f"  {what:38} {describe(result)}  other CPU {foreign:.0%}")
            if foreign <= self.args.noise_threshold:
                break
            if attempt == MAX_RETRIES_PER_MEASUREMENT or self.retries_left <= 0:
                say(f"  {'':38} (kept although other processes used {foreign:.0%} of the CPUs)")
                self.m.noisy_kept += 1
                break
            self.retries_left -= 1
            self.m.repeated += 1
            say(f"  {'':38} (other processes used {foreign:.0%} of the CPUs: measuring again)")
            time.sleep(self.settle)
        self.m.foreign.append(foreign)
        time.sleep(self.settle)
        return result

    def flood_with_probe(self) -> tuple[WrkResult, WrkResult]:
        """A sign-in flood saturating the CPU, and a paced liveness probe beside it."""
        app, args = self.servers["app"], self.args
        return self.bench.while_loading(
            url(app, "/auth/login"),
            self.scripts["login_post"],
            1,
            args.flood_connections,
            lambda: self.bench.run_wrk(url(app, "/health/live"), self.scripts["probe"], args.duration, 1, 2),
        )

    def run(self, round_no: int) -> None:
        args, m = self.args, self.m
        say(
            f"\nround {round_no}/{args.rounds}: wrk -t{args.threads} -c{args.connections} "
            f"-d{args.duration:g}s on {HOST}"
        )
        for key, label, *_ in CASES:
            m.runs[key].append(
                self.measured(label, lambda key=key: self.wrk(key, args.duration), WrkResult.describe)
            )
        health, flood = self.measured(
            "`GET /health/live` during sign-in flood",
            self.flood_with_probe,
            lambda pair: f"{pair[0].describe()}\n  {FLOOD_LABEL:38} {pair[1].describe()}",
        )
        m.flood_health.append(health)
        m.flood_login.append(flood)
        seconds = max(2.0, args.duration / 2)
        m.ceilings.append(
            self.measured(
                f"hash ceiling ({self.cpus} processes)",
                lambda: hash_ceiling(seconds, self.cpus),
                lambda rate: f"{rate:8.1f} checks/s",
            )
        )


def memory_after(m: Measurements, servers: dict[str, Server], sampler: RssSampler) -> None:
    """The app's workers' VmRSS and VmHWM after the last round, the sampled peak, the reference's VmRSS."""
    workers = workers_of(servers["app"])
    m.rss_after_kib = [rss_kib(worker) for worker in workers]
    m.hwm_after_kib = [hwm_kib(worker) for worker in workers]
    m.rss_peak_kib = max([sampler.peak_kib, *m.rss_after_kib])
    m.workers_seen = len(sampler.workers_seen | {worker.pid for worker in workers})
    m.ref_rss_after_kib = [rss_kib(worker) for worker in workers_of(servers["ref"])]


def log_volume(m: Measurements, app: Server) -> None:
    """Lines and bytes the app server wrote (its stdout and stderr)."""
    for path in {app.stdout_path, app.stderr_path}:
        with contextlib.suppress(OSError), open(path, "rb") as fh:
            for line in fh:
                m.log_lines += 1
                m.log_bytes += len(line)


def cpu_used_by_others(when: str) -> float:
    """Share of all CPUs busy over 2 s, whoever uses them (the harness is idle meanwhile)."""
    busy = psutil.cpu_percent(interval=2.0) / 100
    say(f"\nCPU busy {when} the run (other processes): {busy:.0%} of {os.cpu_count() or 1} CPUs")
    return busy


def measure(bench: Bench) -> Measurements:
    m = Measurements()
    m.busy_before = cpu_used_by_others("before")
    if m.busy_before > 0.10:
        say("  warning: something else is using the CPU; the numbers will be lower and noisier")
    m.cold_starts = cold_starts(bench)
    with contextlib.ExitStack() as stack:
        servers = start_servers(bench, stack)
        rounds = Rounds(bench, servers, wrk_scripts(bench, servers), m)
        rounds.warm_up()
        sampler = RssSampler(servers["app"])
        sampler.start()
        try:
            for round_no in range(1, bench.args.rounds + 1):
                rounds.run(round_no)
        finally:
            sampler.stop()
        memory_after(m, servers, sampler)
        log_volume(m, servers["app"])
    m.busy_after = cpu_used_by_others("after")
    return m


PROFILE_CASES = (
    # key, label, path, script
    ("login_get", "GET /auth/login", "/auth/login", "get"),
    ("dashboard", "GET /dashboard", "/dashboard", "dashboard"),
    ("live", "GET /health/live", "/health/live", "get"),
    ("login_post", "POST /auth/login", "/auth/login", "login_post"),
)
PROFILE_RATE_HZ = 200


def py_spy() -> str:
    path = BIN / "py-spy"
    if not path.exists():
        raise BenchError(
            f"no py-spy beside {sys.executable}: `make install-dev` installs it (requirements-dev.txt)"
        )
    return str(path)


def profile_endpoint(bench: Bench, app: Server, spy: str, key: str, label: str, path: str, script: Path):
    """py-spy on the app's first worker while wrk loads one endpoint; its breakdown."""
    from pyspy_breakdown import breakdown

    args = bench.args
    workers = sorted(worker.pid for worker in workers_of(app))
    if not workers:
        raise BenchError("the app has no worker to profile")
    out = bench.tmp / f"profile-{key}.txt"
    options = f"--duration {max(1, round(args.duration))} --rate {PROFILE_RATE_HZ} --format raw --output"
    argv = [spy, "record", "--pid", str(workers[0]), *options.split(), str(out)]
    recorded, wrk = bench.while_loading(
        url(app, path),
        script,
        args.threads,
        args.connections,
        lambda: run_command(argv, timeout=args.duration + 60),
    )
    result = breakdown(out.read_text() if out.exists() else "")
    if recorded.returncode != 0 or result.samples == 0:
        raise BenchError(
            f"py-spy recorded nothing for {label} (exit {recorded.returncode}):\n"
            f"{recorded.stdout}\n{recorded.stderr}"
        )
    if wrk.bad:
        raise BenchError(f"{label} under the profiler saw non-2xx/3xx responses: {wrk.codes}")
    say(f"  {label:20} {wrk.describe()}  {result.samples} samples of worker {workers[0]}")
    return result


def profile(bench: Bench) -> str:
    """Record one worker of the app with py-spy while wrk loads each endpoint; the breakdown."""
    from pyspy_breakdown import table, top_frames

    args, settings, spy = bench.args, bench.settings, py_spy()
    version = run_command([spy, "--version"], timeout=10).stdout.strip()
    with bench.serve_app() as app:
        say(f'\napp: gunicorn -c gunicorn.conf.py "app:create_app()" on {app.base_url}')
        scripts = seed_app(bench, app)
        results = {}
        for key, label, path, script in PROFILE_CASES:
            results[label] = profile_endpoint(bench, app, spy, key, label, path, scripts[script])
            time.sleep(1.0)
    lines = [table(results), ""]
    for label, result in results.items():
        lines.append(f"- `{label}`, innermost frames: " + "; ".join(top_frames(result, 6)))
    lines.append("")
    lines.append(
        f"{version}, `py-spy record --rate {PROFILE_RATE_HZ} --format raw` for {args.duration:g} s on "
        f"one of the app's {settings['workers']} workers ({settings['worker_class']}, "
        f"threads={settings['threads']}) while `wrk -t{args.threads} -c{args.connections}` loaded the "
        "endpoint; shares of the samples in which a thread of the worker ran (waits counted apart). "
        "scripts/bench/pyspy_breakdown.py says how a "
        "stack is given to a component."
    )
    return "\n".join(lines)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine_description() -> list[tuple[str, str]]:
    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?"
    )
    try:
        from importlib.metadata import version

        versions = f"gunicorn {version('gunicorn')}, Flask {version('flask')}, Werkzeug {version('werkzeug')}"
    except Exception:
        versions = "?"
    try:
        os_name = platform.freedesktop_os_release()["PRETTY_NAME"]
    except (OSError, KeyError):
        os_name = platform.system()
    return [
        ("CPUs (nproc)", str(os.cpu_count())),
        ("CPU model", model),
        ("RAM", f"{psutil.virtual_memory().total / 1024**3:.1f} GiB"),
        ("kernel", platform.release()),
        ("OS", os_name),
        ("Python", platform.python_version()),
        ("packages", versions),
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def worker_threads(settings: dict[str, object]) -> int:
    """Requests one worker serves at once: its threads (gunicorn runs "sync" with threads > 1
    as gthread), or 1 for sync workers."""
    return max(1, int(settings["threads"] or 1))


def per_round_ratio(m: Measurements, key: str, base: str) -> float:
    return median([a.rps / b.rps for a, b in zip(m.runs[key], m.runs[base], strict=True) if b.rps])


def vs_ceiling(m: Measurements, key: str) -> float:
    return median([r.rps / c for r, c in zip(m.runs[key], m.ceilings, strict=True) if c])


def endpoint_table(m: Measurements) -> list[str]:
    """One row per endpoint: medians of req/s and latency, and the ratios to the three baselines."""
    lines = [
        "| endpoint | req/s | req/s min-max | p50 ms | p99 ms | x bare WSGI | x bare Flask "
        "| **x Flask sync** | non-2xx/3xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label, *_ in CASES:
        runs = m.runs[key]
        rps = [r.rps for r in runs]
        lines.append(
            f"| {label} | {median(rps):.1f} | {min(rps):.0f}-{max(rps):.0f} "
            f"| {median([r.p50_ms for r in runs]):.2f} | {median([r.p99_ms for r in runs]):.2f} "
            f"| {per_round_ratio(m, key, 'wsgi'):.3f} | {per_round_ratio(m, key, 'flask'):.3f} "
            f"| **{per_round_ratio(m, key, 'flask_sync'):.3f}** | {sum(r.bad for r in runs)} |"
        )
    return lines


@dataclass
class Headline:
    """The numbers the targets are about."""

    ceiling: float
    login_vs_ceiling: float
    flood_p99: float
    rss_after_mib: float
    rss_net_mib: float
    cold: float

    @classmethod
    def of(cls, m: Measurements) -> Headline:
        rss_after = max(m.rss_after_kib, default=0) / 1024
        flood_p99 = median([r.p99_ms for r in m.flood_health])
        rss_net = max(0.0, rss_after - ARGON2_MEMORY_KIB / 1024)
        return cls(
            median(m.ceilings),
            vs_ceiling(m, "login_post"),
            flood_p99,
            rss_after,
            rss_net,
            median(m.cold_starts),
        )


def summary_lines(args: argparse.Namespace, m: Measurements, h: Headline, threads: int) -> list[str]:
    """The hash ceiling, the flood, memory, cold start, other processes' CPU and the logging volume."""
    health = m.flood_health
    hash_mib = ARGON2_MEMORY_KIB / 1024
    return [
        f"- hash ceiling ({os.cpu_count()} processes, `{HASH_LABEL}`, nothing else running): "
        f"**{h.ceiling:.1f} checks/s** (rounds: {', '.join(f'{c:.1f}' for c in m.ceilings)})",
        f"- `POST /auth/login` / hash ceiling: **{h.login_vs_ceiling:.3f}** (median of per-round ratios); "
        f"the reference app's sign-in POST: {vs_ceiling(m, 'ref_login_post'):.3f}",
        f"- `GET /health/live` during a sign-in flood (`wrk -t1 -c{args.flood_connections}`: "
        f"{args.flood_connections} connections, a worker has {threads} thread(s); "
        f"POST /auth/login, {median([r.rps for r in m.flood_login]):.1f} sign-ins/s, beside `wrk -t1 -c2` on "
        f"/health/live, a new connection per request and {PROBE_PAUSE_MS} ms between requests, "
        f"{median([r.rps for r in health]):.0f} probes/s): p50 {median([r.p50_ms for r in health]):.2f} ms, "
        f"**p99 {h.flood_p99:.2f} ms** (rounds: {', '.join(f'{r.p99_ms:.1f}' for r in health)}), "
        f"max {max(r.max_ms for r in health):.1f} ms",
        f"- worker RSS after the run: **{h.rss_net_mib:.1f} MiB not counting one hash** = max VmRSS "
        f"{h.rss_after_mib:.1f} MiB over {len(m.rss_after_kib)} workers minus one argon2id working memory "
        f"({ARGON2_MEMORY_KIB} KiB = {hash_mib:.1f} MiB); VmHWM {max(m.hwm_after_kib, default=0) / 1024:.1f} "
        f"MiB; highest VmRSS sampled every 0.5 s during the run {m.rss_peak_kib / 1024:.1f} MiB; "
        f"{m.workers_seen} worker processes seen (max_requests recycles them). The reference app's workers: "
        f"{max(m.ref_rss_after_kib, default=0) / 1024:.1f} MiB (VmRSS, after its sign-in POSTs)",
        f"- cold start (spawn -> first 200 from /health/ready): **median {h.cold:.3f} s** "
        f"({', '.join(f'{t:.3f}' for t in m.cold_starts)})",
        f"- CPU used by other processes: {m.busy_before:.0%} / {m.busy_after:.0%} of the CPUs in the 2 s "
        f"before / after the run; during the kept measurements median {median(m.foreign):.0%}, max "
        f"{max(m.foreign, default=0):.0%}; {m.repeated} measurement(s) repeated because other processes "
        f"used more than {args.noise_threshold:.0%}, {m.noisy_kept} kept above that",
        f"- per-request logging on: {m.log_lines} log lines ({m.log_bytes / 1e6:.1f} MB) "
        "written by the app server",
    ]


def target_rows(
    args: argparse.Namespace, m: Measurements, h: Headline, threads: int
) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each of issue 14's targets."""
    goal = TARGETS_VS_FLASK_SYNC
    ratio = {key: per_round_ratio(m, key, "flask_sync") for key in goal}
    endpoints = {
        "live": "`GET /health/live`",
        "login_get": "`GET /auth/login`",
        "dashboard": "`GET /dashboard`",
    }
    rows = [
        (f"{endpoints[key]} >= {goal[key]}x Flask sync", f"{ratio[key]:.3f}x", ratio[key] >= goal[key])
        for key in ("live", "login_get", "dashboard")
    ]
    return [
        *rows,
        (
            f"`POST /auth/login` >= {TARGET_LOGIN_VS_CEILING}x hash ceiling",
            f"{h.login_vs_ceiling:.3f}x",
            h.login_vs_ceiling >= TARGET_LOGIN_VS_CEILING,
        ),
        (
            f"`/health/live` p99 under a sign-in flood of more connections than a worker has threads "
            f"<= {TARGET_FLOOD_P99_MS:.0f} ms",
            f"{h.flood_p99:.1f} ms ({args.flood_connections} > {threads})",
            h.flood_p99 <= TARGET_FLOOD_P99_MS and args.flood_connections > threads,
        ),
        (
            f"worker RSS after the run, not counting one hash, <= {TARGET_RSS_MIB:.0f} MiB",
            f"{h.rss_net_mib:.1f} MiB",
            h.rss_net_mib <= TARGET_RSS_MIB,
        ),
        (f"cold start <= {TARGET_COLD_START_S} s", f"{h.cold:.3f} s", h.cold <= TARGET_COLD_START_S),
    ]


def run_notes(bench: Bench, rounds: int) -> list[str]:
    """How the run was made: wrk, the servers, gunicorn.conf.py as resolved, the app's environment."""
    args, s = bench.args, bench.settings
    return [
        f"Run: {rounds} round(s) x {args.duration:g} s per endpoint, servers interleaved in every round, "
        f"medians shown; `wrk -t{args.threads} -c{args.connections} --latency` on {HOST}, client and "
        f"servers on the same {os.cpu_count()} CPUs ({bench.wrk_version}).",
        f"Servers: the app, bare WSGI and bare Flask under the project's gunicorn.conf.py; **Flask sync** "
        f"(the reference of every target) and the reference app (scripts/bench/reference_app.py: a Jinja "
        f"sign-in form with a token in Flask's session cookie, 20 posts from SQLite, an argon2id sign-in) "
        f"under plain `gunicorn {' '.join(PLAIN_SYNC_ARGS)}` with no config file.",
        f"gunicorn.conf.py as resolved for this run: worker_class={s['worker_class']}, "
        f"workers={s['workers']}, threads={s['threads']}, keepalive={s['keepalive']}, "
        f"max_requests={s['max_requests']}±{s['max_requests_jitter']}; "
        f"PASSWORD_HASH_CONCURRENCY={s['PASSWORD_HASH_CONCURRENCY']}; database: {bench.db_label}.",
        f"App environment: APP_ENV=production; **rate limits raised** to `{RAISED_LIMIT}` "
        "(RATELIMIT_LOGIN, RATELIMIT_REGISTER) since every request comes from one IP; SECURE_COOKIES=false "
        "(plain HTTP on loopback: cookie `session`); LOG_LEVEL=INFO with per-request JSON logs on, "
        "stdout to a file.",
    ]


def report(bench: Bench, m: Measurements) -> tuple[str, list[str]]:
    """The markdown of the results (tables, summary, notes) and the targets missed."""
    threads, headline = worker_threads(bench.settings), Headline.of(m)
    targets = target_rows(bench.args, m, headline, threads)
    lines = [*endpoint_table(m), "", *summary_lines(bench.args, m, headline, threads), ""]
    lines += ["| target | measured | result |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {'PASS' if ok else '**MISS**'} |" for name, value, ok in targets]
    lines += ["", *run_notes(bench, len(m.runs["wsgi"]))]
    return "\n".join(lines), [name for name, _, ok in targets if not ok]


def results_section(bench: Bench, table: str) -> str:
    machine = "\n".join(f"| {k} | {v} |" for k, v in machine_description())
    command = "BENCH_DATABASE_URL=... " if bench.db_label.startswith("PostgreSQL") else ""
    head, dirty = "?", ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = run_command(["git", "rev-parse", "--short", "HEAD"], timeout=10).stdout.strip() or "?"
        dirty = run_command(
            ["git", "status", "--porcelain", "--untracked-files=no"], timeout=10
        ).stdout.strip()
    extra = " ".join(f"{k}={bench.env[k]}" for k in ENV_OVERRIDES if k in bench.env)
    return (
        f"## {bench.db_label.split(' (')[0].split(' ')[0]}\n\n"
        f"Command: `{(extra + ' ') if extra else ''}{command}"
        f".venv/bin/python scripts/bench/bench.py {' '.join(sys.argv[1:])}`\n\n"
        f"Code: commit {head}{' with uncommitted changes' if dirty else ''}\n\n"
        f"| machine | |\n|---|---|\n{machine}\n\n{table}\n"
    )


def write_results(section_key: str, section: str) -> None:
    start, end = f"<!-- bench:{section_key}:start -->", f"<!-- bench:{section_key}:end -->"
    block = f"{start}\n{section}{end}"
    header = (
        "# Benchmark results\n\n"
        "Written by `scripts/bench/bench.py --write-results` (see scripts/bench/README.md for what each "
        "number means). Each section is replaced by the next run on the same database backend.\n\n"
    )
    text = RESULTS_PATH.read_text() if RESULTS_PATH.exists() else header
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    if not text.startswith("# Benchmark results"):
        text = header + text
    RESULTS_PATH.write_text(text)
    say(f"\nwrote {RESULTS_PATH.relative_to(ROOT)} (section {section_key})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    add("--duration", type=float, default=8.0, help="seconds of wrk per endpoint (default 8)")
    add("--quick", action="store_true", help="1 round of 3 s (about a minute in all)")
    add("--threads", type=int, default=2, help="wrk threads (default 2)")
    add("--connections", type=int, default=32, help="wrk connections (default 32)")
    add(
        "--flood-connections",
        type=int,
        default=0,
        help="connections of the sign-in flood (default: twice a worker's threads, at least 8)",
    )
    add(
        "--noise-threshold",
        type=float,
        default=0.10,
        help="repeat a measurement when other processes used more than this share of the CPUs (default 0.10)",
    )
    add("--max-retries-total", type=int, default=8, help="measurements repeated at most, per run (default 8)")
    add("--write-results", action="store_true", help="write the table to scripts/bench/RESULTS.md")
    add(
        "--profile",
        action="store_true",
        help="instead of the table: py-spy on a worker under load, time per component (8 s per endpoint)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 3.0
    if not 1 <= args.rounds <= 20 or not 1 <= args.duration <= 120:
        parser.error("--rounds must be 1-20 and --duration 1-120 seconds")
    if not 1 <= args.threads <= args.connections <= 1024 or not 0 <= args.flood_connections <= 256:
        parser.error("need 1 <= --threads <= --connections <= 1024 and 1 <= --flood-connections <= 256")
    return args


def prepare(bench: Bench) -> None:
    """wrk, the database, the environment, gunicorn.conf.py as resolved, the schema and accounts."""
    bench.ensure_wrk()
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        os.environ.pop(
            key, None
        )  # (apt-get may need them) the harness's requests and servers: 127.0.0.1 only
    bench.build_env(bench.prepare_database())
    settings = bench.read_gunicorn_settings()
    if not bench.args.flood_connections:
        bench.args.flood_connections = max(8, 2 * worker_threads(settings))
    keys = ("worker_class", "workers", "threads", "max_requests")
    say("  gunicorn.conf.py resolves to " + " ".join(f"{key}={settings[key]}" for key in keys))
    bench.migrate_and_create_users()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (BIN / "gunicorn").exists():
        say(f"error: no gunicorn beside {sys.executable}: run with the project's .venv/bin/python")
        return 2

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.monotonic()
    bench = Bench(args)
    try:
        prepare(bench)
        if args.profile:
            text = profile(bench)
            say(f"\n# Profile ({bench.db_label})\n\n{text}")
            if args.write_results:
                write_results("profile", f"## Profile: where a worker's time goes\n\n{text}\n")
            return 0
        measurements = measure(bench)
    except (BenchError, pytest.fail.Exception) as exc:
        say(f"\nerror: {exc}")
        return 2
    except KeyboardInterrupt:
        say("\ninterrupted: cleaning up")
        return 130
    except Exception:
        traceback.print_exc()
        say("\nerror: the harness failed (traceback above)")
        return 2
    finally:
        bench.cleanup()

    table, missed = report(bench, measurements)
    say(f"\n# Results ({bench.db_label})\n")
    say(table)
    bad = sum(r.bad for r in measurements.all_results())
    say(f"\ntotal time {time.monotonic() - started:.0f} s; targets missed: {len(missed)}")
    if bad:
        say(f"error: {bad} responses were not 2xx/3xx: the measurements are not valid (nothing written)")
        return 1
    if args.write_results:
        key = "postgresql" if bench.db_label.startswith("PostgreSQL") else "sqlite"
        write_results(key, results_section(bench, table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
