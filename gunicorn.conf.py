"""Gunicorn settings for every way the app is served: `make run`, the container
and the Helm chart all run `gunicorn -c gunicorn.conf.py "app:create_app()"`.

Every value can be changed from the environment: each variable is declared, with its
default and validation, in app/config.py (GUNICORN_SETTINGS). The worker model was chosen by
measurement (scripts/bench/RESULTS.md): sign-in is a deliberately slow argon2id
hash (OWASP's m=19 MiB, t=2, p=1: about 20 ms of CPU and 19 MiB of memory
each). With one thread per process (sync workers) a burst of sign-ins occupies
every worker and the liveness probe queues behind them (p99 305 ms in the
bench) until the kubelet restarts a healthy pod. gthread workers answer
liveness on their main loop and keep serving other requests on their
remaining threads while a hash runs (argon2-cffi releases the GIL);
app/security.py allows one hash at a time per process, with a bounded wait,
so the hashes never take more than one core per worker.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path


def _load_settings():
    """app/config.py, where every setting is declared with its default, loaded by path: the
    arbiter reads the settings without importing the app package (Flask, SQLAlchemy, ...),
    which the workers import themselves (fresh, under --reload too)."""
    name = "_flask_auth_settings"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().with_name("app") / "config.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_settings = _load_settings()
_app_env = _settings.APP_ENV.read(os.environ, "development")
_values = _settings.read_settings(
    _settings.GUNICORN_SETTINGS
    + tuple(
        _settings.BY_NAME[name]
        for name in ("LOG_LEVEL", "LOG_FORMAT", "RATELIMIT_STORAGE_URI", "RATELIMIT_ENABLED")
    ),
    os.environ,
    _app_env,
)


def _one_malloc_arena() -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and
    an arena keeps the 19 MiB argon2id buffer of the last hash run on one of its threads:
    with gthread, a worker's RSS grew by 19 MiB per thread that ever hashed (388 MiB with
    16 threads, scripts/bench/RESULTS.md). With one arena every hash reuses the same
    buffer, so a worker holds at most one hash's memory (PASSWORD_HASH_CONCURRENCY=1).
    Set in the master before the fork; the workers inherit it. MALLOC_ARENA_MAX in the
    environment wins (glibc reads it itself); other C libraries are left alone."""
    if _values["MALLOC_ARENA_MAX"]:
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_arena_max = -8  # from glibc's malloc.h
    mallopt(m_arena_max, 1)


_one_malloc_arena()

# Every default below is the declaration's (app/config.py GUNICORN_SETTINGS, in the README).
bind = _values["GUNICORN_BIND"]
# One process per core: the CPU-bound work (password hashing) cannot use more.
workers = _values["WEB_CONCURRENCY"]
worker_class = _values["GUNICORN_WORKER_CLASS"]
if worker_class == "gthread":
    # gthread that closes its listeners when a SIGTERM drain starts (app/gunicorn_worker.py).
    worker_class = "app.gunicorn_worker.DrainingThreadWorker"
# Four threads: one can hash (argon2-cffi releases the GIL) while the others serve pages; more
# only contend for the interpreter lock, fewer lose throughput (scripts/bench/RESULTS.md, worker
# settings). Liveness is answered on the main loop whatever the threads do (app/gunicorn_worker.py).
threads = _values["GUNICORN_THREADS"]
timeout = _values["GUNICORN_TIMEOUT"]
# Kubernetes waits terminationGracePeriodSeconds (the chart sets it longer than this).
graceful_timeout = _values["GUNICORN_GRACEFUL_TIMEOUT"]
keepalive = _values["GUNICORN_KEEPALIVE"]  # below the ALB's 60 s idle timeout
# A new worker imports and builds the app (about a second of CPU): at 2000 requests a busy
# worker recycled every second or two and spent a large share of its CPU starting.
max_requests = _values["GUNICORN_MAX_REQUESTS"]
max_requests_jitter = _values["GUNICORN_MAX_REQUESTS_JITTER"]
backlog = _values["GUNICORN_BACKLOG"]
# The heartbeat file lives in memory where there is /dev/shm: a slow or
# read-only disk must not make the arbiter think workers hang.
if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn makes a unique mkstemp file there  # nosec B108
    worker_tmp_dir = "/dev/shm"  # noqa: S108  # nosec B108
