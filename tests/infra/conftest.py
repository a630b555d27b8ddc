"""Hooks of the delivery tests: the container report at the end of the run, and how
`make test-infra` spreads the tests over pytest-xdist's workers (`-n auto --dist loadfile`).

A group of tests runs whole on one worker, in order:
- by default a file (what --dist loadfile does): a file's tests keep sharing their module
  fixtures, ports and compose projects exactly as in a serial run;
- in SPREAD_BY_FIXTURE's files, whose tests share nothing but their module-scoped fixtures
  (each test copies terraform/ and starts its own moto), one group per such fixture (every
  test of one emulator account on one worker, the account built once) and each other test
  on its own.
Groups are handed out longest first (FIRST, then the rest in collection order), so that no
long group starts last while the other worker idles.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from tests.support.container import REPORT

HERE = Path(__file__).parent
SPREAD_BY_FIXTURE = {"test_terraform.py"}

# The groups that take longest (make test-infra PYTEST_ARGS=--durations=60, one worker), longest first.
FIRST = (
    "test_alerts.py",  # promtool's rule unit tests, twice
    "test_terraform.py::test_the_old_layouts_applied_state_plans_no_replacement_in_the_new_one[staging]",
    "test_terraform.py::alerting",
    "test_terraform.py::account",
    "test_local_dev.py",
    "test_terraform.py::test_the_old_layouts_applied_state_plans_no_replacement_in_the_new_one[dev]",
    "test_terraform.py::test_dev_applies_to_the_emulator_and_destroys",
    "test_docker.py",
    "test_terraform.py::test_setup_backend_with_no_region_configured_builds_the_backend_in_ap_south_1_twice",
    "test_terraform.py::tree",
    "test_terraform.py::test_checkov_finds_no_failures_and_every_skip_has_a_reason",
    "test_docs_commands.py",
)


@cache
def module_fixtures_taken(filename: str) -> dict[str, tuple[str, ...]]:
    """test function -> the module-scoped fixtures of its file that it takes, read from the
    file's source (the xdist controller has test ids, not collected items)."""
    functions = [
        node for node in ast.parse((HERE / filename).read_text()).body if isinstance(node, ast.FunctionDef)
    ]

    def module_scoped(function: ast.FunctionDef) -> bool:
        return any(
            isinstance(decorator, ast.Call)
            and ast.unparse(decorator.func) == "pytest.fixture"
            and any(k.arg == "scope" and ast.literal_eval(k.value) == "module" for k in decorator.keywords)
            for decorator in function.decorator_list
        )

    fixtures = {function.name for function in functions if module_scoped(function)}
    return {
        function.name: tuple(sorted(arg.arg for arg in function.args.args if arg.arg in fixtures))
        for function in functions
        if function.name.startswith("test_")
    }


def group_of(nodeid: str) -> str:
    """The work unit of a test id: its file, or in SPREAD_BY_FIXTURE's files the module
    fixtures it takes (or the test itself when it takes none)."""
    path, _, test = nodeid.partition("::")
    filename = Path(path).name
    if filename not in SPREAD_BY_FIXTURE:
        return filename
    shared = module_fixtures_taken(filename).get(test.split("[")[0], ())
    return f"{filename}::{'+'.join(shared) if shared else test}"


def rank(nodeid: str) -> int:
    group = group_of(nodeid)
    return FIRST.index(group) if group in FIRST else len(FIRST)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """On the xdist controller, for --dist loadfile: the work units of group_of."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: the longest groups first (every worker sorts alike, and the
    controller hands the groups out in this order: make passes --no-loadscope-reorder)."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: rank(item.nodeid))  # stable: each group keeps its order


def pytest_terminal_summary(terminalreporter):
    """Say which base image the container tests built on, and how big the image is."""
    for key, value in REPORT.items():
        terminalreporter.write_line(f"container: {key}: {value}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the container report to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["container_report"] = dict(REPORT)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """On the xdist controller: take a worker's container report."""
    REPORT.update(getattr(node, "workeroutput", {}).get("container_report", {}))
