"""helm/flask-app/README.md: its Parameters tables are generated from the
`## @param` comments in values.yaml by readme-generator-for-helm (npm, pinned
by package-lock.json), and `make chart-readme-check` keeps them true.

The check runs here as `make lint-infra` runs it, on the real chart and on a
copy of it (CHART_DIR) with a value added without docs, or a comment or a
default changed without regenerating the README.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "flask-app"
README = CHART / "README.md"
PORT_PARAM = "## @param service.port Service port."
PORT_PARAM_CHANGED = "## @param service.port The port."


def chart_readme_check(chart_dir: Path = CHART) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "chart-readme-check", f"CHART_DIR={chart_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def chart_copy(tmp_path) -> Path:
    for name in ("values.yaml", "README.md"):
        shutil.copy(CHART / name, tmp_path / name)
    return tmp_path


def leaf_paths(node, prefix: str = "") -> list[str]:
    """Dotted paths of every value a user can set: maps are walked, while lists,
    empty maps and scalars are values of their own."""
    if isinstance(node, dict) and node:
        return [path for key, value in node.items() for path in leaf_paths(value, f"{prefix}{key}.")]
    return [prefix.rstrip(".")]


def documented_rows(text: str) -> dict[str, str]:
    """The Parameters tables: name -> description."""
    _, _, tables = text.partition("\n## Parameters\n")
    return dict(re.findall(r"(?m)^\| `([^`]+)` +\| (.*?) +\| `.*` +\|$", tables))


def test_the_committed_readme_is_what_the_generator_writes():
    result = chart_readme_check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_value_has_a_row_with_a_description():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    rows = documented_rows(README.read_text())
    paths = leaf_paths(values)
    assert len(paths) > 100
    assert sorted(set(paths) - set(rows)) == []
    assert sorted(set(rows) - set(paths)) == []
    assert [name for name, description in rows.items() if len(description) < 10] == []


def test_a_value_added_without_its_param_fails_the_check(chart_copy):
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\nsidecar:\n  image: busybox\n")
    result = chart_readme_check(chart_copy)
    assert result.returncode != 0
    assert "ERROR: Missing metadata for key: sidecar.image" in result.stdout
    assert "every value needs a '## @param' comment" in result.stdout


def test_a_param_for_a_value_that_is_gone_fails_the_check(chart_copy):
    values = chart_copy / "values.yaml"
    text = values.read_text()
    values.write_text(re.sub(r"(?m)^containerPort: 8000\n", "", text, count=1))
    result = chart_readme_check(chart_copy)
    assert result.returncode != 0
    assert "ERROR: Metadata provided for non existing key: containerPort" in result.stdout


def test_a_changed_comment_or_default_without_regenerating_makes_the_readme_stale(chart_copy):
    values = chart_copy / "values.yaml"
    original = values.read_text()

    values.write_text(original.replace(PORT_PARAM, PORT_PARAM_CHANGED, 1))
    result = chart_readme_check(chart_copy)
    assert result.returncode != 0
    assert "README.md is stale: run make chart-readme" in result.stdout
    assert re.search(r"(?m)^\+\| `service.port` +\| The port\.", result.stdout)

    values.write_text(original.replace("\n  port: 80\n", "\n  port: 8080\n", 1))
    result = chart_readme_check(chart_copy)
    assert result.returncode != 0
    assert re.search(r"(?m)^\+\| `service.port` .*\| `8080` +\|$", result.stdout)


def test_make_chart_readme_regenerates_a_stale_readme(chart_copy):
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text().replace(PORT_PARAM, PORT_PARAM_CHANGED, 1))
    subprocess.run(
        ["make", "--no-print-directory", "chart-readme", f"CHART_DIR={chart_copy}"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    assert documented_rows((chart_copy / "README.md").read_text())["service.port"] == "The port."
    assert chart_readme_check(chart_copy).returncode == 0


def test_the_readmes_link_each_other_and_their_relative_links_resolve():
    link = re.compile(r"\[[^\]]*\]\(([^)\s#]+)[^)]*\)")
    for page in (README, ROOT / "README.md"):
        targets = [t for t in link.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]
        assert [t for t in targets if not (page.parent / t).exists()] == [], page
    assert "helm/flask-app/README.md" in link.findall((ROOT / "README.md").read_text())
