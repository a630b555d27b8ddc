"""The chart's Prometheus pieces as the infrastructure tests read them: promtool (the real
tool), the rendered PrometheusRule's groups and alerts, and the Grafana dashboard's panel
queries with Grafana's variables filled in. Shared by tests/infra/test_alerts.py,
test_dashboard.py and test_alert_metrics.py.

promtool comes from Debian's `prometheus` package (`.ci/run` installs it); a missing promtool
is a failure, never a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.helm import CHART, NAMESPACE, one, render

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str) -> subprocess.CompletedProcess:
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is missing: apt-get install -y --no-install-recommends prometheus")
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False)


def rule_groups(value_set: str = "prod", **rule_values) -> list[dict]:
    docs = render(value_set, prometheusRule={"enabled": True, **rule_values})
    return one(docs, "PrometheusRule")["spec"]["groups"]


def alerts(groups: list[dict]) -> list[dict]:
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


DASHBOARD = CHART / "dashboards" / "flask-app.json"
# Grafana's variables, as they would be on a 1-minute scrape in the release's namespace.
VARIABLES = {"$__rate_interval": "5m", "$namespace": NAMESPACE}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panel_expressions(board: dict | None = None) -> dict[str, str]:
    """'panel title / refId' -> the query with Grafana's variables filled in."""
    found = {}
    for panel in (board or dashboard())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"an unknown variable in {panel['title']}: {expr}"
            found[f"{panel['title']} / {target['refId']}"] = expr
    return found
