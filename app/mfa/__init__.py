"""Second factors: the authenticator app (TOTP), recovery codes, the second
sign-in step, and MFA_REQUIRED. Passkeys are to come as another factor kind
(see app.models.MfaFactor)."""

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("mfa", __name__, cli_group=None)

# What a user who must enrol (MFA_REQUIRED, no factor yet) may still open.
_ENROLMENT_ENDPOINTS = {"mfa.security", "mfa.start_totp", "mfa.enrol_totp", "auth.logout", "static"}


@bp.before_app_request
def _require_enrolment():
    if not current_app.config["MFA_REQUIRED"]:
        return None
    endpoint = request.endpoint or ""
    if endpoint in _ENROLMENT_ENDPOINTS or endpoint.startswith("health.") or request.path == "/metrics":
        return None
    if not current_user.is_authenticated or factors.has_factor(current_user.id):
        return None
    return redirect(url_for("mfa.security"))


@bp.app_context_processor
def _mfa_status():
    """`mfa_enabled(user)` for the dashboard."""
    return {"mfa_enabled": lambda user: factors.has_factor(user.id)}


from . import cli, factors, routes  # noqa: E402,F401
