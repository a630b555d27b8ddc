"""Private PostgreSQL and Redis servers for fault tests: started on free loopback ports in
their own temporary directories, stopped and started again at will, removed at the end.

The machine's shared instances (5432, 6379) are never touched: a test that stops "the
database" stops its own. Used by tests/test_outages.py; written so a fault harness can
reuse it (every server is a context manager with start/stop/running).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.database import create_database
from tests.support.ports import free_port, listening

START_TIMEOUT = 20.0


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return found[-1]


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (trust auth, user postgres)."""

    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([_postgres_bin("pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT + 10,
        )

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.directory} -c fsync=off"
        self._pg_ctl(
            "-l", str(self.directory / "log"), "-o", options, "-w", "-t", str(int(START_TIMEOUT)), "start"
        )

    def stop(self) -> None:
        """Fast shutdown: every connection is ended, new ones are refused."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return listening(self.port)

    def create_database(self, name: str) -> str:
        return create_database(self.url(), name)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb + start on a free port; stopped and deleted on exit."""
    directory = Path(tempfile.mkdtemp(prefix="flask-auth-pg-"))
    os.chmod(directory, 0o755)  # noqa: S103 - the postgres user must reach its socket and data
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    server = PrivatePostgres(directory, free_port())
    try:
        subprocess.run(
            _as_postgres(
                [
                    _postgres_bin("initdb"),
                    "-D",
                    str(server.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
        server.start()
        yield server
    finally:
        if server.running():
            with suppress(subprocess.SubprocessError):
                server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A redis-server of our own: no persistence, loopback only."""

    port: int
    proc: subprocess.Popen | None = field(default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop our own process (by its PID): every client connection is refused from now on."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
