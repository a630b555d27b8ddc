"""Checkov and Trivy as the infrastructure tests run them: offline, JSON out, parsed."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
# Checkov lives in a venv of its own (make install-infra); the Makefile passes its path.
CHECKOV = ROOT / os.environ.get("CHECKOV_BIN", ".venv-checkov/bin/checkov")


@dataclass
class CheckovReport:
    failed: list[tuple[str, str]]  # (check id, resource)
    passed: int
    skipped: list[dict]  # each with check_id and check_result.suppress_comment
    returncode: int
    stderr: str


def checkov(directory: Path | str, framework: str, cwd: Path | None = None) -> CheckovReport:
    """checkov --framework F on a directory, with no network (BC_SKIP_MAPPING, --skip-download)."""
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make install-infra`"
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            framework,
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    parsed = json.loads(result.stdout)
    reports = parsed if isinstance(parsed, list) else [parsed]
    results = [r.get("results", {}) for r in reports]
    return CheckovReport(
        failed=[(c["check_id"], c["resource"]) for r in results for c in r.get("failed_checks", [])],
        passed=sum(r.get("summary", {}).get("passed", 0) for r in reports),
        skipped=[c for r in results for c in r.get("skipped_checks", [])],
        returncode=result.returncode,
        stderr=result.stderr,
    )


TRIVY_CONFIG = (
    str(BIN / "trivy"),
    "config",
    "--quiet",
    "--skip-check-update",
    "--exit-code",
    "1",
    "--include-non-failures",
    "--format",
    "json",
)


def assert_checkov_clean(report: CheckovReport, *, passed_over: int, reason_over: int) -> None:
    """No failed check, more than `passed_over` passes (the scan really read the code), every
    skip with a suppress comment longer than `reason_over` characters, and exit status 0."""
    assert report.failed == []
    assert report.passed > passed_over
    for check in report.skipped:
        assert len(check["check_result"].get("suppress_comment", "")) > reason_over, check["check_id"]
    assert report.returncode == 0, report.stderr[-2000:]


@dataclass
class TrivyReport:
    failures: list[tuple[str, str, str, str]]  # (target, id, severity, title)
    passes: int
    targets: set[str]
    returncode: int
    stderr: str


def trivy_config(target: Path, *options: str) -> TrivyReport:
    """trivy config on target, every check's result included (passes prove a scan happened).

    It runs in target's parent, not in the repository, whose trivy.yaml would
    otherwise narrow the severities and paths.
    """
    result = subprocess.run(
        [*TRIVY_CONFIG, *options, str(target)],
        capture_output=True,
        text=True,
        check=False,
        cwd=target.parent,
    )
    results = json.loads(result.stdout).get("Results", [])
    findings = [(r["Target"], m) for r in results for m in r.get("Misconfigurations") or []]
    return TrivyReport(
        failures=[(t, m["ID"], m["Severity"], m["Title"]) for t, m in findings if m["Status"] == "FAIL"],
        passes=sum(1 for _, m in findings if m["Status"] == "PASS"),
        targets={r["Target"] for r in results},
        returncode=result.returncode,
        stderr=result.stderr,
    )
