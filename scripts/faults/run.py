"""make faults: start the private services and the app, then for each fault: fresh
accounts, load, the fault, recovery, settle, and the ledger checked against the
database and the mailbox. Prints one table row per fault, writes JSON, exits 1 when
any fault fails (scripts/faults/verdict.py says when)."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from argon2 import PasswordHasher

from app.security import stored_hash_matches
from tests.support.services import PrivateRedis, private_postgres, private_redis

from . import services, verdict
from .faults import FAULTS, Fault, by_name
from .ledger import SUBJECTS, Ledger
from .load import Account, Browser, Load, Recorder

RECOVERY_LIMIT = 60.0
# Longer than the outbox's 60 s lease, so a message whose sender was killed mid-send
# counts as delivered when another sender takes it over; only waited while mail is missing.
MAIL_SETTLE = 75.0
LOOSE = "100000 per minute"  # all load comes from one address: the limits must not be what is measured


@dataclass
class Context:
    pg: services.Postgres
    redis: PrivateRedis
    smtp: services.SmtpSink
    app: services.App
    load: Load | None = None
    accounts: list[Account] = field(default_factory=list)
    excused: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"    {text}", flush=True)

    def excuse(self, start: float, end: float) -> None:
        """The app was stopped on purpose between start and end."""
        self.excused.append((start, end))

    def start_app(self) -> float:
        """Start the app; when /health/live first answered 200 (the app serves again), or
        now, noted, when it did not."""
        try:
            self.app.start()
        except services.START_FAILED as error:
            self.note(f"the app did not answer /health/live: {str(error).splitlines()[0]}")
        return time.monotonic()


def app_env(
    pg: services.Postgres, redis: PrivateRedis, smtp: services.SmtpSink, app: services.App
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": pg.url,
        "RATELIMIT_STORAGE_URI": redis.url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_USE_TLS": "false",
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(app.dir / "metrics"),
        "APP_BASE_URL": app.base_url,
        # Plain HTTP on loopback: cookies without Secure, or the client would not send them back.
        "SECURE_COOKIES": "false",
        "HSTS": "false",
        "TRUSTED_PROXIES": "0",
        "RATELIMIT_LOGIN": LOOSE,
        "RATELIMIT_REGISTER": LOOSE,
        "RATELIMIT_RESET": LOOSE,
        "RATELIMIT_REAUTH": LOOSE,
        "MAIL_PER_ACCOUNT_LIMIT": "100000 per hour",
        "MAIL_PER_ACCOUNT_CLIENT_LIMIT": "100000 per hour",
        "LOG_LEVEL": "info",
    }


def recover(ctx: Context, account: Account) -> float | None:
    """Seconds until /health/ready is 200 and a sign-in works again, or None."""
    start = time.monotonic()
    while time.monotonic() - start < RECOVERY_LIMIT:
        recorder = Recorder()  # the canary is not part of the load
        browser = Browser(ctx.app.base_url, recorder, timeout=5)
        if browser.request("ready", "/health/ready", record=False).status == "200" and ctx.load.sign_in(
            browser, account
        ):
            return round(time.monotonic() - start, 2)
        time.sleep(0.1)
    return None


def settle_mail(ctx: Context, ledger: Ledger, seconds: float):
    """Poll the mailbox until every owed message arrived or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while True:
        received = ctx.smtp.received()
        missing = [
            key for key, owed in ledger.owed.items() if received.get((key[0], SUBJECTS[key[1]]), 0) < owed
        ]
        if not missing or time.monotonic() > deadline:
            return received
        time.sleep(1)


def stored_accounts(ctx: Context, prefix: str) -> dict[str, str]:
    rows = ctx.pg.query("SELECT username, password_hash FROM users WHERE username LIKE %s", (prefix + "%",))
    return dict(rows)


def statuses(recorder: Recorder, excused: list[tuple[float, float]]) -> dict[str, int]:
    """Requests by status; refused or dropped while the app was stopped on purpose is "down"."""
    counts: Counter = Counter()
    for sample in recorder.samples:
        down = verdict.stopped_on_purpose(sample.started, excused)
        counts["down" if down and sample.status in ("refused", "dropped") else sample.status] += 1
    return dict(counts)


def _when(moment: float, fault_started: float, ctx: Context) -> str:
    """A moment said relative to the fault's start and the app's stops, for a note."""
    text = f"{moment - fault_started:+.3f} s from the fault's start"
    for start, end in ctx.excused:
        text += f", {moment - start:+.3f} s from a stop of the app (back {end - start:.1f} s later)"
    return text


