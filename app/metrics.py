"""Prometheus metrics (prometheus-flask-exporter) at /metrics.

- flask_http_request_duration_seconds{method,route,status}: a histogram whose
  _count is the request count per route. The route is the URL rule's template
  (/account/sessions/<session_id>/end), never the raw path, so label
  cardinality stays bounded whatever clients ask for.
- flask_http_request_total{method,status}
- auth_logins_total{result}, auth_registrations_total, auth_lockouts_total,
  auth_rate_limited_total, auth_password_resets_total, mail_messages_total{kind,result}
  (result: queued, sent, retried, failed, throttled; app/outbox.py),
  app_info{version}, db_pool_connections_in_use.
- app_dependency_errors_total{dependency}: requests answered 503 because the
  database or Redis was away (app/outages.py); app_dependency_up{dependency}.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py) switches
prometheus_client to multiprocess mode: each worker writes its samples to files
there, /metrics aggregates them, and gunicorn's child_exit hook marks dead
workers (see gunicorn.conf.py).
"""

from __future__ import annotations

import glob
import os
from contextlib import suppress
from ipaddress import ip_address

from flask import Flask, abort, current_app, request
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics
from sqlalchemy import event

from .extensions import engines_of

# Created unregistered; each app's registry adds them (tests build many apps).
LOGINS = Counter("auth_logins_total", "Sign-in attempts by result", ["result"], registry=None)
LOGIN_RESULTS = ("success", "bad_password", "unknown_account", "locked", "bad_passkey")
REGISTRATIONS = Counter("auth_registrations_total", "Accounts created", registry=None)
LOCKOUTS = Counter("auth_lockouts_total", "Accounts locked after repeated failures", registry=None)
RATE_LIMITED = Counter("auth_rate_limited_total", "Requests refused by a rate limit", registry=None)
MAILS = Counter("mail_messages_total", "E-mails by kind and result", ["kind", "result"], registry=None)
PASSWORD_RESETS = Counter(
    "auth_password_resets_total", "Passwords changed through an e-mailed link", registry=None
)
DB_POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "Database connections checked out of the pool",
    registry=None,
    multiprocess_mode="livesum",
)
DEPENDENCY_ERRORS = Counter(
    "app_dependency_errors_total",
    "Requests answered 503 because a dependency was away (app/outages.py)",
    ["dependency"],
    registry=None,
)
# 1 while this worker can reach the dependency; min across live workers, so one
# worker that saw Redis go away is enough to show it.
DEPENDENCY_UP = Gauge(
    "app_dependency_up",
    "Whether a dependency answers (0 while away)",
    ["dependency"],
    registry=None,
    multiprocess_mode="livemin",
)
_CUSTOM = (LOGINS, REGISTRATIONS, LOCKOUTS, RATE_LIMITED, MAILS, PASSWORD_RESETS, DB_POOL_IN_USE)
_CUSTOM += (DEPENDENCY_ERRORS, DEPENDENCY_UP)
for _result in LOGIN_RESULTS:
    LOGINS.labels(result=_result)


class _ActiveSessionsCollector:
    """auth_sessions_active: the sessions that can still be used (not past their
    lifetime or idle timeout), counted in the database when /metrics is scraped:
    one COUNT a scrape. Every pod reports the same number, so dashboards take
    the max, not the sum. With the database away the scrape still answers,
    without this sample (app_dependency_up and the probes say why)."""

    def describe(self):
        yield GaugeMetricFamily("auth_sessions_active", _ACTIVE_SESSIONS_HELP)

    def collect(self):
        from .extensions import db
        from .sessions import count_live_sessions

        try:
            count = count_live_sessions()
        except Exception:  # any database error: no sample rather than a failed scrape
            with suppress(Exception):
                db.session.rollback()
            return
        family = GaugeMetricFamily("auth_sessions_active", _ACTIVE_SESSIONS_HELP)
        family.add_metric([], count)
        yield family


_ACTIVE_SESSIONS_HELP = "Sessions that can still be used, counted at scrape time"


def route(req) -> str:
    """The label value for a request: the matched URL rule, or one bucket for 404s."""
    return req.url_rule.rule if req.url_rule is not None else "<unmatched>"


class _SettledFilesCollector(MultiProcessCollector):
    """MultiProcessCollector minus files that are still empty.

    A worker creates its file and sizes it a moment later; a scrape landing in
    between would fail whole (prometheus/client_python#1199), and a worker killed
    in that instant would leave the empty file behind for good.
    """

    def collect(self):
        files = []
        for path in glob.glob(os.path.join(self._path, "*.db")):
            try:
                if os.path.getsize(path) > 0:
                    files.append(path)
            except FileNotFoundError:  # a dead worker's live gauge, just removed
                pass
        return self.merge(files, accumulate=True)


class _GunicornMetrics(GunicornInternalPrometheusMetrics):
    def generate_metrics(self, accept_header=None, names=None):
        registry = CollectorRegistry()
        _SettledFilesCollector(registry)
        registry.register(_ActiveSessionsCollector())
        if names:
            registry = registry.restricted_registry(names)
        generate_latest, content_type = choose_encoder(accept_header)
        return generate_latest(registry).decode("utf-8"), content_type


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _restrict_to_allowed_networks(view):
    """Answer 404 to clients outside METRICS_ALLOWED_NETWORKS (empty: everyone)."""

    def guarded(*args, **kwargs):
        networks = current_app.config["METRICS_ALLOWED_NETWORKS"]
        if networks:
            try:
                client = ip_address(request.remote_addr or "")
            except ValueError:
                abort(404)
            if not any(client in network for network in networks):
                abort(404)
        return view(*args, **kwargs)

    guarded.__name__ = view.__name__
    return guarded


def _on_checkout(*_args) -> None:
    DB_POOL_IN_USE.inc()


def _on_checkin(*_args) -> None:
    DB_POOL_IN_USE.dec()


def init_app(app: Flask) -> PrometheusMetrics:
    for engine in engines_of(app):  # this app's pools (a disposed pool's replacement keeps them)
        event.listen(engine, "checkout", _on_checkout)
        event.listen(engine, "checkin", _on_checkin)
    registry = CollectorRegistry()
    if multiprocess_mode():
        # Every metric (ours included) is read back from the workers' files.
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        cls = _GunicornMetrics
    else:
        cls = PrometheusMetrics
        for collector in _CUSTOM:
            registry.register(collector)
        registry.register(_ActiveSessionsCollector())
    metrics = cls(
        app=None,
        path=None,
        registry=registry,
        group_by=route,
        defaults_prefix="flask",
        metrics_decorator=_restrict_to_allowed_networks,
    )
    metrics.init_app(app)
    metrics.register_endpoint("/metrics", app)
    metrics.info("app_info", "Application version", version=app.config["APP_VERSION"])
    app.extensions["prometheus_metrics"] = metrics
    return metrics


# Second factors (app/mfa/). result: success, recovery_code, bad_code, bad_passkey, replayed, expired,
# too_many, locked.
MFA = Counter("auth_mfa_total", "Second sign-in steps by result", ["result"], registry=None)
MFA_RESULTS = (
    "success",
    "recovery_code",
    "bad_code",
    "bad_passkey",
    "replayed",
    "expired",
    "too_many",
    "locked",
)
# change: an outbox kind of app/outbox.py's _MFA_CHANGES, less the "mfa_" prefix.
MFA_CHANGES = Counter(
    "auth_mfa_changes_total", "Second factors changed, by change", ["change"], registry=None
)
_CUSTOM += (MFA, MFA_CHANGES)
for _result in MFA_RESULTS:
    MFA.labels(result=_result)
