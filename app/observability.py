"""Named security and audit events.

Each event is one log record on the "app.events" logger whose message is the
event name and whose extra fields say who, from where and why. Values are
passed as fields, never formatted into the message, so a hostile value cannot
forge a line.
"""

from __future__ import annotations

import logging

from flask import has_request_context, request

events_logger = logging.getLogger("app.events")


def log_event(name: str, level: int = logging.INFO, **fields: object) -> None:
    if has_request_context():
        fields.setdefault("ip", request.remote_addr)
    events_logger.log(level, name, extra={"event": name, **fields})