def run_fault(ctx: Context, index: int, fault: Fault, quick: bool, mail_settle: float) -> verdict.FaultResult:
    seconds = fault.quick_seconds if quick else fault.seconds
    print(f"[{index}] {fault.name}: {fault.description} ({seconds} s)", flush=True)
    ledger, recorder = Ledger(), Recorder()
    ctx.load = Load(ctx.app.base_url, f"f{index}x{secrets.token_hex(2)}", ledger, recorder)
    ctx.excused, ctx.notes = [], []
    ctx.accounts = [a for a in (ctx.load.register() for _ in range(6)) if a is not None]
    result = verdict.FaultResult(fault.name, fault.description, dropped_excused=fault.dropped_excused)
    if len(ctx.accounts) < 4:
        result.failures.append("could not register the accounts the load needs before the fault")
        ctx.load.stop()
        return result
    ctx.load.start(ctx.accounts)
    time.sleep(2)
    fault_started = time.monotonic()
    fault.inject(ctx, seconds)
    result.recovery_seconds = recover(ctx, ctx.accounts[0])
    time.sleep(2)
    ctx.load.stop()
    ended = time.monotonic()
    received = settle_mail(ctx, ledger, mail_settle)
    reconciliation = ledger.reconcile(
        stored_accounts(ctx, ctx.load.prefix), partial(stored_hash_matches, hasher=PasswordHasher()), received
    )
    result.statuses = statuses(recorder, ctx.excused)
    for sample in recorder.samples:
        counts = result.by_request.setdefault(sample.what, {})
        counts[sample.status] = counts.get(sample.status, 0) + 1
    for name, probes in recorder.probes.items():
        result.probe_statuses[name] = dict(Counter(p.status for p in probes))
    result.live_failures, result.live_longest_gap = verdict.liveness(
        recorder.probes["live"], ctx.excused, ended
    )
    result.ready_failures = verdict.liveness(recorder.probes["ready"], ctx.excused, ended)[0]
    for name in (
        "writes_acked",
        "writes_missing",
        "writes_phantom",
        "mails_owed",
        "mails_missing",
        "mails_told_failed",
    ):
        setattr(result, name, getattr(reconciliation, name))
    for sample in recorder.samples:
        lost = sample.status in ("dropped", "timeout")
        if lost and not verdict.stopped_on_purpose(sample.started, ctx.excused):
            ctx.note(f"{sample.status}: {sample.what} started at {_when(sample.started, fault_started, ctx)}")
    result.notes = list(ctx.notes)
    print("    " + ("; ".join(verdict.judge(result)) or "pass"), flush=True)
    if result.recovery_seconds is None:
        ctx.note("restarting the app for the next fault")
        ctx.start_app()
    return result


def save_logs(artifacts: Path, logs: dict[str, Path]) -> None:
    """Copy the services' logs beside the results, under the given names."""
    artifacts.mkdir(parents=True, exist_ok=True)
    for name, log in logs.items():
        if log.exists():
            shutil.copy(log, artifacts / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make faults", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="shorter faults (CI): every kind, about 5 minutes"
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="FAULT", help="run only this fault (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    parser.add_argument(
        "--json", default="test-artifacts/faults/results.json", help="where to write the results"
    )
    parser.add_argument(
        "--mail-settle",
        type=float,
        default=MAIL_SETTLE,
        help=f"at most this many seconds to wait for owed e-mails (default {MAIL_SETTLE:.0f})",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp directory (the app's and the sink's logs and data)"
    )
    args = parser.parse_args(argv)
    if args.list:
        for fault in FAULTS:
            print(f"{fault.name:24} {fault.description}")
        return 0
    faults = by_name(args.only) if args.only else FAULTS
    mail_settle = args.mail_settle

    root = Path(tempfile.mkdtemp(prefix="flask-auth-faults-"))
    artifacts = Path(args.json).parent
    results: list[verdict.FaultResult] = []
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            pg = services.Postgres(stack.enter_context(private_postgres()))
            redis = stack.enter_context(private_redis())
            smtp = stack.enter_context(services.smtp_sink(root))
            app = services.App(root)
            logs = {"app-stdout.log": app.logs[0], "app-stderr.log": app.logs[1], "postgresql.log": pg.log}
            stack.callback(save_logs, artifacts, logs | {"smtp.log": smtp.log})
            stack.callback(app.stop)
            app.env = app_env(pg, redis, smtp, app)
            (app.dir / "metrics").mkdir(parents=True)
            migrated = app.flask("db", "upgrade")
            if migrated.returncode != 0:
                raise services.ServiceError(f"flask db upgrade failed:\n{migrated.stderr}")
            app.start()
            ctx = Context(pg, redis, smtp, app)
            print(
                f"services up in {root} (PostgreSQL :{pg.port}, Redis :{redis.port},"
                f" SMTP :{smtp.port}, app :{app.port})"
            )
            for index, fault in enumerate(faults, 1):
                results.append(run_fault(ctx, index, fault, args.quick, mail_settle))
    finally:
        if args.keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\n{verdict.table(results)}\n\n{len(results)} faults in {time.monotonic() - started:.0f} s")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(verdict.dumps(results))
    print(f"results: {out}")
    return 0 if verdict.report(results)["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
