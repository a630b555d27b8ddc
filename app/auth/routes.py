from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from .. import lockout
from ..events import emit
from ..extensions import db, limiter
from ..limits import login_limit, register_limit
from ..mfa import factors as mfa_factors
from ..mfa import pending as mfa_pending
from ..models import LoginEvent, User, utcnow
from ..security import (
    check_typed_password,
    dummy_password_check,
    hash_password,
    needs_rehash,
    safe_redirect_target,
)
from ..sessions import client_user_agent, sign_in, sign_out
from . import bp
from .account_mail import SEND_FAILED
from .forms import LoginForm, RegisterForm
from .verification import send_verification

# One message for an unknown account, a wrong password and a locked account.
INVALID_CREDENTIALS = "Invalid username/e-mail or password."
UNVERIFIED = "Confirm your e-mail address first: follow the link in the e-mail we sent you."


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(register_limit, methods=["POST"])
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
                db.session.flush()
            except IntegrityError:
                # Another registration won the race: the unique constraints decide.
                db.session.rollback()
                taken = _taken_fields(username, email) or {"username", "email"}
            else:
                # The account and the confirmation mail it is owed: one commit.
                mail_result = send_verification(user)
                emit("user.registered", user_id=user.id)
                flash("Your account is ready. Sign in to continue.", "success")
                if mail_result == "queued":
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
@limiter.limit(login_limit, methods=["POST"])
def login():
    next_url = safe_redirect_target(request.args.get("next"), url_for("dashboard.dashboard"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if form.validate_on_submit():
        attempt = _authenticate(form.login.data, form.password.data)
        user = attempt.user if attempt else None
        if user is None:
            form.form_errors.append(INVALID_CREDENTIALS)
        elif current_app.config["REQUIRE_EMAIL_VERIFICATION"] and not user.email_verified:
            # The password was right, so saying why is safe; a fresh link goes out.
            emit("auth.login_unverified", user_id=user.id)
            result = send_verification(user)
            if result == "queued":
                form.form_errors.append(UNVERIFIED + f" We have sent a new link to {user.email}.")
            elif result == "throttled":
                form.form_errors.append(UNVERIFIED + " Use the latest link we sent you.")
            else:
                form.form_errors.append(UNVERIFIED + " " + SEND_FAILED)
        elif attempt.two_step:
            # The password was right; the session starts after the second factor.
            mfa_pending.start(
                user.id,
                credential_version=attempt.credential_version,
                device_id=attempt.device_id,
                remember=bool(form.remember_me.data),
                next_url=next_url,
            )
            return redirect(url_for("mfa.second_step"))
        else:
            response = redirect(next_url)
            lockout.trust_device(response, user.id, attempt.device_id, utcnow())
            sign_in(user, credential_version=attempt.credential_version, remember=bool(form.remember_me.data))
            return response
    status = 422 if (form.errors or form.form_errors) else 200
    return render_template("login.html", form=form), status


def _record_event(user_id: int, success: bool) -> None:
    db.session.add(
        LoginEvent(
            user_id=user_id,
            ip=request.remote_addr,
            user_agent=client_user_agent(),
            success=success,
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class Attempt:
    """A right password, judged while the account (or this device) was not locked."""

    user: User  # as read with the hash that was checked (not refreshed by the sign-in's writes)
    credential_version: int
    device_id: str | None
    two_step: bool  # the account has a second factor: the sign-in is not complete yet


def _authenticate(login: str, password: str) -> Attempt | None:
    """The sign-in when the credentials are right and their scope is not locked.

    Every path costs exactly one password hash check, whatever the account
    and whatever the password's length. The lock is decided after the hash,
    in one conditional UPDATE (app/lockout.py), and no transaction is held
    open while the hash runs.
    """
    identifier = login.strip().lower()
    account = db.session.scalars(
        select(User).where(or_(User.username == identifier, User.email == identifier))
    ).first()
    if account is None:
        db.session.rollback()
        dummy_password_check(password)
        emit("auth.login_failed", reason="unknown_account")
        return None
    device_id = lockout.trusted_device(account.id)
    # Give the connection back while the hash runs. The account leaves the
    # session first, so the rollback does not expire it: a right password
    # signs in with it as read here, without reading it again.
    db.session.expunge(account)
    db.session.rollback()

    password_ok = check_typed_password(account.password_hash, password)
    rehash = None
    if password_ok and needs_rehash(account.password_hash):
        rehash = (account.password_hash, hash_password(password))

    now = utcnow()
    scope = lockout.scope_for(account.id, device_id)
    if password_ok:
        two_step = mfa_factors.has_factor(account.id)
        if lockout.record_success(
            scope, account.id, account.credential_version, now, rehash, complete=not two_step
        ):
            _record_event(account.id, success=True)
            db.session.commit()
            db.session.add(account)  # back in the session, as loaded: no query
            emit("auth.login_succeeded", user_id=account.id, trusted_device=scope.trusted)
            return Attempt(account, account.credential_version, device_id, two_step)
        outcome = "locked"
    else:
        outcome = lockout.record_failure(scope, now)
    _record_event(account.id, success=False)
    db.session.commit()
    if outcome == "locked":
        emit("auth.login_failed", user_id=account.id, reason="locked", trusted_device=scope.trusted)
        return None
    emit("auth.login_failed", user_id=account.id, reason="bad_password", trusted_device=scope.trusted)
    if outcome == "locked_now":
        until = now + current_app.config["LOCKOUT_DURATION"]
        emit("auth.locked", user_id=account.id, until=until.isoformat(), trusted_device=scope.trusted)
    return None


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user_id = current_user.id
    sign_out(current_user._get_current_object())
    emit("auth.logout", user_id=user_id)
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))
