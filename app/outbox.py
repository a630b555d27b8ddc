"""The mail outbox: e-mails owed are rows, written with the action that owes them.

Registration, /auth/verify/resend, an unconfirmed sign-in and /auth/reset add a
MailOutbox row in the transaction of their own write (enqueue()) and never talk
to the relay, so a slow, hung or refusing relay cannot slow a request or tell
a known address from an unknown one by its timing, and a mail is owed exactly
when the action committed.

A sender delivers the rows (deliver_due()), at least once:
- it claims one due row at a time (SELECT ... FOR UPDATE SKIP LOCKED on
  PostgreSQL, then a conditional UPDATE, which alone does the job on SQLite),
  marking it `sending` with a lease (claimed_until) and counting the attempt,
  and commits before it opens the SMTP connection: no transaction is held
  across the exchange;
- on success the row is `sent`; on failure it is `pending` again after an
  exponential backoff with jitter, and `failed` (logged `mail.failed`,
  counted) after MAIL_MAX_ATTEMPTS;
- a sender killed mid-send leaves its row `sending`; when the lease runs out
  another sender claims it again (so a message may, rarely, arrive twice);
  a sender that lost the database mid-message gives its claim back as soon
  as the database returns (give_back()), without waiting for the lease.

The message, link token included, is rendered when it is sent, not when it is
owed: the link is valid for its whole max age from delivery however long an
outage lasted, and the table holds no token that could open an account.

Each app process runs one sender thread (MAIL_SENDER=thread, started by
gunicorn's post_worker_init hook or the first request) that polls every
MAIL_POLL_SECONDS and is woken by each enqueue; gunicorn's worker_exit hook
drains it (drain()). MAIL_SENDER=off leaves delivery to `flask mail-outbox
--deliver` (tests call deliver_due() themselves).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update

from . import mail, tokens
from .events import emit
from .extensions import db
from .models import MailOutbox, User, utcnow

EXTENSION = "mail_outbox"


@dataclass(frozen=True)
class Kind:
    subject: str
    template: str
    purpose: str | None  # the token's purpose (app/tokens.py); None: a notice with no link
    endpoint: str | None  # the view the link opens
    context: Callable[[dict], dict]  # template values from the config


KINDS: dict[str, Kind] = {
    "email_verification": Kind(
        "Confirm your e-mail address",
        "verify_email",
        tokens.CONFIRM_LINK,
        "auth.verify_email",
        lambda config: {"hours": int(config["EMAIL_VERIFY_MAX_AGE"].total_seconds() // 3600)},
    ),
    "password_reset": Kind(
        "Reset your password",
        "reset_password",
        tokens.RESET_LINK,
        "auth.reset_password",
        lambda config: {"minutes": int(config["PASSWORD_RESET_MAX_AGE"].total_seconds() // 60)},
    ),
}

# Notices to the owner that a second factor changed (app/mfa/): no link, no token.
_MFA_CHANGES = {
    "mfa_totp_enabled": "An authenticator app was turned on for two-step sign-in",
    "mfa_totp_replaced": "The authenticator app of your two-step sign-in was replaced",
    "mfa_totp_disabled": "Two-step sign-in with an authenticator app was turned off",
    "mfa_passkey_added": "A passkey was added to your account",
    "mfa_passkey_removed": "A passkey was removed from your account",
    "mfa_recovery_codes": "New recovery codes were made; the old ones no longer work",
    "mfa_reset": "An operator removed every second factor of your account",
}
for _kind, _change in _MFA_CHANGES.items():
    KINDS[_kind] = Kind(
        "Your sign-in security changed", "mfa_changed", None, None, lambda config, c=_change: {"change": c}
    )


def enqueue(kind: str, user: User) -> None:
    """Owe `kind` to the user: a row in the caller's transaction (the caller commits)."""
    now = utcnow()
    db.session.add(
        MailOutbox(
            kind=kind,
            recipient=user.email,
            user_id=user.id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    emit("mail.queued", kind=kind, user_id=user.id)


def retry_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Seconds before the next try after `attempt` failed ones: base doubling per
    attempt up to cap, of which jitter (0..1) keeps the upper half or less, so
    senders that failed together do not retry together."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return delay / 2 + delay / 2 * jitter


def _due(now: datetime):
    return or_(
        and_(MailOutbox.status == "pending", MailOutbox.next_attempt_at <= now),
        and_(MailOutbox.status == "sending", MailOutbox.claimed_until < now),  # its sender died
    )


def _lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])


