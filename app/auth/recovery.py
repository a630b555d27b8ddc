"""Password reset and e-mail confirmation by signed links (app/tokens.py).

- /auth/reset answers the same page, status and text whether or not the
  address has an account, so it cannot be used to find accounts. It is
  limited per client IP (RATELIMIT_RESET); an account gets at most
  MAIL_PER_ACCOUNT_LIMIT mails, and MAIL_PER_ACCOUNT_CLIENT_LIMIT from one
  client address. The mail is queued in the outbox (app/outbox.py), never
  sent while the request waits.
- /auth/reset/<token> sets a new password. Success ends every session of the
  account, clears a lockout, confirms the address (the link proved it) and
  voids the link, which is bound to the old password hash.
- /auth/verify/<token> confirms the address; the link is bound to the address
  and its unconfirmed state, so it works once.
"""

from __future__ import annotations

import logging

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from limits import parse_many
from sqlalchemy import delete, func, select, update

from .. import lockout, mail, metrics, outbox, tokens
from ..dependencies import redis_state
from ..extensions import db, limiter
from ..models import User, UserSession, utcnow
from ..observability import log_event
from ..security import hash_password
from ..sessions import sign_out
from . import bp
from .forms import ResetPasswordForm, ResetRequestForm

RESET_REQUESTED = (
    "If an account exists for that address, we have sent a link to reset its password. "
    "It works once and expires in {minutes} minutes. Check your spam folder if it does not arrive."
)
SEND_FAILED = "We could not send the e-mail just now. Please try again in a few minutes."


def _reset_limit() -> str:
    return current_app.config["RATELIMIT_RESET"]


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
            log_event("mail.quota_unavailable", level=logging.WARNING, kind=kind, error=type(exc).__name__)
        if state is not None:
            state.mark(False, observer="mail quota")
        return True
    if not allowed:
        log_event("mail.throttled", user_id=user.id, kind=kind)
        metrics.MAILS.labels(kind=kind, result="throttled").inc()
    return allowed


def queue_mail(user: User, kind: str) -> str:
    """Owe the user a mail of `kind`, within the quotas, in the caller's
    transaction (the caller commits, then calls outbox.wake()).

    Returns "queued", "throttled" (the account had its share of mails this
    hour) or "failed" (no mail can be sent here: staging or production
    without MAIL_SERVER); the caller words the answer.
    """
    if not mail.sending_possible():
        log_event("mail.send_failed", level=logging.ERROR, kind=kind, error="MailNotConfigured")
        metrics.MAILS.labels(kind=kind, result="failed").inc()
        return "failed"
    if not mail_allowed(user, kind):
        return "throttled"
    outbox.enqueue(kind, user)
    return "queued"


def send_verification(user: User) -> str:
    """Owe the address confirmation link and commit; the result of queue_mail()."""
    result = queue_mail(user, "email_verification")
    db.session.commit()
    outbox.wake()
    return result


def _reset_minutes() -> int:
    return int(current_app.config["PASSWORD_RESET_MAX_AGE"].total_seconds() // 60)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = db.session.scalars(select(User).where(User.email == form.email.data)).first()
        if user is None:
            log_event("auth.password_reset_requested", known=False)
        else:
            log_event("auth.password_reset_requested", known=True, user_id=user.id)
            # Whatever the result, the answer stays the same, or it would tell
            # who has an account; the relay is never waited for here.
            queue_mail(user, "password_reset")
            db.session.commit()
            outbox.wake()
        return render_template(
            "reset_requested.html", message=RESET_REQUESTED.format(minutes=_reset_minutes())
        )
    status = 422 if form.errors else 200
    return render_template("reset_request.html", form=form), status


def _invalid_link(kind: str, reason: str):
    log_event("auth.link_refused", kind=kind, reason=reason)
    return render_template("link_invalid.html", kind=kind, reason=reason), 400


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset_password(token: str):
    try:
        user = tokens.load_user(tokens.RESET_LINK, token, current_app.config["PASSWORD_RESET_MAX_AGE"])
    except tokens.TokenError as exc:
        return _invalid_link("password_reset", exc.reason)
    form = ResetPasswordForm(user)
    if form.validate_on_submit():
        user_id, old_hash = user.id, user.password_hash
        db.session.rollback()  # give the connection back while the hash runs
        new_hash = hash_password(form.new_password.data)
        now = utcnow()
        # The link is bound to the old hash: of several uses racing each
        # other, the one whose UPDATE still finds it wins; the others see a
        # used link.
        changed = db.session.execute(
            update(User)
            .where(User.id == user_id, User.password_hash == old_hash)
            .values(
                password_hash=new_hash,
                credential_version=User.credential_version + 1,
                email_verified_at=func.coalesce(User.email_verified_at, now),
            )
            .returning(User.id)
        ).first()
        if changed is None:
            db.session.rollback()
            return _invalid_link("password_reset", "used")
        lockout.unlock(user_id)
        ended = db.session.execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount or 0
        db.session.commit()
        log_event("auth.password_reset", user_id=user_id, sessions_ended=ended)
        metrics.PASSWORD_RESETS.inc()
        if current_user.is_authenticated:
            # Whoever is signed in in this browser signs in again, with the new password.
            sign_out(current_user._get_current_object(), reason="password_reset")
        flash("Your password has been changed. Sign in with your new password.", "success")
        return redirect(url_for("auth.login"))
    status = 422 if form.errors else 200
    return render_template("reset_password.html", form=form, user=user), status


@bp.route("/verify/<token>")
def verify_email(token: str):
    try:
        user = tokens.load_user(tokens.CONFIRM_LINK, token, current_app.config["EMAIL_VERIFY_MAX_AGE"])
    except tokens.TokenError as exc:
        if exc.reason != "used":
            return _invalid_link("email_verification", exc.reason)
        # Following the link twice is not an error worth a 400.
        flash("Your e-mail address is already confirmed.", "info")
    else:
        user.email_verified_at = utcnow()
        db.session.commit()
        log_event("auth.email_verified", user_id=user.id)
        flash("Your e-mail address is confirmed. Thank you.", "success")
    return redirect(url_for("dashboard.dashboard" if current_user.is_authenticated else "auth.login"))


@bp.route("/verify/resend", methods=["POST"])
@login_required
@limiter.limit(_reset_limit)
def resend_verification():
    user: User = current_user._get_current_object()
    if user.email_verified:
        flash("Your e-mail address is already confirmed.", "info")
    else:
        result = send_verification(user)
        if result == "queued":
            flash(f"We have sent a new confirmation link to {user.email}.", "success")
        elif result == "throttled":
            flash(
                "We have already sent several links this hour. Please use the latest one, or try later.",
                "warning",
            )
        else:
            flash(SEND_FAILED, "error")
    return redirect(url_for("dashboard.dashboard"))
