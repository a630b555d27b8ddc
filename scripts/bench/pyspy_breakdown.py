"""Time per component from a py-spy raw profile (`py-spy record -f raw`): what `bench.py --profile`
prints and writes to RESULTS.md.

Each sample (a stack, root first) goes to one component: the component of the innermost frame
that belongs to one. Standard-library frames other than logging, json and sqlite3 belong to none,
so their time goes to the caller (socket reads in gunicorn are gunicorn's, a regular expression in
Werkzeug is Werkzeug's). Without --native, time in a C call shows in the Python frame that made
it; SQLAlchemy's frames that call straight into the DB-API (execute, fetch, commit) are therefore
counted as the DB driver, and argon2-cffi's verify as the password hash.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OTHER = "other"
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gunicorn", ("/gunicorn/",)),
    ("werkzeug/flask", ("/werkzeug/", "/flask/", "/itsdangerous/", "/blinker/", "/click/")),
    ("sqlalchemy", ("/sqlalchemy/", "/flask_sqlalchemy/", "/alembic/")),
    ("DB driver", ("/sqlite3/", "/psycopg2/")),
    ("wtforms", ("/wtforms/", "/flask_wtf/")),
    ("jinja2", ("/jinja2/", "/markupsafe/")),
    ("flask_limiter", ("/flask_limiter/", "/limits/", "/redis/")),
    ("logging/json", ("/logging/", "/pythonjsonlogger/", "/json/")),
    ("prometheus", ("/prometheus_client/",)),
    ("argon2 (the password hash)", ("/argon2/", "/_argon2_cffi_bindings/")),
    ("app's own modules", (f"{ROOT}/app/", "/app/")),
)
ORDER = [name for name, _ in COMPONENTS] + [OTHER]
# SQLAlchemy functions whose own time is a DB-API call (C code that py-spy does not show).
_DRIVER_CALLS = {
    "engine/default.py": {"do_execute", "do_executemany", "do_execute_no_params", "do_commit",
                          "do_rollback", "do_close", "connect"},
    "engine/cursor.py": {"_fetchall_impl", "_fetchone_impl", "_fetchmany_impl"},
}  # fmt: skip
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_SITE = "-packages/"


def component_of(function: str, filename: str) -> str | None:
    """The component a frame belongs to, or None (the standard library: its caller's)."""
    if "/sqlalchemy/" in filename:
        for suffix, names in _DRIVER_CALLS.items():
            if filename.endswith(suffix) and function in names:
                return "DB driver"
    in_site = _SITE in filename
    for name, markers in COMPONENTS:
        for marker in markers:
            if marker not in filename:
                continue
            if name == "app's own modules":
                if not in_site and (filename.startswith(f"{ROOT}/app/") or filename.startswith("app/")):
                    return name
                continue
            if name in ("logging/json", "DB driver") or in_site:
                return name
    if in_site:
        return OTHER  # a package not listed (flask_login, pydantic, ...)
    return None


@dataclass
class Breakdown:
    samples: int = 0
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
        component, leaf = OTHER, frames[-1] if frames else ("?", "?")
        for function, filename in reversed(frames):
            found = component_of(function, filename)
            if found is not None:
                component, leaf = found, (function, filename)
                break
        result.samples += n
        result.by_component[component] += n
        short = leaf[1].split(_SITE, 1)[-1].replace(f"{ROOT}/", "")
        result.leaves[f"{leaf[0]} ({short})"] += n
    return result


def table(results: dict[str, Breakdown]) -> str:
    """Markdown: one column per endpoint, one row per component, shares of the worker's samples."""
    names = list(results)
    lines = ["| component | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for component in ORDER:
        cells = [f"{results[name].share(component):.0%}" for name in names]
        lines.append(f"| {component} | " + " | ".join(cells) + " |")
    lines.append("| (samples) | " + " | ".join(str(results[name].samples) for name in names) + " |")
    return "\n".join(lines)


def top_frames(result: Breakdown, count: int = 8) -> list[str]:
    return [
        f"{n / result.samples:.0%} {frame}" for frame, n in result.leaves.most_common(count) if result.samples
    ]
