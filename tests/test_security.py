"""Security rules: password policy, hashing, CSRF, headers, caching, cookies,
request size and the rendered error pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import abort
from sqlalchemy import func, select

from app.config import ConfigError, ProductionConfig
from app.extensions import db
from app.models import User, UserSession
from app.security import common_passwords, hash_password, password_problems, verify_password
from tests.support.auth import AuthActions, csrf_token
from tests.support.passwords import PASSWORD

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"
GOOD_PASSWORD = "Brave-Otter-77"
# 128 characters that vary along the whole length, so a truncating hash would show.
PASSWORD_128 = "Zq7-" * 32
CSRF_TEXT = "This form has expired or was not sent from this site"


def parse_set_cookies(response) -> dict[str, dict[str, str | bool]]:
    """Set-Cookie headers as {name: {"value": ..., attribute (lower-case): value or True}}."""
    cookies: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        parsed: dict[str, str | bool] = {"value": value}
        for attribute in attributes:
            key, sep, attr_value = attribute.partition("=")
            parsed[key.lower()] = attr_value if sep else True
        cookies[name] = parsed
    return cookies


def account_state(app) -> tuple[list[tuple[str, str, str]], int]:
    """Every user row and the number of server-side sessions."""
    with app.app_context():
        users = [
            (u.username, u.email, u.password_hash) for u in db.session.scalars(select(User).order_by(User.id))
        ]
        sessions = db.session.scalar(select(func.count()).select_from(UserSession))
        db.session.remove()
    return users, sessions


# --- Password policy -------------------------------------------------------


def test_common_password_examples_are_in_the_zxcvbn_list():
    """The common-password examples used below really are on the zxcvbn list."""
    passwords = common_passwords()
    assert "password123" in passwords
    assert "qwerty123" in passwords
    assert len(passwords) > 10_000


@pytest.mark.parametrize(
    ("password", "kwargs", "message"),
    [
        ("Ab1cdef", {}, "Use at least 8 characters."),
        ("abcdefg1", {}, "Include an upper-case letter."),
        ("ABCDEFG1", {}, "Include a lower-case letter."),
        ("Abcdefgh", {}, "Include a digit."),
        ("Aa1" + "b" * 126, {}, "Use at most 128 characters."),
        ("Xx-alice-99", {"username": "alice"}, "Do not include your username."),
        ("Xx-ALICE-99", {"username": "alice"}, "Do not include your username."),
        ("Xx-alice-99", {"username": "ALICE"}, "Do not include your username."),
        ("Ab1-Alice@Example.COM", {"email": "alice@example.com"}, "Do not include your e-mail address."),
        ("Password123", {}, "This password is too common; choose another."),
        ("Qwerty123", {}, "This password is too common; choose another."),
    ],
)
def test_password_policy_refuses(password, kwargs, message):
    """password_problems names each rule a password breaks."""
    assert message in password_problems(password, **kwargs)


@pytest.mark.parametrize(
    ("password", "kwargs"),
    [
        (GOOD_PASSWORD, {}),
        (GOOD_PASSWORD, {"username": "alice", "email": "alice@example.com"}),
        ("Aa1" + "b" * 5, {}),
        (PASSWORD_128, {"username": "alice", "email": "alice@example.com"}),
    ],
)
def test_password_policy_accepts_good_passwords(password, kwargs):
    """A good password (8 to exactly 128 characters) has no problems."""
    assert password_problems(password, **kwargs) == []


def test_128_character_password_is_hashed_whole(app):
    """No truncation: the hash of a 128-character password does not verify its 127-character prefix."""
    assert len(PASSWORD_128) == 128
    with app.app_context():
        stored = hash_password(PASSWORD_128)
        assert verify_password(stored, PASSWORD_128)
        assert not verify_password(stored, PASSWORD_128[:127])
        assert not verify_password(stored, PASSWORD_128[:72])


def test_128_character_password_through_the_forms(client, auth):
    """A 128-character password registers; signing in needs every character of it."""
    assert auth.register(password=PASSWORD_128).status_code == 302
    assert auth.login(password=PASSWORD_128[:127]).status_code == 422
    assert client.get("/dashboard").status_code == 302
    assert auth.login(password=PASSWORD_128).status_code == 302
    assert client.get("/dashboard").status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Ab1cdef", "Use at least 8 characters."),
        ("abcdefg1", "Include an upper-case letter."),
        ("ABCDEFG1", "Include a lower-case letter."),
        ("Abcdefgh", "Include a digit."),
        ("Aa1" + "b" * 126, "Use at most 128 characters."),
        ("Xx-Alice-99", "Do not include your username."),
        ("Ab1-ALICE@example.com", "Do not include your e-mail address."),
        ("Password123", "This password is too common; choose another."),
        ("Qwerty123", "This password is too common; choose another."),
    ],
)
def test_register_form_applies_password_policy(app, auth, password, message):
    """The register form refuses a weak password with 422 and the reason, and creates nobody."""
    response = auth.register(password=password)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert account_state(app) == ([], 0)


# --- Hashing -----------------------------------------------------------------


def test_stored_hash_is_argon2id_with_the_configured_parameters(make_app):
    """The users table holds an argon2id hash made with the PASSWORD_ARGON2_* parameters,
    never the password."""
    app = make_app(PASSWORD_ARGON2_MEMORY_KIB=64, PASSWORD_ARGON2_TIME_COST=3, PASSWORD_ARGON2_PARALLELISM=2)
    assert AuthActions(app.test_client()).register().status_code == 302
    [(_, _, stored)] = account_state(app)[0]
    assert stored.startswith("$argon2id$v=19$m=64,t=3,p=2$")
    assert PASSWORD not in stored
    with app.app_context():
        assert verify_password(stored, PASSWORD)
        assert not verify_password(stored, PASSWORD + "x")


def test_testing_app_uses_its_cheap_argon2_parameters(app, auth):
    """Without an override the (cheap) testing parameters are the ones stored."""
    assert auth.register().status_code == 302
    [(_, _, stored)] = account_state(app)[0]
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_production_default_argon2_parameters():
    """Production hashes with OWASP's argon2id minimum (m=19 MiB, t=2, p=1) unless told otherwise."""
    config = ProductionConfig(environ={"SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql://db.example/app"})
    assert (config.PASSWORD_ARGON2_MEMORY_KIB, config.PASSWORD_ARGON2_TIME_COST) == (19456, 2)
    assert config.PASSWORD_ARGON2_PARALLELISM == 1


