"""In CI (CI=true, as .ci/run sets it) a skipped test fails the run: a skip there stands for a
missing service, tool or snapshot, and a green run must not hide one. Each case runs pytest
on a throwaway file with the hook of tests/support/ci.py, serially and under xdist (which the
infra requirements install: this file is part of make test-infra)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ONE_SKIP = """
import pytest


def test_runs():
    pass


def test_needs_a_snapshot():
    pytest.skip("no snapshot of some/action")
"""


def run_pytest(tmp_path: Path, ci: str | None, *args: str, body: str = ONE_SKIP):
    (tmp_path / "test_throwaway.py").write_text(body)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.support.ci", "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_skipped_test_fails_a_ci_run_and_is_named_with_its_reason(tmp_path, ci, xdist):
    result = run_pytest(tmp_path, ci, *xdist)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 skipped test(s) fail the run" in result.stdout
    assert "test_throwaway.py::test_needs_a_snapshot: Skipped: no snapshot of some/action" in result.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_skip_is_only_reported(tmp_path, ci):
    result = run_pytest(tmp_path, ci)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "1 passed, 1 skipped" in result.stdout


def test_a_ci_run_without_skips_passes(tmp_path):
    result = run_pytest(tmp_path, "true", body="def test_runs():\n    pass\n")
    assert result.returncode == pytest.ExitCode.OK, result.stdout
