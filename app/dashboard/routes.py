from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import Row, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import aliased

from ..events import emit
from ..extensions import db
from ..limits import reauthenticating
from ..models import LoginEvent, User, UserSession
from ..security import (
    check_typed_password,
    hash_password,
    verify_password,
)
from ..sessions import (
    active_sessions,
    count_reauth_failure,
    current_session_id,
    end_other_sessions,
    restart_after_credential_change,
    sign_out,
)
from . import bp
from .forms import ChangePasswordForm, ConfirmPasswordForm, DeleteAccountForm
from .labels import describe_user_agent

RECENT_EVENTS = 10
RECENT_SESSIONS = 5  # on the dashboard; /account/sessions pages through the rest
SESSIONS_PER_PAGE = 20
# Far past any real last page (sessions are capped per user); a bigger number is
# not a page, and would not fit the database's OFFSET.
MAX_SESSIONS_PAGE = 10_000


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.dashboard"))
    return redirect(url_for("auth.login"))


def _recent_events_statement():
    """The last RECENT_EVENTS sign-in attempts (the columns the page shows),
    each carrying the number of failed attempts since the sign-in before the
    latest one (or ever, if there is none): an uncorrelated subquery the
    database evaluates once. No attempts at all means no failures either."""
    success, failure = aliased(LoginEvent), aliased(LoginEvent)
    user_id = bindparam("user_id")
    previous_success = (
        select(success.created_at)
        .where(success.user_id == user_id, success.success.is_(True))
        .order_by(success.created_at.desc(), success.id.desc())
        .offset(1)
        .limit(1)
        .scalar_subquery()
    )
    failures = (
        select(func.count())
        .select_from(failure)
        .where(
            failure.user_id == user_id,
            failure.success.is_(False),
            or_(previous_success.is_(None), failure.created_at > previous_success),
        )
        .scalar_subquery()
    )
    return (
        select(
            LoginEvent.created_at,
            LoginEvent.ip,
            LoginEvent.user_agent,
            LoginEvent.success,
            failures.label("failures"),
        )
        .where(LoginEvent.user_id == user_id)
        .order_by(LoginEvent.created_at.desc(), LoginEvent.id.desc())
        .limit(RECENT_EVENTS)
    )


# Built once: building it (aliases above all) costs more than running it.
_RECENT_EVENTS = _recent_events_statement()


def _recent_events(user: User) -> tuple[list[Row], int]:
    """The recent sign-in attempts and the failures since the previous sign-in."""
    rows = db.session.execute(_RECENT_EVENTS, {"user_id": user.id}).all()
    return rows, (rows[0].failures if rows else 0)


def _render_dashboard(delete_form: DeleteAccountForm | None = None, status: int = 200):
    """The dashboard's data in two queries besides the user loader's: the
    sign-in history with its failure count, and the live sessions with their
    count (the template's mfa_enabled() asks one more)."""
    user: User = current_user._get_current_object()
    events, failures = _recent_events(user)
    sessions, session_count = active_sessions(user, limit=RECENT_SESSIONS)
    return (
        render_template(
            "dashboard.html",
            user=user,
            events=events,
            failures=failures,
            sessions=sessions,
            session_count=session_count,
            current_session_id=current_session_id(user),
            delete_form=delete_form or DeleteAccountForm(),
        ),
        status,
    )


@bp.route("/dashboard")
@login_required
def dashboard():
    return _render_dashboard()


