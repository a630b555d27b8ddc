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
SECOND_POD = {**KUBE, "pod": POD + "z"}
OTHER_POD = {"namespace": "other", "pod": "flask-app-55f-abcde", "container": "app"}
MIGRATE = {"namespace": NAMESPACE, "pod": "flask-app-migrate-abcde", "container": "migrate"}
NS = {"namespace": NAMESPACE}
WAITING = "kube_pod_container_status_waiting_reason"


def pods(name: str, *values_and_labels: tuple[str, dict]) -> list[dict]:
    """One series of `name` per (values, labels) pair: pods of this release and others."""
    return [series(name, values, **labels_) for values, labels_ in values_and_labels]


def by_result(name: str, kind: str | None = None, **values: str) -> list[dict]:
    """One counter per `result` label (auth_logins_total, mail_messages_total), values by result."""
    extra = {"kind": kind} if kind else {}
    return [series(name, v, **NS, **extra, result=result) for result, v in values.items()]


def pod_alert(labels_: dict, **extra) -> dict:
    return {"exp_labels": {"severity": extra.pop("severity", "warning"), **labels_, **extra}}


# The multi-window burn-rate scenarios, the same for both SLOs: phases of (burn rate, minutes),
# a burn rate being the bad fraction of events over the SLO's budget (availability: 0.1% 5xx;
# latency: 1% slower than 0.5 s). Pages at 14.4x over 1h/5m and 6x over 6h/30m, a ticket at 1x
# over 3d/6h, each only while both of its windows burn.
HOUR, DAYS_3 = 60, 3 * 24 * 60
BURN_SCENARIOS = [
    ("20x for 70 minutes: every window burns", [(20, 70)], "70m", (PAGE_1H, PAGE_6H, TICKET_3D)),
    (
        "20x for an hour, then none for 10 minutes: the 5m window has recovered, 1h/5m is silent",
        [(20, 60), (0, 10)],
        "70m",
        (PAGE_6H, TICKET_3D),
    ),
    (
        "10x for 6 hours: 6h/30m pages, 1h/5m (14.4x) does not",
        [(10, 6 * HOUR + 10)],
        "370m",
        (PAGE_6H, TICKET_3D),
    ),
    (
        "10x for 6 hours, stopped 35 minutes ago: the 30m window has recovered",
        [(10, 6 * HOUR), (0, 35)],
        "395m",
        (TICKET_3D,),
    ),
    ("2x for 3 days: a ticket, no page", [(2, DAYS_3)], "3d", (TICKET_3D,)),
    (
        "2x for 3 days, stopped 7 hours ago: the 6h window has recovered",
        [(2, DAYS_3 - 7 * HOUR), (0, 7 * HOUR)],
        "3d",
        (),
    ),
    ("0.5x for 3 days: within the budget", [(0.5, DAYS_3)], "3d", ()),
]
PER_MINUTE = 1000  # events a minute: enough that 0.5x of the 0.1% budget is a whole half event


def burn_cases() -> list[dict]:
    cases = []
    for name, phases, at, windows in BURN_SCENARIOS:
        errors = [(PER_MINUTE * rate / 1000, minutes) for rate, minutes in phases]  # of 0.1%
        slow = [(PER_MINUTE * rate / 100, minutes) for rate, minutes in phases]  # of 1%
        ok = [(PER_MINUTE - per_minute, minutes) for per_minute, minutes in errors]
        fast = [(PER_MINUTE - per_minute, minutes) for per_minute, minutes in slow]
        total = [(PER_MINUTE, sum(minutes for _, minutes in phases))]
        cases.append(availability(f"availability, {name}", requests(ok, errors), at, *windows))
        cases.append(latency(f"latency, {name}", latencies(total, fast), at, *windows))
    return cases


def unit_cases() -> list[dict]:
    return [
        *burn_cases(),
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
            pods("kube_pod_container_status_ready", ("1x5 0x3", KUBE), ("0x10", OTHER_POD)),
            "8m",
            "FlaskAppPodNotReady",
            [],
        ),
        case(
            "no pod ready for 3 minutes",
            pods("kube_pod_container_status_ready", ("0x4", KUBE), ("0x4", SECOND_POD)),
            "3m",
            "FlaskAppNoPodReady",
            [pod_alert({}, severity="critical")],
        ),
        case(
            "one pod of two ready",
            pods("kube_pod_container_status_ready", ("0x4", KUBE), ("1x4", SECOND_POD)),
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
            pods("kube_pod_container_status_restarts_total", ("0x30 2x30", KUBE), ("0+1x60", MIGRATE)),
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
            pods(
                WAITING,
                ("0x7 1x5", {**KUBE, "reason": "CrashLoopBackOff"}),
                ("1x12", {**KUBE, "reason": "ContainerCreating"}),
            ),
            "12m",
            "FlaskAppPodCrashLooping",
            [],
        ),
        # -- sign-ins ------------------------------------------------------------------------------
        case(
            "3 failed sign-ins a second across accounts for 12 minutes",
            by_result("auth_logins_total", unknown_account="0+120x20", bad_password="0+60x20"),
            "20m",
            "FlaskAppCredentialStuffing",
            [pod_alert({})],
        ),
        case(
            "many successful sign-ins, a few failures",
            by_result("auth_logins_total", success="0+600x20", bad_password="0+30x20"),
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
            by_result("mail_messages_total", "password_reset", failed="0x10 1x10", sent="0+5x20"),
            "20m",
            "FlaskAppMailFailed",
            [pod_alert({"kind": "password_reset"})],
        ),
        case(
            "e-mails sent, none failed",
            by_result("mail_messages_total", "password_reset", failed="0x20", sent="0+5x20"),
            "20m",
            "FlaskAppMailFailed",
            [],
        ),
        case(
            "half the sends retried for 25 minutes (the relay refuses)",
            by_result("mail_messages_total", "confirm", retried="0+5x40", sent="0+5x40"),
            "40m",
            "FlaskAppMailSendRetrying",
            [pod_alert({})],
        ),
        case(
            "one send in twenty retried",
            by_result("mail_messages_total", "confirm", retried="0+1x40", sent="0+19x40"),
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
    assert "availability, 0.5x for 3 days: within the budget" in result.stdout + result.stderr


def test_the_summaries_name_the_configured_thresholds():
    summaries = {
        rule["alert"]: rule["annotations"]["summary"] for rule in alerts(rule_groups(mailRetryRatio=0.25))
    }
    assert "25%" in summaries["FlaskAppMailSendRetrying"]
    assert "above 1/s" in summaries["FlaskAppCredentialStuffing"]
    assert "More than 10 accounts" in summaries["FlaskAppLockoutSpike"]
