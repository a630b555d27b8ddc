"""What a CI run means to the suite: `.ci/run` exports CI=true, and there no test may be
skipped. A skip stands for a service, a tool or a snapshot that is missing, so in CI it fails
the run and names each skipped test with its reason (tests/conftest.py imports the hook)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """CI=true (GitHub Actions, .ci/run), or 1/yes as some runners set it."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """In CI, a run with skipped tests fails. On the xdist controller the terminal
    reporter holds every worker's reports; the workers themselves leave it to it."""
    if not in_ci() or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if not skipped:
        return
    reporter.ensure_newline()
    reporter.write_sep("=", f"CI: {len(skipped)} skipped test(s) fail the run", red=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reporter.write_line(f"{report.nodeid}: {reason}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
