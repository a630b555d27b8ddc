"""Operator commands: flask --app app create-user / unlock-user / end-sessions / purge / mail-outbox."""

from __future__ import annotations

import functools

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from . import lockout, outbox, sessions
from .events import emit
from .extensions import db
from .mfa import passkeys as mfa_passkeys
from .mfa import pending as mfa_pending
from .models import LoginEvent, MailOutbox, TrustedDevice, User, UserSession, delete_rows, utcnow
from .security import hash_password


def _find_user(name: str) -> User | None:
    identifier = name.strip().lower()
    return db.session.scalars(
        select(User).where(or_(User.username == identifier, User.email == identifier))
    ).first()


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.argument("email")
@click.password_option(help="The password (prompted, hidden, when not given).")
def create_user(username: str, email: str, password: str) -> None:
    """Create an account with USERNAME and EMAIL."""
    from werkzeug.datastructures import MultiDict

    from .auth.forms import RegisterForm

    # The same validation as the sign-up page: one set of rules for both doors.
    form = RegisterForm(
        formdata=MultiDict(
            {"username": username, "email": email, "password": password, "confirm_password": password}
        ),
        meta={"csrf": False},
    )
    if not form.validate():
        for field, label in (("username", "USERNAME must be valid"), ("email", "EMAIL is not valid")):
            if field in form.errors:
                raise click.UsageError(f"{label}: {' '.join(form.errors[field])}")
        raise click.UsageError("Password refused: " + " ".join(form.errors.get("password", [])))
    username, email = form.username.data.lower(), form.email.data
    user = User(username=username, email=email, password_hash=hash_password(password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException("An account with that username or e-mail already exists.") from None
    emit("user.registered", user_id=user.id, via="cli")
    click.echo(f"Created user {username} (id {user.id}).")


def _account_command(command_name: str):
    """A command acting on the account NAME (username or e-mail): the decorated
    function gets its User; no such account is an error."""

    def decorate(function):
        @click.command(command_name)
        @with_appcontext
        @click.argument("name")
        @functools.wraps(function)
        def command(name: str) -> None:
            user = _find_user(name)
            if user is None:
                raise click.ClickException(f"No account named {name!r}.")
            function(user)

        return command

    return decorate


@_account_command("unlock-user")
def unlock_user(user: User) -> None:
    """Lift the lockout of the account NAME (username or e-mail)."""
    lockout.unlock(user.id)
    db.session.commit()
    emit("auth.unlocked", user_id=user.id, via="cli")
    click.echo(f"Unlocked {user.username}.")


@_account_command("end-sessions")
def end_sessions(user: User) -> None:
    """End every session of the account NAME (username or e-mail), everywhere."""
    ended = delete_rows(UserSession, UserSession.user_id == user.id)
    db.session.commit()
    emit("session.ended", user_id=user.id, reason="ended_by_operator", count=ended, via="cli")
    click.echo(f"Ended {ended} session{'s' if ended != 1 else ''} of {user.username}.")


@click.command("purge")
@with_appcontext
def purge() -> None:
    """Delete what is kept no longer: expired sessions, sign-in history older than
    LOGIN_EVENT_RETENTION_DAYS, devices unused for DEVICE_COOKIE_LIFETIME_SECONDS,
    e-mails sent more than MAIL_OUTBOX_RETENTION_DAYS ago.
    Safe to run at any time and from several places (the chart runs it as a CronJob)."""
    config = current_app.config
    now = utcnow()
    counts = {
        "sessions": sessions.purge_expired(now),
        "login_events": delete_rows(
            LoginEvent, LoginEvent.created_at < now - config["LOGIN_EVENT_RETENTION"]
        ),
        "devices": delete_rows(
            TrustedDevice, TrustedDevice.last_used_at < now - config["DEVICE_COOKIE_LIFETIME"]
        ),
        "mfa_pending_sign_ins": mfa_pending.purge_expired(now),
        "webauthn_challenges": mfa_passkeys.purge_expired(now),
    }
    db.session.commit()
    emit(
        "maintenance.purged",
        via="cli",
        sessions=counts["sessions"],
        login_events=counts["login_events"],
        devices=counts["devices"],
        mfa_pending_sign_ins=counts["mfa_pending_sign_ins"],
        webauthn_challenges=counts["webauthn_challenges"],
    )
    click.echo(
        "Purged " + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()) + "."
    )
    # Sent e-mails are history; failed ones wait for an operator (flask mail-outbox).
    sent = delete_rows(
        MailOutbox, MailOutbox.status == "sent", MailOutbox.sent_at < now - config["MAIL_OUTBOX_RETENTION"]
    )
    db.session.commit()
    emit("maintenance.purged", via="cli", mail_outbox=sent)
    click.echo(f"Purged {sent} sent e-mail{'s' if sent != 1 else ''} from the outbox.")


def _requeue(*conditions) -> int:
    """Make messages due now with a full set of attempts again."""
    count = db.session.execute(
        update(MailOutbox)
        .where(*conditions)
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
    ).rowcount
    db.session.commit()
    return count or 0


@click.command("mail-outbox")
@with_appcontext
@click.option(
    "--retry", "retry_id", type=int, metavar="ID", help="Send message ID again (failed or pending)."
)
@click.option("--retry-failed", is_flag=True, help="Send every failed message again.")
@click.option("--deliver", is_flag=True, help="Deliver every message due now, then return.")
def mail_outbox(retry_id: int | None, retry_failed: bool, deliver: bool) -> None:
    """List the e-mails not sent yet (pending, sending, failed), or act on them.

    Neither addresses nor links are shown: the links are made when a message
    is sent, and the user id says whom a message is for."""
    if retry_id is not None:
        row = db.session.get(MailOutbox, retry_id)
        if row is None:
            raise click.ClickException(f"No message {retry_id}.")
        if row.status == "sent":
            raise click.ClickException(f"Message {retry_id} was already sent.")
        _requeue(MailOutbox.id == retry_id)
        emit("mail.requeued", via="cli", message_id=retry_id)
        click.echo(f"Message {retry_id} will be sent again.")
    if retry_failed:
        count = _requeue(MailOutbox.status == "failed")
        emit("mail.requeued", via="cli", count=count)
        click.echo(f"{count} message{'s' if count != 1 else ''} will be sent again.")
    if deliver:
        counts = outbox.deliver_due(current_app._get_current_object())
        click.echo(", ".join(f"{count} {outcome}" for outcome, count in counts.items()) + ".")
    if retry_id is not None or retry_failed or deliver:
        return
    rows = db.session.scalars(
        select(MailOutbox).where(MailOutbox.status != "sent").order_by(MailOutbox.id)
    ).all()
    if not rows:
        click.echo("Nothing pending or failed.")
        return
    click.echo(
        f"{'ID':>6}  {'KIND':<20} {'USER':>6}  {'STATUS':<8} {'TRIES':>5}  {'NEXT TRY (UTC)':<19}  LAST ERROR"
    )
    for row in rows:
        next_try = row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if row.status == "pending" else "-"
        click.echo(
            f"{row.id:>6}  {row.kind:<20} {row.user_id:>6}  {row.status:<8} {row.attempts:>5}  "
            f"{next_try:<19}  {row.last_error or '-'}"
        )


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(unlock_user)
    app.cli.add_command(end_sessions)
    app.cli.add_command(purge)
    app.cli.add_command(mail_outbox)
