"""The Makefile is the front door: `make` lists every target, each with one line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def phony_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    (line,) = re.findall(r"(?m)^\.PHONY:(.*)$", text)
    return set(line.split())


def test_make_with_no_target_lists_every_target_with_its_help():
    result = subprocess.run(
        ["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    listed = {}
    for line in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).splitlines():
        name, _, help_text = line.strip().partition(" ")
        listed[name] = help_text.strip()
    assert set(listed) == phony_targets()
    for name, help_text in listed.items():
        assert len(help_text) > 10, f"{name} has no help line"


def test_the_targets_the_readme_and_ci_name_exist():
    targets = phony_targets()
    for name in ("help", "install", "run", "test", "lint", "lint-infra", "deploy-local", "bench", "clean"):
        assert name in targets
    ci = (ROOT / ".ci" / "run").read_text()
    for name in re.findall(r"(?m)^make ([a-z0-9-]+)", ci):
        assert name in targets, name
    readme = (ROOT / "README.md").read_text()
    for name in re.findall(r"(?m)^make ([a-z0-9-]+)", readme):
        assert name in targets, name


def test_deploy_without_an_environment_is_a_usage_error():
    result = subprocess.run(
        ["make", "--no-print-directory", "deploy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "usage: make deploy ENV=dev|staging|prod" in result.stdout


def test_lint_infra_shellchecks_every_shell_script():
    text = (ROOT / "Makefile").read_text()
    (patterns,) = re.findall(r"(?m)^SHELL_SCRIPTS\s*:=\s*(.*)$", text)
    covered = {p.relative_to(ROOT) for pattern in patterns.split() for p in ROOT.glob(pattern)}
    scripts = set()
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if not path.is_file() or rel.parts[0].startswith((".venv", ".git")) or "tests" in rel.parts:
            continue
        with path.open("rb") as handle:
            first = handle.readline()
        if path.suffix == ".sh" or re.match(rb"#!.*\b(ba)?sh\b", first):
            scripts.add(rel)
    assert scripts, "no shell scripts found"
    assert scripts <= covered, sorted(str(s) for s in scripts - covered)