@bp.route("/account/sessions")
@login_required
def sessions():
    user: User = current_user._get_current_object()
    page = request.args.get("page", 1, type=int)
    if page < 1 or page > MAX_SESSIONS_PAGE:
        abort(404)
    rows, total = active_sessions(user, limit=SESSIONS_PER_PAGE, offset=(page - 1) * SESSIONS_PER_PAGE)
    if not rows and page > 1:  # past the last page
        abort(404)
    pages = max(1, -(-total // SESSIONS_PER_PAGE))
    return render_template(
        "sessions.html",
        sessions=rows,
        total=total,
        page=page,
        pages=pages,
        current_session_id=current_session_id(user),
    )


def _check_password(user: User, password: str) -> bool | None:
    """The account's current password, checked like a sign-in.

    True when right; False when wrong; None when that was one wrong password
    too many: the session has been ended (the caller redirects to sign-in).
    The connection goes back to the pool while the hash runs.
    """
    stored = user.password_hash
    db.session.rollback()
    if check_typed_password(stored, password):
        return True
    if count_reauth_failure(user):
        return None
    return False


def _signed_out_for_reauth():
    flash("Too many wrong passwords: you have been signed out. Sign in again to continue.", "error")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@reauthenticating(methods=["POST"])
def change_password():
    user: User = current_user._get_current_object()
    form = ChangePasswordForm(user)
    if form.validate_on_submit():
        user_id, version, stored = user.id, user.credential_version, user.password_hash
        right = _check_password(user, form.current_password.data)
        if right is None:
            return _signed_out_for_reauth()
        if not right:
            form.current_password.errors.append("Your current password is not correct.")
        elif verify_password(stored, form.new_password.data):
            form.new_password.errors.append("Choose a password different from your current one.")
        else:
            new_hash = hash_password(form.new_password.data)
            # Of two changes racing each other, the first UPDATE wins; the
            # other finds the version moved on and changes nothing.
            changed = db.session.execute(
                update(User)
                .where(User.id == user_id, User.credential_version == version)
                .values(password_hash=new_hash, credential_version=version + 1)
                .returning(User.id)
            ).first()
            if changed is None:
                db.session.rollback()
                emit("auth.password_change_conflict", user_id=user_id)
                sign_out(user, reason="credentials_changed")
                flash("Your password was changed in another session. Sign in with the new password.", "error")
                return redirect(url_for("auth.login"))
            emit("auth.password_changed", user_id=user_id)
            restart_after_credential_change(user, version + 1, reason="password_changed")
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("dashboard.dashboard"))
    status = 422 if form.errors else 200
    return render_template("change_password.html", form=form), status


@bp.route("/account/delete", methods=["POST"])
@reauthenticating()
def delete_account():
    user: User = current_user._get_current_object()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        user_id = user.id
        right = _check_password(user, form.password.data)
        if right is None:
            return _signed_out_for_reauth()
        if right:
            # Rows first (events and sessions go with the user), then the cookie.
            db.session.execute(delete(LoginEvent).where(LoginEvent.user_id == user_id))
            db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            user.current_session = None
            sign_out(user, reason="account_deleted")
            emit("account.deleted", user_id=user_id)
            emit("session.ended", user_id=user_id, reason="account_deleted")
            flash("Your account and its history have been deleted.", "info")
            return redirect(url_for("auth.login"))
        form.password.errors.append("That password is not correct; nothing was deleted.")
    return _render_dashboard(delete_form=form, status=422)


def _confirm_with_password(user: User, description: str, action: str):
    """Ending other sessions asks for the password again (ASVS 7.5.2).

    The dashboard's button posts without a password and gets this page; the
    page posts back with it. Returns a response to send, or None when the
    password was right and the caller may go on.
    """
    form = ConfirmPasswordForm()
    if "password" not in request.form:
        return render_template("confirm_password.html", form=form, description=description, action=action)
    if form.validate_on_submit():
        right = _check_password(user, form.password.data)
        if right is None:
            return _signed_out_for_reauth()
        if right:
            return None
        form.password.errors.append("That password is not correct; no session was ended.")
    return render_template("confirm_password.html", form=form, description=description, action=action), 422


@bp.route("/account/sessions/<session_id>/end", methods=["POST"])
@reauthenticating()
def end_session(session_id: str):
    user: User = current_user._get_current_object()
    if session_id == current_session_id(user):
        sign_out(user, reason="logout")
        emit("auth.logout", user_id=user.id)
        flash("You have been signed out.", "info")
        return redirect(url_for("auth.login"))
    target = db.session.scalar(
        select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    )
    if target is None:
        abort(404)
    label = f"{describe_user_agent(target.user_agent)} at {target.ip or 'an unknown IP address'}"
    answer = _confirm_with_password(
        user, f"Sign out {label}", url_for("dashboard.end_session", session_id=session_id)
    )
    if answer is not None:
        return answer
    result = db.session.execute(
        delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    )
    db.session.commit()
    if not result.rowcount:
        abort(404)
    emit("session.ended", user_id=user.id, reason="ended_by_user")
    flash("That session has been signed out.", "success")
    return redirect(url_for("dashboard.dashboard"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@reauthenticating()
def end_others():
    user: User = current_user._get_current_object()
    answer = _confirm_with_password(user, "Sign out all your other sessions", url_for("dashboard.end_others"))
    if answer is not None:
        return answer
    count = end_other_sessions(user, reason="ended_by_user")
    flash(f"Signed out {count} other session{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("dashboard.dashboard"))
