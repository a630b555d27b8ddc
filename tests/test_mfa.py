"""Second factors: enrolment of an authenticator app, the second sign-in step, recovery codes,
encryption of the secrets at rest and its key rotation, MFA_REQUIRED, changes that need the
password and the current factor, and the operator's reset-mfa."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app import outbox
from app.extensions import db
from app.mfa import crypto, factors
from app.models import MailOutbox, MfaFactor, MfaPendingSignIn, MfaRecoveryCode, User, UserSession
from tests.support.auth import AuthActions, csrf_token
from tests.support.mfa import (
    T0,
    Clock,
    code_at,
    enable_totp,
    is_signed_in,
    password_step,
    register,
    second_step,
    start_enrolment,
    submit_enrolment,
)
from tests.support.passwords import NEW_PASSWORD, PASSWORD, WRONG_PASSWORD


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(factors, "utcnow", clock)
    return clock


def events(caplog, name: str, field: str) -> list:
    return [getattr(r, field, None) for r in caplog.records if getattr(r, "event", None) == name]


def signed_in(app) -> AuthActions:
    auth = AuthActions(app.test_client())
    assert auth.login().status_code == 302
    return auth


# --- enrolment -----------------------------------------------------------------------------------


def test_enrolment_needs_a_valid_code_and_the_password(app, clock):
    auth = register(app)
    assert auth.login().status_code == 302
    assert "Two-step sign-in" in auth.client.get("/dashboard").get_data(as_text=True)
    secret = start_enrolment(auth)
    assert (
        submit_enrolment(auth, "000000" if code_at(secret, clock.now) != "000000" else "111111").status_code
        == 422
    )
    assert submit_enrolment(auth, code_at(secret, clock.now), password=WRONG_PASSWORD).status_code == 422
    with app.app_context():
        assert not factors.has_factor(1)
    assert submit_enrolment(auth, code_at(secret, clock.now)).status_code == 200
    with app.app_context():
        assert factors.has_factor(1)
        assert factors.recovery_codes_left(1) == 10
    dashboard = auth.client.get("/dashboard").get_data(as_text=True)
    assert re.search(r"Two-step sign-in</dt><dd><span class=\"badge badge-ok\">On", dashboard)
    security = auth.client.get("/account/security").get_data(as_text=True)
    assert "<strong>10</strong> unused recovery codes" in security


def test_the_secret_is_encrypted_at_rest(app, clock):
    _auth, secret, _codes = enable_totp(app, clock)
    with app.app_context():
        stored = db.session.execute(text("SELECT secret FROM mfa_factors")).scalar()
        assert secret not in stored
        assert crypto.decrypt(stored) == secret


def test_the_mfa_key_rotates(make_app, clock, monkeypatch):
    """Secrets encrypted with a key still work once it is listed as old; they are re-encrypted
    with the new key when used (or by rotate-mfa-key); with the old key gone they are unreadable."""
    first_key, second_key = "a" * 40, "b" * 40
    app = make_app(MFA_ENCRYPTION_KEY=first_key)
    _auth, secret, _codes = enable_totp(app, clock)
    with app.app_context():
        stored = db.session.execute(text("SELECT secret FROM mfa_factors")).scalar()

    rotated = make_app(MFA_ENCRYPTION_KEY=second_key, MFA_ENCRYPTION_KEYS_OLD=(first_key,))
    with rotated.app_context():
        assert crypto.needs_reencryption(stored)
    auth = password_step(rotated)
    assert second_step(auth, code_at(secret, clock.now)).status_code == 302
    assert is_signed_in(auth)
    with rotated.app_context():
        restored = db.session.execute(text("SELECT secret FROM mfa_factors")).scalar()
        assert restored != stored
        assert not crypto.needs_reencryption(restored)

    without_old = make_app(MFA_ENCRYPTION_KEY=first_key)
    with without_old.app_context(), pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(restored)


def test_rotate_mfa_key_reencrypts_every_secret(make_app, clock):
    first_key, second_key = "c" * 40, "d" * 40
    app = make_app(MFA_ENCRYPTION_KEY=first_key)
    enable_totp(app, clock)
    rotated = make_app(MFA_ENCRYPTION_KEY=second_key, MFA_ENCRYPTION_KEYS_OLD=(first_key,))
    result = rotated.test_cli_runner().invoke(args=["rotate-mfa-key"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 secret" in result.output
    only_new = make_app(MFA_ENCRYPTION_KEY=second_key)
    with only_new.app_context():
        stored = db.session.execute(text("SELECT secret FROM mfa_factors")).scalar()
        crypto.decrypt(stored)


def test_without_mfa_encryption_key_the_key_is_derived_from_secret_key_not_equal_to_it(app):
    with app.app_context():
        token = crypto.encrypt("JBSWY3DPEHPK3PXP")
        import base64

        from cryptography.fernet import Fernet, InvalidToken

        raw = app.config["SECRET_KEY"].encode()[:32].ljust(32, b"\0")
        with pytest.raises(InvalidToken):
            Fernet(base64.urlsafe_b64encode(raw)).decrypt(token.encode())
        assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"


# --- the second step -----------------------------------------------------------------------------


def test_sign_in_with_a_factor_asks_for_a_code_and_opens_nothing_before(app, clock):
    _auth, secret, _codes = enable_totp(app, clock)
    auth = password_step(app)
    assert not is_signed_in(auth)
    assert auth.client.get("/account/security").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(MfaPendingSignIn.user_id)) == 1
    before = auth.client.get_cookie("session").value
    response = second_step(auth, code_at(secret, clock.now))
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert is_signed_in(auth)
    assert auth.client.get_cookie("session").value != before
    with app.app_context():
        assert db.session.scalar(select(MfaPendingSignIn.id)) is None


def test_the_second_step_keeps_next(app, clock):
    _auth, secret, _codes = enable_totp(app, clock)
    auth = AuthActions(app.test_client())
    assert auth.login(next="/account/sessions").headers["Location"] == "/auth/mfa"
    assert second_step(auth, code_at(secret, clock.now)).headers["Location"] == "/account/sessions"


def test_a_code_is_accepted_once(app, clock):
    _auth, secret, _codes = enable_totp(app, clock)
    code = code_at(secret, clock.now)
    first = password_step(app)
    assert second_step(first, code).status_code == 302
    again = password_step(app)
    assert second_step(again, code).status_code == 422
    assert not is_signed_in(again)
    # And an earlier step's code, still inside the window, is refused after a later one was used.
    clock.step()
    assert second_step(again, code_at(secret, clock.now)).status_code == 302


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_codes_one_step_either_side_are_accepted(app, clock, offset, accepted):
    _auth, secret, _codes = enable_totp(app, clock)
    clock.step(3)
    auth = password_step(app)
    response = second_step(auth, code_at(secret, clock.now + timedelta(seconds=30 * offset)))
    assert (response.status_code == 302) is accepted


def test_five_wrong_codes_end_the_pending_sign_in_and_count_toward_the_lockout(make_app, clock, caplog):
    app = make_app(RATELIMIT_MFA="1000 per minute")
    _auth, secret, _codes = enable_totp(app, clock)
    auth = password_step(app)
    wrong = "000000" if code_at(secret, clock.now) != "000000" else "111111"
    assert [second_step(auth, wrong).status_code for _ in range(4)] == [422] * 4
    response = second_step(auth, wrong)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    # The pending sign-in is over: even the right code does not complete it now.
    token = auth.token("/auth/login")
    late = auth.client.post("/auth/mfa", data={"csrf_token": token, "code": code_at(secret, clock.now)})
    assert late.headers["Location"] == "/auth/login"
    assert not is_signed_in(auth)
    assert "auth.mfa_failed" in caplog.text
    with app.app_context():
        user = db.session.get(User, 1)
        assert user.is_locked()  # LOCKOUT_THRESHOLD (5) failures from unknown clients
    assert AuthActions(app.test_client()).login().status_code == 422  # locked: the password is refused


def test_a_right_password_does_not_wipe_the_wrong_codes_counted_before(make_app, clock):
    """Someone who has the password but not the app: 4 wrong codes, the password again,
    4 more... The password step of a two-step sign-in clears no failure; only a completed
    sign-in does, so the account locks at LOCKOUT_THRESHOLD wrong codes all the same."""
    app = make_app(RATELIMIT_MFA="1000 per minute")
    _auth, secret, _codes = enable_totp(app, clock)
    wrong = "000000" if code_at(secret, clock.now) != "000000" else "111111"
    attacker = password_step(app)
    assert [second_step(attacker, wrong).status_code for _ in range(4)] == [422] * 4
    attacker = password_step(app)  # the password again: a new pending sign-in
    assert second_step(attacker, wrong).status_code in (302, 422)
    with app.app_context():
        assert db.session.get(User, 1).is_locked()
    assert AuthActions(app.test_client()).login().status_code == 422


def test_a_completed_two_step_sign_in_clears_the_failures(make_app, clock):
    app = make_app(RATELIMIT_MFA="1000 per minute")
    _auth, secret, _codes = enable_totp(app, clock)
    wrong = "000000" if code_at(secret, clock.now) != "000000" else "111111"
    first = password_step(app)
    assert [second_step(first, wrong).status_code for _ in range(3)] == [422] * 3
    owner = password_step(app)
    assert second_step(owner, code_at(secret, clock.now)).status_code == 302
    with app.app_context():
        assert db.session.get(User, 1).failed_login_count == 0
    # This browser is now a known device: its next sign-in is judged in the device's scope.
    owner.logout()
    again = owner.login()
    assert again.headers["Location"] == "/auth/mfa"
    clock.step()  # a code is accepted once: the next time step's
    assert second_step(owner, code_at(secret, clock.now)).status_code == 302


def test_wrong_codes_are_rate_limited_per_account(make_app, clock):
    app = make_app(RATELIMIT_MFA="2 per minute", LOCKOUT_THRESHOLD=100)
    _auth, secret, _codes = enable_totp(app, clock)
    first, second = password_step(app), password_step(app)
    assert second_step(first, "000001").status_code == 422
    assert second_step(second, "000002").status_code == 422
    assert second_step(first, code_at(secret, clock.now)).status_code == 429


def test_the_pending_sign_in_expires_after_five_minutes(app, clock, caplog):
    _auth, _secret, _codes = enable_totp(app, clock)
    auth = password_step(app)
    with app.app_context():
        row = db.session.scalars(select(MfaPendingSignIn)).one()
        assert row.expires_at - row.created_at == timedelta(minutes=5)
        db.session.execute(
            update(MfaPendingSignIn).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    response = auth.client.get("/auth/mfa")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert not is_signed_in(auth)
    assert "expired" in events(caplog, "auth.mfa_failed", "reason")


def test_the_cookie_alone_proves_nothing(app, clock):
    """A pending sign-in whose row is gone (purged) cannot be completed with the cookie."""
    _auth, secret, _codes = enable_totp(app, clock)
    auth = password_step(app)
    with app.app_context():
        db.session.execute(text("DELETE FROM mfa_pending_sign_ins"))
        db.session.commit()
    token = auth.token("/auth/login")
    late = auth.client.post("/auth/mfa", data={"csrf_token": token, "code": code_at(secret, clock.now)})
    assert late.headers["Location"] == "/auth/login"
    assert not is_signed_in(auth)


# --- recovery codes ------------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once(app, clock, caplog):
    _auth, _secret, codes = enable_totp(app, clock)
    auth = password_step(app)
    assert second_step(auth, codes[0].lower().replace("-", " ")).status_code == 302
    assert is_signed_in(auth)
    assert "auth.recovery_code_used" in caplog.text
    again = password_step(app)
    assert second_step(again, codes[0]).status_code == 422
    with app.app_context():
        assert factors.recovery_codes_left(1) == 9
        stored = db.session.scalars(select(MfaRecoveryCode.code_hash)).all()
        assert all(code.replace("-", "") not in stored for code in codes)


def test_new_recovery_codes_void_the_old_set(app, clock):
    auth, secret, codes = enable_totp(app, clock)
    data = {
        "csrf_token": auth.token("/account/security"),
        "codes-current_code": code_at(secret, clock.now),
        "codes-password": PASSWORD,
    }
    page = auth.client.post("/account/security/recovery-codes", data=data)
    assert page.status_code == 200
    new_codes = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", page.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    assert second_step(password_step(app), codes[1]).status_code == 422
    assert second_step(password_step(app), new_codes[0]).status_code == 302


# --- changes need the password and the factor; they end other sessions and mail the owner ----------


def test_turning_off_needs_the_password_and_a_code_and_ends_other_sessions(app, clock):
    auth, secret, _codes = enable_totp(app, clock)
    other = password_step(app)
    assert second_step(other, code_at(secret, clock.now)).status_code == 302
    clock.step()

    def turn_off(code, password=PASSWORD):
        data = {"csrf_token": auth.token("/account/security"), "disable-current_code": code}
        return auth.client.post("/account/security/totp/disable", data={**data, "disable-password": password})

    assert turn_off(code_at(secret, clock.now), password=WRONG_PASSWORD).status_code == 422
    assert turn_off("").status_code == 422
    assert turn_off("000000" if code_at(secret, clock.now) != "000000" else "111111").status_code == 422
    with app.app_context():
        assert factors.has_factor(1)
    assert turn_off(code_at(secret, clock.now)).status_code == 302
    assert is_signed_in(auth)
    assert not is_signed_in(other)
    with app.app_context():
        assert not factors.has_factor(1)
        assert factors.recovery_codes_left(1) == 0
        kinds = db.session.scalars(select(MailOutbox.kind).order_by(MailOutbox.id)).all()
        assert kinds[-2:] == ["mfa_totp_enabled", "mfa_totp_disabled"]
    # The password alone signs in again.
    assert AuthActions(app.test_client()).login().headers["Location"] == "/dashboard"


def test_the_owner_is_mailed_what_changed(make_app, clock, caplog):
    app = make_app()
    enable_totp(app, clock)
    outbox.deliver_due(app)
    bodies = events(caplog, "mail.logged", "body")
    assert any("An authenticator app was turned on for two-step sign-in" in body for body in bodies)


def test_replacing_the_app_needs_the_current_factor(app, clock):
    auth, secret, _codes = enable_totp(app, clock)
    new_secret = start_enrolment(auth)
    assert submit_enrolment(auth, code_at(new_secret, clock.now)).status_code == 422  # no current code
    response = submit_enrolment(auth, code_at(new_secret, clock.now), current_code=code_at(secret, clock.now))
    assert response.status_code == 302
    with app.app_context():
        assert len(factors.enabled_factors(1)) == 1
        assert factors.recovery_codes_left(1) == 10  # replacing keeps the codes
        assert db.session.scalars(select(MailOutbox.kind).order_by(MailOutbox.id.desc())).first() == (
            "mfa_totp_replaced"
        )
    clock.step()
    assert second_step(password_step(app), code_at(secret, clock.now)).status_code == 422
    assert second_step(password_step(app), code_at(new_secret, clock.now)).status_code == 302


# --- password reset, MFA_REQUIRED, operators -----------------------------------------------------


def test_a_password_reset_does_not_bypass_the_second_factor(app, clock):
    _auth, secret, _codes = enable_totp(app, clock)
    from app import tokens

    with app.app_context():
        user = db.session.get(User, 1)
        link = f"/auth/reset/{tokens.make_token(tokens.RESET_LINK, user)}"
    browser = AuthActions(app.test_client())
    page = browser.client.get(link).get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert browser.client.post(link, data=data).headers["Location"] == "/auth/login"
    assert not is_signed_in(browser)
    response = browser.login(password=NEW_PASSWORD)
    assert response.headers["Location"] == "/auth/mfa"
    assert not is_signed_in(browser)
    assert second_step(browser, code_at(secret, clock.now)).status_code == 302
    assert is_signed_in(browser)


def test_mfa_required_sends_a_user_without_a_factor_to_enrolment(make_app, clock):
    app = make_app(MFA_REQUIRED=True)
    auth = register(app)
    response = auth.login()
    assert response.status_code == 302
    for path in ("/dashboard", "/account/password", "/account/sessions"):
        response = auth.client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/account/security"
    assert auth.client.get("/account/security").status_code == 200
    assert auth.client.get("/health/live").status_code == 200
    secret = start_enrolment(auth)
    assert submit_enrolment(auth, code_at(secret, clock.now)).status_code == 200
    assert is_signed_in(auth)


def test_mfa_is_off_by_default(app):
    assert app.config["MFA_REQUIRED"] is False
    register(app)
    assert AuthActions(app.test_client()).login().headers["Location"] == "/dashboard"


def test_reset_mfa_asks_then_removes_every_factor(app, clock, caplog):
    _auth, _secret, _codes = enable_totp(app, clock)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["reset-mfa", "alice"], input="n\n")
    assert refused.exit_code == 1
    with app.app_context():
        assert factors.has_factor(1)
    result = runner.invoke(args=["reset-mfa", "alice"], input="y\n")
    assert result.exit_code == 0, result.output
    assert "Removed 1 factor of alice" in result.output
    assert "auth.mfa_reset" in caplog.text
    with app.app_context():
        assert not factors.has_factor(1)
        assert db.session.scalar(select(MfaRecoveryCode.id)) is None
        assert db.session.scalar(select(UserSession.id)) is None
        assert db.session.scalar(select(MfaFactor.id)) is None
    assert AuthActions(app.test_client()).login().headers["Location"] == "/dashboard"
    assert runner.invoke(args=["reset-mfa", "nobody", "--yes"]).exit_code == 1


def test_an_enrolment_in_progress_is_no_factor(app, clock):
    auth = register(app)
    assert auth.login().status_code == 302
    start_enrolment(auth)
    with app.app_context():
        assert db.session.scalar(select(MfaFactor.id)) is not None
        assert not factors.has_factor(1)
    assert AuthActions(app.test_client()).login().headers["Location"] == "/dashboard"


def test_metrics_count_the_outcomes(make_app, clock):
    app = make_app(RATELIMIT_MFA="1000 per minute")

    def counts() -> dict[str, float]:
        body = app.test_client().get("/metrics").get_data(as_text=True)
        found = dict(re.findall(r"^(auth_mfa_(?:changes_)?total\{[^}]*\}) ([0-9.]+)$", body, re.MULTILINE))
        return {key: float(value) for key, value in found.items()}

    before = counts()
    _auth, secret, codes = enable_totp(app, clock)
    second_step(password_step(app), "000000" if code_at(secret, clock.now) != "000000" else "111111")
    second_step(password_step(app), codes[0])
    after = counts()
    delta = {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}
    assert delta == {
        'auth_mfa_total{result="bad_code"}': 1.0,
        'auth_mfa_total{result="recovery_code"}': 1.0,
        'auth_mfa_total{result="success"}': 1.0,
        'auth_mfa_changes_total{change="totp_enabled"}': 1.0,
    }


def test_mfa_settings_are_checked(monkeypatch):
    from app.config import ConfigError, config_class

    env = {"SECRET_KEY": "s" * 40, "DATABASE_URL": "sqlite://", "MFA_ENCRYPTION_KEY": "short"}
    with pytest.raises(ConfigError, match="MFA_ENCRYPTION_KEY"):
        config_class("testing")(env)
    env = {**env, "MFA_ENCRYPTION_KEY": "k" * 32, "MFA_ENCRYPTION_KEYS_OLD": "o" * 32 + ", " + "p" * 32}
    config = config_class("testing")(env)
    assert config.MFA_ENCRYPTION_KEYS_OLD == ("o" * 32, "p" * 32)
    assert config.MFA_REQUIRED is False
