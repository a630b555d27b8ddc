"""Every command the documentation tells an operator to run exists.

In the code of README.md and docs/ (fenced blocks and `inline` spans):
- `make TARGET`: TARGET is a target of the Makefile (from make's own database, `make -pRrq`);
- `flask [--app app] COMMAND [SUBCOMMAND] [--option]`: asked of the real app in this
  virtualenv (`flask --app app --help`, then the command's or group's own `--help`);
- `scripts/PATH`: the file exists (a glob matches at least one).
A made-up command of each kind is shown to be reported.

The runbook of every alert in the chart's PrometheusRule says what the alert means and how
to confirm, mitigate and escalate it; docs/runbooks/README.md indexes every page.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLASK = ROOT / ".venv" / "bin" / "flask"
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
RUNBOOKS = ROOT / "docs" / "runbooks"
# The app as the CLI builds it, without writing instance/ (testing settings, a key given here).
FLASK_ENV = {"APP_ENV": "testing", "SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite://", "MAIL_SENDER": "off"}

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
# A command ends at a shell separator or a comment.
END = re.compile(r"\s(?:#|\|\|?|&&|;)|[;)|`]|$")
MAKE = re.compile(r"(?<![\w-])make\s+([^\s#;|&)`]+(?:\s+[^\s#;|&)`]+)*)")
FLASK_CALL = re.compile(r"(?<![\w/.-])flask\s+(?:--app\s+app\s+)?([a-z][a-z0-9-]*)((?:\s+[^\s#;|&)`]+)*)")
SCRIPT = re.compile(r"(?<![\w/.-])(scripts/[A-Za-z0-9_.*/-]*[A-Za-z0-9_*])")


def code_of(text: str) -> list[str]:
    """The lines of code in a Markdown text: fenced blocks' lines and inline spans."""
    code = []
    for block in FENCE.findall(text):
        code += block.splitlines()
    prose = FENCE.sub("", text)
    code += INLINE.findall(prose)
    return code


def command_words(line: str, start: int) -> list[str]:
    """The words of the command that starts at `start`, up to a separator or comment."""
    rest = line[start:]
    return rest[: END.search(rest).start()].split()


