"""Whether Redis (the rate-limit store) answers, as this worker sees it.

Redis is not a single point of failure: with it away, Flask-Limiter's in-memory
fallback (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED) counts every limit in this
worker's memory, sign-in keeps working and the lockout (in the database) keeps
protecting accounts. What this module adds is visibility: a warning
(`dependency.degraded`) once per outage, `dependency.recovered` when it is back,
and app_dependency_up{dependency="redis"} at 0 meanwhile.

Two observers feed one state, so each outage is announced once: the limiter
switching to its fallback (seen after a limited request) and the readiness
probe's ping. Recovery is announced by whichever sees it first.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, Response, current_app

from . import metrics
from .events import emit
from .extensions import limiter

REDIS = "redis"
_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")


class DependencyState:
    """Up or down, changed (and announced) only on a transition."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True
        self.limiter_on_fallback = False
        self._lock = threading.Lock()
        metrics.DEPENDENCY_UP.labels(dependency=name).set(1)

    def mark(self, up: bool, observer: str) -> None:
        with self._lock:
            if up == self.up:
                return
            self.up = up
        metrics.DEPENDENCY_UP.labels(dependency=self.name).set(1 if up else 0)
        if up:
            emit("dependency.recovered", dependency=self.name, observer=observer)
        else:
            emit(
                "dependency.degraded",
                dependency=self.name,
                observer=observer,
                fallback="rate limits counted in each worker's memory",
            )


def redis_state(app: Flask | None = None) -> DependencyState | None:
    """This app's Redis state, or None when the rate-limit store is not Redis."""
    return (app or current_app).extensions.get("dependency_redis")


def _limiter_on_fallback() -> bool:
    # limiter.limiter is the fallback strategy while Flask-Limiter thinks its
    # storage is dead; compared through public attributes only.
    return limiter.enabled and limiter.initialized and limiter.limiter.storage is not limiter.storage


def _watch_limiter(response: Response) -> Response:
    state = redis_state()
    on_fallback = _limiter_on_fallback()
    if state is not None and on_fallback != state.limiter_on_fallback:
        state.limiter_on_fallback = on_fallback
        state.mark(not on_fallback, observer="rate limiter")
    return response


def check_redis() -> str | None:
    """For readiness: "ok" or "unavailable" when Redis backs the limiter, else None."""
    state = redis_state()
    if state is None or not limiter.enabled:
        return None
    up = limiter.storage.check()  # a PING, bounded by REDIS_TIMEOUT_MS
    state.mark(up, observer="readiness")
    return "ok" if up else "unavailable"


def init_app(app: Flask) -> None:
    if not str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith(_REDIS_SCHEMES):
        return
    app.extensions["dependency_redis"] = DependencyState(REDIS)
    app.after_request(_watch_limiter)
    # Flask-Limiter's own "storage unreachable" warning would be a second line
    # per outage: ours (dependency.degraded) carries the dependency's name.
    # Its errors (a limit that could not be checked) still show.
    logging.getLogger("flask-limiter").setLevel(logging.ERROR)
