"""The mails an account is owed by a link (password reset, address
confirmation): the per-account quotas, the queueing in the outbox, the
rate limit of the pages that send them, and the page of a refused link."""

from __future__ import annotations

import logging

from flask import current_app, render_template, request
from limits import parse_many

from .. import mail, outbox
from ..dependencies import redis_state
from ..events import emit
from ..extensions import limiter
from ..models import User

SEND_FAILED = "We could not send the e-mail just now. Please try again in a few minutes."


def mail_allowed(user: User, kind: str) -> bool:
    """Within MAIL_PER_ACCOUNT_LIMIT for the account, whoever asks, and within
    MAIL_PER_ACCOUNT_CLIENT_LIMIT for the account from this client address: a
    stranger uses up their own share, never the owner's.

    Called before the commit of the mail's row. If the limiter's store
    (Redis) is away the mail is allowed and a warning logged once per outage:
    the quota is a courtesy to inboxes, not worth refusing a user for.
    """
    if not limiter.enabled:
        return True
    strategy = limiter.limiter
    windows = [
        (limit, "mail-per-account", str(user.id))
        for limit in parse_many(current_app.config["MAIL_PER_ACCOUNT_LIMIT"])
    ] + [
        (limit, "mail-per-account-client", str(user.id), request.remote_addr or "")
        for limit in parse_many(current_app.config["MAIL_PER_ACCOUNT_CLIENT_LIMIT"])
    ]
    try:
        # Test every window before counting, so a refusal does not use up the others.
        allowed = all(strategy.test(*window) for window in windows)
        if allowed:
            for window in windows:
                strategy.hit(*window)
    except Exception as exc:  # any error of the store's client
        # One warning per outage: the worker's Redis state (app/dependencies.py)
        # says whether this outage was seen already, by us or another observer.
        state = redis_state()
        if state is None or state.up:
            emit("mail.quota_unavailable", kind=kind, error=type(exc).__name__)
        if state is not None:
            state.mark(False, observer="mail quota")
        return True
    if not allowed:
        emit("mail.throttled", user_id=user.id, kind=kind)
    return allowed


def queue_mail(user: User, kind: str) -> str:
    """Owe the user a mail of `kind`, within the quotas, in the caller's
    transaction (the caller commits, then calls outbox.wake()).

    Returns "queued", "throttled" (the account had its share of mails this
    hour) or "failed" (no mail can be sent here: staging or production
    without MAIL_SERVER); the caller words the answer.
    """
    if not mail.sending_possible():
        emit("mail.send_failed", level=logging.ERROR, kind=kind, error="MailNotConfigured", result="failed")
        return "failed"
    if not mail_allowed(user, kind):
        return "throttled"
    outbox.enqueue(kind, user)
    return "queued"


def invalid_link(kind: str, reason: str):
    emit("auth.link_refused", kind=kind, reason=reason)
    return render_template("link_invalid.html", kind=kind, reason=reason), 400
