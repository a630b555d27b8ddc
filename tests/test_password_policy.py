"""PASSWORD_POLICY: the default rules (unchanged) and NIST's (SP 800-63B, ASVS 6.2.5):
length 8-128, no common passwords, no username or e-mail, a zxcvbn strength floor,
and no composition rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.config import ConfigError, ProductionConfig
from app.extensions import db
from app.models import User
from app.security import hash_password, password_problems
from tests.support.auth import AuthActions, csrf_token
from tests.support.passwords import PASSWORD

STRENGTH = "too easy to guess"
DEFAULT_HINT = "with an upper-case letter, a lower-case letter and a digit"
NIST_HINT = "15 or more"


def users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.fixture
def nist_app(make_app):
    return make_app(PASSWORD_POLICY="nist")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "walrus anchor velvet",
        "sunshine-sunshine",
        "x" * 7 + "Q9!kz" + "m" * 3,
    ],
)
def test_nist_accepts_strong_passwords_without_composition_rules(nist_app, password):
    """No upper-case, digit or symbol needed: a long passphrase of lower-case words registers."""
    response = AuthActions(nist_app.test_client()).register(password=password)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert users(nist_app) == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("abc def", "Use at least 8 characters."),
        ("walrus anchor " + "velvet " * 17, "Use at most 128 characters."),
        ("Password123", "This password is too common; choose another."),
        ("qwerty123", "This password is too common; choose another."),
        ("alice-walrus-velvet", "Do not include your username."),
        ("velvet alice@example.com", "Do not include your e-mail address."),
        ("abcabcabcabc", STRENGTH),
        ("passwordpassword", STRENGTH),
        ("january2024", STRENGTH),
        ("Summer2024!", STRENGTH),
    ],
)
def test_nist_refuses_short_long_common_personal_and_guessable(nist_app, password, message):
    """Each NIST rule refuses with 422 and its reason, and creates nobody."""
    response = AuthActions(nist_app.test_client()).register(password=password)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert users(nist_app) == 0


def test_default_policy_still_requires_composition(app, auth):
    """The default rules are unchanged: a lower-case passphrase lacks an upper-case letter and a digit."""
    response = auth.register(password="correct horse battery staple")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Include an upper-case letter." in body
    assert "Include a digit." in body
    assert STRENGTH not in body
    assert password_problems("Summer2024!x") == []  # no strength floor in the default policy


def test_nist_strength_floor_is_configurable(make_app):
    """PASSWORD_NIST_MIN_SCORE sets the zxcvbn score a password needs (0-4)."""
    lenient = make_app(PASSWORD_POLICY="nist", PASSWORD_NIST_MIN_SCORE=2)
    assert AuthActions(lenient.test_client()).register(password="january2024").status_code == 302
    strict = make_app(PASSWORD_POLICY="nist", PASSWORD_NIST_MIN_SCORE=4)
    with strict.app_context():
        assert any(STRENGTH in p for p in password_problems("sunshine-sunshine"))


@pytest.mark.parametrize("path", ["/auth/register", "/account/password", "reset"])
@pytest.mark.parametrize("policy", ["default", "nist"])
def test_forms_show_the_active_policy(make_app, path, policy):
    """Register, change-password and reset pages describe the policy in force."""
    app = make_app(PASSWORD_POLICY=policy)
    client = app.test_client()
    if path != "/auth/register":
        from app import tokens

        with app.app_context():
            user = User(username="alice", email="alice@example.com", password_hash=hash_password(PASSWORD))
            db.session.add(user)
            db.session.commit()
            if path == "reset":
                path = "/auth/reset/" + tokens.make_token(tokens.RESET_LINK, user)
        if path == "/account/password":
            token = csrf_token(client.get("/auth/login").get_data(as_text=True))
            client.post("/auth/login", data={"csrf_token": token, "login": "alice", "password": PASSWORD})
    page = client.get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert (DEFAULT_HINT in body) is (policy == "default")
    assert (NIST_HINT in body) is (policy == "nist")


def test_nist_applies_to_password_change(nist_app):
    """The change-password form uses the active policy too: a passphrase is accepted."""
    client = nist_app.test_client()
    with nist_app.app_context():
        db.session.add(
            User(username="alice", email="alice@example.com", password_hash=hash_password(PASSWORD))
        )
        db.session.commit()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"csrf_token": token, "login": "alice", "password": PASSWORD})
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    data = {"csrf_token": token, "current_password": PASSWORD, "confirm_password": "abcabcabcabc"}
    weak = client.post("/account/password", data=data | {"new_password": "abcabcabcabc"})
    assert weak.status_code == 422
    assert STRENGTH in weak.get_data(as_text=True)
    phrase = "walrus anchor velvet"
    data |= {"csrf_token": token, "new_password": phrase, "confirm_password": phrase}
    assert client.post("/account/password", data=data).status_code == 302


@pytest.mark.parametrize(("name", "value"), [("PASSWORD_POLICY", "strict"), ("PASSWORD_NIST_MIN_SCORE", "5")])
def test_bad_policy_settings_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        ProductionConfig(
            environ={"SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql://db.example/app", name: value}
        )


def test_policy_defaults():
    config = ProductionConfig(environ={"SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql://db.example/app"})
    assert (config.PASSWORD_POLICY, config.PASSWORD_NIST_MIN_SCORE) == ("default", 3)
