"""app/events.py is the one list of named events: every call in app/ names a
declared event with its declared fields (checked on the source, with ast),
every declared event is emitted somewhere, nothing logs or counts an event
beside it, the README's table is the one it generates, and one emit writes
the declared line and counts the declared counter."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest
from flask import Flask

from app import events, metrics
from app.events import EVENTS, EventError, emit

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
EMITTERS = {"emit", "occurrence"}  # occurrence(...) is emitted later, as declared


def _sources() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(), filename=str(path))
        for path in sorted(APP.rglob("*.py"))
        if path != APP / "events.py" and "migrations" not in path.parts
    }


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _event_calls() -> list[tuple[str, ast.Call]]:
    """Every emit(...)/occurrence(...) call with arguments (Occurrence.emit() has none)."""
    found = []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node) in EMITTERS and (node.args or node.keywords):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def _call_problems(call: ast.Call) -> list[str]:
    if (
        len(call.args) != 1
        or not isinstance(call.args[0], ast.Constant)
        or not isinstance(call.args[0].value, str)
    ):
        return ["the event name is not one string literal"]
    name = call.args[0].value
    event = EVENTS.get(name)
    if event is None:
        return [f"{name!r} is not declared"]
    if any(keyword.arg is None for keyword in call.keywords):
        return [f"{name}: **kwargs hide the fields from this check"]
    values = {keyword.arg: keyword.value for keyword in call.keywords}
    level = values.pop("level", None)
    level_number = None
    if level is not None:
        if not (
            isinstance(level, ast.Attribute)
            and isinstance(level.value, ast.Name)
            and level.value.id == "logging"
        ):
            return [f"{name}: level is not a logging.LEVEL constant"]
        level_number = logging.getLevelName(level.attr)
    return [f"{name}: {problem}" for problem in event.problems(dict.fromkeys(values), level_number)]


def test_every_event_call_names_a_declared_event_with_its_declared_fields():
    calls = _event_calls()
    assert len(calls) > 60  # the walk finds the calls (about seventy)
    problems = [f"{where}: {problem}" for where, call in calls for problem in _call_problems(call)]
    assert problems == []


def test_the_static_check_catches_each_kind_of_mistake():
    def problems(source: str) -> list[str]:
        return _call_problems(ast.parse(source).body[0].value)

    assert problems('emit("auth.logout", user_id=1)') == []
    assert (
        problems('emit("mail.send_failed", level=logging.ERROR, kind="k", error="E", result="failed")') == []
    )
    assert problems('emit("auth.logged_out", user_id=1)') == ["'auth.logged_out' is not declared"]
    assert problems('emit("auth.logout")') == ["auth.logout: missing user_id"]
    assert problems('emit("auth.logout", user_id=1, reason="x")') == ["auth.logout: unknown reason"]
    assert problems('emit("auth.logout", user_id=1, level=logging.ERROR)') == [
        "auth.logout: level ERROR not declared"
    ]
    assert problems('emit("mail.send_failed", kind="k", error="E")') == ["mail.send_failed: missing result"]
    assert problems("emit(name, user_id=1)") == ["the event name is not one string literal"]
    assert problems('emit("auth.logout", **fields)') == [
        "auth.logout: **kwargs hide the fields from this check"
    ]


def test_every_declared_event_is_emitted_somewhere():
    emitted = {call.args[0].value for _, call in _event_calls() if isinstance(call.args[0], ast.Constant)}
    assert sorted(set(EVENTS) - emitted) == []


def test_nothing_in_app_logs_or_counts_an_event_beside_app_events():
    counters = {
        name
        for name, value in vars(metrics).items()
        if any(event.count is not None and event.count.counter is value for event in EVENTS.values())
    }
    assert {"LOGINS", "LOCKOUTS", "REGISTRATIONS", "MAILS", "MFA", "MFA_CHANGES"} <= counters
    beside = []
    for path, tree in _sources().items():
        if path == APP / "observability.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node) == "log_event":
                beside.append(f"{path.relative_to(ROOT)}:{node.lineno}: log_event")
            if isinstance(node, ast.Call) and _callee(node) == "inc":
                counted = ast.unparse(node.func)
                if any(f"metrics.{name}." in counted for name in counters):
                    beside.append(f"{path.relative_to(ROOT)}:{node.lineno}: {counted}")
    assert beside == []


def test_the_readme_event_table_is_the_one_app_events_generates():
    readme = events.README.read_text()
    assert readme.count(events.TABLE_START) == 1 and readme.count(events.TABLE_END) == 1
    assert events.readme_with_table(readme) == readme, "run `python -m app.events` to regenerate it"
    for name in EVENTS:
        assert f"| `{name}` |" in readme


def test_the_readme_check_notices_a_stale_table():
    readme = events.README.read_text()
    stale = readme.replace("| `auth.logout` |", "| `auth.logged_out` |")
    assert events.readme_with_table(stale) != stale
    assert events.readme_with_table(stale) == readme


def _records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def _sample(app: Flask, name: str, **labels: str) -> float:
    return app.extensions["prometheus_metrics"].registry.get_sample_value(name, labels) or 0.0


def test_one_emit_writes_the_declared_line_and_counts_the_declared_counter(app, capsys):
    before = _sample(app, "auth_logins_total", result="bad_password")
    with app.test_request_context("/auth/login", environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        capsys.readouterr()
        emit("auth.login_failed", user_id=7, reason="bad_password", trusted_device=False)
    (record,) = [r for r in _records(capsys) if r.get("event")]
    assert record["event"] == record["message"] == "auth.login_failed"
    assert record["level"] == "INFO" and record["logger"] == "app.events"
    assert {k: record[k] for k in ("user_id", "reason", "trusted_device", "ip")} == {
        "user_id": 7,
        "reason": "bad_password",
        "trusted_device": False,
        "ip": "203.0.113.9",
    }
    assert _sample(app, "auth_logins_total", result="bad_password") == before + 1


def test_a_label_given_by_the_call_is_counted_not_logged(app, capsys):
    before = _sample(app, "mail_messages_total", kind="password_reset", result="retried")
    with app.app_context():
        capsys.readouterr()
        emit(
            "mail.send_failed",
            kind="password_reset",
            error="OSError",
            message_id=3,
            attempts=1,
            retry_in=2.0,
            result="retried",
        )
    (record,) = [r for r in _records(capsys) if r.get("event")]
    assert record["level"] == "WARNING" and "result" not in record
    assert _sample(app, "mail_messages_total", kind="password_reset", result="retried") == before + 1


def test_an_operators_account_is_not_counted_as_a_registration(app):
    before = _sample(app, "auth_registrations_total")
    with app.app_context():
        emit("user.registered", user_id=1, via="cli")
    assert _sample(app, "auth_registrations_total") == before
    with app.test_request_context("/auth/register"):
        emit("user.registered", user_id=2)
    assert _sample(app, "auth_registrations_total") == before + 1


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("auth.logged_out", {"user_id": 1}, "not declared"),
        ("auth.logout", {}, "missing user_id"),
        ("auth.logout", {"user_id": 1, "secret": "x"}, "unknown secret"),
    ],
)
def test_a_misused_event_raises_in_tests(app, name, values, message):
    with app.app_context(), pytest.raises(EventError, match=message):
        emit(name, **values)


def test_a_misused_event_never_fails_a_request_in_production(app, capsys):
    app.testing = app.debug = False
    with app.test_request_context("/"):
        capsys.readouterr()
        emit("auth.logout", user_id=1, surprise="x")
        emit("auth.logged_out", user_id=1)
    records = _records(capsys)
    errors = [r for r in records if r["level"] == "ERROR"]
    assert [r["message"] for r in errors] == [
        "event 'auth.logout' used other than declared: unknown surprise",
        "event 'auth.logged_out' used other than declared: not declared",
    ]
    assert [r["event"] for r in records if r.get("event")] == ["auth.logout", "auth.logged_out"]
