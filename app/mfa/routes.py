"""The Security page (enrol, replace or turn off the authenticator app, new
recovery codes) and the second sign-in step, /auth/mfa."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import lockout, mail, outbox
from ..events import Occurrence, emit, occurrence
from ..extensions import db, limiter
from ..limits import mfa_limit, reauthenticating
from ..models import MfaFactor, User, utcnow
from ..security import check_typed_password
from ..sessions import count_reauth_failure, end_other_sessions, sign_in
from . import bp, factors, passkeys, pending
from .forms import CODE_HINT, AddPasskeyForm, ConfirmChangeForm, EnableTotpForm, SecondStepForm

WRONG_CODE = "That code is not right. Check your authenticator app's time and try again."


# --- the second step of a sign-in ----------------------------------------------------------------


def _pending_account() -> str:
    """Wrong codes are limited per account, over every pending sign-in of it."""
    row = pending.current()
    return f"mfa:{row.user_id}" if row is not None else f"mfa-ip:{request.remote_addr}"


def _counted(_response) -> bool:
    return bool(g.get("mfa_wrong_code"))


@bp.route("/auth/mfa", methods=["GET", "POST"])
@limiter.limit(mfa_limit, key_func=_pending_account, methods=["POST"], deduct_when=_counted)
def second_step():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.dashboard"))
    row = pending.current()
    if row is None:
        if pending.has_token():
            pending.forget()
            emit("auth.mfa_failed", reason="expired")
            flash("Your sign-in took too long. Sign in again.", "error")
        return redirect(url_for("auth.login"))
    form = SecondStepForm()
    if form.validate_on_submit():
        now = utcnow()
        user_id, pending_id = row.user_id, row.id
        scope = lockout.scope_for(user_id, row.device_id)
        proof = factors.verify(user_id, form.code.data)
        if proof.ok:
            return _complete(row, proof, scope, now)
        return _wrong_code(form, user_id, pending_id, proof, scope, now)
    status = 422 if form.errors else 200
    return _render_second_step(form, row.user_id, status)


def _render_second_step(form, user_id: int, status: int):
    """The code form, and (when the account has a passkey) the passkey button."""
    has_passkey = passkeys.enabled() and bool(passkeys.credentials(user_id))
    return (
        render_template(
            "mfa/second_step.html",
            form=form,
            hint=CODE_HINT,
            offer_passkey=has_passkey,
        ),
        status,
    )


def _complete(row, proof: factors.Proof, scope: lockout.Scope, now):
    user_id, version, remember, device_id = row.user_id, row.credential_version, row.remember, row.device_id
    next_url = row.next_url or url_for("dashboard.dashboard")
    # Clears the failures this step counted; False when the scope was locked (or
    # the password changed) since the password step.
    allowed = lockout.record_success(scope, user_id, version, now)
    if not pending.finish(row.id) or not allowed:
        db.session.commit()  # the code stays used
        emit("auth.mfa_failed", user_id=user_id, reason="locked", method=proof.method)
        flash("This sign-in can no longer be completed. Sign in again.", "error")
        return redirect(url_for("auth.login"))
    user = db.session.get(User, user_id)
    response = redirect(next_url)
    lockout.trust_device(response, user_id, device_id, now)
    sign_in(user, credential_version=version, remember=remember)  # commits, fresh session token
    emit("auth.mfa_succeeded", user_id=user_id, method=proof.method)
    if proof.method == "recovery_code":
        left = factors.recovery_codes_left(user_id)
        emit("auth.recovery_code_used", user_id=user_id, remaining=left)
        flash(
            f"You signed in with a recovery code; {left} left. Each works once: "
            "make new ones on the Security page if you are running low.",
            "warning",
        )
    return response


def record_failed_step(user_id: int, pending_id: str, scope: lockout.Scope, now, log) -> bool:
    """One failed second step (a wrong code or a passkey that proved nothing): counted on
    the pending sign-in and toward the lockout; log(failures) writes the attempt's own
    event. True when the pending sign-in ended (too many failures, or the scope locked)."""
    g.mfa_wrong_code = True
    failures = pending.count_failure(pending_id)
    outcome = lockout.record_failure(scope, now)
    db.session.commit()
    log(failures)
    if outcome == "locked_now":
        until = now + current_app.config["LOCKOUT_DURATION"]
        emit("auth.locked", user_id=user_id, until=until.isoformat(), trusted_device=scope.trusted)
    if failures >= pending.MAX_FAILURES or outcome != "counted":
        pending.finish(pending_id)
        db.session.commit()
        emit("auth.mfa_failed", user_id=user_id, reason="too_many", failures=failures)
        return True
    return False


def _wrong_code(form, user_id: int, pending_id: str, proof: factors.Proof, scope: lockout.Scope, now):
    reason = "replayed" if proof.reason == "replayed" else "bad_code"

    def log(failures: int) -> None:
        emit("auth.mfa_failed", user_id=user_id, reason=reason, method=proof.method, failures=failures)

    if record_failed_step(user_id, pending_id, scope, now, log):
        flash("Too many wrong codes. Sign in again.", "error")
        return redirect(url_for("auth.login"))
    form.code.errors.append(WRONG_CODE)
    return _render_second_step(form, user_id, 422)


# --- the Security page ---------------------------------------------------------------------------


def _user() -> User:
    return current_user._get_current_object()


def _render_security(status: int = 200, **forms):
    user = _user()
    factor_list = factors.enabled_factors(user.id)
    return (
        render_template(
            "mfa/security.html",
            user=user,
            totp=next((f for f in factor_list if f.kind == factors.TOTP), None),
            passkeys=[f for f in factor_list if f.kind == passkeys.PASSKEY],
            has_passkey=passkeys.enabled() and any(f.kind == passkeys.PASSKEY for f in factor_list),
            passkeys_enabled=passkeys.enabled(),
            add_passkey_form=forms.get("add_passkey_form") or AddPasskeyForm(prefix="passkey"),
            has_factor=bool(factor_list),
            codes_left=factors.recovery_codes_left(user.id),
            disable_form=forms.get("disable_form") or ConfirmChangeForm(prefix="disable"),
            codes_form=forms.get("codes_form") or ConfirmChangeForm(prefix="codes"),
            hint=CODE_HINT,
        ),
        status,
    )


@bp.route("/account/security")
@login_required
def security():
    return _render_security()


@bp.route("/account/security/totp/new", methods=["POST"])
@login_required
def start_totp():
    # CSRFProtect has checked the token: every POST of the app carries one.
    factors.start_totp_enrolment(_user())
    db.session.commit()
    return redirect(url_for("mfa.enrol_totp"))


def _reauthenticate(user: User, password: str, code: str | None, form) -> bool | None:
    """The password again, then (when the account has a factor) the current factor.

    True when both are right; False with the form's errors set; None when that
    was one failure too many and the session has been ended. Each wrong answer
    counts like a wrong current password (sessions.count_reauth_failure).
    """
    stored = user.password_hash
    db.session.rollback()  # no transaction is held while the hash runs
    right = check_typed_password(stored, password)
    if right and factors.has_factor(user.id):
        answer = getattr(getattr(form, "current_passkey", None), "data", None)
        if not code and not answer:
            form.current_code.errors.append(
                "Enter a code from your current authenticator app, or a recovery code."
            )
            return False
        proof = factors.verify(user.id, code) if code else _passkey_proof(user, answer)
        if not proof.ok:
            db.session.commit()
            if count_reauth_failure(user):
                return None
            form.current_code.errors.append("That code is not right.")
            return False
        db.session.commit()  # the code is used up
    elif not right:
        if count_reauth_failure(user):
            return None
        form.password.errors.append("That password is not correct; nothing was changed.")
        return False
    return True


def _passkey_proof(user: User, answer: str) -> factors.Proof:
    """One of the account's passkeys, answering this browser's "confirm" challenge."""
    try:
        passkeys.verify_assertion(passkeys.REAUTH, answer, user_id=user.id)
    except passkeys.PasskeyError as error:
        emit("auth.passkey_rejected", user_id=user.id, purpose="reauth", reason=error.reason)
        return factors.Proof(False, passkeys.PASSKEY, "wrong")
    return factors.Proof(True, passkeys.PASSKEY)


def _signed_out():
    flash("Too many wrong answers: you have been signed out. Sign in again to continue.", "error")
    return redirect(url_for("auth.login"))


def _announce(user: User, change: Occurrence) -> None:
    """Owe the owner an e-mail about the change (outbox kind "mfa_" + its
    `change`), commit, log and count it, and end the user's other sessions."""
    if mail.sending_possible():
        outbox.enqueue("mfa_" + str(change.values["change"]), user)
    db.session.commit()
    outbox.wake()
    change.emit()
    end_other_sessions(user, reason="mfa_changed")