def test_argon2_parameters_come_from_the_environment():
    config = ProductionConfig(
        environ={
            "SECRET_KEY": "s" * 40,
            "DATABASE_URL": "postgresql://db.example/app",
            "PASSWORD_ARGON2_MEMORY_KIB": "65536",
            "PASSWORD_ARGON2_TIME_COST": "3",
            "PASSWORD_ARGON2_PARALLELISM": "4",
        }
    )
    assert (config.PASSWORD_ARGON2_MEMORY_KIB, config.PASSWORD_ARGON2_TIME_COST) == (65536, 3)
    assert config.PASSWORD_ARGON2_PARALLELISM == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PASSWORD_ARGON2_MEMORY_KIB", "7"),
        ("PASSWORD_ARGON2_TIME_COST", "0"),
        ("PASSWORD_ARGON2_PARALLELISM", "x"),
    ],
)
def test_bad_argon2_parameters_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        ProductionConfig(
            environ={"SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql://db.example/app", name: value}
        )


def test_the_old_hash_method_setting_is_refused_naming_the_new_ones():
    """PASSWORD_HASH_METHOD left in an environment stops the app, saying what replaced it."""
    with pytest.raises(ConfigError, match=r"PASSWORD_HASH_METHOD.*PASSWORD_ARGON2_MEMORY_KIB"):
        ProductionConfig(
            environ={
                "SECRET_KEY": "s" * 40,
                "DATABASE_URL": "postgresql://db.example/app",
                "PASSWORD_HASH_METHOD": "scrypt:32768:8:1",
            }
        )


