"""E-mail confirmation by signed links (app/tokens.py).

- A new account is owed a confirmation link (send_verification, by
  registration and by a sign-in of an unconfirmed account when
  REQUIRE_EMAIL_VERIFICATION is on); /auth/verify/resend sends another,
  within the mail quotas of app/auth/account_mail.py.
- /auth/verify/<token> confirms the address; the link is bound to the address
  and its unconfirmed state, so it works once.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_login import current_user, login_required

from .. import outbox, tokens
from ..events import emit
from ..extensions import db, limiter
from ..limits import link_mail_limit
from ..models import User, utcnow
from . import bp
from .account_mail import SEND_FAILED, invalid_link, queue_mail


def send_verification(user: User) -> str:
    """Owe the address confirmation link and commit; the result of queue_mail()."""
    result = queue_mail(user, "email_verification")
    db.session.commit()
    outbox.wake()
    return result


@bp.route("/verify/<token>")
def verify_email(token: str):
    try:
        user = tokens.load_user(tokens.CONFIRM_LINK, token, current_app.config["EMAIL_VERIFY_MAX_AGE"])
    except tokens.TokenError as exc:
        if exc.reason != "used":
            return invalid_link("email_verification", exc.reason)
        # Following the link twice is not an error worth a 400.
        flash("Your e-mail address is already confirmed.", "info")
    else:
        user.email_verified_at = utcnow()
        db.session.commit()
        emit("auth.email_verified", user_id=user.id)
        flash("Your e-mail address is confirmed. Thank you.", "success")
    return redirect(url_for("dashboard.dashboard" if current_user.is_authenticated else "auth.login"))


@bp.route("/verify/resend", methods=["POST"])
@login_required
@limiter.limit(link_mail_limit)
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
