"""Logs: one JSON object per line on stdout, request ids, one line per request,
and named security events.

Values travel as JSON fields, never formatted into the message, so a hostile
value (newlines, quotes) cannot forge a line. Nothing here ever logs a form
field, a cookie or a header other than the user agent.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from time import perf_counter

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter
from sqlalchemy import inspect as sa_inspect

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
# URL parts that are secrets: logged as the route's placeholder instead.
_SECRET_VIEW_ARGS = {"token", "session_id"}
# Probes arrive every few seconds from every kubelet and Prometheus: logged at DEBUG.
_QUIET_PATHS = ("/health", "/metrics")

events_logger = logging.getLogger("app.events")
requests_logger = logging.getLogger("app.requests")

_FIELD_ORDER = ("time", "level", "logger", "message", "request_id", "event")


class RequestContextFilter(logging.Filter):
    """Adds the current request id (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class JsonFormatter(_JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(message)s %(levelname)s %(name)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def process_log_record(self, log_data):
        ordered = {key: log_data.pop(key) for key in _FIELD_ORDER if key in log_data}
        ordered.update(log_data)
        return ordered


class TextFormatter(logging.Formatter):
    """For a person at a terminal: one line, extra fields as key=value (repr-quoted)."""

    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record).replace("\n", "\\n")
        extras = {k: v for k, v in vars(record).items() if k not in self._standard and not k.startswith("_")}
        if getattr(record, "request_id", None):
            extras = {"request_id": record.request_id, **extras}
        if extras:
            line += " " + " ".join(f"{key}={value!r}" for key, value in extras.items())
        return line


class StdoutHandler(logging.StreamHandler):
    """A stream handler that always writes to the current sys.stdout
    (test runners swap it; a handler bound at start-up would keep a closed one)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def make_handler(log_format: str) -> logging.Handler:
    handler = StdoutHandler()
    handler.set_name("app-stdout")
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    handler.addFilter(RequestContextFilter())
    return handler


def configure_logging(level: str, log_format: str) -> None:
    """Route every logger through one stdout handler (idempotent)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, StdoutHandler):  # ours, or gunicorn's logconfig_dict
            root.removeHandler(existing)
    root.addHandler(make_handler(log_format))
    root.setLevel(level)


def log_event(name: str, level: int = logging.INFO, **fields: object) -> None:
    """Write a named event's line: who (user_id), from where (ip), why (reason),
    when (time, UTC). Called by app/events.py's emit, which checks the name and
    fields against their declaration and counts the event's metric."""
    if has_request_context():
        fields.setdefault("ip", request.remote_addr)
    events_logger.log(level, name, extra={"event": name, **fields})


def _request_id() -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _start_request() -> None:
    g.request_started = perf_counter()
    g.request_id = _request_id()


def _logged_path() -> str:
    if request.url_rule is not None and request.view_args and _SECRET_VIEW_ARGS & request.view_args.keys():
        return request.url_rule.rule
    return request.path


def _signed_in_user_id() -> int | None:
    user = g.get("_login_user")  # set by Flask-Login only if this request loaded the user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    # The identity the session knows, without a query: after a commit the user's
    # attributes are expired, and reading user.id would go back to a database that
    # may have just gone away, turning a logged response into a 500.
    state = sa_inspect(user, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
    return None


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # a handler failed before ours ran
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    duration_ms = round((perf_counter() - g.request_started) * 1000, 2)
    status = response.status_code
    level = logging.ERROR if status >= 500 else logging.INFO
    if status < 400 and request.path.startswith(_QUIET_PATHS):
        level = logging.DEBUG
    if requests_logger.isEnabledFor(level):
        requests_logger.log(
            level,
            "request",
            extra={
                "method": request.method,
                "path": _logged_path(),
                "route": request.url_rule.rule if request.url_rule is not None else None,
                "status": status,
                "duration_ms": duration_ms,
                "remote_addr": request.remote_addr,
                "user_id": _signed_in_user_id(),
                "user_agent": (request.headers.get("User-Agent") or "")[:256] or None,
            },
        )
    return response


def init_app(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    # Registered before every other extension's hooks so that the request id
    # exists even when CSRF or the rate limiter ends the request early.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