# gunicorn's runtime control socket would live under $HOME, which is read-only
# in the container; nothing here uses it. GUNICORN_CONTROL_SOCKET=PATH enables it.
if _values["GUNICORN_CONTROL_SOCKET"]:
    control_socket = _values["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
forwarded_allow_ips = _values["FORWARDED_ALLOW_IPS"]
# No header becomes a WSGI environ key (gunicorn's default maps SCRIPT_NAME and
# PATH_INFO headers from the peers above): a client, or a proxy passing its
# headers on, must never choose the path prefix of the URLs the app builds.
# With this empty, header_map=drop discards any header with an underscore.
forwarder_headers = ""

# The app logs every request itself (JSON, with request ids): no access log.
accesslog = None
errorlog = "-"
loglevel = _values["LOG_LEVEL"].lower()
_log_format = _values["LOG_FORMAT"]
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "app": {
            "()": "app.observability.TextFormatter"
            if _log_format == "text"
            else "app.observability.JsonFormatter"
        }
    },
    "handlers": {
        "stdout": {
            "class": "app.observability.StdoutHandler",
            "formatter": "app",
        }
    },
    "root": {"handlers": ["stdout"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}


def _refuse_per_worker_rate_limits(server) -> None:
    """memory:// rate limits live in each worker: with N workers every limit
    is N times looser, and which worker answers decides. Staging and
    production need a shared store (redis://) or a single worker."""
    env_name, storage, enabled = _app_env, _values["RATELIMIT_STORAGE_URI"], _values["RATELIMIT_ENABLED"]
    shared = not storage.startswith("memory://")
    if env_name in ("staging", "production") and enabled and not shared and server.cfg.workers > 1:
        raise RuntimeError(
            f"RATELIMIT_STORAGE_URI={storage} keeps separate rate limits in each of the "
            f"{server.cfg.workers} gunicorn workers (APP_ENV={env_name}): set RATELIMIT_STORAGE_URI "
            "to a shared store such as redis://host:6379/0, or WEB_CONCURRENCY=1"
        )


def _import_app_modules(server) -> None:
    """Import the app package (Flask, SQLAlchemy, its extensions) in the arbiter, without
    building an app: every worker forked from it, and every one that replaces a recycled
    worker, starts with them imported (about 0.3 s of CPU each) and shares their memory.
    Not under --reload, where a worker must import the code as it is now."""
    if not server.cfg.reload:
        import app  # noqa: F401


def on_starting(server) -> None:
    """Refuse per-worker rate limits where they matter; give this server a
    clean multiprocess metrics directory before any worker starts (stale
    files from an earlier run would be summed in); import the app's modules."""
    _refuse_per_worker_rate_limits(server)
    _import_app_modules(server)
    path = _values["PROMETHEUS_MULTIPROC_DIR"]
    if not path:
        path = tempfile.mkdtemp(prefix="flask-auth-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    else:
        os.makedirs(path, exist_ok=True)
        for entry in os.listdir(path):
            target = os.path.join(path, entry)
            if os.path.isdir(target):
                shutil.rmtree(target)
            else:
                os.remove(target)
    server.log.info("prometheus multiprocess directory: %s", path)


def child_exit(server, worker) -> None:
    """Mark a dead worker's gauges so /metrics stops counting them as live."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Start this worker's mail sender (app/outbox.py) with the worker. Only the app has
    one: the benchmark's bare baselines run under this file too (scripts/bench)."""
    from app import outbox

    if isinstance(getattr(worker.wsgi, "extensions", None), dict):
        outbox.start_sender(worker.wsgi)


def worker_exit(server, worker) -> None:
    """On a drain (SIGTERM), give the mail sender MAIL_DRAIN_SECONDS to send what
    is due; what is left stays in the outbox for the other workers and pods.

    A worker recycled by max_requests does not drain: the arbiter starts its
    replacement only once it has exited, so a drain waiting on a slow or hung
    relay would leave the other workers to serve alone (and, when they recycle
    too, nobody to answer the liveness probe). The mail stays in the outbox for
    the other senders."""
    from app import outbox

    app = getattr(worker, "wsgi", None)
    if app is None or getattr(app, "config", {}).get("MAIL_SENDER") != "thread":
        return
    if _recycled(worker):
        outbox.stop_sender(app, wait=False)
    else:
        outbox.drain(app, app.config["MAIL_DRAIN_SECONDS"])


def _recycled(worker) -> bool:
    """The worker ends because it served max_requests (gunicorn sets max_requests
    to sys.maxsize when recycling is off), not because it was told to stop."""
    return getattr(worker, "nr", 0) >= getattr(worker, "max_requests", sys.maxsize)
