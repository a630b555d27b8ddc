"""The markdown bench.py prints and writes to RESULTS.md: the endpoint table (medians and ratios to
the three baselines measured in the same run), the summary (hash ceiling, the flood, memory, cold
start, other processes' CPU, logging), issue 14's targets (PASS/MISS) and how the run was made.
scripts/bench/README.md says what each number means."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
from measurements import CASES, HOST, PLAIN_SYNC_ARGS, Measurements, worker_threads

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"

# Issue 14's targets, against bare Flask under plain `gunicorn -w 2 -k sync` in the same run.
TARGETS_VS_FLASK_SYNC = {"live": 0.90, "login_get": 0.66, "dashboard": 0.35}
TARGET_LOGIN_VS_CEILING = 0.90
TARGET_FLOOD_P99_MS = 50.0
TARGET_RSS_MIB = 64.0  # not counting one hash's working memory (argon2id's m)
TARGET_COLD_START_S = 0.5


@dataclass
class RunInfo:
    """How the run was made, as bench.py resolved it."""

    args: argparse.Namespace
    settings: dict[str, object]  # gunicorn.conf.py as resolved, and PASSWORD_HASH_CONCURRENCY
    db_label: str
    wrk_version: str
    command: str
    code: str
    argon2: tuple[int, int, int]  # memory KiB, time cost, parallelism
    probe_pause_ms: int
    raised_limit: str

    @property
    def hash_kib(self) -> int:
        return self.argon2[0]

    @property
    def hash_label(self) -> str:
        return "argon2id m={} KiB, t={}, p={}".format(*self.argon2)

    @property
    def threads(self) -> int:
        return worker_threads(self.settings)

    @property
    def section_key(self) -> str:
        return "postgresql" if self.db_label.startswith("PostgreSQL") else "sqlite"

    def section(self, table: str) -> str:
        """The RESULTS.md section of this run: the command, the code, the machine and the table."""
        machine = "\n".join(f"| {k} | {v} |" for k, v in machine_description())
        return (
            f"## {self.db_label.split(' (')[0].split(' ')[0]}\n\n"
            f"Command: `{self.command}`\n\nCode: {self.code}\n\n"
            f"| machine | |\n|---|---|\n{machine}\n\n{table}\n"
        )


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
    def of(cls, info: RunInfo, m: Measurements) -> Headline:
        rss_after = max(m.rss_after_kib, default=0) / 1024
        flood_p99 = median([r.p99_ms for r in m.flood_health])
        rss_net = max(0.0, rss_after - info.hash_kib / 1024)
        return cls(
            median(m.ceilings),
            vs_ceiling(m, "login_post"),
            flood_p99,
            rss_after,
            rss_net,
            median(m.cold_starts),
        )


def summary_lines(info: RunInfo, m: Measurements, h: Headline) -> list[str]:
    """The hash ceiling, the flood, memory, cold start, other processes' CPU and the logging volume."""
    health, args, threads = m.flood_health, info.args, info.threads
    hash_mib = info.hash_kib / 1024
    return [
        f"- hash ceiling ({os.cpu_count()} processes, `{info.hash_label}`, nothing else running): "
        f"**{h.ceiling:.1f} checks/s** (rounds: {', '.join(f'{c:.1f}' for c in m.ceilings)})",
        f"- `POST /auth/login` / hash ceiling: **{h.login_vs_ceiling:.3f}** (median of per-round ratios); "
        f"the reference app's sign-in POST: {vs_ceiling(m, 'ref_login_post'):.3f}",
        f"- `GET /health/live` during a sign-in flood (`wrk -t1 -c{args.flood_connections}`: "
        f"{args.flood_connections} connections, a worker has {threads} thread(s); "
        f"POST /auth/login, {median([r.rps for r in m.flood_login]):.1f} sign-ins/s, beside `wrk -t1 -c2` on "
        f"/health/live, a new connection per request and {info.probe_pause_ms} ms between requests, "
        f"{median([r.rps for r in health]):.0f} probes/s): p50 {median([r.p50_ms for r in health]):.2f} ms, "
        f"**p99 {h.flood_p99:.2f} ms** (rounds: {', '.join(f'{r.p99_ms:.1f}' for r in health)}), "
        f"max {max(r.max_ms for r in health):.1f} ms",
        f"- worker RSS after the run: **{h.rss_net_mib:.1f} MiB not counting one hash** = max VmRSS "
        f"{h.rss_after_mib:.1f} MiB over {len(m.rss_after_kib)} workers minus one argon2id working memory "
        f"({info.hash_kib} KiB = {hash_mib:.1f} MiB); VmHWM {max(m.hwm_after_kib, default=0) / 1024:.1f} "
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


def target_rows(info: RunInfo, m: Measurements, h: Headline) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each of issue 14's targets."""
    goal, threads, flood = TARGETS_VS_FLASK_SYNC, info.threads, info.args.flood_connections
    endpoints = {
        "live": "`GET /health/live`",
        "login_get": "`GET /auth/login`",
        "dashboard": "`GET /dashboard`",
    }
    ratio = {key: per_round_ratio(m, key, "flask_sync") for key in goal}
    rows = [
        (f"{endpoints[key]} >= {goal[key]}x Flask sync", f"{ratio[key]:.3f}x", ratio[key] >= goal[key])
        for key in goal
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
            f"{h.flood_p99:.1f} ms ({flood} > {threads})",
            h.flood_p99 <= TARGET_FLOOD_P99_MS and flood > threads,
        ),
        (
            f"worker RSS after the run, not counting one hash, <= {TARGET_RSS_MIB:.0f} MiB",
            f"{h.rss_net_mib:.1f} MiB",
            h.rss_net_mib <= TARGET_RSS_MIB,
        ),
        (f"cold start <= {TARGET_COLD_START_S} s", f"{h.cold:.3f} s", h.cold <= TARGET_COLD_START_S),
    ]