@bp.route("/account/security/totp", methods=["GET", "POST"])
@reauthenticating(methods=["POST"])
def enrol_totp():
    user = _user()
    factor = factors.enrolment(user.id)
    if factor is None:
        return redirect(url_for("mfa.security"))
    form = EnableTotpForm()
    replacing = bool(factors.enabled_factors(user.id, factors.TOTP))
    if form.validate_on_submit():
        right = _reauthenticate(user, form.password.data, form.current_code.data, form)
        if right is None:
            return _signed_out()
        factor = factors.enrolment(user.id)
        if right and factor is not None:
            had_factor = factors.has_factor(user.id)
            result = factors.use_totp(factor, form.code.data)
            if result == "ok":
                return _enable(user, factor, had_factor)
            db.session.commit()
            form.code.errors.append(WRONG_CODE)
    if factor is None:
        return redirect(url_for("mfa.security"))
    secret = factors.totp_secret(factor)
    uri = factors.provisioning_uri(factor, user)
    status = 422 if form.errors else 200
    return (
        render_template(
            "mfa/enrol_totp.html",
            form=form,
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr=factors.qr_data_uri(uri),
            replacing=replacing,
            # Any factor (a passkey too) must be proven before another is added.
            has_factor=factors.has_factor(user.id),
            has_passkey=passkeys.enabled() and bool(passkeys.credentials(user.id)),
        ),
        status,
    )


