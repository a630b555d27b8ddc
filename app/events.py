"""Every named event of the app, declared once: its name, log level, log
fields and the Prometheus counter (with label values) it increments.

    events.emit("auth.login_failed", user_id=account.id, reason="bad_password", trusted_device=False)

writes the JSON line (app/observability.py; `ip` is added inside a request)
and increments auth_logins_total{result="bad_password"}: one call, where there
used to be a log line and a metric side by side.

Label values come from a constant, from a logged field (`Field("reason")`), or
from a keyword of the call that is counted but not logged (`ARG`).

Using an undeclared event, leaving out a required field or passing an unknown
one is a programming error: tests/test_events.py checks every call in app/
against this table (statically, with ast), and under TESTING or DEBUG `emit`
raises. In production it never fails a request: the line is written as given,
the counter counted if it can be, and an error names the mistake.

The README's event table is generated from here: `python -m app.events`
rewrites it, and tests/test_events.py fails when the two differ.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from flask import current_app, has_app_context, has_request_context
from prometheus_client import Counter

from . import metrics
from .observability import log_event

DEBUG, INFO, WARNING, ERROR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR
_logger = logging.getLogger("app.events")


class EventError(TypeError):
    """An event used other than as declared (a bug in the caller)."""


@dataclass(frozen=True)
class Field:
    """A label whose value is the value of a logged field."""

    name: str


class _Arg:
    """A label given as a keyword of the call, counted but not logged."""

    def __repr__(self) -> str:
        return "ARG"


ARG = _Arg()
LabelSource = str | Field | _Arg


@dataclass(frozen=True)
class Count:
    counter: Counter
    labels: Mapping[str, LabelSource]
    # Counted only inside a request: e.g. accounts an operator makes with
    # `flask create-user` are not sign-ups.
    requests_only: bool = False

    @property
    def args(self) -> tuple[str, ...]:
        return tuple(label for label, source in self.labels.items() if source is ARG)

    def describe(self) -> str:
        name = self.counter._name + ("_total" if self.counter._type == "counter" else "")
        if not self.labels:
            return f"`{name}`"
        parts = []
        for label, source in self.labels.items():
            if isinstance(source, Field):
                parts.append(f"{label}=<{source.name}>")
            elif source is ARG:
                parts.append(f"{label}=(call)")
            else:
                parts.append(f'{label}="{source}"')
        return f"`{name}{{{','.join(parts)}}}`"


@dataclass(frozen=True)
class Event:
    name: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    level: int = INFO
    # Other levels a call may ask for (level=...): the first one is the default.
    also_at: tuple[int, ...] = ()
    count: Count | None = None
    doc: str = ""

    # Worked out once per event, not at every emit (frozen dataclasses keep a __dict__).
    @cached_property
    def levels(self) -> tuple[int, ...]:
        return (self.level, *self.also_at)

    @cached_property
    def args(self) -> tuple[str, ...]:
        return self.count.args if self.count is not None else ()

    @cached_property
    def _needed(self) -> tuple[str, ...]:
        return (*self.required, *self.args)

    @cached_property
    def _allowed(self) -> frozenset[str]:
        return frozenset((*self.required, *self.optional, *self.args))

    def problems(self, values: Mapping[str, object], level: int | None) -> list[str]:
        found = []
        missing = [key for key in self._needed if key not in values]
        unknown = sorted(set(values) - self._allowed)
        if missing:
            found.append(f"missing {', '.join(missing)}")
        if unknown:
            found.append(f"unknown {', '.join(unknown)}")
        if level is not None and level not in self.levels:
            found.append(f"level {logging.getLevelName(level)} not declared")
        return found


_user = ("user_id",)


def _mfa_change(name: str, *changes: str, factor: bool = True) -> Event:
    """A change of second factors: the outbox's kind is "mfa_" + `change`."""
    return Event(
        name,
        (*_user, "kind_of_factor") if factor else _user,
        count=Count(metrics.MFA_CHANGES, {"change": ARG}),
        doc="`change`: " + ", ".join(f"`{change}`" for change in changes),
    )


_TRUSTED = "trusted_device"