@functools.cache
def make_targets() -> frozenset[str]:
    database = subprocess.run(
        ["make", "-pRrq", "-f", "Makefile", ":"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    targets, not_a_target = set(), False
    for line in database.splitlines():
        if line.startswith("# Not a target:"):
            not_a_target = True
            continue
        match = re.match(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*):(?!=)", line)
        if match and not not_a_target:
            targets.add(match.group(1))
        not_a_target = False
    assert {"test", "lint", "deploy", "faults"} <= targets, "make's database did not parse"
    return frozenset(targets)


@functools.cache
def flask_help(*words: str) -> tuple[int, str]:
    result = subprocess.run(
        [str(FLASK), "--app", "app", *words, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **FLASK_ENV},
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def subcommands(help_text: str) -> set[str]:
    """The command names a click group's help lists."""
    listed = help_text.split("Commands:", 1)
    return set(re.findall(r"^  ([a-z][a-z0-9-]*)", listed[1], re.M)) if len(listed) == 2 else set()


def flask_problems(name: str, words: list[str]) -> list[str]:
    top = subcommands(flask_help()[1])
    assert "db" in top, "flask --app app --help did not list the app's commands: " + flask_help()[1]
    if name not in top:
        return [f"flask command '{name}' does not exist (flask --app app --help)"]
    path = [name]
    group = subcommands(flask_help(name)[1])
    if group:  # a group: the next word is its subcommand
        sub = next((w for w in words if not w.startswith("-")), None)
        if sub is None or sub not in group:
            return [f"flask {name} has no subcommand '{sub}' (flask --app app {name} --help)"]
        path.append(sub)
    code, text = flask_help(*path)
    if code != 0:
        return [f"flask --app app {' '.join(path)} --help failed: {text[-300:]}"]
    problems = []
    for word in words:
        option = re.match(r"^(--[a-z][a-z0-9-]*)", word)
        if option and not re.search(rf"(?<![\w-]){re.escape(option.group(1))}(?![\w-])", text):
            problems.append(f"flask {' '.join(path)} has no option {option.group(1)}")
    return problems


def problems_in(text: str, where: str) -> list[str]:
    """Every command in the code of `text` that does not exist, as 'where: what'."""
    problems = []
    for line in code_of(text):
        for match in MAKE.finditer(line):
            words = command_words(line, match.start(1))
            target = next((w for w in words if "=" not in w and not w.startswith("-")), None)
            if target and target not in make_targets():
                problems.append(f"{where}: make target '{target}' does not exist (in: {line.strip()})")
        for match in FLASK_CALL.finditer(line):
            words = command_words(line, match.start(2))
            problems += [f"{where}: {p} (in: {line.strip()})" for p in flask_problems(match.group(1), words)]
        for match in SCRIPT.finditer(line):
            path = match.group(1)
            if not list(ROOT.glob(path)):
                problems.append(f"{where}: {path} does not exist")
    for match in SCRIPT.finditer(FENCE.sub("", text)):  # paths named in the prose too
        path = match.group(1).rstrip(".")
        if not list(ROOT.glob(path)):
            problems.append(f"{where}: {path} does not exist")
    return sorted(set(problems))


def test_the_docs_name_commands_of_every_kind():
    # The checks below would pass vacuously if the extraction found nothing.
    found = {"make": set(), "flask": set(), "scripts": set()}
    for doc in DOCS:
        for line in code_of(doc.read_text()):
            found["make"] |= {m.group(1).split()[0] for m in MAKE.finditer(line)}
            found["flask"] |= {m.group(1) for m in FLASK_CALL.finditer(line)}
            found["scripts"] |= {m.group(1) for m in SCRIPT.finditer(line)}
    assert {"test", "test-infra", "faults", "deploy-local"} <= found["make"], found["make"]
    assert {"db", "unlock-user", "end-sessions", "purge", "mail-outbox", "reset-mfa"} <= found["flask"]
    assert {"scripts/deploy.sh", "scripts/db-restore-drill.sh", "scripts/smoke-test.sh"} <= found["scripts"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_named_in_the_docs_exists(doc):
    assert problems_in(doc.read_text(), str(doc.relative_to(ROOT))) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Run `make deploy-everything ENV=prod`.", "make target 'deploy-everything' does not exist"),
        ("```sh\nENV=dev make  lint-al  # all of it\n```", "make target 'lint-al' does not exist"),
        ("`flask --app app unlock-everyone NAME`", "flask command 'unlock-everyone' does not exist"),
        (
            "```sh\nkubectl exec deploy/flask-app -- flask --app app db frobnicate\n```",
            "flask db has no subcommand 'frobnicate'",
        ),
        ("`flask db`", "flask db has no subcommand 'None'"),
        ("`flask --app app mail-outbox --resend-all`", "flask mail-outbox has no option --resend-all"),
        ("`flask --app app db upgrade --everywhere`", "flask db upgrade has no option --everywhere"),
        ("`scripts/restore-everything.sh prod`", "scripts/restore-everything.sh does not exist"),
        ("Run scripts/nope/*.sh by hand.", "scripts/nope/*.sh does not exist"),
    ],
)
def test_a_made_up_command_is_reported(text, problem):
    problems = problems_in(text, "made-up.md")
    assert len(problems) == 1 and problem in problems[0], problems


def test_real_commands_with_arguments_and_options_pass():
    text = (
        "```sh\nflask --app app db upgrade   # apply\n"
        "kubectl -n flask-auth exec deploy/flask-app -- flask --app app mail-outbox --retry-failed\n"
        'make faults ARGS="--only db-stopped" && scripts/deploy.sh staging --dry-run\n```\n'
        "`flask --app app reset-mfa NAME --yes`, `make lock LOCK_ARGS=--upgrade-package=NAME`, scripts/*.sh."
    )
    assert problems_in(text, "real.md") == []


# -- runbooks -----------------------------------------------------------------------------------

ALERT_SECTIONS = ("## What it means", "## Confirm", "## Mitigate", "## Escalate")


def alert_runbooks() -> dict[str, str]:
    """alert name -> its runbook page, from the chart's PrometheusRule template."""
    template = (ROOT / "helm" / "flask-app" / "templates" / "prometheusrule.yaml").read_text()
    pages = {}
    for block in re.split(r"\n\s*- alert: ", template)[1:]:
        name = block.split()[0]
        page = re.search(r"runbook_url: \{\{ \$runbooks \}\}/([a-z0-9-]+\.md)", block)
        assert page, f"{name} has no runbook_url"
        pages[name] = page.group(1)
    assert len(pages) >= 12, pages
    return pages


@pytest.mark.parametrize("alert", sorted(alert_runbooks()))
def test_every_alert_page_says_what_it_means_and_how_to_confirm_mitigate_and_escalate(alert):
    page = RUNBOOKS / alert_runbooks()[alert]
    text = page.read_text()
    assert alert in text.split("\n## ", 1)[0], f"{page.name} does not name {alert} before its sections"
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    for section in ALERT_SECTIONS:
        assert section in headings, f"{page.name} lacks '{section}'"
        body = text.split(section, 1)[1].split("\n## ", 1)[0]
        assert len(body.split()) >= 8, f"{page.name}: '{section}' is empty"


def test_the_runbook_index_links_every_page():
    index = (RUNBOOKS / "README.md").read_text()
    linked = set(re.findall(r"\]\(([a-z0-9-]+\.md)\)", index))
    pages = {page.name for page in RUNBOOKS.glob("*.md")} - {"README.md"}
    assert pages <= linked, f"not in docs/runbooks/README.md: {sorted(pages - linked)}"
    assert linked <= pages | {"../../README.md"}, f"linked but missing: {sorted(linked - pages)}"
