"""The Grafana dashboard (helm/flask-app/dashboards/flask-app.json): shipped by the chart as a
ConfigMap for the Grafana sidecar, and every panel's PromQL accepted by promtool (each query
becomes a recording rule of a generated rules file). tests/infra/test_alert_metrics.py checks
that the metrics and labels it reads exist.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.support.helm import VALUE_SETS, kinds, kubernetes_validate_problems, one, render
from tests.support.prometheus import dashboard, panel_expressions, promtool


def check_with_promtool(tmp_path: Path, expressions: dict[str, str]):
    rules = [{"record": f"dashboard:panel_{i}", "expr": expr} for i, expr in enumerate(expressions.values())]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return promtool("check", "rules", str(path))


def test_the_dashboard_is_off_by_default_and_shipped_for_the_sidecar_when_on():
    for value_set in VALUE_SETS:
        assert [
            m for m in kinds(render(value_set), "ConfigMap") if "dashboard" in m["metadata"]["name"]
        ] == []
    docs = render("prod", grafanaDashboard={"enabled": True, "folder": "Flask Auth"})
    config_map = one(
        [m for m in kinds(docs, "ConfigMap") if "dashboard" in m["metadata"]["name"]], "ConfigMap"
    )
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"]["grafana_folder"] == "Flask Auth"
    assert json.loads(config_map["data"]["flask-app.json"]) == dashboard()


def test_the_dashboard_config_map_validates_against_kubernetes_schemas(tmp_path):
    docs = render("prod", grafanaDashboard={"enabled": True})
    manifest = tmp_path / "dashboard.yaml"
    manifest.write_text(
        yaml.safe_dump_all([m for m in kinds(docs, "ConfigMap") if "dashboard" in m["metadata"]["name"]])
    )
    assert kubernetes_validate_problems(manifest) == []


def test_the_panels_cover_what_an_operator_looks_at():
    board = dashboard()
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])
    text = json.dumps(panel_expressions(board))
    for metric in (
        "flask_http_request_duration_seconds_count",
        "flask_http_request_duration_seconds_bucket",
        "flask_app:slo_availability:objective",
        "auth_logins_total",
        "auth_lockouts_total",
        "auth_registrations_total",
        "mail_messages_total",
        "db_pool_connections_in_use",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    ):
        assert metric in text, metric
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_promtool_accepts_every_panel_query(tmp_path):
    expressions = panel_expressions()
    assert len(expressions) >= 16
    result = check_with_promtool(tmp_path, expressions)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


def test_promtool_rejects_a_broken_panel_query(tmp_path):
    expressions = panel_expressions()
    first = next(iter(expressions))
    expressions[first] = expressions[first].replace("[", "[[", 1)
    assert check_with_promtool(tmp_path, expressions).returncode != 0
