"""Passkey views: adding and removing one on the Security page, a passkey as
the second step of a sign-in (/auth/mfa), and a passwordless sign-in.

Each ceremony is two requests: static/passkeys.js asks for options (a JSON
answer that keeps a challenge for this browser), lets the browser's WebAuthn
API answer them, and sends that answer in an ordinary form POST, whose answer
is an ordinary page or redirect. Without JavaScript nothing here is offered.
"""

from __future__ import annotations

import functools

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from .. import lockout
from ..events import emit, occurrence
from ..extensions import db, limiter
from ..limits import login_limit, mfa_limit, reauthenticating
from ..models import LoginEvent, User, utcnow
from ..security import safe_redirect_target
from ..sessions import client_user_agent, sign_in
from . import bp, factors, passkeys, pending
from .forms import CODE_HINT, AddPasskeyForm, ConfirmChangeForm, PasskeyResponseForm
from .routes import (
    _announce,
    _complete,
    _counted,
    _factor_removed,
    _pending_account,
    _reauthenticate,
    _show_codes,
    _signed_out,
    _user,
    record_failed_step,
)

PASSKEY_FAILED = "That passkey did not work. Try again, or use a code."
SIGN_IN_FAILED = "That passkey did not sign you in. Try again, or sign in with your password."


def _passkey_view(rule: str, guard):
    """A view of a passkey ceremony: POST only, behind guard (its sign-in
    requirement and rate limit), and not there (404) while passkeys are off."""

    def decorate(view):
        @functools.wraps(view)
        def only_with_passkeys(*args, **kwargs):
            if not passkeys.enabled():
                abort(404)
            return view(*args, **kwargs)

        return bp.route(rule, methods=["POST"])(guard(only_with_passkeys))

    return decorate


def _json(payload: dict):
    """An answer the script acts on: {"error": message to show} or {"redirect": url}.
    Always 200: a refusal here is an expected answer, not a failed request (which
    browsers log as an error in the console)."""
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response