# --- CSRF --------------------------------------------------------------------

CSRF_FORMS = [
    ("/auth/login", False, {"login": "alice", "password": PASSWORD}),
    (
        "/auth/register",
        False,
        {
            "username": "bob",
            "email": "bob@example.com",
            "password": GOOD_PASSWORD,
            "confirm_password": GOOD_PASSWORD,
        },
    ),
    ("/auth/logout", True, {}),
    (
        "/account/password",
        True,
        {"current_password": PASSWORD, "new_password": GOOD_PASSWORD, "confirm_password": GOOD_PASSWORD},
    ),
    ("/account/delete", True, {"password": PASSWORD}),
    ("/account/sessions/end-others", True, {"password": PASSWORD}),
]


@pytest.mark.parametrize("token", ["missing", "garbage", "other-session"])
@pytest.mark.parametrize(("path", "signed_in", "data"), CSRF_FORMS, ids=[f[0] for f in CSRF_FORMS])
def test_post_without_valid_csrf_token_is_refused(app, client, auth, path, signed_in, data, token):
    """Every form refuses a missing or wrong CSRF token with the 400 page and changes nothing."""
    assert auth.register().status_code == 302
    other = AuthActions(app.test_client())
    assert other.login().status_code == 302  # a second session, for end-others
    if signed_in:
        assert auth.login().status_code == 302
    data = dict(data)
    if token == "garbage":
        data["csrf_token"] = "not-a-real-token"
    elif token == "other-session":
        data["csrf_token"] = other.token("/dashboard")
    before = account_state(app)

    response = client.post(path, data=data)

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert CSRF_TEXT in body
    assert "Error 400" in body
    assert "Traceback" not in body
    assert account_state(app) == before
    assert client.get("/dashboard").status_code == (200 if signed_in else 302)


def test_same_posts_with_the_token_do_change_things(app, client, auth):
    """Control for the CSRF test: with the token, end-others and delete really act."""
    assert auth.register().status_code == 302
    assert AuthActions(app.test_client()).login().status_code == 302
    assert auth.login().status_code == 302
    token = auth.token("/dashboard")
    response = client.post("/account/sessions/end-others", data={"csrf_token": token, "password": PASSWORD})
    assert response.status_code == 302
    assert account_state(app)[1] == 1
    response = client.post("/account/delete", data={"csrf_token": token, "password": PASSWORD})
    assert response.status_code == 302
    assert account_state(app) == ([], 0)


# --- Security headers --------------------------------------------------------

HEADER_PATHS = [
    ("/auth/login", 200),
    ("/auth/register", 200),
    ("/health/live", 200),
    ("/no-such-page", 404),
    ("/static/style.css", 200),
]


@pytest.mark.parametrize(("path", "status"), HEADER_PATHS)
def test_security_headers_on_every_response(client, path, status):
    """CSP without inline code, nosniff, frame denial, referrer and permissions policies everywhere."""
    response = client.get(path)
    assert response.status_code == status
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == "default-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert directives["base-uri"] == "base-uri 'none'"
    assert directives["form-action"] == "form-action 'self'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "geolocation=()" in headers["Permissions-Policy"]


@pytest.mark.parametrize(
    ("env_name", "hsts"),
    [("staging", True), ("production", True), ("testing", False), ("development", False)],
)
@pytest.mark.parametrize("path", ["/auth/login", "/health/live", "/no-such-page"])
def test_hsts_only_in_staging_and_production(make_app, monkeypatch, env_name, hsts, path):
    """Strict-Transport-Security (one year, subdomains) is sent only where TLS is guaranteed."""
    monkeypatch.setenv("APP_ENV", env_name)
    app = make_app()
    assert app.config["APP_ENV"] == env_name
    response = app.test_client().get(path)
    if hsts:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in response.headers


