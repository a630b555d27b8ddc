"""What bench.py measures and report.py reports: the endpoints (CASES), one wrk run's result
(WrkResult, parsed from the BENCH_JSON line of wrk_summary.lua) and everything a run collects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

HOST = "127.0.0.1"
# The reference servers run the way a Flask user would run them: no gunicorn.conf.py.
PLAIN_SYNC_ARGS = ("-w", "2", "-k", "sync")

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


def worker_threads(settings: dict[str, object]) -> int:
    """Requests one gunicorn worker serves at once (settings: gunicorn.conf.py as resolved): its
    threads (gunicorn runs "sync" with threads > 1 as gthread), or 1 for sync workers."""
    return max(1, int(settings["threads"] or 1))


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