def _enable(user: User, factor: MfaFactor, had_factor: bool):
    now = utcnow()
    old = [f for f in factors.enabled_factors(user.id, factors.TOTP) if f.id != factor.id]
    for previous in old:
        db.session.delete(previous)
    factor.enabled_at = now
    codes = None if had_factor else factors.new_recovery_codes(user.id)
    if old:
        change = occurrence(
            "auth.mfa_replaced",
            user_id=user.id,
            kind_of_factor=factors.TOTP,
            change="totp_replaced",
        )
    else:
        change = occurrence(
            "auth.mfa_enabled",
            user_id=user.id,
            kind_of_factor=factors.TOTP,
            change="totp_enabled",
        )
    _announce(user, change)
    if codes:
        return _show_codes(codes, first=True)
    flash("Your new authenticator app is in use; the old one no longer works.", "success")
    return redirect(url_for("mfa.security"))


def _factor_removed(user: User, kind_of_factor: str, change: str) -> None:
    """After a factor's removal: the recovery codes go with the last factor, and
    the change is announced (see _announce)."""
    db.session.flush()
    if not factors.has_factor(user.id):
        factors.remove_all(user.id)
    _announce(
        user,
        occurrence("auth.mfa_disabled", user_id=user.id, kind_of_factor=kind_of_factor, change=change),
    )


def _show_codes(codes: list[str], first: bool):
    text = "Flask Auth recovery codes (each works once)\n\n" + "\n".join(codes) + "\n"
    return render_template("mfa/recovery_codes.html", codes=codes, text=text, first=first)


@bp.route("/account/security/totp/disable", methods=["POST"])
@reauthenticating()
def disable_totp():
    user = _user()
    form = ConfirmChangeForm(prefix="disable")
    if not factors.enabled_factors(user.id, factors.TOTP):
        return redirect(url_for("mfa.security"))
    if form.validate_on_submit():
        if current_app.config["MFA_REQUIRED"] and len(factors.enabled_factors(user.id)) == 1:
            form.form_errors.append("Two-step sign-in is required here: replace the app instead.")
            return _render_security(422, disable_form=form)
        right = _reauthenticate(user, form.password.data, form.current_code.data, form)
        if right is None:
            return _signed_out()
        if right:
            for factor in factors.enabled_factors(user.id, factors.TOTP):
                db.session.delete(factor)
            _factor_removed(user, factors.TOTP, "totp_disabled")
            flash("Two-step sign-in is off. Your password alone signs you in now.", "success")
            return redirect(url_for("mfa.security"))
    return _render_security(422, disable_form=form)


@bp.route("/account/security/recovery-codes", methods=["POST"])
@reauthenticating()
def regenerate_codes():
    user = _user()
    form = ConfirmChangeForm(prefix="codes")
    if not factors.has_factor(user.id):
        return redirect(url_for("mfa.security"))
    if form.validate_on_submit():
        right = _reauthenticate(user, form.password.data, form.current_code.data, form)
        if right is None:
            return _signed_out()
        if right:
            codes = factors.new_recovery_codes(user.id)
            _announce(
                user,
                occurrence(
                    "auth.recovery_codes_regenerated",
                    user_id=user.id,
                    change="recovery_codes",
                ),
            )
            return _show_codes(codes, first=False)
    return _render_security(422, codes_form=form)
