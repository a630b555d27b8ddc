"""In CI (CI=true, as .ci/run sets it) a skipped test fails the run: a skip there stands for a
missing service, tool or snapshot, and a green run must not hide one. Each case runs pytest
(pytester) on a throwaway file with the hook of tests/support/ci.py, serially and under xdist
(which the infra requirements install: this file is part of make test-infra)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

ONE_SKIP = """
import pytest


def test_runs():
    pass


def test_needs_a_snapshot():
    pytest.skip("no snapshot of some/action")
"""


@pytest.fixture
def run_pytest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    def run(ci: str | None, *args: str, body: str = ONE_SKIP) -> pytest.RunResult:
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        pytester.makepyfile(test_throwaway=body)
        return pytester.runpytest_subprocess("-p", "tests.support.ci", "-p", "no:randomly", *args)

    return run


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_skipped_test_fails_a_ci_run_and_is_named_with_its_reason(run_pytest, ci, xdist):
    result = run_pytest(ci, *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*CI: 1 skipped test(s) fail the run*",
            "test_throwaway.py::test_needs_a_snapshot: Skipped: no snapshot of some/action",
        ]
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_skip_is_only_reported(run_pytest, ci):
    result = run_pytest(ci)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=1, skipped=1)


def test_a_ci_run_without_skips_passes(run_pytest):
    result = run_pytest("true", body="def test_runs():\n    pass\n")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=1)
