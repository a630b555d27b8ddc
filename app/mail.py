"""Outgoing e-mail: rendered from templates, sent through Flask-Mailman.

With MAIL_SERVER set, messages go over SMTP (STARTTLS or implicit TLS, a
timeout on every connection). In development without a server they are
written to the log, link included, so a developer can follow it. In staging
and production without a server nothing can be sent: the caller shows a
polite error; a token never reaches those logs.

Nothing here runs on a request: requests write what they owe to the outbox
(app/outbox.py), whose sender builds and sends the messages.
"""

from __future__ import annotations

import smtplib

from flask import current_app, render_template
from flask_mailman import EmailMultiAlternatives, Mail
from flask_mailman.backends.base import BaseEmailBackend

from .events import emit

mail = Mail()


class LogEmailBackend(BaseEmailBackend):
    """Development: every message becomes one log event with its text body."""

    def send_messages(self, email_messages):
        for message in email_messages:
            emit(
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


def build(to: str, subject: str, template: str, **context: object) -> EmailMultiAlternatives:
    """Render emails/<template>.txt and .html into a message to one address."""
    context.setdefault("app_name", "Flask Auth")
    text = render_template(f"emails/{template}.txt", **context)
    html = render_template(f"emails/{template}.html", **context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    return message


# What a failed send raises: SMTP errors, OSError (refused, timeouts), no server.
SEND_ERRORS = (smtplib.SMTPException, OSError, MailNotConfigured)


def sending_possible() -> bool:
    """False in staging/production without MAIL_SERVER: no message could ever leave."""
    return current_app.config["MAIL_BACKEND"] != "app.mail.UnconfiguredEmailBackend"
