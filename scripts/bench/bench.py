"""Benchmark the app as production serves it, against what a Flask user would otherwise run.

    .venv/bin/python scripts/bench/bench.py [--rounds 4] [--duration 8] [--quick] [--write-results]
    .venv/bin/python scripts/bench/bench.py --profile [--write-results]

It installs wrk when missing, migrates a fresh database (SQLite, or a bench_<random> database on the
PostgreSQL server of $BENCH_DATABASE_URL, dropped at the end), measures the cold start, serves the app
(`gunicorn -c gunicorn.conf.py`, APP_ENV=production), bare WSGI and bare Flask under the same
gunicorn.conf.py, and bare Flask and reference_app.py under plain `gunicorn -w 2 -k sync` (every target
is a ratio to bare Flask there), drives each endpoint with wrk round after round beside the argon2id hash
ceiling, and prints a markdown table of medians and the targets (PASS/MISS, report.py); --write-results
writes it to scripts/bench/RESULTS.md. With --profile it records one worker with py-spy under load
instead. Every server is started and stopped by the test harness's tests/support/server.py.
scripts/bench/README.md explains every step and number.

Everything it starts is stopped, and everything it creates removed, on any exit (Ctrl-C included).
Exit status: 0 when the measurements are valid (even if a target is missed), 1 when a run saw 4xx/5xx
responses, 2 when the harness could not run (a server did not start, wrk could not be installed, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess  # runs only git here  # nosec B404
import sys
import tempfile
import time
import traceback
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import pyspy_breakdown
from measurements import CASES, HOST, PLAIN_SYNC_ARGS, Measurements, WrkResult, worker_threads
from processes import (
    OWN_PROCESS_TITLES,
    BenchError,
    ForeignCpu,
    RssSampler,
    cpu_used_by_others,
    hwm_kib,
    rss_kib,
    run_checked,
    run_command,
    say,
)
from report import RunInfo, environment_note, report, write_results
from wrk import Wrk

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the test harness's server starter and browser
import pytest  # noqa: E402 - tests.support.server reports a server that would not start with pytest.fail

from app.config import BY_NAME  # noqa: E402
from tests.support.auth import csrf_token  # noqa: E402
from tests.support.database import new_postgresql_database  # noqa: E402
from tests.support.server import Browser, Server, gunicorn  # noqa: E402

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
APP_SPEC = "app:create_app()"

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
ENV_OVERRIDES = ("GUNICORN_WORKER_CLASS", "WEB_CONCURRENCY", "GUNICORN_THREADS", "PASSWORD_HASH_CONCURRENCY")
# Set per server by tests.support.server.gunicorn (its port, metrics, control socket directory...).
PER_SERVER_ENV = ("GUNICORN_BIND", "PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY", "HOME", "XDG_RUNTIME_DIR")

# Bounds on every wait, so that nothing can hang the run.
READY_TIMEOUT_S = 60.0
MAX_HASH_CHECKS = 100_000
MAX_RETRIES_PER_MEASUREMENT = 2


def sign_in(server: Server, fields: dict[str, str], to: str = "") -> tuple[Browser, str, str]:
    """Sign in through the real form (CSRF token, cookies), checked to answer 302 (to `to`): the
    browser, now signed in, and the form's cookie and POST body that wrk can replay."""
    browser = Browser(server)
    page, form_cookie = browser.get("/auth/login"), browser.cookie_header()
    if page.status != 200 or not form_cookie.startswith("session="):
        raise BenchError(f"GET /auth/login answered {page.status} (cookie {form_cookie!r})")
    data = {**fields, "csrf_token": csrf_token(page.body)}
    reply = browser.post("/auth/login", data)
    if reply.status != 302 or not reply.headers.get("Location", "").endswith(to):
        raise BenchError(f"sign-in as {fields} answered {reply.status} -> {reply.headers.get('Location')!r}")
    return browser, form_cookie, urllib.parse.urlencode(data)


# --- the run: its environment, servers and load ----------------------------------------------


