"""The PrometheusRule (helm/flask-app/templates/prometheusrule.yaml), checked by the real
tool: the chart is rendered with Helm, its rule groups go through `promtool check rules`,
and `promtool test rules` plays synthetic series against every alert: it fires when it
should, and stays silent when it should (for each window of the burn-rate alerts).

promtool comes from Debian's `prometheus` package (`.ci/run` installs it; `make test-infra`
refuses to run without it). A missing promtool is a failure, never a skip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.helm import NAMESPACE, VALUE_SETS, kinds, render
from tests.support.prometheus import alerts, promtool, rule_groups

POD = "flask-app-7c9d8b6f5-x2k4q"
APP = {"namespace": NAMESPACE, "method": "POST", "route": "/login"}


def write_rules(path: Path, groups: list[dict], annotations: bool = True) -> Path:
    if not annotations:  # promtool's unit tests compare annotations too; those are checked apart
        groups = [
            {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
            for g in groups
        ]
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


# -- series in promtool's expanding notation ----------------------------------------------------


def counter(*phases: tuple[float, int]) -> str:
    """A counter that grows by `per_minute` for `minutes`, phase after phase (1m samples)."""
    parts, value, first = [], 0.0, True
    for per_minute, minutes in phases:
        if first:
            parts.append(f"{value:g}+{per_minute:g}x{minutes}")
            value += per_minute * minutes
            first = False
        else:
            parts.append(f"{value + per_minute:g}+{per_minute:g}x{minutes - 1}")
            value += per_minute * minutes
    return " ".join(parts)


def series(name: str, values: str, **labels_: str) -> dict:
    return {"series": labels(name, **labels_), "values": values}


def labels(name: str, **extra: str) -> str:
    pairs = ", ".join(f'{k}="{v}"' for k, v in extra.items())
    return f"{name}{{{pairs}}}"


def requests(ok: list[tuple[float, int]], bad: list[tuple[float, int]], route: str = "/login") -> list[dict]:
    """Availability series: answers 200 at `ok` and 500 at `bad` per minute."""
    base = {**APP, "route": route}
    count = "flask_http_request_duration_seconds_count"
    return [
        series(count, counter(*ok), **base, status="200"),
        series(count, counter(*bad), **base, status="500"),
    ]


def latencies(total: list[tuple[float, int]], fast: list[tuple[float, int]]) -> list[dict]:
    """Latency series: `total` requests per minute, of which `fast` under 0.5 s."""
    base = {**APP, "status": "200"}
    return [
        series("flask_http_request_duration_seconds_count", counter(*total), **base),
        series("flask_http_request_duration_seconds_bucket", counter(*fast), **base, le="0.5"),
    ]


def burn(slo: str, severity: str, long: str, short: str) -> dict:
    return {
        "exp_labels": {
            "severity": severity,
            "slo": slo,
            "long_window": long,
            "short_window": short,
            "namespace": NAMESPACE,
        }
    }


PAGE_1H = ("critical", "1h", "5m")
PAGE_6H = ("critical", "6h", "30m")
TICKET_3D = ("warning", "3d", "6h")


def case(name: str, series: list[dict], at: str, alertname: str, expected: list[dict]) -> dict:
    return {
        "name": name,
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [{"eval_time": at, "alertname": alertname, "exp_alerts": expected}],
    }


def availability(name, series, at, *windows):
    return case(name, series, at, "FlaskAppErrorBudgetBurn", [burn("availability", *w) for w in windows])


def latency(name, series, at, *windows):
    return case(name, series, at, "FlaskAppLatencyBudgetBurn", [burn("latency", *w) for w in windows])


KUBE = {"namespace": NAMESPACE, "pod": POD, "container": "app"}
OTHER_POD = {"namespace": "other", "pod": "flask-app-55f-abcde", "container": "app"}
MIGRATE = {"namespace": NAMESPACE, "pod": "flask-app-migrate-abcde", "container": "migrate"}
NS = {"namespace": NAMESPACE}
WAITING = "kube_pod_container_status_waiting_reason"


def pod_alert(labels_: dict, **extra) -> dict:
    return {"exp_labels": {"severity": extra.pop("severity", "warning"), **labels_, **extra}}


def unit_cases() -> list[dict]:
    hour = 60
    return [
        # -- availability: 1h/5m at 14.4x (1.44% of requests 5xx) -------------------------------
        availability(
            "9% 5xx for 70 minutes: every window burns",
            requests([(100, 70)], [(10, 70)]),
            "70m",
            PAGE_1H,
            PAGE_6H,
            TICKET_3D,
        ),
        availability(
            "9% 5xx for an hour, then none for 10 minutes: the 5m window has recovered, 1h/5m is silent",
            requests([(100, 70)], [(10, 60), (0, 10)]),
            "70m",
            PAGE_6H,
            TICKET_3D,
        ),
        availability(
            "a 5-minute burst after a clean hour: the 1h window stays under 14.4x, no 1h/5m page",
            requests([(100, 65)], [(0, 60), (4, 5)]),
            "65m",
            TICKET_3D,
        ),
        availability(
            "health probes and /metrics answering 503 are not app requests",
            requests([(100, 70)], [(0, 70)])
            + requests([(10, 70)], [(50, 70)], route="/health/ready")
            + requests([(10, 70)], [(50, 70)], route="/metrics"),
            "70m",
        ),
        availability("no traffic at all: nothing fires", requests([(0, 70)], [(0, 70)]), "70m"),
        # -- availability: 6h/30m at 6x (0.6%) ------------------------------------------------------
        availability(
            "1% 5xx for 6 hours: 6h/30m pages, 1h/5m (1.44%) does not",
            requests([(99, 6 * hour + 10)], [(1, 6 * hour + 10)]),
            "370m",
            PAGE_6H,
            TICKET_3D,
        ),
        availability(
            "1% 5xx for 6 hours, stopped 35 minutes ago: the 30m window has recovered",
            requests([(99, 6 * hour + 35)], [(1, 6 * hour), (0, 35)]),
            "395m",
            TICKET_3D,
        ),
        # -- availability: 3d/6h ticket at 1x (0.1%) ---------------------------------------------
        availability(
            "0.2% 5xx for 3 days: a ticket, no page",
            requests([(499, 3 * 24 * hour)], [(1, 3 * 24 * hour)]),
            "3d",
            TICKET_3D,
        ),
        availability(
            "0.2% 5xx for 3 days, stopped 7 hours ago: the 6h window has recovered",
            requests([(499, 3 * 24 * hour)], [(1, 3 * 24 * hour - 7 * hour), (0, 7 * hour)]),
            "3d",
        ),
        availability(
            "0.05% 5xx for 3 days: within the budget",
            requests([(1999, 3 * 24 * hour)], [(1, 3 * 24 * hour)]),
            "3d",
        ),
        # -- latency (99% under 0.5 s; 14.4x = 14.4% slow) ------------------------------------------
        latency(
            "20% slower than 0.5 s for 70 minutes: every window burns",
            latencies([(100, 70)], [(80, 70)]),
            "70m",
            PAGE_1H,
            PAGE_6H,
            TICKET_3D,
        ),
        latency(
            "20% slow for an hour, then fast for 10 minutes: 1h/5m is silent",
            latencies([(100, 70)], [(80, 60), (100, 10)]),
            "70m",
            PAGE_6H,
            TICKET_3D,
        ),
        latency(
            "8% slow for 6 hours: 6h/30m (6%) pages, 1h/5m (14.4%) does not",
            latencies([(100, 6 * hour + 10)], [(92, 6 * hour + 10)]),
            "370m",
            PAGE_6H,
            TICKET_3D,
        ),
        latency(
            "8% slow for 6 hours, fast for the last 35 minutes: 6h/30m is silent",
            latencies([(100, 6 * hour + 35)], [(92, 6 * hour), (100, 35)]),
            "395m",
            TICKET_3D,
        ),
        latency(
            "2% slow for 3 days: a ticket, no page",
            latencies([(100, 3 * 24 * hour)], [(98, 3 * 24 * hour)]),
            "3d",
            TICKET_3D,
        ),
        latency(
            "2% slow for 3 days, fast for the last 7 hours: the 6h window has recovered",
            latencies([(100, 3 * 24 * hour)], [(98, 3 * 24 * hour - 7 * hour), (100, 7 * hour)]),
            "3d",
        ),
        latency("0.5% slow: within the budget", latencies([(200, 70)], [(199, 70)]), "70m"),
        # -- pods (kube-state-metrics) ---------------------------------------------------------------
        case(
            "a pod not ready for 6 minutes",
            [series("kube_pod_container_status_ready", "1 1 0x6", **KUBE)],
            "8m",
            "FlaskAppPodNotReady",
            [pod_alert({"namespace": NAMESPACE, "pod": POD})],
        ),
        case(
            "a pod not ready for 3 minutes, and another release's pod not ready for long",
            [
                series("kube_pod_container_status_ready", "1x5 0x3", **KUBE),
                series("kube_pod_container_status_ready", "0x10", **OTHER_POD),
            ],
            "8m",
            "FlaskAppPodNotReady",
            [],
        ),
        case(
            "no pod ready for 3 minutes",
            [
                series("kube_pod_container_status_ready", "0x4", **KUBE),
                series("kube_pod_container_status_ready", "0x4", **{**KUBE, "pod": POD + "z"}),
            ],
            "3m",
            "FlaskAppNoPodReady",
            [pod_alert({}, severity="critical")],
        ),
        case(
            "one pod of two ready",
            [
                series("kube_pod_container_status_ready", "0x4", **KUBE),
                series("kube_pod_container_status_ready", "1x4", **{**KUBE, "pod": POD + "z"}),
            ],
            "3m",
            "FlaskAppNoPodReady",
            [],
        ),
        case(
            "4 restarts in an hour",
            [series("kube_pod_container_status_restarts_total", "0x30 4x30", **KUBE)],
            "60m",
            "FlaskAppPodRestarting",
            [pod_alert(KUBE)],
        ),
        case(
            "2 restarts in an hour, and the migration Job's container restarting",
            [
                series("kube_pod_container_status_restarts_total", "0x30 2x30", **KUBE),
                series("kube_pod_container_status_restarts_total", "0+1x60", **MIGRATE),
            ],
            "60m",
            "FlaskAppPodRestarting",
            [],
        ),
        case(
            "CrashLoopBackOff for 12 minutes",
            [series(WAITING, "1x15", **KUBE, reason="CrashLoopBackOff")],
            "12m",
            "FlaskAppPodCrashLooping",
            [pod_alert({**KUBE, "reason": "CrashLoopBackOff"}, severity="critical")],
        ),
        case(
            "CrashLoopBackOff for 5 minutes only, and ContainerCreating for long",
            [
                series(WAITING, "0x7 1x5", **KUBE, reason="CrashLoopBackOff"),
                series(WAITING, "1x12", **KUBE, reason="ContainerCreating"),
            ],
            "12m",
            "FlaskAppPodCrashLooping",
            [],
        ),
        # -- sign-ins ------------------------------------------------------------------------------
        case(
            "3 failed sign-ins a second across accounts for 12 minutes",
            [
                series("auth_logins_total", "0+120x20", **NS, result="unknown_account"),
                series("auth_logins_total", "0+60x20", **NS, result="bad_password"),
            ],
            "20m",
            "FlaskAppCredentialStuffing",
            [pod_alert({})],
        ),
        case(
            "many successful sign-ins, a few failures",
            [
                series("auth_logins_total", "0+600x20", **NS, result="success"),
                series("auth_logins_total", "0+30x20", **NS, result="bad_password"),
            ],
            "20m",
            "FlaskAppCredentialStuffing",
            [],
        ),
        case(
            "12 lockouts in 15 minutes",
            [series("auth_lockouts_total", "0x5 0+1x15", **NS)],
            "20m",
            "FlaskAppLockoutSpike",
            [pod_alert({})],
        ),
        case(
            "a lockout every 5 minutes",
            [series("auth_lockouts_total", "0+0.2x60", **NS)],
            "60m",
            "FlaskAppLockoutSpike",
            [],
        ),
        # -- mail, dependencies ------------------------------------------------------------------
        case(
            "a password-reset e-mail failed for good",
            [
                series("mail_messages_total", "0x10 1x10", **NS, kind="password_reset", result="failed"),
                series("mail_messages_total", "0+5x20", **NS, kind="password_reset", result="sent"),
            ],
            "20m",
            "FlaskAppMailFailed",
            [pod_alert({"kind": "password_reset"})],
        ),
        case(
            "e-mails sent, none failed",
            [
                series("mail_messages_total", "0x20", **NS, kind="password_reset", result="failed"),
                series("mail_messages_total", "0+5x20", **NS, kind="password_reset", result="sent"),
            ],
            "20m",
            "FlaskAppMailFailed",
            [],
        ),
        case(
            "half the sends retried for 25 minutes (the relay refuses)",
            [
                series("mail_messages_total", "0+5x40", **NS, kind="confirm", result="retried"),
                series("mail_messages_total", "0+5x40", **NS, kind="confirm", result="sent"),
            ],
            "40m",
            "FlaskAppMailSendRetrying",
            [pod_alert({})],
        ),
        case(
            "one send in twenty retried",
            [
                series("mail_messages_total", "0+1x40", **NS, kind="confirm", result="retried"),
                series("mail_messages_total", "0+19x40", **NS, kind="confirm", result="sent"),
            ],
            "40m",
            "FlaskAppMailSendRetrying",
            [],
        ),
        case(
            "the database away: 2 requests a second answered 503",
            [series("app_dependency_errors_total", "0+120x10", **NS, dependency="database")],
            "10m",
            "FlaskAppDependencyErrors",
            [pod_alert({"dependency": "database"}, severity="critical")],
        ),
        case(
            "one 503 during a failover",
            [series("app_dependency_errors_total", "0x5 1x5", **NS, dependency="database")],
            "10m",
            "FlaskAppDependencyErrors",
            [],
        ),
        case(
            "Redis away for 6 minutes",
            [series("app_dependency_up", "1 1 0x8", **NS, dependency="redis")],
            "9m",
            "FlaskAppRedisDown",
            [pod_alert({})],
        ),
        case(
            "Redis away for 2 minutes, then back",
            [series("app_dependency_up", "1x3 0x2 1x5", **NS, dependency="redis")],
            "9m",
            "FlaskAppRedisDown",
            [],
        ),
    ]


# -- the tests --------------------------------------------------------------------------------------


def test_the_rule_is_off_by_default_and_in_every_values_file():
    for value_set in VALUE_SETS:
        assert kinds(render(value_set), "PrometheusRule") == []


def test_promtool_accepts_the_rendered_rules(tmp_path):
    result = promtool("check", "rules", str(write_rules(tmp_path / "rules.yaml", rule_groups())))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rejects_a_broken_expression(tmp_path):
    """The check above can fail: one wrong parenthesis is found."""
    groups = rule_groups()
    alerts(groups)[0]["expr"] += ")"
    result = promtool("check", "rules", str(write_rules(tmp_path / "rules.yaml", groups)))
    assert result.returncode != 0


def test_every_alert_has_severity_summary_description_and_a_runbook_in_this_repository():
    root = Path(__file__).resolve().parents[2]
    base = "https://github.com/example/flask-auth/blob/main/"
    for rule in alerts(rule_groups()):
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), rule["alert"]
        url = annotations["runbook_url"]
        assert url.startswith(base), url
        assert (root / url.removeprefix(base)).is_file(), url


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    names = {rule["alert"] for rule in alerts(rule_groups())}
    fired, silent = set(), set()
    for unit in unit_cases():
        for check in unit["alert_rule_test"]:
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    assert fired == names
    assert silent == names


def run_unit_tests(tmp_path: Path, groups: list[dict], cases: list[dict]) -> subprocess.CompletedProcess:
    write_rules(tmp_path / "rules.yaml", groups, annotations=False)
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": cases}, sort_keys=False
        )
    )
    return promtool("test", "rules", str(tests))


def test_promtool_unit_tests_every_alert(tmp_path):
    result = run_unit_tests(tmp_path, rule_groups(), unit_cases())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_unit_tests_catch_a_wrong_threshold(tmp_path):
    """They can fail: with a stricter objective (99.99%) the 'within the budget' case fires."""
    groups = rule_groups(slo={"availability": {"objective": 99.99}})
    result = run_unit_tests(tmp_path, groups, unit_cases())
    assert result.returncode != 0
    assert "0.05% 5xx for 3 days: within the budget" in result.stdout + result.stderr


def test_the_summaries_name_the_configured_thresholds():
    summaries = {
        rule["alert"]: rule["annotations"]["summary"] for rule in alerts(rule_groups(mailRetryRatio=0.25))
    }
    assert "25%" in summaries["FlaskAppMailSendRetrying"]
    assert "above 1/s" in summaries["FlaskAppCredentialStuffing"]
    assert "More than 10 accounts" in summaries["FlaskAppLockoutSpike"]
