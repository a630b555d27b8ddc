"""`bench.py --profile`: py-spy records one worker of the app while wrk loads each endpoint, and
the time per component of each raw profile (`py-spy record -f raw`) is what it prints and writes to
RESULTS.md.

Each sample (a stack, root first) goes to one component: the component of the innermost frame
that belongs to one. Standard-library frames other than logging, json and sqlite3 belong to none,
so their time goes to the caller (socket reads in gunicorn are gunicorn's, a regular expression in
Werkzeug is Werkzeug's). Without --native, time in a C call shows in the Python frame that made
it; SQLAlchemy's frames that call straight into the DB-API (execute, fetch, commit) are therefore
counted as the DB driver, and argon2-cffi's verify as the password hash. A sample whose innermost
frame is a wait (an idle pool thread, the main loop's poll, a lock another thread holds) is counted
apart, as waiting: the shares are of the samples on the CPU.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from measurements import CASES
from processes import BenchError, run_command, say

if TYPE_CHECKING:
    from wrk import Wrk

    from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]

OTHER = "other"
WAITING = "waiting"
# Top-level module or package of a frame's file -> component. py-spy names a file by its path under
# sys.path (e.g. "sqlalchemy/engine/default.py", "app/views.py", "threading.py").
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gunicorn", ("gunicorn",)),
    ("werkzeug/flask", ("werkzeug", "flask", "itsdangerous", "blinker", "click")),
    ("sqlalchemy", ("sqlalchemy", "flask_sqlalchemy", "alembic", "flask_migrate")),
    ("DB driver", ("sqlite3", "psycopg2")),
    ("wtforms", ("wtforms", "flask_wtf")),
    ("jinja2", ("jinja2", "markupsafe")),
    ("flask_limiter", ("flask_limiter", "limits", "redis")),
    ("logging/json", ("logging", "pythonjsonlogger", "json")),
    ("prometheus", ("prometheus_client",)),
    ("argon2 (the password hash)", ("argon2", "_argon2_cffi_bindings")),
    ("app's own modules", ("app",)),
)
_BY_TOP = {top: name for name, tops in COMPONENTS for top in tops}
ORDER = [name for name, _ in COMPONENTS] + [OTHER]
_STDLIB = frozenset(sys.stdlib_module_names)
# SQLAlchemy functions whose own time is a DB-API call (C code that py-spy does not show).
_DRIVER_CALLS = {
    "engine/default.py": {"do_execute", "do_executemany", "do_execute_no_params", "do_commit",
                          "do_rollback", "do_close", "connect"},
    "engine/cursor.py": {"fetchall", "fetchone", "fetchmany", "_fetchall_impl", "_fetchone_impl",
                         "_fetchmany_impl"},
}  # fmt: skip
# A thread blocked in one of these (the innermost frame) is waiting, not running: an idle pool
# thread, the main loop's poll, a lock held by another thread. Counted apart from the shares.
_WAITS = {
    ("threading.py", "wait"), ("threading.py", "acquire"), ("threading.py", "join"),
    ("selectors.py", "select"), ("concurrent/futures/thread.py", "_worker"), ("queue.py", "get"),
    ("logging/__init__.py", "acquire"), ("time.py", "sleep"),
}  # fmt: skip
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _relative(filename: str) -> str:
    """The path under sys.path: py-spy already gives it so; a full path is cut after *-packages/."""
    for marker in ("-packages/", f"{ROOT}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    if filename.startswith("/"):
        parts = filename.split("/")
        for i, part in enumerate(parts):  # /usr/lib/python3.11/threading.py -> threading.py
            if part.startswith("python3"):
                return "/".join(parts[i + 1 :])
    return filename


def component_of(function: str, filename: str) -> str | None:
    """The component a frame belongs to, or None (the standard library: its caller's)."""
    path = _relative(filename)
    if path.startswith("sqlalchemy/"):
        for suffix, names in _DRIVER_CALLS.items():
            if path.endswith(suffix) and function.rsplit(".", 1)[-1] in names:
                return "DB driver"
    top = path.split("/", 1)[0].removesuffix(".py")
    if top in _BY_TOP:
        return _BY_TOP[top]
    if top in _STDLIB or top.startswith("<"):
        return None
    return OTHER  # a package not listed (flask_login, ...)


def is_wait(function: str, filename: str) -> bool:
    path = _relative(filename)
    name = function.rsplit(".", 1)[-1]
    return any(path.endswith(file) and name == wait for file, wait in _WAITS)


@dataclass
class Breakdown:
    samples: int = 0
    waiting: int = 0
    by_component: Counter = field(default_factory=Counter)
    leaves: Counter = field(default_factory=Counter)  # innermost frame that has a component

    def share(self, component: str) -> float:
        return self.by_component[component] / self.samples if self.samples else 0.0


def parse_frame(text: str) -> tuple[str, str]:
    match = _FRAME.match(text.strip())
    if not match:
        return text.strip(), ""
    return match["function"], match["file"]


def breakdown(raw: str) -> Breakdown:
    """Collapse a py-spy raw profile ("frame;frame;... count" per line) into components."""
    result = Breakdown()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [parse_frame(frame) for frame in stack.split(";")]
        if frames and is_wait(*frames[-1]):
            result.waiting += n
            continue
        component, leaf = OTHER, frames[-1] if frames else ("?", "?")
        for function, filename in reversed(frames):
            found = component_of(function, filename)
            if found is not None:
                component, leaf = found, (function, filename)
                break
        result.samples += n
        result.by_component[component] += n
        short = _relative(leaf[1])
        result.leaves[f"{leaf[0]} ({short})"] += n
    return result


def table(results: dict[str, Breakdown]) -> str:
    """Markdown: one column per endpoint, one row per component, shares of the worker's samples."""
    names = list(results)
    lines = ["| component | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for component in ORDER:
        cells = [f"{results[name].share(component):.0%}" for name in names]
        lines.append(f"| {component} | " + " | ".join(cells) + " |")
    lines.append(
        "| (samples on the CPU) | " + " | ".join(str(results[name].samples) for name in names) + " |"
    )
    lines.append(
        "| (samples waiting: idle threads, poll, locks) | "
        + " | ".join(str(results[name].waiting) for name in names)
        + " |"
    )
    return "\n".join(lines)


def top_frames(result: Breakdown, count: int = 8) -> list[str]:
    return [
        f"{n / result.samples:.0%} {frame}" for frame, n in result.leaves.most_common(count) if result.samples
    ]


# --- recording a worker under load ------------------------------------------------------------------

PROFILE_CASES = {
    "GET /auth/login": "login_get",
    "GET /dashboard": "dashboard",
    "GET /health/live": "live",
    "POST /auth/login": "login_post",
}
PROFILE_RATE_HZ = 200


def py_spy() -> str:
    path = Path(sys.executable).parent / "py-spy"
    if not path.exists():
        raise BenchError(
            f"no py-spy beside {sys.executable}: `make install-dev` installs it (requirements-dev.txt)"
        )
    return str(path)


def record(
    wrk: Wrk, app: Server, spy: str, label: str, path: str, script: Path, out: Path, args
) -> Breakdown:
    """py-spy on the app's first worker (raw profile to `out`) while wrk loads `path`; its breakdown."""
    if not (workers := sorted(app.workers())):
        raise BenchError("the app has no worker to profile")
    options = f"--duration {max(1, round(args.duration))} --rate {PROFILE_RATE_HZ} --format raw --output"
    argv = [spy, "record", "--pid", str(workers[0]), *options.split(), str(out)]
    recorded, load = wrk.while_loading(
        app.base_url + path,
        script,
        args.duration,
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
    if load.bad:
        raise BenchError(f"{label} under the profiler saw non-2xx/3xx responses: {load.codes}")
    say(f"  {label:20} {load.describe()}  {result.samples} samples of worker {workers[0]}")
    return result


def profile(
    wrk: Wrk, app: Server, scripts: dict[str, Path], spy: str, tmp: Path, args: argparse.Namespace, settings
) -> str:
    """Each endpoint of PROFILE_CASES recorded in turn (scripts: bench.py's wrk scripts by CASES'
    script name); the markdown: the table, each endpoint's innermost frames, how it was recorded."""
    version = run_command([spy, "--version"], timeout=10).stdout.strip()
    results = {}
    for label, key in PROFILE_CASES.items():
        _, _, _, path, script = next(case for case in CASES if case[0] == key)
        results[label] = record(wrk, app, spy, label, path, scripts[script], tmp / f"profile-{key}.txt", args)
        time.sleep(1.0)
    lines = [table(results), ""]
    lines += [
        f"- `{label}`, innermost frames: " + "; ".join(top_frames(r, 6)) for label, r in results.items()
    ]
    lines.append(
        f"\n{version}, `py-spy record --rate {PROFILE_RATE_HZ} --format raw` for {args.duration:g} s on "
        f"one of the app's {settings['workers']} workers ({settings['worker_class']}, "
        f"threads={settings['threads']}) while `wrk -t{args.threads} -c{args.connections}` loaded the "
        "endpoint; shares of the samples in which a thread of the worker ran (waits counted apart). "
        "scripts/bench/pyspy_breakdown.py says how a stack is given to a component."
    )
    return "\n".join(lines)