def run_notes(info: RunInfo, rounds: int) -> list[str]:
    """How the run was made: wrk, the servers, gunicorn.conf.py as resolved, the app's environment."""
    args, s = info.args, info.settings
    return [
        f"Run: {rounds} round(s) x {args.duration:g} s per endpoint, servers interleaved in every round, "
        f"medians shown; `wrk -t{args.threads} -c{args.connections} --latency` on {HOST}, client and "
        f"servers on the same {os.cpu_count()} CPUs ({info.wrk_version}).",
        f"Servers: the app, bare WSGI and bare Flask under the project's gunicorn.conf.py; **Flask sync** "
        f"(the reference of every target) and the reference app (scripts/bench/reference_app.py: a Jinja "
        f"sign-in form with a token in Flask's session cookie, 20 posts from SQLite, an argon2id sign-in) "
        f"under plain `gunicorn {' '.join(PLAIN_SYNC_ARGS)}` with no config file.",
        f"gunicorn.conf.py as resolved for this run: worker_class={s['worker_class']}, "
        f"workers={s['workers']}, threads={s['threads']}, keepalive={s['keepalive']}, "
        f"max_requests={s['max_requests']}±{s['max_requests_jitter']}; "
        f"PASSWORD_HASH_CONCURRENCY={s['PASSWORD_HASH_CONCURRENCY']}; database: {info.db_label}.",
        f"App environment: {environment_note(info.raised_limit)}.",
    ]


def environment_note(raised_limit: str) -> str:
    """What the servers' environment changes from production (bench.py prints it too)."""
    return (
        f"APP_ENV=production; **rate limits raised** to `{raised_limit}` (RATELIMIT_LOGIN, "
        "RATELIMIT_REGISTER) since every request comes from one IP; SECURE_COOKIES=false (plain HTTP "
        "on loopback: cookie `session`); LOG_LEVEL=INFO with per-request JSON logs on, stdout to a file"
    )


def report(info: RunInfo, m: Measurements) -> tuple[str, list[str]]:
    """The markdown of the results (tables, summary, notes) and the targets missed."""
    headline = Headline.of(info, m)
    targets = target_rows(info, m, headline)
    lines = [*endpoint_table(m), "", *summary_lines(info, m, headline), ""]
    lines += ["| target | measured | result |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {'PASS' if ok else '**MISS**'} |" for name, value, ok in targets]
    lines += ["", *run_notes(info, len(m.runs["wsgi"]))]
    return "\n".join(lines), [name for name, _, ok in targets if not ok]


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
    print(f"\nwrote {RESULTS_PATH.relative_to(RESULTS_PATH.parents[2])} (section {section_key})", flush=True)
