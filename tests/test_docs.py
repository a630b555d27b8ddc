"""The operator docs stay true: every `flask --app app COMMAND` a runbook tells
an operator to run exists in the app's CLI (with the options it names), and every
relative link under docs/ (and from README.md into docs/) resolves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from flask.cli import FlaskGroup, ScriptInfo

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "docs" / "runbooks"
COMMAND = re.compile(r"flask --app app ([a-z][a-z0-9-]*)((?: +--?[a-z][a-z0-9-]*)*)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def runbook_commands() -> set[tuple[str, tuple[str, ...]]]:
    found = set()
    for page in sorted(RUNBOOKS.glob("*.md")):
        for name, options in COMMAND.findall(page.read_text()):
            found.add((name, tuple(options.split())))
    return found


@pytest.fixture
def cli(app) -> Iterator[tuple[FlaskGroup, click.Context]]:
    """The `flask --app app` group as operators get it: the app's commands and the
    extensions' (Flask-Migrate's `db`), resolved the way the flask command does."""
    group = FlaskGroup(create_app=lambda: app)
    # get_command pushes an app context onto the click context: closing it pops that
    # context again, or it would outlive this test and confuse the ones after it.
    with click.Context(group, obj=ScriptInfo(create_app=lambda: app)) as ctx:
        yield group, ctx


def test_the_runbooks_name_commands_at_all():
    names = {name for name, _ in runbook_commands()}
    assert {"purge", "end-sessions", "mail-outbox"} <= names


def test_every_command_in_the_runbooks_exists_with_its_options(cli):
    group, ctx = cli
    known = set(group.list_commands(ctx))
    for name, options in sorted(runbook_commands()):
        assert name in known, f"docs/runbooks names `flask --app app {name}`, which the app does not have"
        command = group.get_command(ctx, name)
        accepted = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        for option in options:
            assert option in accepted, f"`flask --app app {name}` has no option {option}"


def relative_links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(path.read_text())
        if not re.match(r"[a-z]+:", target) and not target.startswith("#")
    ]


def test_every_relative_link_in_docs_resolves():
    pages = sorted((ROOT / "docs").rglob("*.md"))
    assert pages
    broken = [
        f"{page.relative_to(ROOT)} -> {target}"
        for page in pages
        for target in relative_links(page)
        if not (page.parent / target.split("#", 1)[0]).exists()
    ]
    assert broken == []


def test_the_readme_links_the_runbooks_and_its_links_into_docs_resolve():
    readme = ROOT / "README.md"
    targets = [t for t in relative_links(readme) if t.startswith("docs/")]
    assert "docs/runbooks/README.md" in targets
    assert all((ROOT / t.split("#", 1)[0]).exists() for t in targets)


EVENT = re.compile(r"`((?:auth|mail|session|security|maintenance|user|account|dependency|db)\.[a-z_]+)`")
METRIC = re.compile(r"`([a-z_]+_(?:total|seconds|in_use|up))[`{]")


def runbook_text() -> str:
    return "\n".join(page.read_text() for page in sorted(RUNBOOKS.glob("*.md")))


def test_every_log_event_the_runbooks_name_is_logged_by_the_app():
    source = "\n".join(path.read_text() for path in (ROOT / "app").rglob("*.py"))
    named = set(EVENT.findall(runbook_text()))
    assert {"mail.send_failed", "maintenance.purged", "session.ended"} <= named
    missing = sorted(name for name in named if f'"{name}"' not in source)
    assert missing == []


def test_every_metric_the_runbooks_name_exists():
    metrics = (ROOT / "app" / "metrics.py").read_text()
    named = set(METRIC.findall(runbook_text()))
    assert {"flask_http_request_total", "mail_messages_total", "db_pool_connections_in_use"} <= named
    assert {"app_dependency_errors_total", "app_dependency_up"} <= named
    # kube-state-metrics and cAdvisor series are not the app's: the chart's alert rules read them.
    external = {name for name in named if name.startswith(("kube_", "container_"))}
    rules = (ROOT / "helm" / "flask-app" / "templates" / "prometheusrule.yaml").read_text()
    assert sorted(name for name in external if name not in rules) == []
    assert sorted(name for name in named - external if name not in metrics) == []