def _options(options_json: str):
    response = current_app.response_class(options_json, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _first_error(form) -> str:
    for errors in (form.form_errors, *(f.errors for f in form)):
        if errors:
            return errors[0]
    return "Check the form and try again."


# --- adding and removing a passkey (Security page) -----------------------------------------------


@_passkey_view("/account/security/passkeys/options", reauthenticating())
def passkey_options():
    """The password (and current factor) checked, the options to create a passkey."""
    user = _user()
    form = AddPasskeyForm(prefix="passkey")
    if not form.validate_on_submit():
        return _json({"error": _first_error(form)})
    right = _reauthenticate(user, form.password.data, form.current_code.data, form)
    if right is None:
        flash("Too many wrong answers: you have been signed out. Sign in again to continue.", "error")
        return _json({"redirect": url_for("auth.login")})
    if not right:
        return _json({"error": _first_error(form)})
    return _options(passkeys.registration_options(user, form.name.data))


@_passkey_view("/account/security/passkeys/confirm/options", reauthenticating())
def confirm_options():
    """Options for confirming a change with one of the account's passkeys (instead of a code)."""
    user = _user()
    if not passkeys.credentials(user.id):
        return _json({"error": "This account has no passkey: enter a code."})
    return _options(passkeys.authentication_options(passkeys.REAUTH, user.id))


@_passkey_view("/account/security/passkeys", reauthenticating())
def add_passkey():
    user = _user()
    form = PasskeyResponseForm(prefix="passkey")
    if not form.validate_on_submit():
        flash("The passkey was not added: the browser sent nothing to check.", "error")
        return redirect(url_for("mfa.security"))
    had_factor = factors.has_factor(user.id)
    try:
        factor = passkeys.register(user, form.credential.data)
    except passkeys.PasskeyError as error:
        db.session.commit()  # the challenge stays spent
        emit("auth.passkey_rejected", user_id=user.id, purpose="register", reason=error.reason)
        flash("The passkey was not added. Start again from this page.", "error")
        return redirect(url_for("mfa.security"))
    name = factor.name
    codes = None if had_factor else factors.new_recovery_codes(user.id)
    _announce(
        user,
        occurrence(
            "auth.mfa_enabled",
            user_id=user.id,
            kind_of_factor=passkeys.PASSKEY,
            change="passkey_added",
        ),
    )
    if codes:
        return _show_codes(codes, first=True)
    flash(f"The passkey “{name}” is ready: use it to sign in.", "success")
    return redirect(url_for("mfa.security"))


@bp.route("/account/security/passkeys/<int:factor_id>/remove", methods=["GET", "POST"])
@reauthenticating(methods=["POST"])
def remove_passkey(factor_id: int):
    user = _user()
    factor = next((f for f in passkeys.passkeys(user.id) if f.id == factor_id), None)
    if factor is None:
        abort(404)
    form = ConfirmChangeForm(prefix="remove")
    if form.validate_on_submit():
        if current_app.config["MFA_REQUIRED"] and len(factors.enabled_factors(user.id)) == 1:
            form.form_errors.append("Two-step sign-in is required here: add another factor first.")
        else:
            right = _reauthenticate(user, form.password.data, form.current_code.data, form)
            if right is None:
                return _signed_out()
            if right:
                name = factor.name
                passkeys.remove(user.id, factor_id)
                _factor_removed(user, passkeys.PASSKEY, "passkey_removed")
                flash(f"The passkey “{name}” was removed; it no longer signs you in.", "success")
                return redirect(url_for("mfa.security"))
    status = 422 if (form.errors or form.form_errors) else 200
    return (
        render_template(
            "mfa/remove_passkey.html",
            form=form,
            factor=factor,
            hint=CODE_HINT,
            has_passkey=passkeys.enabled(),
        ),
        status,
    )


# --- a passkey as the second step ----------------------------------------------------------------


@_passkey_view("/auth/mfa/passkey/options", limiter.limit(mfa_limit, key_func=_pending_account))
def second_step_options():
    row = pending.current()
    if row is None:
        return _json({"redirect": url_for("auth.login")})
    if not passkeys.credentials(row.user_id):
        return _json({"error": "This account has no passkey: enter a code."})
    return _options(passkeys.authentication_options(passkeys.SECOND_FACTOR, row.user_id))


@_passkey_view("/auth/mfa/passkey", limiter.limit(mfa_limit, key_func=_pending_account, deduct_when=_counted))
def second_step_passkey():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.dashboard"))
    row = pending.current()
    if row is None:
        return redirect(url_for("mfa.second_step"))  # says why, and forgets the token
    form = PasskeyResponseForm(prefix="passkey")
    now = utcnow()
    scope = lockout.scope_for(row.user_id, row.device_id)
    if form.validate_on_submit():
        try:
            passkeys.verify_assertion(passkeys.SECOND_FACTOR, form.credential.data, now)
        except passkeys.PasskeyError as error:
            reason = error.reason
        else:
            return _complete(row, factors.Proof(True, passkeys.PASSKEY), scope, now)
    else:
        reason = "invalid"
    return _passkey_failed(row, scope, reason, now)


def _passkey_failed(row, scope: lockout.Scope, reason: str, now):
    """A passkey that proved nothing counts like a wrong code."""
    user_id = row.user_id

    def log(_failures: int) -> None:
        emit("auth.mfa_failed", user_id=user_id, reason="bad_passkey", detail=reason, method="passkey")

    if record_failed_step(user_id, row.id, scope, now, log):
        flash("Too many failed attempts. Sign in again.", "error")
        return redirect(url_for("auth.login"))
    flash(PASSKEY_FAILED, "error")
    return redirect(url_for("mfa.second_step"))


# --- a passwordless sign-in ----------------------------------------------------------------------


@_passkey_view("/auth/passkey/options", limiter.limit(login_limit))
def sign_in_options():
    if current_user.is_authenticated:
        return _json({"redirect": url_for("dashboard.dashboard")})
    return _options(passkeys.authentication_options(passkeys.SIGN_IN))


@_passkey_view("/auth/passkey", limiter.limit(login_limit))
def passkey_sign_in():
    next_url = safe_redirect_target(request.args.get("next"), url_for("dashboard.dashboard"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = PasskeyResponseForm(prefix="passkey")
    now = utcnow()
    reason = "invalid"
    if form.validate_on_submit():
        try:
            proof = passkeys.verify_assertion(passkeys.SIGN_IN, form.credential.data, now)
        except passkeys.PasskeyError as error:
            reason = error.reason
        else:
            return _passwordless(proof, next_url, now)
    db.session.commit()  # the challenge stays spent
    emit("auth.login_failed", reason="bad_passkey", detail=reason, method="passkey")
    flash(SIGN_IN_FAILED, "error")
    return redirect(url_for("auth.login"))


def _passwordless(proof: passkeys.Assertion, next_url: str, now):
    """A passkey with user verification is both factors: the sign-in completes
    here, under the same lockout as a password (a locked scope refuses it)."""
    user = db.session.get(User, proof.user_id)
    if current_app.config["REQUIRE_EMAIL_VERIFICATION"] and not user.email_verified:
        db.session.commit()
        emit("auth.login_unverified", user_id=user.id, method="passkey")
        flash("Confirm your e-mail address first: sign in with your password to get a new link.", "error")
        return redirect(url_for("auth.login"))
    device_id = lockout.trusted_device(user.id)
    scope = lockout.scope_for(user.id, device_id)
    allowed = lockout.record_success(scope, user.id, user.credential_version, now)
    db.session.add(
        LoginEvent(
            user_id=user.id,
            ip=request.remote_addr,
            user_agent=client_user_agent(),
            success=allowed,
            created_at=now,
        )
    )
    if not allowed:
        db.session.commit()
        emit("auth.login_failed", user_id=user.id, reason="locked", method="passkey")
        flash(SIGN_IN_FAILED, "error")
        return redirect(url_for("auth.login"))
    pending.forget()
    response = redirect(next_url)
    lockout.trust_device(response, user.id, device_id, now)
    sign_in(user, credential_version=user.credential_version, remember=False)  # commits
    emit("auth.login_succeeded", user_id=user.id, method="passkey", trusted_device=scope.trusted)
    return response
