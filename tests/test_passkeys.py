"""Passkeys (WebAuthn): registration on the Security page, a passkey as the second step, a
passwordless sign-in, single-use challenges, origin and RP ID checks, the signature counter,
removal. Every response is made by a software authenticator (tests/support/soft_authenticator.py)
with a real P-256 key: py_webauthn checks genuine signatures, nothing is mocked."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import ConfigError, config_class
from app.extensions import db
from app.mfa import factors, passkey_routes, passkeys
from app.models import LoginEvent, MailOutbox, MfaFactor, PasskeyCredential, User, WebAuthnChallenge
from tests.support.auth import AuthActions
from tests.support.database import count_rows
from tests.support.mfa import T0, Clock, code_at, enable_totp, is_signed_in, password_step, register
from tests.support.passwords import PASSWORD, WRONG_PASSWORD
from tests.support.soft_authenticator import SoftAuthenticator


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(factors, "utcnow", clock)
    monkeypatch.setattr(passkeys, "utcnow", clock)
    monkeypatch.setattr(passkey_routes, "utcnow", clock)
    return clock


def security_token(auth: AuthActions) -> str:
    return auth.token("/account/security")


def ask_registration(auth: AuthActions, *, name="Laptop", password=PASSWORD, current_code=""):
    data = {
        "passkey-csrf_token": security_token(auth),
        "passkey-name": name,
        "passkey-password": password,
        "passkey-current_code": current_code,
    }
    return auth.client.post("/account/security/passkeys/options", data=data)


def send_registration(auth: AuthActions, credential: dict):
    data = {"passkey-csrf_token": security_token(auth), "passkey-credential": json.dumps(credential)}
    return auth.client.post("/account/security/passkeys", data=data)


def add_passkey(auth: AuthActions, authenticator: SoftAuthenticator, **kwargs):
    options = ask_registration(auth, **kwargs)
    assert options.status_code == 200, options.get_data(as_text=True)
    assert options.headers["Cache-Control"] == "no-store"
    return send_registration(auth, authenticator.create(options.get_json()))


def passkey_user(app, clock) -> tuple[AuthActions, SoftAuthenticator, list[str]]:
    """alice with one passkey (her only factor); her browser, the authenticator, her recovery codes."""
    auth = register(app)
    assert auth.login().status_code == 302
    authenticator = SoftAuthenticator()
    page = add_passkey(auth, authenticator)
    assert page.status_code == 200, page.get_data(as_text=True)
    codes = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", page.get_data(as_text=True))
    assert len(codes) == 10
    return auth, authenticator, codes


def sign_in_options(client, path="/auth/passkey/options"):
    token = AuthActions(client).token("/auth/login")
    response = client.post(path, data={"passkey-csrf_token": token})
    return response


def passwordless(client, authenticator: SoftAuthenticator, **kwargs):
    options = sign_in_options(client)
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.get(options.get_json(), **kwargs)
    return post_assertion(client, "/auth/passkey", credential)


def post_assertion(client, path: str, credential: dict):
    token = AuthActions(client).token("/auth/login")
    return client.post(path, data={"passkey-csrf_token": token, "passkey-credential": json.dumps(credential)})


def second_step_passkey(auth: AuthActions, authenticator: SoftAuthenticator, **kwargs):
    token = auth.token("/auth/mfa")
    options = auth.client.post("/auth/mfa/passkey/options", data={"passkey-csrf_token": token})
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.get(options.get_json(), **kwargs)
    data = {"passkey-csrf_token": token, "passkey-credential": json.dumps(credential)}
    return auth.client.post("/auth/mfa/passkey", data=data)


# --- registration --------------------------------------------------------------------------------


def test_a_passkey_is_registered_named_and_listed(app, clock):
    auth, authenticator, _codes = passkey_user(app, clock)
    with app.app_context():
        factor = db.session.scalars(select(MfaFactor)).one()
        assert (factor.kind, factor.name, factor.enabled_at is not None) == ("passkey", "Laptop", True)
        credential = db.session.get(PasskeyCredential, factor.id)
        assert bytes(credential.credential_id) == authenticator.credential_id
        assert credential.transports == "internal,hybrid"
        assert credential.sign_count == 0
        assert bytes(credential.user_handle) == authenticator.user_handle
        assert factors.has_factor(1)
        assert factors.recovery_codes_left(1) == 10
        kinds = db.session.scalars(select(MailOutbox.kind).order_by(MailOutbox.id)).all()
        assert kinds[-1] == "mfa_passkey_added"
    page = auth.client.get("/account/security").get_data(as_text=True)
    assert "<td>Laptop</td>" in page
    assert f'href="/account/security/passkeys/{factor.id}/remove"' in page


def test_the_registration_options_ask_for_a_discoverable_verified_passkey(app, clock):
    auth = register(app)
    assert auth.login().status_code == 302
    options = ask_registration(auth).get_json()
    assert options["rp"] == {"id": "localhost", "name": "Flask Auth"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["user"]["name"] == "alice@example.com"


def test_adding_a_passkey_needs_the_password(app, clock):
    auth = register(app)
    assert auth.login().status_code == 302
    response = ask_registration(auth, password=WRONG_PASSWORD)
    assert response.status_code == 200  # an answer for the script to show, not a failed request
    assert "password is not correct" in response.get_json()["error"]
    assert count_rows(app, WebAuthnChallenge) == 0


def test_adding_a_second_factor_needs_the_current_one(app, clock):
    auth, secret, _codes = enable_totp(app, clock)
    assert "Enter a code" in ask_registration(auth).get_json()["error"]
    authenticator = SoftAuthenticator()
    response = add_passkey(auth, authenticator, current_code=code_at(secret, clock.now))
    assert response.status_code == 302  # no new recovery codes: the account had a factor
    with app.app_context():
        assert len(factors.enabled_factors(1)) == 2
        assert factors.recovery_codes_left(1) == 10


def test_adding_a_passkey_ends_the_other_sessions(app, clock):
    auth = register(app)
    assert auth.login().status_code == 302
    other = AuthActions(app.test_client())
    assert other.login().status_code == 302
    assert add_passkey(auth, SoftAuthenticator()).status_code == 200
    assert is_signed_in(auth)
    assert not is_signed_in(other)


def test_a_registration_challenge_works_once(app, clock):
    auth = register(app)
    assert auth.login().status_code == 302
    authenticator = SoftAuthenticator()
    credential = authenticator.create(ask_registration(auth).get_json())
    assert send_registration(auth, credential).status_code == 200
    replayed = send_registration(auth, credential)
    assert replayed.status_code == 302
    assert count_rows(app, PasskeyCredential) == 1


@pytest.mark.parametrize(
    "wrong",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}, {"uv": False}],
    ids=["wrong-origin", "wrong-rp-id", "no-user-verification"],
)
def test_a_registration_for_another_origin_or_rp_or_unverified_is_refused(app, clock, wrong):
    auth = register(app)
    assert auth.login().status_code == 302
    credential = SoftAuthenticator().create(ask_registration(auth).get_json(), **wrong)
    response = send_registration(auth, credential)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/security"
    assert count_rows(app, PasskeyCredential) == 0
    with app.app_context():
        assert not factors.has_factor(1)


# --- the second step -----------------------------------------------------------------------------


def test_a_passkey_is_a_second_factor_after_the_password(app, clock):
    _auth, authenticator, _codes = passkey_user(app, clock)
    auth = password_step(app)
    page = auth.client.get("/auth/mfa").get_data(as_text=True)
    assert "Use your passkey" in page
    assert 'src="/static/passkeys.js"' in page
    assert not is_signed_in(auth)
    response = second_step_passkey(auth, authenticator)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert is_signed_in(auth)
    with app.app_context():
        factor = db.session.scalars(select(MfaFactor)).one()
        assert factor.last_used_at is not None
        assert db.session.get(PasskeyCredential, factor.id).sign_count == 1


def bob_with_a_passkey(app) -> SoftAuthenticator:
    """A second account, bob, signed in once and with a passkey added: his authenticator."""
    bob = register(app, username="bob", email="bob@example.com")
    assert bob.login(login="bob").status_code == 302
    bob_key = SoftAuthenticator()
    assert add_passkey(bob, bob_key).status_code == 200
    return bob_key


def test_another_accounts_passkey_is_no_second_factor(app, clock):
    _auth, _alice_key, _codes = passkey_user(app, clock)
    bob_key = bob_with_a_passkey(app)
    auth = password_step(app)  # alice
    token = auth.token("/auth/mfa")
    options = auth.client.post("/auth/mfa/passkey/options", data={"passkey-csrf_token": token}).get_json()
    options["allowCredentials"] = []  # bob's authenticator answers anyway
    credential = bob_key.get(options)
    data = {"passkey-csrf_token": token, "passkey-credential": json.dumps(credential)}
    response = auth.client.post("/auth/mfa/passkey", data=data)
    assert response.headers["Location"] == "/auth/mfa"
    assert not is_signed_in(auth)
    with app.app_context():
        assert db.session.scalars(select(MfaFactor.last_used_at).where(MfaFactor.user_id == 1)).one() is None


def test_five_failed_passkeys_end_the_pending_sign_in(make_app, clock):
    app = make_app(RATELIMIT_MFA="1000 per minute")
    _auth, authenticator, _codes = passkey_user(app, clock)
    auth = password_step(app)
    for attempt in range(5):
        response = second_step_passkey(auth, authenticator, origin="https://evil.example")
        expected = "/auth/login" if attempt == 4 else "/auth/mfa"
        assert response.headers["Location"] == expected
    assert auth.client.get("/auth/mfa").headers["Location"] == "/auth/login"


# --- passwordless sign-in ------------------------------------------------------------------------


def test_a_passkey_signs_in_with_no_password(app, clock):
    _auth, authenticator, _codes = passkey_user(app, clock)
    client = app.test_client()
    login_page = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in with a passkey" in login_page
    options = sign_in_options(client).get_json()
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []  # discoverable: the authenticator chooses
    credential = authenticator.get(options)
    response = post_assertion(client, "/auth/passkey?next=/account/sessions", credential)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/sessions"
    assert client.get("/dashboard").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(LoginEvent.success).order_by(LoginEvent.id.desc())) is True
        assert db.session.get(User, 1).last_login_at is not None


def test_a_passwordless_sign_in_needs_user_verification(app, clock):
    _auth, authenticator, _codes = passkey_user(app, clock)
    client = app.test_client()
    response = passwordless(client, authenticator, uv=False)
    assert response.headers["Location"] == "/auth/login"
    assert client.get("/dashboard").status_code == 302


def test_a_passwordless_sign_in_checks_the_user_handle(app, clock):
    _auth, authenticator, _codes = passkey_user(app, clock)
    client = app.test_client()
    response = passwordless(client, authenticator, user_handle=b"someone else's handle")
    assert response.headers["Location"] == "/auth/login"
    assert client.get("/dashboard").status_code == 302


def test_an_unknown_passkey_signs_nobody_in(app, clock):
    passkey_user(app, clock)
    stranger = SoftAuthenticator()
    stranger.user_handle = b"x" * 32
    client = app.test_client()
    assert passwordless(client, stranger).headers["Location"] == "/auth/login"
    assert client.get("/dashboard").status_code == 302


def test_a_replayed_sign_in_is_refused(app, clock):
    """The same answer, sent twice with the same session cookie (a captured request
    replayed), signs in once: the challenge is spent by the first. (The authenticator
    keeps no counter, as synced passkeys do, so only the challenge can refuse the replay.)"""
    auth = register(app)
    assert auth.login().status_code == 302
    authenticator = SoftAuthenticator(counts=False)
    assert add_passkey(auth, authenticator).status_code == 200
    first = app.test_client()
    options = sign_in_options(first).get_json()
    credential = authenticator.get(options)
    token = AuthActions(first).token("/auth/login")
    cookie = first.get_cookie("session").value
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    data = {"passkey-csrf_token": token, "passkey-credential": json.dumps(credential)}
    assert first.post("/auth/passkey", data=data).headers["Location"] == "/dashboard"
    assert count_rows(app, WebAuthnChallenge) == 0
    assert replay.post("/auth/passkey", data=data).headers["Location"] == "/auth/login"
    assert replay.get("/dashboard").status_code == 302


def test_a_challenge_expires(app, clock):
    _auth, authenticator, _codes = passkey_user(app, clock)
    client = app.test_client()
    options = sign_in_options(client).get_json()
    clock.now += timedelta(minutes=5, seconds=1)
    response = post_assertion(client, "/auth/passkey", authenticator.get(options))
    assert response.headers["Location"] == "/auth/login"
    assert client.get("/dashboard").status_code == 302


@pytest.mark.parametrize(
    "wrong",
    [{"origin": "https://evil.example"}, {"origin": "http://localhost:8080"}, {"rp_id": "evil.example"}],
    ids=["other-site", "other-port", "other-rp-id"],
)
def test_an_assertion_for_another_origin_or_rp_is_refused(app, clock, wrong):
    _auth, authenticator, _codes = passkey_user(app, clock)
    client = app.test_client()
    assert passwordless(client, authenticator, **wrong).headers["Location"] == "/auth/login"
    assert client.get("/dashboard").status_code == 302
    # The right answer to a fresh challenge still works: nothing was used up but the challenge.
    assert passwordless(client, authenticator).headers["Location"] == "/dashboard"


def test_a_signature_counter_that_goes_backwards_is_refused(app, clock):
    _auth, authenticator, _codes = passkey_user(app, clock)
    for _ in range(3):
        client = app.test_client()
        assert passwordless(client, authenticator).headers["Location"] == "/dashboard"
    with app.app_context():
        assert db.session.scalar(select(PasskeyCredential.sign_count)) == 3
    authenticator.sign_count = 1  # a cloned authenticator: its next count is 2, below 3
    client = app.test_client()
    assert passwordless(client, authenticator).headers["Location"] == "/auth/login"
    with app.app_context():
        assert db.session.scalar(select(PasskeyCredential.sign_count)) == 3


def test_a_counter_that_stays_zero_is_accepted(app, clock):
    """Many platform authenticators (synced passkeys) always report 0: no counter, nothing to compare."""
    auth = register(app)
    assert auth.login().status_code == 302
    authenticator = SoftAuthenticator(counts=False)
    assert add_passkey(auth, authenticator).status_code == 200
    for _ in range(2):
        client = app.test_client()
        assert passwordless(client, authenticator).headers["Location"] == "/dashboard"


def test_a_locked_account_is_not_opened_by_a_passkey(make_app):
    """(No test clock: the lock is set and judged by the real time.)"""
    app = make_app(LOCKOUT_THRESHOLD=2)
    _auth, authenticator, _codes = passkey_user(app, None)
    stranger = AuthActions(app.test_client())
    for _ in range(2):
        stranger.login(password=WRONG_PASSWORD)
    client = app.test_client()
    assert passwordless(client, authenticator).headers["Location"] == "/auth/login"
    assert client.get("/dashboard").status_code == 302


# --- removal -------------------------------------------------------------------------------------


def remove(auth: AuthActions, factor_id: int, *, code: str, password: str = PASSWORD):
    path = f"/account/security/passkeys/{factor_id}/remove"
    token = auth.token(path)
    data = {"csrf_token": token, "remove-current_code": code, "remove-password": password}
    return auth.client.post(path, data=data)


def test_removing_a_passkey_needs_the_password_and_a_factor_and_it_stops_working(app, clock):
    auth, authenticator, codes = passkey_user(app, clock)
    other = app.test_client()
    assert passwordless(other, authenticator).headers["Location"] == "/dashboard"
    with app.app_context():
        factor_id = db.session.scalar(select(MfaFactor.id))
    assert auth.client.get(f"/account/security/passkeys/{factor_id}/remove").status_code == 200
    assert remove(auth, factor_id, code=codes[0], password=WRONG_PASSWORD).status_code == 422
    assert remove(auth, factor_id, code="").status_code == 422
    assert count_rows(app, PasskeyCredential) == 1
    response = remove(auth, factor_id, code=codes[1])
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/security"
    assert count_rows(app, PasskeyCredential) == 0
    assert is_signed_in(auth)
    assert other.get("/dashboard").status_code == 302  # other sessions ended
    with app.app_context():
        assert not factors.has_factor(1)
        assert factors.recovery_codes_left(1) == 0  # they went with the last factor
        kinds = db.session.scalars(select(MailOutbox.kind).order_by(MailOutbox.id)).all()
        assert kinds[-1] == "mfa_passkey_removed"
    client = app.test_client()
    assert passwordless(client, authenticator).headers["Location"] == "/auth/login"
    # With no factor left, the password alone signs in again.
    assert AuthActions(app.test_client()).login().headers["Location"] == "/dashboard"


def test_nobody_removes_another_accounts_passkey(app, clock):
    passkey_user(app, clock)
    bob = register(app, username="bob", email="bob@example.com")
    assert bob.login(login="bob").status_code == 302
    with app.app_context():
        factor_id = db.session.scalar(select(MfaFactor.id))
    assert bob.client.get(f"/account/security/passkeys/{factor_id}/remove").status_code == 404
    assert count_rows(app, PasskeyCredential) == 1


# --- settings ------------------------------------------------------------------------------------


def test_origin_and_rp_id_default_from_app_base_url():
    env = {"SECRET_KEY": "s" * 40, "APP_BASE_URL": "https://auth.example.com"}
    config = config_class("testing")(env)
    assert (config.WEBAUTHN_ORIGIN, config.WEBAUTHN_RP_ID, config.WEBAUTHN_ENABLED) == (
        "https://auth.example.com",
        "auth.example.com",
        True,
    )
    parent = config_class("testing")({**env, "WEBAUTHN_RP_ID": "example.com"})
    assert parent.WEBAUTHN_RP_ID == "example.com"


@pytest.mark.parametrize(
    "env",
    [
        {"APP_BASE_URL": "https://auth.example.com", "WEBAUTHN_RP_ID": "other.com"},
        {"APP_BASE_URL": "https://auth.example.com", "WEBAUTHN_RP_ID": "ample.com"},
        {"WEBAUTHN_ORIGIN": "http://auth.example.com"},
        {"WEBAUTHN_ORIGIN": "https://auth.example.com/path"},
    ],
)
def test_an_rp_id_that_does_not_fit_the_origin_is_refused(env):
    with pytest.raises(ConfigError):
        config_class("testing")({"SECRET_KEY": "s" * 40, **env})


def test_passkeys_are_off_without_a_usable_origin(make_app):
    """An IP address is no RP ID for any browser: the pages then offer no passkey."""
    config = config_class("development")({"SECRET_KEY": "s" * 40, "APP_BASE_URL": "http://127.0.0.1:5000"})
    assert config.WEBAUTHN_ENABLED is False
    app = make_app(WEBAUTHN_ENABLED=False)
    client = app.test_client()
    assert "Sign in with a passkey" not in client.get("/auth/login").get_data(as_text=True)
    assert "passkeys.js" not in client.get("/auth/login").get_data(as_text=True)
    assert sign_in_options(client).status_code == 404


# --- a passkey instead of a code, to confirm a change ----------------------------------------------


def confirm_answer(
    auth: AuthActions, authenticator: SoftAuthenticator, path: str = "/account/security"
) -> str:
    token = auth.token(path)
    options = auth.client.post("/account/security/passkeys/confirm/options", data={"csrf_token": token})
    assert options.status_code == 200, options.get_data(as_text=True)
    return json.dumps(authenticator.get(options.get_json()))


def test_a_passkey_confirms_a_change_instead_of_a_code(app, clock):
    auth, authenticator, _codes = passkey_user(app, clock)
    with app.app_context():
        factor_id = db.session.scalar(select(MfaFactor.id))
    path = f"/account/security/passkeys/{factor_id}/remove"
    page = auth.client.get(path).get_data(as_text=True)
    assert "Use a passkey instead of a code" in page
    answer = confirm_answer(auth, authenticator, path)
    data = {"csrf_token": auth.token(path), "remove-current_passkey": answer, "remove-password": PASSWORD}
    response = auth.client.post(path, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count_rows(app, PasskeyCredential) == 0
    # The same answer again proves nothing: its challenge is spent.
    assert passkey_user_again(app, auth, answer) == 422


def passkey_user_again(app, auth: AuthActions, answer: str) -> int:
    second = SoftAuthenticator()
    assert add_passkey(auth, second).status_code == 200
    with app.app_context():
        factor_id = db.session.scalar(select(MfaFactor.id))
    path = f"/account/security/passkeys/{factor_id}/remove"
    data = {"csrf_token": auth.token(path), "remove-current_passkey": answer, "remove-password": PASSWORD}
    return auth.client.post(path, data=data).status_code


def test_a_passkey_only_account_confirms_a_new_authenticator_app_with_its_passkey(app, clock):
    auth, authenticator, _codes = passkey_user(app, clock)
    from test_mfa import start_enrolment

    secret = start_enrolment(auth)
    page = auth.client.get("/account/security/totp").get_data(as_text=True)
    assert 'name="current_code"' in page  # the passkey counts as a factor to prove
    data = {
        "csrf_token": auth.token("/account/security/totp"),
        "code": code_at(secret, clock.now),
        "password": PASSWORD,
        "current_code": "",
    }
    assert auth.client.post("/account/security/totp", data=data).status_code == 422
    data["current_passkey"] = confirm_answer(auth, authenticator, "/account/security/totp")
    data["csrf_token"] = auth.token("/account/security/totp")
    response = auth.client.post("/account/security/totp", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        assert len(factors.enabled_factors(1)) == 2


def test_another_accounts_passkey_confirms_nothing(app, clock):
    auth, _alice_key, _codes = passkey_user(app, clock)
    bob_key = bob_with_a_passkey(app)
    token = auth.token("/account/security")
    options = auth.client.post("/account/security/passkeys/confirm/options", data={"csrf_token": token})
    body = options.get_json()
    body["allowCredentials"] = []
    answer = json.dumps(bob_key.get(body))
    data = {"csrf_token": token, "codes-current_passkey": answer, "codes-password": PASSWORD}
    assert auth.client.post("/account/security/recovery-codes", data=data).status_code == 422
    with app.app_context():
        assert factors.recovery_codes_left(1) == 10
