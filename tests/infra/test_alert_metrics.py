"""Every metric the alert rules (and the Grafana dashboard) read exists, with the labels they
select on: a real gunicorn server (tests/support/server.py, multiprocess metrics as in
production) serves real traffic, its /metrics is scraped, and each selector of each PromQL
expression is checked against what came back.

The PromQL is read with a strict regex: every `name{matchers}` selector and every bare
identifier that is neither a function, a keyword, a grouping label nor a recorded series
must be a scraped metric, or one of the kube-state-metrics and cAdvisor series listed below.
"""

from __future__ import annotations

import os
import re
import secrets
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.passwords import PASSWORD
from tests.support.ports import free_port
from tests.support.prometheus import panel_expressions, rule_groups
from tests.support.server import Browser, get, gunicorn, register

# Labels Prometheus adds to every scraped series (target and ServiceMonitor labels).
TARGET_LABELS = {"namespace", "pod", "job", "instance", "service", "endpoint", "container"}
# Series read from kube-state-metrics and cAdvisor (their documented names and labels), not the app.
EXTERNAL = {
    "kube_pod_container_status_ready": {"namespace", "pod", "container", "uid"},
    "kube_pod_container_status_restarts_total": {"namespace", "pod", "container", "uid"},
    "kube_pod_container_status_waiting_reason": {"namespace", "pod", "container", "reason", "uid"},
    # cAdvisor's, scraped from the kubelet (the dashboard's CPU and memory panels).
    "container_cpu_usage_seconds_total": {"namespace", "pod", "container", "cpu", "id", "image", "name"},
    "container_memory_working_set_bytes": {"namespace", "pod", "container", "id", "image", "name"},
}
FUNCTIONS = {
    "sum", "min", "max", "avg", "count", "rate", "increase", "irate", "vector", "scalar", "abs",
    "max_over_time", "min_over_time", "avg_over_time", "histogram_quantile", "clamp_min", "clamp_max",
    "topk", "bottomk", "time", "absent",
}  # fmt: skip
KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right"}
IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SELECTOR = re.compile(rf"({IDENT})?\{{([^{{}}]*)\}}")
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")


def parse(expr: str) -> tuple[list[tuple[str, list[tuple[str, str, str]]]], set[str]]:
    """(selectors as (metric, [(label, op, value)]), grouping labels) of one PromQL expression."""
    selectors = []

    def take(match: re.Match) -> str:
        name, body = match.group(1), match.group(2)
        assert name, f"a selector without a metric name in {expr!r}"
        matchers, pos = [], 0
        while pos < len(body):
            found = MATCHER.match(body, pos)
            assert found, f"cannot read the matchers {body!r} in {expr!r}"
            matchers.append(found.groups())
            pos = found.end()
        selectors.append((name, matchers))
        return " "

    rest = SELECTOR.sub(take, expr)
    grouping = {
        label.strip() for _, labels in GROUPING.findall(rest) for label in labels.split(",") if label.strip()
    }
    rest = GROUPING.sub(" ", rest)
    rest = re.sub(r"\[\d+[smhdw]\]", " ", rest)
    for found in re.finditer(IDENT, rest):
        word = found.group(0)
        after = rest[found.end() :].lstrip()
        if word in KEYWORDS or (word in FUNCTIONS and after.startswith("(")):
            continue
        if re.fullmatch(r"\d+(\.\d+)?(e\d+)?", word) or word in {"e"}:
            continue
        selectors.append((word, []))
    return selectors, grouping


def test_the_parser_reads_selectors_and_grouping_labels():
    selectors, grouping = parse(
        'sum by (kind) (rate(mail_messages_total{namespace="x", result=~"a|b"}[5m])) > 1'
    )
    assert selectors == [("mail_messages_total", [("namespace", "=", "x"), ("result", "=~", "a|b")])]
    assert grouping == {"kind"}
    assert parse("flask_app:request_errors:ratio_rate1h > (14.4 * (1 - 99.9 / 100))")[0] == [
        ("flask_app:request_errors:ratio_rate1h", [])
    ]
    with pytest.raises(AssertionError):
        parse("sum(rate(auth_logins_total{result=bad}[5m]))")  # an unquoted value is not read past