DECLARED: tuple[Event, ...] = (
    # Accounts and sign-in
    Event(
        "user.registered",
        _user,
        ("via",),
        count=Count(metrics.REGISTRATIONS, {}, requests_only=True),
        doc="`via`: `cli` for `flask create-user` (not counted)",
    ),
    Event(
        "auth.login_succeeded",
        (*_user, _TRUSTED),
        ("method",),
        count=Count(metrics.LOGINS, {"result": "success"}),
    ),
    Event(
        "auth.login_failed",
        ("reason",),
        ("user_id", _TRUSTED, "method", "detail"),
        count=Count(metrics.LOGINS, {"result": Field("reason")}),
        doc="`reason`: `unknown_account`, `bad_password`, `locked`, `bad_passkey`",
    ),
    Event("auth.login_unverified", _user, ("method",)),
    Event("auth.locked", (*_user, "until", _TRUSTED), count=Count(metrics.LOCKOUTS, {})),
    Event("auth.unlocked", (*_user, "via")),
    Event("auth.logout", _user),
    Event("auth.password_changed", _user),
    Event("auth.password_change_conflict", _user),
    Event("auth.reauth_failed", (*_user, "failures")),
    Event("auth.reauth_locked", _user),
    Event(
        "session.ended",
        (*_user, "reason"),
        ("count", "via"),
        doc="`reason`: `logout`, `idle_timeout`, `lifetime_exceeded`, `credentials_changed`, "
        "`password_changed`, `password_reset`, `reauth_failed`, `mfa_changed`, `session_limit`, "
        "`ended_by_user`, `ended_by_operator`, `account_deleted`",
    ),
    Event("account.deleted", _user),
    # E-mailed links
    Event("auth.password_reset_requested", ("known",), ("user_id",)),
    Event(
        "auth.password_reset",
        (*_user, "sessions_ended"),
        count=Count(metrics.PASSWORD_RESETS, {}),
    ),
    Event("auth.email_verified", _user),
    Event("auth.link_refused", ("kind", "reason")),
    # Second factors
    Event(
        "auth.mfa_succeeded",
        (*_user, "method"),
        count=Count(metrics.MFA, {"result": "success"}),
        doc="`method`: `totp`, `recovery_code`, `passkey`",
    ),
    Event(
        "auth.mfa_failed",
        ("reason",),
        ("user_id", "method", "detail", "failures"),
        count=Count(metrics.MFA, {"result": Field("reason")}),
        doc="`reason`: `bad_code`, `bad_passkey`, `replayed`, `expired`, `too_many`, `locked`",
    ),
    Event(
        "auth.recovery_code_used",
        (*_user, "remaining"),
        count=Count(metrics.MFA, {"result": "recovery_code"}),
    ),
    Event("auth.passkey_rejected", (*_user, "purpose", "reason")),
    _mfa_change("auth.mfa_enabled", "totp_enabled", "passkey_added"),
    _mfa_change("auth.mfa_replaced", "totp_replaced"),
    _mfa_change("auth.mfa_disabled", "totp_disabled", "passkey_removed"),
    _mfa_change("auth.recovery_codes_regenerated", "recovery_codes", factor=False),
    Event(
        "auth.mfa_reset",
        (*_user, "via", "factors", "sessions_ended"),
        count=Count(metrics.MFA_CHANGES, {"change": "reset"}),
        doc="by an operator (`flask reset-mfa`)",
    ),
    # Requests refused
    Event("security.csrf_failed", ("reason", "path")),
    Event("security.rate_limited", ("path", "limit"), count=Count(metrics.RATE_LIMITED, {})),
    Event("security.bad_form_body", ("path", "mimetype")),
    Event("password_hash.busy", ("path",), level=WARNING),
    # Mail (never the address)
    Event(
        "mail.queued",
        ("kind", "user_id"),
        level=DEBUG,
        count=Count(metrics.MAILS, {"kind": Field("kind"), "result": "queued"}),
        doc="in the caller's transaction, before its commit",
    ),
    Event(
        "mail.sent",
        ("kind", "message_id", "attempts"),
        count=Count(metrics.MAILS, {"kind": Field("kind"), "result": "sent"}),
    ),
    Event(
        "mail.send_failed",
        ("kind", "error"),
        ("message_id", "attempts", "retry_in"),
        level=WARNING,
        also_at=(ERROR,),
        count=Count(metrics.MAILS, {"kind": Field("kind"), "result": ARG}),
        doc="WARNING and `result`=`retried` when the outbox tries again; "
        "ERROR and `failed` when no mail can be sent here (no `MAIL_SERVER`)",
    ),
    Event(
        "mail.failed",
        ("kind", "message_id", "attempts", "error"),
        level=ERROR,
        count=Count(metrics.MAILS, {"kind": Field("kind"), "result": "failed"}),
        doc="the last try",
    ),
    Event(
        "mail.throttled",
        (*_user, "kind"),
        count=Count(metrics.MAILS, {"kind": Field("kind"), "result": "throttled"}),
    ),
    Event("mail.render_failed", ("kind", "message_id", "error"), level=ERROR),
    Event("mail.sender_error", ("error",), level=WARNING),
    Event("mail.quota_unavailable", ("kind", "error"), level=WARNING),
    Event("mail.requeued", ("via",), ("message_id", "count")),
    Event("mail.logged", ("to", "subject", "body"), doc="development only (`MAIL_BACKEND=log`)"),
    # Dependencies
    Event(
        "dependency.unavailable",
        ("dependency", "error", "path"),
        level=WARNING,
        count=Count(metrics.DEPENDENCY_ERRORS, {"dependency": Field("dependency")}),
        doc="once per request answered 503; `dependency`: `database` or `redis`",
    ),
    Event(
        "dependency.degraded",
        ("dependency", "observer", "fallback"),
        level=WARNING,
        doc="once per outage and worker",
    ),
    Event("dependency.recovered", ("dependency", "observer")),
    Event(
        "db.teardown_failed",
        ("error",),
        level=WARNING,
        doc="the end-of-request rollback failed after a response",
    ),
    # Maintenance (CLI)
    Event(
        "maintenance.purged",
        ("via",),
        ("sessions", "login_events", "devices", "mfa_pending_sign_ins", "webauthn_challenges", "mail_outbox"),
    ),
    Event("maintenance.mfa_key_rotated", ("via", "reencrypted", "unreadable")),
)

