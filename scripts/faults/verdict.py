"""From what was measured to pass or fail: pure functions over plain data, so
tests/test_faults_harness.py can judge synthetic runs without any service.

A fault fails on:
- any 5xx but 503 (an outage is 503; a 500 is a bug), from the load or the probes;
- a lost write (acknowledged, not in the database) or a phantom one (kept while the
  user was told it failed);
- a lost e-mail (owed, not in the mailbox after the settle time);
- liveness failing for longer than LIVENESS_GAP_LIMIT seconds at a stretch;
- a request dropped or timed out by the server while it was in flight (except where
  the fault itself kills the process serving it);
- no recovery: readiness and a sign-in not back within the recovery limit.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

LIVENESS_GAP_LIMIT = 2.0


@dataclass(frozen=True)
class Probe:
    started: float
    ended: float
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "200"


def stopped_on_purpose(moment: float, intervals: list[tuple[float, float]]) -> bool:
    """Whether moment falls in an interval in which the app was stopped on purpose."""
    return any(start <= moment <= end for start, end in intervals)


def liveness(probes: list[Probe], excused: list[tuple[float, float]] = (), until: float | None = None):
    """(failures, longest gap in seconds). A gap runs from the start of the first failed
    probe to the start of the next good one (or `until`). Probes started inside an
    excused interval (the process stopped on purpose) do not count."""
    failures, longest, gap_start = 0, 0.0, None
    for probe in sorted(probes, key=lambda p: p.started):
        if stopped_on_purpose(probe.started, excused):
            continue
        if probe.ok:
            if gap_start is not None:
                longest = max(longest, probe.started - gap_start)
                gap_start = None
            continue
        failures += 1
        if gap_start is None:
            gap_start = probe.started
    if gap_start is not None:
        end = until if until is not None else max(p.ended for p in probes)
        longest = max(longest, end - gap_start)
    return failures, round(longest, 2)


@dataclass
class FaultResult:
    name: str
    description: str = ""
    statuses: dict[str, int] = field(default_factory=dict)  # load requests by status
    by_request: dict[str, dict[str, int]] = field(default_factory=dict)  # and by what was asked
    probe_statuses: dict[str, dict[str, int]] = field(default_factory=dict)  # live/ready by status
    dropped_excused: bool = False  # the fault kills the process serving requests
    writes_acked: int = 0
    writes_missing: list[str] = field(default_factory=list)
    writes_phantom: list[str] = field(default_factory=list)
    mails_owed: int = 0
    mails_missing: list[str] = field(default_factory=list)
    mails_told_failed: int = 0
    live_failures: int = 0
    live_longest_gap: float = 0.0
    ready_failures: int = 0
    recovery_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def server_errors(self) -> int:
        every = Counter(self.statuses)
        for counts in self.probe_statuses.values():
            every.update(counts)
        return sum(n for status, n in every.items() if status.startswith("5") and status != "503")


def judge(result: FaultResult) -> list[str]:
    """Why this fault fails; empty when it passes."""
    reasons = []
    if errors := result.server_errors():
        reasons.append(f"{errors} server errors (5xx other than 503)")
    if result.writes_missing:
        reasons.append(f"{len(result.writes_missing)} acknowledged writes missing")
    if result.writes_phantom:
        reasons.append(f"{len(result.writes_phantom)} writes kept though the user was told they failed")
    if result.mails_missing:
        reasons.append(f"{len(result.mails_missing)} owed e-mails never arrived")
    if result.live_longest_gap > LIVENESS_GAP_LIMIT:
        reasons.append(f"liveness failed for {result.live_longest_gap} s (limit {LIVENESS_GAP_LIMIT} s)")
    lost = result.statuses.get("dropped", 0) + result.statuses.get("timeout", 0)
    if lost and not result.dropped_excused:
        reasons.append(f"{lost} requests dropped or timed out in flight")
    if result.recovery_seconds is None:
        reasons.append("did not recover")
    return reasons + result.failures


def _statuses(counts: dict[str, int]) -> str:
    return " ".join(f"{status}:{n}" for status, n in sorted(counts.items())) or "-"


COLUMNS = (
    "fault",
    "requests by status",
    "writes ack/miss",
    "mails owed/miss",
    "live fail/gap",
    "recovery",
    "verdict",
)


def table(results: list[FaultResult]) -> str:
    """A Markdown table, one row per fault."""
    rows = [COLUMNS, tuple("---" for _ in COLUMNS)]
    for r in results:
        reasons = judge(r)
        rows.append(
            (
                r.name,
                _statuses(r.statuses),
                f"{r.writes_acked}/{len(r.writes_missing) + len(r.writes_phantom)}",
                f"{r.mails_owed}/{len(r.mails_missing)}",
                f"{r.live_failures}/{r.live_longest_gap}s",
                "-" if r.recovery_seconds is None else f"{r.recovery_seconds:.2f}s",
                "FAIL: " + "; ".join(reasons) if reasons else "pass",
            )
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def report(results: list[FaultResult]) -> dict:
    """Everything measured, for CI artifacts."""
    return {
        "passed": all(not judge(r) for r in results),
        "liveness_gap_limit_seconds": LIVENESS_GAP_LIMIT,
        "faults": [asdict(r) | {"failures": judge(r)} for r in results],
    }


def dumps(results: list[FaultResult]) -> str:
    return json.dumps(report(results), indent=2, sort_keys=True)
