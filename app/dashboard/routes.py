from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import LoginEvent, User, UserSession
from ..observability import log_event
from ..security import PASSWORD_MAX_LENGTH, describe_user_agent, hash_password, verify_password
from ..sessions import active_sessions, end_other_sessions, sign_out
from . import bp
from .forms import ChangePasswordForm, DeleteAccountForm

RECENT_EVENTS = 10


@bp.app_template_filter("when")
def when(moment) -> Markup:
    """A UTC time for people, with the machine-readable value beside it."""
    if moment is None:
        return Markup("never")
    return Markup('<time datetime="{}">{} UTC</time>').format(
        moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M")
    )


bp.add_app_template_filter(describe_user_agent, "browser")


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.dashboard"))
    return redirect(url_for("auth.login"))


def _failures_since_previous_sign_in(user: User) -> int:
    """Failed attempts after the sign-in before this one (or ever, if none)."""
    previous_success = db.session.scalar(
        select(LoginEvent.created_at)
        .where(LoginEvent.user_id == user.id, LoginEvent.success.is_(True))
        .order_by(LoginEvent.created_at.desc(), LoginEvent.id.desc())
        .offset(1)
        .limit(1)
    )
    query = select(func.count()).where(LoginEvent.user_id == user.id, LoginEvent.success.is_(False))
    if previous_success is not None:
        query = query.where(LoginEvent.created_at > previous_success)
    return db.session.scalar(query) or 0


def _render_dashboard(delete_form: DeleteAccountForm | None = None, status: int = 200):
    user: User = current_user._get_current_object()
    events = db.session.scalars(
        select(LoginEvent)
        .where(LoginEvent.user_id == user.id)
        .order_by(LoginEvent.created_at.desc(), LoginEvent.id.desc())
        .limit(RECENT_EVENTS)
    ).all()
    return (
        render_template(
            "dashboard.html",
            user=user,
            events=events,
            failures=_failures_since_previous_sign_in(user),
            sessions=active_sessions(user),
            current_session_id=user.current_session.id if user.current_session else None,
            delete_form=delete_form or DeleteAccountForm(),
        ),
        status,
    )


@bp.route("/dashboard")
@login_required
def dashboard():
    return _render_dashboard()


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    user: User = current_user._get_current_object()
    form = ChangePasswordForm(user)
    if form.validate_on_submit():
        current = form.current_password.data
        if len(current) > PASSWORD_MAX_LENGTH or not verify_password(user.password_hash, current):
            form.current_password.errors.append("Your current password is not correct.")
        elif verify_password(user.password_hash, form.new_password.data):
            form.new_password.errors.append("Choose a password different from your current one.")
        else:
            user.password_hash = hash_password(form.new_password.data)
            db.session.commit()
            log_event("auth.password_changed", user_id=user.id)
            end_other_sessions(user, reason="password_changed")
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("dashboard.dashboard"))
    status = 422 if form.errors else 200
    return render_template("change_password.html", form=form), status


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete_account():
    user: User = current_user._get_current_object()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        password = form.password.data
        if len(password) <= PASSWORD_MAX_LENGTH and verify_password(user.password_hash, password):
            user_id = user.id
            # Rows first (events and sessions go with the user), then the cookie.
            db.session.execute(delete(LoginEvent).where(LoginEvent.user_id == user_id))
            db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            user.current_session = None
            sign_out(user, reason="account_deleted")
            log_event("account.deleted", user_id=user_id)
            log_event("session.ended", user_id=user_id, reason="account_deleted")
            flash("Your account and its history have been deleted.", "info")
            return redirect(url_for("auth.login"))
        form.password.errors.append("That password is not correct; nothing was deleted.")
    return _render_dashboard(delete_form=form, status=422)


@bp.route("/account/sessions/<session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: str):
    user: User = current_user._get_current_object()
    if user.current_session and session_id == user.current_session.id:
        sign_out(user, reason="logout")
        log_event("auth.logout", user_id=user.id)
        flash("You have been signed out.", "info")
        return redirect(url_for("auth.login"))
    result = db.session.execute(
        delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    )
    db.session.commit()
    if not result.rowcount:
        abort(404)
    log_event("session.ended", user_id=user.id, reason="ended_by_user")
    flash("That session has been signed out.", "success")
    return redirect(url_for("dashboard.dashboard"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_others():
    user: User = current_user._get_current_object()
    count = end_other_sessions(user, reason="ended_by_user")
    flash(f"Signed out {count} other session{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("dashboard.dashboard"))
