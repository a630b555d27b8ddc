"""The processes of a bench.py run: commands run to completion, and psutil's view of the servers
(workers' VmRSS, sampled while the rounds run) and of the machine (the share of the CPUs other
processes take, which makes a measurement noisy)."""

from __future__ import annotations

import contextlib
import os
import subprocess  # runs only the fixed argv bench.py builds  # nosec B404
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT_S = 300.0


class BenchError(RuntimeError):
    """The harness itself could not do its job (not a missed target)."""


def say(message: str = "") -> None:
    print(message, flush=True)


def rss_kib(proc: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        return proc.memory_info().rss // 1024  # VmRSS
    return 0


def hwm_kib(proc: psutil.Process) -> int:
    """VmHWM, the peak RSS: psutil has no field for it, /proc/<pid>/status has."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        lines = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        return int(next(line for line in lines if line.startswith("VmHWM:")).split()[1])
    return 0


# Processes outside the harness's tree that belong to the system under test: the PostgreSQL
# backends serving the bench database (their process title names it).
OWN_PROCESS_TITLES: list[str] = []


def _cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of the process and of its reaped children."""
    with contextlib.suppress(psutil.Error):
        t = proc.cpu_times()
        return t.user + t.system + t.children_user + t.children_system
    return 0.0


def _own_cpu_seconds() -> tuple[float, dict[int, float]]:
    """CPU seconds of this harness and all its descendants, and of each process named in
    OWN_PROCESS_TITLES."""
    me = psutil.Process()
    tree = sum(_cpu_seconds(proc) for proc in [me, *me.children(recursive=True)])
    own = {}
    for proc in psutil.process_iter(["cmdline"]) if OWN_PROCESS_TITLES else ():
        if any(marker in " ".join(proc.info["cmdline"] or []) for marker in OWN_PROCESS_TITLES):
            own[proc.pid] = _cpu_seconds(proc)
    return tree, own


def _machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all CPUs since boot; steal time counts as busy."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + t.irq + t.softirq + t.steal
    return busy, busy + t.idle + t.iowait


class ForeignCpu:
    """Share of all CPUs used by processes that are not this harness, its descendants or the
    database backends serving the bench database."""

    def __init__(self) -> None:
        self.tree, self.own = _own_cpu_seconds()
        self.busy, self.total = _machine_seconds()

    def stop(self) -> float:
        tree, own = _own_cpu_seconds()
        # A backend that ended meanwhile (a recycled worker's connection) keeps its last known time.
        own_after = sum(own.values()) + sum(t for pid, t in self.own.items() if pid not in own)
        ours = tree - self.tree + own_after - sum(self.own.values())
        busy, total = _machine_seconds()
        return max(0.0, (busy - self.busy - ours) / max(1e-9, total - self.total))


class RssSampler(threading.Thread):
    """The highest VmRSS of the server's workers, sampled every `interval` seconds."""

    def __init__(self, server: Server, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.server, self.interval, self.stop_event = server, interval, threading.Event()
        self.peak_kib, self.workers_seen = 0, set()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            for worker in self.server.worker_processes():
                self.workers_seen.add(worker.pid)
                self.peak_kib = max(self.peak_kib, rss_kib(worker))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)


def run_command(argv: list[str], env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT_S):
    """Run a command to completion (output captured); returns CompletedProcess."""
    return subprocess.run(  # noqa: S603 - fixed argv built by this script  # nosec B603
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_checked(argv: list[str], env: dict[str, str], what: str) -> str:
    result = run_command(argv, env)
    if result.returncode != 0:
        raise BenchError(f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def cpu_used_by_others(when: str) -> float:
    """Share of all CPUs busy over 2 s, whoever uses them (the harness is idle meanwhile)."""
    busy = psutil.cpu_percent(interval=2.0) / 100
    say(f"\nCPU busy {when} the run (other processes): {busy:.0%} of {os.cpu_count() or 1} CPUs")
    return busy
