"""The private dependencies of a fault run, each on its own port: PostgreSQL and Redis
(tests/support/services.py's PrivatePostgres and PrivateRedis), an aiosmtpd sink writing a
Maildir, and the app under gunicorn -c gunicorn.conf.py exactly as production runs it,
started and stopped by tests/support/server.py like every server the tests and the
benchmark run.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): every
process is started by these modules, known by its own PID, and stopped by that PID.
"""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess  # runs only the fixed argv this module builds  # nosec B404
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.support.ports import free_port, listening
from tests.support.server import ROOT, Server, start_gunicorn
from tests.support.services import PrivatePostgres

BIN = Path(sys.executable).parent
DB_NAME = "flask_auth"
START_TIMEOUT = 10.0
APP_START_TIMEOUT = 60.0  # until /health/live answers
# What tests/support/server.py raises (pytest.fail) when the app exits or does not answer in time.
START_FAILED = pytest.fail.Exception
APP_STOP_TIMEOUT = 30.0  # past gunicorn's graceful timeout (GUNICORN_GRACEFUL_TIMEOUT, 25 s)


class ServiceError(RuntimeError):
    """A dependency could not be started: the run cannot measure anything."""


class Postgres:
    """The run's PostgreSQL cluster and its one database, flask_auth."""

    def __init__(self, server: PrivatePostgres):
        self.server = server
        self.port = server.port
        self.log = server.directory / "log"
        self.url = server.create_database(DB_NAME)

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def connect(self):
        import psycopg2

        connection = psycopg2.connect(self.url, connect_timeout=3)
        connection.autocommit = True
        return connection

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()


class SmtpSink:
    """aiosmtpd's Mailbox handler: every message becomes a file in a Maildir, which
    survives the sink's restarts. A process of its own, so SIGSTOP can hang it."""

    def __init__(self, root: Path):
        self.maildir = root / "maildir"
        self.log = root / "smtp.log"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = [str(BIN / "python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"]
        args += ["-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)  # noqa: S603 - fixed argv  # nosec B603
        deadline = time.monotonic() + START_TIMEOUT
        while not listening(self.port):
            if self.proc.poll() is not None:
                raise ServiceError(f"the SMTP sink exited with {self.proc.returncode} while starting")
            if time.monotonic() > deadline:
                raise ServiceError(f"the SMTP sink does not listen on :{self.port} after {START_TIMEOUT} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """By its PID; SIGCONT first (a paused process cannot act on SIGTERM), SIGKILL if it stays."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def received(self) -> Counter:
        """(recipient, subject) -> messages delivered so far."""
        counts: Counter = Counter()
        if not self.maildir.exists():
            return counts
        for message in mailbox.Maildir(self.maildir, create=False):
            for recipient in (message.get("To") or "").split(","):
                counts[(recipient.strip().lower(), str(message.get("Subject", "")))] += 1
        return counts


@contextmanager
def smtp_sink(root: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(root)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


class App:
    """gunicorn -c gunicorn.conf.py "app:create_app()", production settings (env), 2 workers,
    on one port across its restarts. Its output: stdout.log and stderr.log in its directory."""

    def __init__(self, root: Path):
        self.dir = root / "app"
        self.port = free_port()
        self.env: dict[str, str] = {}
        self.server: Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs(self) -> list[Path]:
        return [self.dir / "stdout.log", self.dir / "stderr.log"]

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - fixed argv  # nosec B603
            [str(BIN / "flask"), "--app", "app", *args],
            cwd=ROOT,
            env=self.env | {"HOME": str(self.dir)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        """Returns once /health/live answered 200 (polled every 50 ms); pytest.fail's
        exception (Failed) when the app exited or did not answer within the timeout."""
        self.stop()  # the process group of a server stopped by a fault's own signal, if any
        env = dict(self.env)
        self.server = start_gunicorn(
            self.dir,
            env.pop("DATABASE_URL"),
            port=self.port,
            workers=int(env.pop("WEB_CONCURRENCY")),
            all_workers=False,
            timeout=APP_START_TIMEOUT,
            poll=0.05,
            **env,
        )

    def workers(self) -> list[int]:
        """The master's live children."""
        return sorted(self.server.workers())

    def signal(self, sig: int) -> None:
        """To the master alone, as the container runtime signals PID 1."""
        self.server.proc.send_signal(sig)

    def wait_stopped(self, timeout: float) -> None:
        self.server.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=APP_STOP_TIMEOUT)
            self.server = None
