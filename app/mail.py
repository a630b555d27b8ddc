"""Outgoing e-mail: rendered from templates, sent through Flask-Mailman.

With MAIL_SERVER set, messages go over SMTP (STARTTLS or implicit TLS, a
timeout on every connection). In development without a server they are
written to the log, link included, so a developer can follow it. In staging
and production without a server, sending fails: logged, counted, and the
caller shows a polite error; a token never reaches those logs.

send() never raises: a failure is logged (`mail.send_failed`, with the error's
class only, never the message or the address) and reported as False, so the
caller decides what the user sees and nothing already saved is lost.
"""

from __future__ import annotations

import logging
import smtplib

from flask import current_app, render_template
from flask_mailman import EmailMultiAlternatives, Mail
from flask_mailman.backends.base import BaseEmailBackend

from . import metrics
from .observability import log_event

mail = Mail()


class LogEmailBackend(BaseEmailBackend):
    """Development: every message becomes one log event with its text body."""

    def send_messages(self, email_messages):
        for message in email_messages:
            log_event(
                "mail.logged",
                to=list(message.to),
                subject=message.subject,
                body=message.body,
            )
        return len(email_messages)


class MailNotConfigured(RuntimeError):
    pass


class UnconfiguredEmailBackend(BaseEmailBackend):
    """Staging/production without MAIL_SERVER: nothing can be sent."""

    def send_messages(self, email_messages):
        raise MailNotConfigured("MAIL_SERVER is not set")


def init_app(app) -> None:
    mail.init_app(app)


def absolute_url(path: str) -> str:
    """A link for an e-mail: APP_BASE_URL, never the request's Host header."""
    return current_app.config["APP_BASE_URL"] + path


def send(kind: str, to: str, subject: str, template: str, **context: object) -> bool:
    """Render emails/<template>.txt and .html and send them to one address."""
    context.setdefault("app_name", "Flask Auth")
    text = render_template(f"emails/{template}.txt", **context)
    html = render_template(f"emails/{template}.html", **context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError, MailNotConfigured) as exc:  # OSError covers timeouts
        log_event("mail.send_failed", level=logging.ERROR, kind=kind, error=type(exc).__name__)
        metrics.MAILS.labels(kind=kind, result="failed").inc()
        return False
    log_event("mail.sent", kind=kind)
    metrics.MAILS.labels(kind=kind, result="sent").inc()
    return True
