"""The private dependencies of a fault run, each on its own port in one temp directory:
PostgreSQL (initdb + pg_ctl), Redis, an aiosmtpd sink writing a Maildir, and the app
under gunicorn -c gunicorn.conf.py exactly as production runs it.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): every
process is started by this module, known by its own PID, and stopped by that PID.
"""

from __future__ import annotations

import glob
import mailbox
import os
import shutil
import signal
import socket
import subprocess  # runs only the fixed argv this module builds  # nosec B404
import sys
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DB_NAME = "flask_auth"


class ServiceError(RuntimeError):
    """A dependency could not be started: the run cannot measure anything."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{proc.args[0]} exited with {proc.returncode} while starting")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Stop one process we started, by its PID; SIGKILL if it does not go."""
    if proc is None or proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: go through runuser when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise ServiceError(f"{name} not found (apt-get install postgresql)")
    return path


class Postgres:
    """initdb in a temp directory, served on a private port and socket directory."""

    def __init__(self, root: Path):
        self.dir = root / "pg"
        self.port = free_port()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - fixed binaries, our own arguments  # nosec B603
            [*_as_postgres(), *args], capture_output=True, text=True, check=check, timeout=60
        )

    def init(self) -> None:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.dir.parent, "postgres")  # the socket directory and log live here
        self._run(_pg_bin("initdb"), "-D", str(self.dir), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DB_NAME)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.dir), "-l", str(self.dir / "log"), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop", check=False)

    def connect(self):
        import psycopg2

        connection = psycopg2.connect(self.admin_url, connect_timeout=3)
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


class Redis:
    def __init__(self, root: Path):
        self.dir = root / "redis"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(exist_ok=True)
        binary = shutil.which("redis-server")
        if not binary:
            raise ServiceError("redis-server not found (apt-get install redis-server)")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.dir)]
        with open(self.dir / "log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)  # noqa: S603 - fixed argv  # nosec B603
        wait_for_port(self.port, 10, self.proc)

    def stop(self) -> None:
        stop_process(self.proc)


class SmtpSink:
    """aiosmtpd's Mailbox handler: every message becomes a file in a Maildir, which
    survives the sink's restarts. A process of its own, so SIGSTOP can hang it."""

    def __init__(self, root: Path):
        self.maildir = root / "maildir"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = [str(BIN / "python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"]
        args += ["-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)]
        with open(self.maildir.parent / "smtp.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)  # noqa: S603 - fixed argv  # nosec B603
        wait_for_port(self.port, 10, self.proc)

    def stop(self) -> None:
        stop_process(self.proc)

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


class App:
    """gunicorn -c gunicorn.conf.py "app:create_app()", production settings, 2 workers."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.dir = root / "app"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.env = env | {"GUNICORN_BIND": f"127.0.0.1:{self.port}", "HOME": str(self.dir)}
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - fixed argv  # nosec B603
            [str(BIN / "flask"), "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, timeout: float = 30) -> None:
        with open(self.dir / "gunicorn.log", "ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv  # nosec B603
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout, self.proc)

    def workers(self) -> list[int]:
        """The master's live children, read from /proc."""
        found = []
        for stat_path in glob.glob("/proc/[0-9]*/stat"):
            with suppress(OSError):
                text = Path(stat_path).read_text()
                state, ppid = text.rsplit(")", 1)[1].split()[:2]
                if self.proc is not None and int(ppid) == self.proc.pid and state != "Z":
                    found.append(int(stat_path.split("/")[2]))
        return sorted(found)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def wait_stopped(self, timeout: float) -> None:
        self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, timeout=30)
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # a worker left behind by a master that died first