class Bench:
    """One run: its arguments, temporary directory, environment, resolved settings and cleanups."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="flask-auth-bench-"))
        self.cleanups = contextlib.ExitStack()
        self.env: dict[str, str] = {}
        self.settings: dict[str, object] = {}
        self.db_label = "SQLite"
        self.wrk: Wrk | None = None
        self.server_count = 0

    def on_cleanup(self, what: str, action: Callable[[], object]) -> None:
        def quietly() -> None:
            try:
                action()
            except Exception as exc:
                say(f"warning: cleanup of {what} failed: {exc}")

        self.cleanups.callback(quietly)

    def cleanup(self) -> None:
        self.cleanups.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(
        self, name: str, app_spec: str = APP_SPEC, *, plain_sync: bool = False, ready_path: str = ""
    ) -> contextlib.AbstractContextManager[Server]:
        """app_spec served by the test harness's starter with this run's environment: under
        gunicorn.conf.py, or with plain_sync the way a Flask user would run it (`gunicorn -w 2 -k
        sync` where there is no config file, without $GUNICORN_CMD_ARGS). The app is ready once
        every worker has built it and /health/live answers 200 (or, given ready_path, once that
        answers 200), the others once / does; polled every 10 ms (a cold start's time)."""
        env: dict[str, str | None] = {k: v for k, v in self.env.items() if k not in PER_SERVER_ENV}
        options: dict[str, object] = {
            "args": () if app_spec == APP_SPEC else ("--pythonpath", str(BENCH_DIR))
        }
        if plain_sync:
            env.update(GUNICORN_CMD_ARGS=None, REFERENCE_SECRET_KEY=self.env["SECRET_KEY"])
            options.update(config=None, cwd=BENCH_DIR, args=(*PLAIN_SYNC_ARGS, *options["args"]))
        whole_app = app_spec == APP_SPEC and not ready_path
        self.server_count += 1
        return gunicorn(
            self.tmp / f"{name}-{self.server_count}",
            env.pop("DATABASE_URL"),
            app_spec=app_spec,
            ready_path=ready_path or ("/health/live" if whole_app else "/"),
            all_workers=whole_app,
            workers=int(self.settings["workers"]),
            timeout=READY_TIMEOUT_S,
            poll=0.01,
            **options,
            **env,
        )

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
        env.update(LOG_LEVEL="INFO", REFERENCE_DB=str(self.tmp / "reference.db"))
        # Production with several workers needs shared rate limits: gunicorn.conf.py
        # refuses memory:// there. The local Redis unless the environment names one.
        env.setdefault("RATELIMIT_STORAGE_URI", BENCH_REDIS_URL)
        self.env = env
        say(f"settings for this run, everything else as in production: {environment_note(RAISED_LIMIT)}")
        say(f"  SECRET_KEY random (48 chars); RATELIMIT_STORAGE_URI={env['RATELIMIT_STORAGE_URI']} (shared)")
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


# --- the hash ceiling ---------------------------------------------------------------------------


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


# --- the measurements, step by step ---------------------------------------------------------------


def seed_app(bench: Bench, app: Server) -> dict[str, Path]:
    """Sign in through the real form and write the wrk scripts that replay the app's requests."""
    say(f"\nseeding: {SEED_SIGN_INS} sign-ins as {DASHBOARD_USER!r} through the real form (CSRF, cookies)")
    for _ in range(SEED_SIGN_INS):
        browser, _, _ = sign_in(app, {"login": DASHBOARD_USER, "password": PASSWORD}, to="/dashboard")
    page = browser.get("/dashboard")
    if page.status != 200 or f"Welcome, {DASHBOARD_USER}" not in page.body:
        raise BenchError(f"GET /dashboard with the session cookie answered {page.status}, not the dashboard")
    say(f"  GET /dashboard with the last session cookie: 200, 'Welcome, {DASHBOARD_USER}'")
    # The sign-in flood uses a second account: every successful sign-in adds a session row, and the
    # dashboard lists the account's sessions, so flooding 'bench' would slow GET /dashboard down.
    _, form_cookie, body = sign_in(app, {"login": FLOOD_USER, "password": PASSWORD})
    say(f"  POST /auth/login as {FLOOD_USER!r} with a real CSRF token + form cookie: 302 (wrk replays it)")
    return {
        "get": bench.wrk.script("get"),
        "probe": bench.wrk.script("probe", pause_ms=PROBE_PAUSE_MS),
        "dashboard": bench.wrk.script("dashboard", cookie=browser.cookie_header()),
        "login_post": bench.wrk.script("login_post", method="POST", body=body, cookie=form_cookie),
    }


def cold_starts(bench: Bench, count: int = 3) -> list[float]:
    say(f"\ncold start: spawn gunicorn -> first 200 from /health/ready ({count} starts)")
    times = []
    for attempt in range(1, count + 1):
        with bench.serve("coldstart", ready_path="/health/ready") as server:
            times.append(server.ready_s)
        say(f"  cold start {attempt}/{count}: {server.ready_s:.3f} s")
    return times


SERVERS = (
    # key, name as printed, app spec, plain sync
    ("app", "app", APP_SPEC, False),
    ("wsgi", "bare WSGI", "baseline_wsgi:app", False),
    ("flask", "bare Flask", "baseline_flask:app", False),
    ("flask_sync", "Flask sync", "baseline_flask:app", True),
    ("ref", "reference", "reference_app:app", True),
)


def start_servers(bench: Bench, stack: contextlib.ExitStack) -> dict[str, Server]:
    say("\nstarting the servers")
    servers = {}
    for key, name, spec, plain_sync in SERVERS:
        if key == "ref":
            run_checked(
                [sys.executable, str(BENCH_DIR / "reference_app.py")], bench.env, "reference_app.py init"
            )
        servers[key] = stack.enter_context(bench.serve(key, spec, plain_sync=plain_sync))
        shown = f'"{spec}"' if spec == APP_SPEC else spec
        how = (
            f"{' '.join(PLAIN_SYNC_ARGS)} {shown} (no config file)"
            if plain_sync
            else f"-c gunicorn.conf.py {shown}"
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
    scripts["ref_login_post"] = bench.wrk.script(
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
        url = self.servers[server_key].base_url + path
        return self.bench.wrk.run(
            url, self.scripts[script], duration, self.args.threads, self.args.connections
        )

    def warm_up(self) -> None:
        say("\nwarm-up: 1 s of wrk per endpoint (not counted)")
        for key, _label, server_key, _path, _script in CASES:
            if (result := self.wrk(key, 1)).bad:
                raise BenchError(
                    f"warm-up of {key} saw non-2xx/3xx responses: {result.codes}; the server's log ends:\n"
                    + self.servers[server_key].output(last_lines=15)
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
        app, args, scripts = self.servers["app"].base_url, self.args, self.scripts
        wrk, login, live = self.bench.wrk, app + "/auth/login", app + "/health/live"
        probe = functools.partial(wrk.run, live, scripts["probe"], args.duration, 1, 2)
        return wrk.while_loading(
            login, scripts["login_post"], args.duration, 1, args.flood_connections, probe
        )

    def run(self, round_no: int) -> None:
        args, m = self.args, self.m
        wrk = f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s"
        say(f"\nround {round_no}/{args.rounds}: {wrk} on {HOST}")
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
        rate = self.measured(
            f"hash ceiling ({self.cpus} processes)",
            lambda: hash_ceiling(seconds, self.cpus),
            "{:8.1f} checks/s".format,
        )
        m.ceilings.append(rate)


def memory_after(m: Measurements, servers: dict[str, Server], sampler: RssSampler) -> None:
    """The app's workers' VmRSS and VmHWM after the last round, the sampled peak, the reference's VmRSS."""
    workers = servers["app"].worker_processes()
    m.rss_after_kib = [rss_kib(worker) for worker in workers]
    m.hwm_after_kib = [hwm_kib(worker) for worker in workers]
    m.rss_peak_kib = max([sampler.peak_kib, *m.rss_after_kib])
    m.workers_seen = len(sampler.workers_seen | {worker.pid for worker in workers})
    m.ref_rss_after_kib = [rss_kib(worker) for worker in servers["ref"].worker_processes()]


def log_volume(m: Measurements, app: Server) -> None:
    """Lines and bytes the app server wrote (its stdout and stderr)."""
    for path in (app.stdout_path, app.stderr_path):
        with contextlib.suppress(OSError), open(path, "rb") as fh:
            for line in fh:
                m.log_lines += 1
                m.log_bytes += len(line)


def measure(bench: Bench) -> Measurements:
    """Cold starts, then all servers up: warm-up, the rounds (RSS sampled meanwhile), memory and
    log volume after; the CPU other processes used before and after."""
    m = Measurements(busy_before=cpu_used_by_others("before"))
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


# --- the profile (pyspy_breakdown.py) ---------------------------------------------------------------


def profile(bench: Bench) -> str:
    """The app alone, seeded; one of its workers recorded by py-spy while wrk loads each endpoint."""
    spy = pyspy_breakdown.py_spy()
    with bench.serve("app") as app:
        say(f'\napp: gunicorn -c gunicorn.conf.py "{APP_SPEC}" on {app.base_url}')
        return pyspy_breakdown.profile(
            bench.wrk, app, seed_app(bench, app), spy, bench.tmp, bench.args, bench.settings
        )


# --- the command ----------------------------------------------------------------------------------


OPTIONS = (
    # option, type (None: a switch), default, help
    ("--rounds", int, 4, "interleaved rounds (default 4)"),
    ("--duration", float, 8.0, "seconds of wrk per endpoint (default 8)"),
    ("--quick", None, False, "1 round of 3 s (about a minute in all)"),
    ("--threads", int, 2, "wrk threads (default 2)"),
    ("--connections", int, 32, "wrk connections (default 32)"),
    ("--flood-connections", int, 0,
     "connections of the sign-in flood (default: twice a worker's threads, at least 8)"),
    ("--noise-threshold", float, 0.10,
     "repeat a measurement when other processes used more than this share of the CPUs (default 0.10)"),
    ("--max-retries-total", int, 8, "measurements repeated at most, per run (default 8)"),
    ("--write-results", None, False, "write the table to scripts/bench/RESULTS.md"),
    ("--profile", None, False,
     "instead of the table: py-spy on a worker under load, time per component (8 s per endpoint)"),
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for option, kind, default, text in OPTIONS:
        how = {"action": "store_true"} if kind is None else {"type": kind, "default": default}
        parser.add_argument(option, help=text, **how)
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
    bench.wrk = Wrk(bench.tmp, bench.on_cleanup)
    # apt-get may have needed them; the harness's requests and servers are on 127.0.0.1 only.
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        os.environ.pop(key, None)
    bench.build_env(bench.prepare_database())
    settings = bench.read_gunicorn_settings()
    if not bench.args.flood_connections:
        bench.args.flood_connections = max(8, 2 * worker_threads(settings))
    keys = ("worker_class", "workers", "threads", "max_requests")
    say("  gunicorn.conf.py resolves to " + " ".join(f"{key}={settings[key]}" for key in keys))
    bench.migrate_and_create_users()


def run_info(bench: Bench) -> RunInfo:
    """What the report says about how the run was made."""
    head, dirty = "?", ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = run_command(["git", "rev-parse", "--short", "HEAD"], timeout=10).stdout.strip() or "?"
        dirty = run_command(
            ["git", "status", "--porcelain", "--untracked-files=no"], timeout=10
        ).stdout.strip()
    extra = " ".join(f"{k}={bench.env[k]}" for k in ENV_OVERRIDES if k in bench.env)
    database = "BENCH_DATABASE_URL=... " if bench.db_label.startswith("PostgreSQL") else ""
    invocation = f".venv/bin/python scripts/bench/bench.py {' '.join(sys.argv[1:])}"
    return RunInfo(
        args=bench.args,
        settings=bench.settings,
        db_label=bench.db_label,
        wrk_version=bench.wrk.version,
        command=f"{extra + ' ' if extra else ''}{database}{invocation}",
        code=f"commit {head}{' with uncommitted changes' if dirty else ''}",
        argon2=(ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM),
        probe_pause_ms=PROBE_PAUSE_MS,
        raised_limit=RAISED_LIMIT,
    )


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

    info = run_info(bench)
    table, missed = report(info, measurements)
    say(f"\n# Results ({bench.db_label})\n\n{table}")
    bad = sum(r.bad for r in measurements.all_results())
    say(f"\ntotal time {time.monotonic() - started:.0f} s; targets missed: {len(missed)}")
    if bad:
        say(f"error: {bad} responses were not 2xx/3xx: the measurements are not valid (nothing written)")
        return 1
    if args.write_results:
        write_results(info.section_key, info.section(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