# --- Caching and templates ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [("/auth/login", False), ("/auth/register", False), ("/dashboard", True), ("/account/password", True)],
)
def test_pages_are_never_stored(client, auth, path, signed_in):
    """Pages holding forms or account data carry Cache-Control: no-store."""
    if signed_in:
        auth.register()
        assert auth.login().status_code == 302
    response = client.get(path)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_templates_have_no_inline_script_or_style():
    """The strict CSP can stay strict: no inline scripts, style elements, style= or on*= attributes.

    E-mail bodies (templates/emails/) are not pages: no CSP applies to them and
    mail clients ignore stylesheets, so only they may carry style= attributes;
    they may never carry scripts or handlers either."""
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) >= 10
    emails = [t for t in templates if t.parent.name == "emails"]
    assert emails
    for template in emails:
        source = template.read_text()
        assert not re.search(r"<script\b", source, re.IGNORECASE), template.name
        assert not re.search(r"\son[a-z]+\s*=", source, re.IGNORECASE), template.name
    templates = [t for t in templates if t not in emails]
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    for template in templates:
        source = template.read_text()
        assert not inline_script.search(source), template.name
        assert not re.search(r"<style\b", source, re.IGNORECASE), template.name
        assert not re.search(r"\sstyle\s*=", source, re.IGNORECASE), template.name
        assert not re.search(r"\son[a-z]+\s*=", source, re.IGNORECASE), template.name


# --- Cookies -----------------------------------------------------------------

HTTPS = {"base_url": "https://localhost", "headers": {"Referer": "https://localhost/auth/login"}}


