from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import metrics
from ..extensions import db, limiter
from ..models import LoginEvent, User, utcnow
from ..observability import log_event
from ..security import (
    PASSWORD_MAX_LENGTH,
    dummy_password_check,
    hash_password,
    needs_rehash,
    safe_redirect_target,
    verify_password,
)
from ..sessions import client_user_agent, sign_in, sign_out
from . import bp
from .forms import LoginForm, RegisterForm
from .recovery import SEND_FAILED, send_verification

# One message for an unknown account, a wrong password and a locked account.
INVALID_CREDENTIALS = "Invalid username/e-mail or password."
UNVERIFIED = "Confirm your e-mail address first: follow the link in the e-mail we sent you."


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _register_limit() -> str:
    return current_app.config["RATELIMIT_REGISTER"]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        username = form.username.data.lower()
        email = form.email.data
        taken = _taken_fields(username, email)
        if not taken:
            user = User(username=username, email=email, password_hash=hash_password(form.password.data))
            db.session.add(user)
            try:
                db.session.commit()
            except IntegrityError:
                # Another registration won the race: the unique constraints decide.
                db.session.rollback()
                taken = _taken_fields(username, email) or {"username", "email"}
            else:
                log_event("user.registered", user_id=user.id)
                metrics.REGISTRATIONS.inc()
                flash("Your account is ready. Sign in to continue.", "success")
                if send_verification(user) == "sent":
                    flash(f"We have sent a link to {email} to confirm the address.", "info")
                else:
                    # The account is saved either way; the dashboard offers to send the link again.
                    flash(
                        "We could not send the confirmation e-mail just now. "
                        "You can send it again from your dashboard.",
                        "warning",
                    )
                return redirect(url_for("auth.login"))
        if "username" in taken:
            form.username.errors.append("That username is taken.")
        if "email" in taken:
            form.email.errors.append("An account with that e-mail address already exists.")
    status = 422 if form.errors else 200
    return render_template("register.html", form=form), status


def _taken_fields(username: str, email: str) -> set[str]:
    rows = db.session.execute(
        select(User.username, User.email).where(or_(User.username == username, User.email == email))
    ).all()
    taken = set()
    for row in rows:
        if row.username == username:
            taken.add("username")
        if row.email == email:
            taken.add("email")
    return taken


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    next_url = safe_redirect_target(request.args.get("next"), url_for("dashboard.dashboard"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if form.validate_on_submit():
        user = _authenticate(form.login.data, form.password.data)
        if user is None:
            form.form_errors.append(INVALID_CREDENTIALS)
        elif current_app.config["REQUIRE_EMAIL_VERIFICATION"] and not user.email_verified:
            # The password was right, so saying why is safe; a fresh link goes out.
            log_event("auth.login_unverified", user_id=user.id)
            result = send_verification(user)
            if result == "sent":
                form.form_errors.append(UNVERIFIED + f" We have sent a new link to {user.email}.")
            elif result == "throttled":
                form.form_errors.append(UNVERIFIED + " Use the latest link we sent you.")
            else:
                form.form_errors.append(UNVERIFIED + " " + SEND_FAILED)
        else:
            sign_in(user, remember=bool(form.remember_me.data))
            return redirect(next_url)
    status = 422 if (form.errors or form.form_errors) else 200
    return render_template("login.html", form=form), status


def _record_event(user: User, success: bool) -> None:
    db.session.add(
        LoginEvent(
            user_id=user.id,
            ip=request.remote_addr,
            user_agent=client_user_agent(),
            success=success,
            created_at=utcnow(),
        )
    )


def _authenticate(login: str, password: str) -> User | None:
    """The account when the credentials are right and it is not locked.

    Every path costs exactly one password hash check.
    """
    identifier = login.strip().lower()
    user = db.session.scalars(
        select(User).where(or_(User.username == identifier, User.email == identifier))
    ).first()
    if user is None:
        dummy_password_check(password)
        log_event("auth.login_failed", reason="unknown_account")
        metrics.LOGINS.labels(result="unknown_account").inc()
        return None

    now = utcnow()
    password_ok = len(password) <= PASSWORD_MAX_LENGTH and verify_password(user.password_hash, password)
    if user.is_locked(now):
        _record_event(user, success=False)
        db.session.commit()
        log_event("auth.login_failed", user_id=user.id, reason="locked")
        metrics.LOGINS.labels(result="locked").inc()
        return None

    if not password_ok:
        _register_failure(user, now)
        return None

    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    _record_event(user, success=True)
    db.session.commit()
    log_event("auth.login_succeeded", user_id=user.id)
    metrics.LOGINS.labels(result="success").inc()
    return user


def _register_failure(user: User, now) -> None:
    """Count a failure atomically in the database (shared by every process)
    and lock the account when the threshold is reached."""
    config = current_app.config
    count = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_login_count=User.failed_login_count + 1)
        .returning(User.failed_login_count)
    ).scalar_one()
    _record_event(user, success=False)
    log_event("auth.login_failed", user_id=user.id, reason="bad_password")
    metrics.LOGINS.labels(result="bad_password").inc()
    if count >= config["LOCKOUT_THRESHOLD"]:
        db.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(locked_until=now + config["LOCKOUT_DURATION"], failed_login_count=0)
        )
        log_event("auth.locked", user_id=user.id, until=(now + config["LOCKOUT_DURATION"]).isoformat())
        metrics.LOCKOUTS.inc()
    db.session.commit()


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user_id = current_user.id
    sign_out(current_user._get_current_object())
    log_event("auth.logout", user_id=user_id)
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))
