"""helm/flask-app rendered as the infrastructure tests read it: Helm's Go SDK (pip
helm-python-sdk) renders the chart for the default values or one values-<set>.yaml with
overrides, and kubernetes-validate checks manifests against the Kubernetes schemas.
Shared by tests/infra/test_helm_chart.py, test_alerts.py and test_dashboard.py.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "flask-app"
BIN = ROOT / ".venv" / "bin"
KUBE_VERSION = "1.30"
NAMESPACE = "flask-auth"
RELEASE = "flask-app"

VALUE_SETS = ["default", "dev", "staging", "prod"]


def file_values(value_set: str) -> dict:
    if value_set == "default":
        return {}
    return yaml.safe_load((CHART / f"values-{value_set}.yaml").read_text()) or {}


def merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def render_templates(value_set: str = "default", **overrides) -> dict[str, str]:
    values = merge(file_values(value_set), overrides)
    with helm_python.Chart.load(CHART) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(value_set: str = "default", **overrides) -> list[dict]:
    docs = []
    for path, text in sorted(render_templates(value_set, **overrides).items()):
        if path.endswith(".yaml"):
            docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def kinds(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict], kind: str) -> dict:
    found = kinds(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def kubernetes_validate(path: Path) -> tuple[int, str]:
    result = subprocess.run(
        [str(BIN / "kubernetes-validate"), "-k", KUBE_VERSION, "--strict", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def kubernetes_validate_problems(path: Path) -> list[str]:
    """Anything but a pass. kubernetes-validate exits 0 on a WARN (an unknown kind,
    a removed apiVersion): that counts as a failure here."""
    code, output = kubernetes_validate(path)
    problems = [line for line in output.splitlines() if line.strip() and not line.startswith("INFO ")]
    if code != 0 and not problems:
        problems.append(f"exit code {code}")
    return problems