def sign_in_response(app, https: bool):
    """Register alice and sign in with remember-me; return the sign-in response."""
    client = app.test_client()
    kwargs = HTTPS if https else {}
    page = client.get("/auth/register", **kwargs).get_data(as_text=True)
    registered = client.post(
        "/auth/register",
        data={
            "csrf_token": csrf_token(page),
            "username": "alice",
            "email": "alice@example.com",
            "password": PASSWORD,
            "confirm_password": PASSWORD,
        },
        **kwargs,
    )
    assert registered.status_code == 302, registered.get_data(as_text=True)
    page = client.get("/auth/login", **kwargs).get_data(as_text=True)
    response = client.post(
        "/auth/login",
        data={"csrf_token": csrf_token(page), "login": "alice", "password": PASSWORD, "remember_me": "y"},
        **kwargs,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, response


@pytest.mark.parametrize(
    ("env_name", "https"),
    [("testing", False), ("development", False), ("staging", True), ("production", True)],
)
def test_cookie_attributes(make_app, monkeypatch, env_name, https):
    """Session and remember-me cookies are HttpOnly and SameSite=Lax (Path=/, no Domain).
    Testing and development (plain HTTP): not Secure. Staging and production: Secure and
    __Host- prefixed."""
    monkeypatch.setenv("APP_ENV", env_name)
    app = make_app()
    client, response = sign_in_response(app, https=https)
    cookies = parse_set_cookies(response)
    prefix = "__Host-" if https else ""
    assert set(cookies) == {f"{prefix}session", f"{prefix}remember_token", f"{prefix}device"}
    for cookie in cookies.values():
        if https:
            assert cookie["secure"] is True
        else:
            assert "secure" not in cookie
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert "domain" not in cookie
    assert client.get("/dashboard", **(HTTPS if https else {})).status_code == 200


def test_remember_cookie_alone_restores_the_session_in_production(make_app, monkeypatch):
    """The __Host-remember_token cookie (sent back over HTTPS) signs the browser in again."""
    monkeypatch.setenv("APP_ENV", "production")
    app = make_app()
    client, _ = sign_in_response(app, https=True)
    client.delete_cookie("__Host-session", domain="localhost")
    assert client.get_cookie("__Host-session", domain="localhost") is None
    assert client.get_cookie("__Host-remember_token", domain="localhost") is not None
    assert client.get("/dashboard", base_url="https://localhost").status_code == 200


def test_no_host_prefix_when_secure_cookies_are_turned_off(make_app, monkeypatch):
    """A __Host- cookie without Secure would be dropped by browsers, so the prefix goes with the flag."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECURE_COOKIES", "false")
    app = make_app()
    _, response = sign_in_response(app, https=True)
    cookies = parse_set_cookies(response)
    assert set(cookies) == {"session", "remember_token", "device"}
    assert all("secure" not in cookie for cookie in cookies.values())


# --- Request size ------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def form_body(size: int) -> str:
    body = "login=" + "a" * (size - len("login="))
    assert len(body) == size
    return body


def test_body_over_64_kib_is_refused(client):
    """A body of 64 KiB + 1 byte gets the rendered 413 page; exactly 64 KiB is read (and fails CSRF)."""
    assert client.application.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    response = client.post("/auth/login", data=form_body(64 * 1024 + 1), content_type=FORM)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "Request too large" in body
    assert "Error 413" in body
    assert "Traceback" not in body
    response = client.post("/auth/login", data=form_body(64 * 1024), content_type=FORM)
    assert response.status_code == 400


def test_max_content_length_from_environment(make_app, monkeypatch):
    """MAX_CONTENT_LENGTH in the environment changes the limit."""
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    app = make_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    client = app.test_client()
    assert client.post("/auth/login", data=form_body(4096), content_type=FORM).status_code == 413
    assert client.post("/auth/login", data=form_body(2048), content_type=FORM).status_code == 400


# --- Error pages -------------------------------------------------------------


def assert_error_page(response, code: int, title: str) -> str:
    assert response.status_code == code
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert f"<title>{title} · Flask Auth</title>" in body
    assert f'<h1 id="page-title">{title}</h1>' in body
    assert f"Error {code}" in body
    assert "Traceback" not in body
    assert 'File "' not in body
    return body


def test_error_400(client):
    """A refused form gives the rendered 400 page."""
    assert_error_page(client.post("/auth/login", data={"login": "x"}), 400, "Bad request")


def test_error_403(make_app):
    """abort(403) renders the 403 page."""
    app = make_app()

    def forbidden():
        abort(403)

    app.add_url_rule("/test-only/forbidden", "test_forbidden", forbidden)
    assert_error_page(app.test_client().get("/test-only/forbidden"), 403, "Forbidden")


def test_error_404(client):
    """An unknown address renders the 404 page."""
    assert_error_page(client.get("/no/such/page"), 404, "Page not found")


def test_error_405(client):
    """A wrong method renders the 405 page and says which methods are allowed."""
    response = client.get("/auth/logout")
    assert_error_page(response, 405, "Method not allowed")
    assert "POST" in response.headers["Allow"]


def test_error_413(client):
    """An oversized body renders the 413 page."""
    response = client.post("/auth/login", data=form_body(70_000), content_type=FORM)
    assert_error_page(response, 413, "Request too large")


def test_error_429(make_app, monkeypatch):
    """Going over a rate limit renders the 429 page."""
    monkeypatch.setenv("RATELIMIT_LOGIN", "1 per minute")
    auth = AuthActions(make_app().test_client())
    assert auth.login(login="nobody").status_code == 422
    assert_error_page(auth.login(login="nobody"), 429, "Too many requests")


def test_error_500_hides_the_exception(make_app):
    """An unhandled exception renders the 500 page without the exception's message."""
    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():
        raise RuntimeError("secret-internal-detail-1234")

    app.add_url_rule("/test-only/boom", "test_boom", boom)
    body = assert_error_page(app.test_client().get("/test-only/boom"), 500, "Something went wrong")
    assert "secret-internal-detail-1234" not in body
    assert "RuntimeError" not in body
