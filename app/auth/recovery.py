"""Password reset by signed links (app/tokens.py); e-mail confirmation is
app/auth/verification.py, the mail quotas both use app/auth/account_mail.py.

- /auth/reset answers the same page, status and text whether or not the
  address has an account, so it cannot be used to find accounts. It is
  limited per client IP (RATELIMIT_RESET); an account gets at most
  MAIL_PER_ACCOUNT_LIMIT mails, and MAIL_PER_ACCOUNT_CLIENT_LIMIT from one
  client address. The mail is queued in the outbox (app/outbox.py), never
  sent while the request waits.
- /auth/reset/<token> sets a new password. Success ends every session of the
  account, clears a lockout, confirms the address (the link proved it) and
  voids the link, which is bound to the old password hash.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import delete, func, select, update

from .. import lockout, outbox, tokens
from ..events import emit
from ..extensions import db, limiter
from ..limits import link_mail_limit
from ..models import User, UserSession, utcnow
from ..security import hash_password
from ..sessions import sign_out
from . import bp
from .account_mail import invalid_link, queue_mail
from .forms import ResetPasswordForm, ResetRequestForm

RESET_REQUESTED = (
    "If an account exists for that address, we have sent a link to reset its password. "
    "It works once and expires in {minutes} minutes. Check your spam folder if it does not arrive."
)


def _reset_minutes() -> int:
    return int(current_app.config["PASSWORD_RESET_MAX_AGE"].total_seconds() // 60)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(link_mail_limit, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = db.session.scalars(select(User).where(User.email == form.email.data)).first()
        if user is None:
            emit("auth.password_reset_requested", known=False)
        else:
            emit("auth.password_reset_requested", known=True, user_id=user.id)
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


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(link_mail_limit, methods=["POST"])
def reset_password(token: str):
    try:
        user = tokens.load_user(tokens.RESET_LINK, token, current_app.config["PASSWORD_RESET_MAX_AGE"])
    except tokens.TokenError as exc:
        return invalid_link("password_reset", exc.reason)
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
            return invalid_link("password_reset", "used")
        lockout.unlock(user_id)
        ended = db.session.execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount or 0
        db.session.commit()
        emit("auth.password_reset", user_id=user_id, sessions_ended=ended)
        if current_user.is_authenticated:
            # Whoever is signed in in this browser signs in again, with the new password.
            sign_out(current_user._get_current_object(), reason="password_reset")
        flash("Your password has been changed. Sign in with your new password.", "success")
        return redirect(url_for("auth.login"))
    status = 422 if form.errors else 200
    return render_template("reset_password.html", form=form, user=user), status
