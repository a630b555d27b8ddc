"""Second factors: the authenticator app (TOTP), passkeys (WebAuthn), recovery
codes, the second sign-in step, a passwordless sign-in with a passkey, and
MFA_REQUIRED."""

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("mfa", __name__, cli_group=None)

# What a user who must enrol (MFA_REQUIRED, no factor yet) may still open.
_ENROLMENT_ENDPOINTS = {
    "mfa.security",
    "mfa.start_totp",
    "mfa.enrol_totp",
    "mfa.passkey_options",
    "mfa.add_passkey",
    "auth.logout",
    "static",
}


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
    """`mfa_enabled(user)` for the dashboard; `passkeys_enabled` for the sign-in pages."""
    return {
        "mfa_enabled": lambda user: factors.has_factor(user.id),
        "passkeys_enabled": current_app.config["WEBAUTHN_ENABLED"],
    }


from . import cli, factors, passkey_routes, routes  # noqa: E402,F401
