"""SECRET_KEY rotation with SECRET_KEY_FALLBACKS: what the former key signed still verifies
(session and remember-me cookies, e-mailed links, known-device cookies, authenticator secrets
encrypted with a key derived from it), what is signed now uses the new key only, and without
the fallback the old signatures are refused (the control that shows each check can fail)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import config as app_config
from app import lockout, tokens
from app.config import ConfigError
from app.extensions import db
from app.mfa import crypto
from app.models import User
from app.security import hash_password
from tests.support.auth import copy_cookies, signed_in, signed_in_client
from tests.support.passwords import PASSWORD

OLD_KEY, NEW_KEY, OTHER_KEY = "o" * 40, "n" * 40, "x" * 40


@pytest.fixture
def before(make_app):
    """The app before the rotation, with one account."""
    app = make_app(SECRET_KEY=OLD_KEY)
    with app.app_context():
        db.session.add(
            User(username="alice", email="alice@example.com", password_hash=hash_password(PASSWORD))
        )
        db.session.commit()
    return app


def moved_to(after, browser, name: str):
    """The same browser, holding only the named cookie, talking to the rotated app."""
    assert browser.get_cookie(name) is not None, name
    return copy_cookies(after, browser, [name])


def rotated(make_app, *fallbacks: str):
    return make_app(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=fallbacks)


@pytest.mark.parametrize("fallbacks, kept", [((OTHER_KEY, OLD_KEY), True), ((OTHER_KEY,), False)])
def test_a_signed_in_browser_stays_signed_in(before, make_app, fallbacks, kept):
    browser = signed_in_client(before)
    after = rotated(make_app, *fallbacks)
    assert signed_in(moved_to(after, browser, before.config["SESSION_COOKIE_NAME"])) is kept


@pytest.mark.parametrize("fallbacks, kept", [((OLD_KEY,), True), ((), False)])
def test_a_remembered_browser_with_only_its_remember_cookie_stays_signed_in(
    before, make_app, fallbacks, kept
):
    browser = signed_in_client(before, remember=True)
    after = rotated(make_app, *fallbacks)
    client = moved_to(after, browser, before.config["REMEMBER_COOKIE_NAME"])
    assert client.get_cookie(after.config["SESSION_COOKIE_NAME"]) is None  # the session cookie is gone
    assert signed_in(client) is kept
    if kept:  # and its new session cookie is signed with the new key: the old app refuses it
        assert signed_in(moved_to(before, client, after.config["SESSION_COOKIE_NAME"])) is False


@pytest.mark.parametrize("fallbacks, kept", [((OLD_KEY,), True), ((), False)])
def test_a_link_already_e_mailed_still_works(before, make_app, fallbacks, kept):
    with before.app_context():
        user = db.session.scalar(select(User))
        link = tokens.make_token(tokens.RESET_LINK, user)
    after = rotated(make_app, *fallbacks)
    with after.app_context():
        if kept:
            assert tokens.load_user(tokens.RESET_LINK, link, timedelta(hours=1)).username == "alice"
        else:
            with pytest.raises(tokens.TokenError):
                tokens.load_user(tokens.RESET_LINK, link, timedelta(hours=1))


def test_what_is_signed_after_the_rotation_uses_the_new_key(before, make_app):
    after = rotated(make_app, OLD_KEY)
    with after.app_context():
        user = db.session.scalar(select(User))
        link = tokens.make_token(tokens.RESET_LINK, user)
        signature = tokens.signer("test").dumps("payload")
    with before.app_context(), pytest.raises(tokens.TokenError):
        tokens.load_user(tokens.RESET_LINK, link, timedelta(hours=1))
    only_new = make_app(SECRET_KEY=NEW_KEY)
    with only_new.app_context():
        assert tokens.signer("test").loads(signature) == "payload"


@pytest.mark.parametrize("fallbacks, kept", [((OLD_KEY,), True), ((), False)])
def test_a_known_device_stays_known(before, make_app, fallbacks, kept):
    browser = signed_in_client(before)
    name = before.config["DEVICE_COOKIE_NAME"]
    cookie = browser.get_cookie(name)
    assert cookie is not None
    after = rotated(make_app, *fallbacks)
    with after.app_context():
        user_id = db.session.scalar(select(User.id))
        with after.test_request_context(headers={"Cookie": f"{name}={cookie.value}"}):
            assert (lockout.trusted_device(user_id) is not None) is kept


@pytest.mark.parametrize("fallbacks, kept", [((OLD_KEY,), True), ((), False)])
def test_authenticator_secrets_encrypted_with_a_key_derived_from_the_old_one_still_decrypt(
    before, make_app, fallbacks, kept
):
    with before.app_context():
        stored = crypto.encrypt("JBSWY3DPEHPK3PXP")
    after = rotated(make_app, *fallbacks)
    with after.app_context():
        if kept:
            assert crypto.decrypt(stored) == "JBSWY3DPEHPK3PXP"
            assert crypto.needs_reencryption(stored)
        else:
            with pytest.raises(crypto.SecretUnreadable):
                crypto.decrypt(stored)


def test_fallbacks_do_not_decrypt_secrets_under_a_configured_mfa_key(before, make_app):
    """With MFA_ENCRYPTION_KEY set the secrets never depended on SECRET_KEY, old or new."""
    with before.app_context():
        stored = crypto.encrypt("JBSWY3DPEHPK3PXP")
    after = make_app(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=(OLD_KEY,), MFA_ENCRYPTION_KEY="m" * 40)
    with after.app_context(), pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(stored)


def test_the_setting_is_read_from_the_environment_and_checked(tmp_path):
    def config(value: str) -> app_config.Config:
        return app_config.TestingConfig({"SECRET_KEY_FALLBACKS": value}, instance_path=str(tmp_path))

    assert config(f"{OLD_KEY}, {OTHER_KEY}").SECRET_KEY_FALLBACKS == (OLD_KEY, OTHER_KEY)
    assert config("").SECRET_KEY_FALLBACKS == ()
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS must hold keys of at least 32"):
        config("short")