def scraped(body: str) -> dict[str, dict[str, set[str]]]:
    """sample name -> label -> values seen."""
    found: dict[str, dict[str, set[str]]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            labels = found.setdefault(sample.name, {})
            for label, value in sample.labels.items():
                labels.setdefault(label, set()).add(value)
    return found


def problems(
    expressions: dict[str, str], metrics: dict[str, dict[str, set[str]]], recorded: set[str]
) -> list[str]:
    out = []
    for where, expr in expressions.items():
        selectors, grouping = parse(expr)
        available: set[str] = set(TARGET_LABELS)
        for name, matchers in selectors:
            if name in recorded:
                continue
            if name in EXTERNAL:
                labels = {label: None for label in EXTERNAL[name] | TARGET_LABELS}
            elif name in metrics:
                labels = {**{label: None for label in TARGET_LABELS}, **metrics[name]}
            else:
                out.append(f"{where}: {name} is not exported")
                continue
            available |= set(labels)
            for label, op, value in matchers:
                if label not in labels:
                    out.append(f"{where}: {name} has no label {label}")
                elif op == "=" and labels[label] is not None and value not in labels[label]:
                    out.append(
                        f"{where}: {name}{{{label}={value!r}}} never seen (seen {sorted(labels[label])})"
                    )
        out += [
            f"{where}: grouping label {label} is on none of its metrics" for label in grouping - available
        ]
    return out


def rule_expressions() -> tuple[dict[str, str], set[str]]:
    rules = [rule for group in rule_groups() for rule in group["rules"]]
    expressions = {f"{rule.get('alert') or rule['record']}#{i}": rule["expr"] for i, rule in enumerate(rules)}
    return expressions, {rule["record"] for rule in rules if "record" in rule}


@pytest.fixture(scope="module")
def metrics(tmp_path_factory, database_url) -> dict[str, dict[str, set[str]]]:
    """/metrics of a gunicorn server after sign-ups, sign-ins (good, bad, unknown), a lockout,
    a 404, health probes and e-mails to a refusing relay, with Redis as the rate-limit store."""
    redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    mail = {  # nothing listens on the port: every send is refused, retried once, then failed
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(free_port()),
        "MAIL_USE_TLS": "false",
        "MAIL_TIMEOUT_SECONDS": "1",
        "MAIL_MAX_ATTEMPTS": "2",
        "MAIL_RETRY_BASE_SECONDS": "1",
        "APP_BASE_URL": "http://127.0.0.1",
        "MAIL_SENDER": "thread",
        # Redis keeps the per-account quota between runs: a new account each run, and room.
        "MAIL_PER_ACCOUNT_LIMIT": "100 per hour",
        "MAIL_PER_ACCOUNT_CLIENT_LIMIT": "100 per hour",
    }
    username = f"metrics{secrets.token_hex(4)}"
    run_dir = tmp_path_factory.mktemp("server")
    with gunicorn(run_dir, database_url, workers=2, RATELIMIT_STORAGE_URI=redis, **mail) as server:
        browser = register(server, username)
        browser.get("/dashboard")
        other = Browser(server)
        for _ in range(6):
            other.submit("/auth/login", {"login": username, "password": "wrong-" + PASSWORD})
        other.submit("/auth/login", {"login": "nobody-here", "password": PASSWORD})
        assert get(server, "/nope").status == 404
        assert get(server, "/health/ready").status == 200
        deadline = time.monotonic() + 30
        while True:  # the sender thread retries after MAIL_RETRY_BASE_SECONDS, then gives up
            reply = get(server, "/metrics")
            assert reply.status == 200
            results = scraped(reply.body).get("mail_messages_total", {}).get("result", set())
            if {"retried", "failed"} <= results or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    return scraped(reply.body)


def test_the_traffic_produced_what_the_rules_read(metrics):
    assert "0.5" in metrics["flask_http_request_duration_seconds_bucket"]["le"]
    assert metrics["auth_lockouts_total"] is not None
    assert "redis" in metrics["app_dependency_up"]["dependency"]
    assert {"queued", "retried", "failed"} <= metrics["mail_messages_total"]["result"]


def test_every_metric_and_label_the_alert_rules_read_is_exported(metrics):
    expressions, recorded = rule_expressions()
    assert len(expressions) > 20
    assert problems(expressions, metrics, recorded) == []


def test_every_metric_and_label_the_dashboard_reads_is_exported(metrics):
    expressions = panel_expressions()
    _, recorded = rule_expressions()
    assert problems(expressions, metrics, recorded) == []


def test_a_misspelled_metric_or_label_is_caught(metrics):
    _, recorded = rule_expressions()
    wrong = {
        "name": "sum(rate(auth_login_total[5m]))",
        "label": 'sum(rate(auth_logins_total{outcome="bad_password"}[5m]))',
        "value": 'sum(rate(auth_logins_total{result="bad_pasword"}[5m]))',
        "bucket": 'sum(rate(flask_http_request_duration_seconds_bucket{le="0.3"}[5m]))',
        "grouping": "sum by (path) (rate(flask_http_request_duration_seconds_count[5m]))",
    }
    found = problems(wrong, metrics, recorded)
    assert [line.split(":")[0] for line in found] == list(wrong)