def claim(now: datetime, limit: int = 1) -> list[int]:
    """Claim up to `limit` due messages for this sender's lease and commit; their ids."""
    lease_end = _lease_end(now)
    candidates = db.session.scalars(
        select(MailOutbox.id)
        .where(_due(now))
        .order_by(MailOutbox.next_attempt_at, MailOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    ).all()
    claimed = []
    for message_id in candidates:
        # Conditional: on SQLite another sender may have claimed it since the SELECT.
        result = db.session.execute(
            update(MailOutbox)
            .where(MailOutbox.id == message_id, _due(now))
            .values(status="sending", claimed_until=lease_end, attempts=MailOutbox.attempts + 1)
        )
        if result.rowcount == 1:
            claimed.append(message_id)
    db.session.commit()
    return claimed


def _render(row: MailOutbox, user: User):
    """The message, with a token made now (see the module's docstring)."""
    kind = KINDS[row.kind]
    link = None
    if kind.endpoint is not None:
        token = tokens.make_token(kind.purpose, user)
        # Built from the URL map alone: no request, no client-sent SCRIPT_NAME or Host.
        path = current_app.url_map.bind("localhost").build(kind.endpoint, {"token": token})
        link = current_app.config["APP_BASE_URL"] + path
    return mail.build(
        row.recipient,
        kind.subject,
        kind.template,
        user=user,
        link=link,
        **kind.context(current_app.config),
    )


def _finish(row_id: int, lease_end: datetime, **values: object) -> None:
    """Record the outcome, unless the lease ran out and another sender took over."""
    db.session.execute(
        update(MailOutbox)
        .where(
            MailOutbox.id == row_id,
            MailOutbox.status == "sending",
            MailOutbox.claimed_until == lease_end,
        )
        .values(claimed_until=None, **values)
    )
    db.session.commit()


def _deliver_one(row_id: int, now: datetime) -> str | None:
    """Send one claimed message; "sent", "retried" or "failed" (None: its
    account was deleted meanwhile, and the message with it)."""
    config = current_app.config
    row = db.session.get(MailOutbox, row_id)
    user = db.session.get(User, row.user_id) if row is not None else None
    if row is None or user is None:
        db.session.rollback()
        return None
    kind, attempts, lease_end = row.kind, row.attempts, row.claimed_until
    error = None
    try:
        message = _render(row, user)
    except Exception as exc:  # a bug in a template must not stop the other messages
        error = type(exc).__name__
        emit("mail.render_failed", kind=kind, message_id=row_id, error=error)
    db.session.rollback()  # nothing is held open across the SMTP exchange
    if error is None:
        try:
            message.send()
        except mail.SEND_ERRORS as exc:  # OSError covers refusals and timeouts
            error = type(exc).__name__
    if error is None:
        _finish(row_id, lease_end, status="sent", sent_at=utcnow(), last_error=None)
        emit("mail.sent", kind=kind, message_id=row_id, attempts=attempts)
        return "sent"
    if attempts >= config["MAIL_MAX_ATTEMPTS"]:
        _finish(row_id, lease_end, status="failed", last_error=error)
        emit("mail.failed", kind=kind, message_id=row_id, attempts=attempts, error=error)
        return "failed"
    # Jitter spreads retries; it guards nothing, so a non-cryptographic random is right.
    jitter = random.random()  # noqa: S311  # nosec B311
    delay = retry_delay(attempts, config["MAIL_RETRY_BASE_SECONDS"], config["MAIL_RETRY_MAX_SECONDS"], jitter)
    retry_at = now + timedelta(seconds=delay)
    _finish(row_id, lease_end, status="pending", next_attempt_at=retry_at, last_error=error)
    emit(
        "mail.send_failed",
        kind=kind,
        message_id=row_id,
        attempts=attempts,
        error=error,
        retry_in=round(delay, 1),
        result="retried",
    )
    return "retried"


def deliver_due(
    app: Flask,
    now: datetime | None = None,
    deadline: float | None = None,
    stop: threading.Event | None = None,
    unfinished: list[tuple[int, datetime]] | None = None,
) -> dict[str, int]:
    """Deliver every message due now, one claim at a time; counts by outcome.

    now: the time to judge by (tests move it forward); deadline: a
    time.monotonic() after which no new message is started; stop: an event
    that ends the pass between two messages; unfinished: where a pass that
    fails mid-message (the database gone) notes the claim it leaves, for
    give_back().
    """
    counts = {"sent": 0, "retried": 0, "failed": 0}
    # One moment for the pass: a message that fails in it is not due again in it.
    moment = now or utcnow()
    with app.app_context():
        while not (stop is not None and stop.is_set()):
            if deadline is not None and time.monotonic() >= deadline:
                break
            claimed = claim(moment)
            if not claimed:
                break
            try:
                outcome = _deliver_one(claimed[0], moment)
            except Exception:
                # The database went away between the claim and the outcome.
                if unfinished is not None:
                    unfinished.append((claimed[0], _lease_end(moment)))
                raise
            if outcome is not None:
                counts[outcome] += 1
    return counts


def give_back(app: Flask, unfinished: list[tuple[int, datetime]]) -> None:
    """Make due again the messages a failed pass left claimed, now rather than
    when their lease runs out (a minute or more after the database returned).

    The outcome of such a message is unknown (it may have gone out before the
    database went away), so it is sent again: at least once. Raises, keeping
    what is left, while the database is still away.
    """
    with app.app_context():
        while unfinished:
            row_id, lease_end = unfinished[0]
            _finish(row_id, lease_end, status="pending", next_attempt_at=utcnow())
            unfinished.pop(0)


class Sender:
    """The sender thread of one app process."""

    def __init__(self, app: Flask):
        self.app = app
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.unfinished: list[tuple[int, datetime]] = []  # claims a failed pass left

    def start(self) -> None:
        if self.thread is not None:  # every request after the first: no lock taken
            return
        with self._lock:
            if self.thread is not None or self.stop.is_set():
                return
            self.thread = threading.Thread(target=self._run, name="mail-outbox-sender", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        poll = self.app.config["MAIL_POLL_SECONDS"]
        failing = False
        while not self.stop.is_set():
            try:
                give_back(self.app, self.unfinished)
                deliver_due(self.app, stop=self.stop, unfinished=self.unfinished)
                failing = False
            except Exception as exc:  # the database is away: try again at the next poll
                if not failing:
                    emit("mail.sender_error", error=type(exc).__name__)
                failing = True
            self.wake.wait(poll)
            self.wake.clear()

    def halt(self, seconds: float) -> None:
        """Stop after the message in hand, waiting at most `seconds` for it."""
        self.stop.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(seconds)


def init_app(app: Flask) -> None:
    if app.config["MAIL_SENDER"] != "thread":
        return
    sender = app.extensions[EXTENSION] = Sender(app)
    # Under gunicorn the post_worker_init hook starts it; elsewhere (flask run)
    # the first request does. CLI commands never start one.
    app.before_request(sender.start)


def start_sender(app: Flask) -> None:
    sender = app.extensions.get(EXTENSION)
    if sender is not None:
        sender.start()


def wake() -> None:
    """Tell this process's sender that a message was committed (after the commit)."""
    sender = current_app.extensions.get(EXTENSION)
    if sender is not None:
        sender.start()
        sender.wake.set()


def stop_sender(app: Flask, wait: bool = True) -> None:
    """Stop this process's sender; wait=False does not wait for the message in
    hand (its claim runs out and another sender sends it)."""
    sender = app.extensions.get(EXTENSION)
    if sender is not None:
        sender.halt(app.config["MAIL_TIMEOUT"] + 1 if wait else 0)


def drain(app: Flask, seconds: float) -> int:
    """On shutdown: stop the thread, then deliver what is due for at most `seconds`.

    What is left (or in hand when the process is killed) stays in the table for
    the next sender. Returns the number of messages sent.
    """
    deadline = time.monotonic() + seconds
    sender = app.extensions.get(EXTENSION)
    if sender is not None:
        sender.halt(max(0.0, seconds))
        give_back(app, sender.unfinished)
    return deliver_due(app, deadline=deadline)["sent"]