EVENTS: dict[str, Event] = {event.name: event for event in DECLARED}
assert len(EVENTS) == len(DECLARED), "an event is declared twice"  # nosec B101


def _strict() -> bool:
    return has_app_context() and bool(current_app.testing or current_app.debug)


def emit(name: str, *, level: int | None = None, **values: object) -> None:
    """Log the event `name` and count it, as declared above."""
    event = EVENTS.get(name)
    problems = event.problems(values, level) if event is not None else ["not declared"]
    if problems:
        if _strict():
            raise EventError(f"event {name!r}: {'; '.join(problems)} (see app/events.py)")
        _logger.error("event %r used other than declared: %s", name, "; ".join(problems))
    args = event.args if event is not None else ()
    fields = {key: value for key, value in values.items() if key not in args}
    log_event(name, level if level is not None else event.level if event else INFO, **fields)
    if event is not None and event.count is not None:
        _count(event.count, values)


@dataclass(frozen=True)
class Occurrence:
    """An event to emit later, e.g. after a commit: `occurrence(...)` calls are
    checked against the declarations as `emit(...)` calls are."""

    name: str
    values: Mapping[str, object]

    def emit(self) -> None:
        emit(self.name, **self.values)


def occurrence(name: str, **values: object) -> Occurrence:
    return Occurrence(name, values)


def _count(count: Count, values: Mapping[str, object]) -> None:
    if count.requests_only and not has_request_context():
        return
    labels = {}
    for label, source in count.labels.items():
        key = source.name if isinstance(source, Field) else label if source is ARG else None
        if key is None:
            labels[label] = source
        elif key in values:
            labels[label] = str(values[key])
        else:  # reported by emit already
            return
    (count.counter.labels(**labels) if labels else count.counter).inc()


# The README's table ---------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"
TABLE_START = "<!-- events:start (generated by `python -m app.events` from app/events.py) -->"
TABLE_END = "<!-- events:end -->"


def table() -> str:
    """The README's event table (Markdown)."""
    rows = [
        "| event | level | fields (optional in brackets) | counts | notes |",
        "|---|---|---|---|---|",
    ]
    for event in DECLARED:
        fields = [f"`{key}`" for key in event.required] + [f"[`{key}`]" for key in event.optional]
        levels = ", ".join(logging.getLevelName(level) for level in event.levels)
        counts = event.count.describe() if event.count is not None else ""
        rows.append(f"| `{event.name}` | {levels} | {' '.join(fields)} | {counts} | {event.doc} |")
    return "\n".join(rows)


def readme_with_table(readme: str) -> str:
    start, end = readme.index(TABLE_START), readme.index(TABLE_END)
    return readme[: start + len(TABLE_START)] + "\n\n" + table() + "\n\n" + readme[end:]


if __name__ == "__main__":
    README.write_text(readme_with_table(README.read_text()))
