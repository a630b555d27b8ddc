"""Sign-up, sign-in, lockout, rehash, safe redirects, sign-out and the operator CLI."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import LoginEvent, TrustedDevice, User, UserSession, utcnow
from app.security import hash_password, verify_password
from tests.support.auth import AuthActions, signed_in
from tests.support.database import count_rows
from tests.support.passwords import PASSWORD, WRONG_PASSWORD

INVALID = "Invalid username/e-mail or password."
# Lockout tests make more sign-in attempts than the default rate limit allows
# in a minute; the rate limit is not what they are about.
MANY_ATTEMPTS = {"RATELIMIT_LOGIN": "1000 per minute"}

_CSRF_VALUE = re.compile(r'(name="(?:passkey-)?csrf_token"[^>]*value=")[^"]*(")')
_FORM_ERRORS = re.compile(r'<div class="form-errors" role="alert">(.*?)</div>', re.S)


# --- helpers ---------------------------------------------------------------


def checks(app, stored: str, password: str) -> bool:
    with app.app_context():
        return verify_password(stored, password)


def create_user(app, username="alice", email="alice@example.com", password=PASSWORD, method=None):
    """Insert an account directly (setup only; registration itself is tested via the form)."""
    with app.app_context():
        stored = generate_password_hash(password, method=method) if method else hash_password(password)
        user = User(username=username, email=email, password_hash=stored)
        db.session.add(user)
        db.session.commit()
        return user.id


def get_user(app, username="alice"):
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == username)).first()
        if user is not None:
            db.session.expunge(user)
        return user


def set_user(app, username="alice", **values):
    with app.app_context():
        db.session.execute(update(User).where(User.username == username).values(**values))
        db.session.commit()


def without_csrf(html: str) -> str:
    return _CSRF_VALUE.sub(r"\1TOKEN\2", html)


def form_errors(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block)).strip() for block in _FORM_ERRORS.findall(html)
    ]


def login_with_raw_next(client, auth: AuthActions, raw_next: str, login="alice", password=PASSWORD):
    """POST the sign-in form to /auth/login?next=<raw_next>, raw_next as it appears in the URL."""
    data = {"csrf_token": auth.token(), "login": login, "password": password}
    return client.post("/auth/login", query_string="next=" + raw_next, data=data)


# --- index -------------------------------------------------------------------


def test_index_redirects_anonymous_to_login(client):
    """The home page sends an anonymous visitor to the sign-in page."""
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"


def test_index_redirects_signed_in_user_to_dashboard(app, client, auth):
    """The home page sends a signed-in user to the dashboard."""
    create_user(app)
    auth.login()
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


# --- registration ------------------------------------------------------------


def test_register_success_flashes_and_stores_lower_case(app, client, auth):
    """Registration redirects to sign-in with a message and stores username and e-mail lower-case."""
    response = auth.register(username="Alice", email="Alice@Example.COM")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Your account is ready. Sign in to continue." in page
    user = get_user(app, "alice")
    assert user is not None
    assert user.username == "alice"
    assert user.email == "alice@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert checks(app, user.password_hash, PASSWORD)
    assert count_rows(app, User) == 1


@pytest.mark.parametrize(
    ("username", "email", "message"),
    [
        ("ALICE", "other@example.com", "That username is taken."),
        ("bob", "ALICE@EXAMPLE.COM", "An account with that e-mail address already exists."),
        ("bob", "alice@example.com", "An account with that e-mail address already exists."),
    ],
)
def test_register_duplicate_is_a_form_error(app, auth, username, email, message):
    """A taken username or e-mail (any case) is a 422 form error, not a 500, and adds no row."""
    assert auth.register().status_code == 302
    response = auth.register(username=username, email=email)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count_rows(app, User) == 1


@pytest.mark.parametrize(
    ("username", "email", "password", "confirm", "message"),
    [
        ("", "alice@example.com", PASSWORD, None, "Choose a username."),
        ("alice", "", PASSWORD, None, "Enter your e-mail address."),
        ("alice", "alice@example.com", "", "", "Choose a password."),
        ("alice", "alice@example.com", PASSWORD, "", "Repeat the password."),
        ("al", "alice@example.com", PASSWORD, None, "Use 3 to 32 characters."),
        (
            "bad name!",
            "alice@example.com",
            PASSWORD,
            None,
            "Use letters, digits, dots, dashes and underscores",
        ),
        ("_alice", "alice@example.com", PASSWORD, None, "start with a letter or digit"),
        ("alice", "not-an-email", PASSWORD, None, "Enter a valid e-mail address"),
        ("alice", "alice@", PASSWORD, None, "Enter a valid e-mail address"),
        ("alice", "alice@example.com", PASSWORD, "Correct-Horse-43", "The passwords do not match."),
        ("alice", "alice@example.com", "Short1a", None, "Use at least 8 characters."),
        ("alice", "alice@example.com", "Password1", None, "This password is too common"),
        ("alice", "alice@example.com", "Alice-Secret-99", None, "Do not include your username."),
    ],
)
def test_register_validation(app, auth, username, email, password, confirm, message):
    """Each invalid registration is refused with 422, its message shown, and no account created."""
    response = auth.register(username=username, email=email, password=password, confirm=confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count_rows(app, User) == 0


# --- sign-in -----------------------------------------------------------------


@pytest.mark.parametrize("login", ["alice", "ALICE", "alice@example.com", "Alice@Example.COM", "  alice  "])
def test_login_by_username_or_email_any_case(app, client, auth, login):
    """Sign-in accepts the username or the e-mail address in any case and lands on the dashboard."""
    create_user(app)
    response = auth.login(login=login)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert "Welcome, alice" in client.get("/dashboard").get_data(as_text=True)


def test_login_failures_are_indistinguishable(app, client, auth):
    """Unknown account, wrong password and locked account give the same status and the same page."""
    unknown = auth.login(login="alice", password=PASSWORD)  # no such account yet
    create_user(app)
    wrong = auth.login(login="alice", password=WRONG_PASSWORD)
    set_user(app, locked_until=utcnow() + timedelta(minutes=10))
    locked = auth.login(login="alice", password=PASSWORD)  # right password, locked account

    responses = [unknown, wrong, locked]
    assert {r.status_code for r in responses} == {422}
    bodies = [r.get_data(as_text=True) for r in responses]
    assert [form_errors(b) for b in bodies] == [[INVALID]] * 3
    assert without_csrf(bodies[0]) == without_csrf(bodies[1]) == without_csrf(bodies[2])
    assert not signed_in(client)


@pytest.mark.parametrize("case", ["unknown", "wrong_password", "locked", "success"])
def test_every_login_path_costs_one_hash_check(app, auth, monkeypatch, case):
    """No timing oracle: every sign-in path runs exactly one password hash check."""
    create_user(app)
    if case == "locked":
        set_user(app, locked_until=utcnow() + timedelta(minutes=10))
    calls = []
    real = PasswordHasher.verify

    def spy(self, pwhash, password):
        calls.append(pwhash)
        return real(self, pwhash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    login = "nobody" if case == "unknown" else "alice"
    password = WRONG_PASSWORD if case == "wrong_password" else PASSWORD
    token = auth.token()
    calls.clear()
    response = auth.client.post(
        "/auth/login", data={"csrf_token": token, "login": login, "password": password}
    )
    assert response.status_code == (302 if case == "success" else 422)
    assert len(calls) == 1


# --- lockout -----------------------------------------------------------------


def test_lockout_after_threshold_is_stored_in_database(make_app):
    """After LOCKOUT_THRESHOLD failures the right password is refused, by every app instance,
    until locked_until passes; then it works and the failure counter is reset."""
    app = make_app(**MANY_ATTEMPTS)
    assert app.config["LOCKOUT_THRESHOLD"] == 5
    create_user(app)
    client = app.test_client()
    auth = AuthActions(client)
    for _ in range(4):
        assert auth.login(password=WRONG_PASSWORD).status_code == 422
    user = get_user(app)
    assert user.failed_login_count == 4
    assert user.locked_until is None

    before = utcnow()
    assert auth.login(password=WRONG_PASSWORD).status_code == 422
    locked_until = get_user(app).locked_until
    assert locked_until is not None
    assert (
        before + app.config["LOCKOUT_DURATION"] <= locked_until <= utcnow() + app.config["LOCKOUT_DURATION"]
    )

    response = auth.login(password=PASSWORD)
    assert response.status_code == 422
    assert form_errors(response.get_data(as_text=True)) == [INVALID]
    assert not signed_in(client)

    # A second process (a fresh app on the same database) sees the lock too.
    other_app = make_app(**MANY_ATTEMPTS)
    other = AuthActions(other_app.test_client())
    response = other.login(password=PASSWORD)
    assert response.status_code == 422
    assert INVALID in response.get_data(as_text=True)
    assert count_rows(app, UserSession) == 0

    set_user(app, locked_until=utcnow() - timedelta(seconds=1))
    response = auth.login(password=PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    user = get_user(app)
    assert user.failed_login_count == 0
    assert user.locked_until is None


def test_success_resets_consecutive_failures(make_app):
    """Only consecutive failures count: a successful sign-in resets the counter (of the
    account for an unknown browser, of the device once this browser has signed in)."""
    app = make_app(**MANY_ATTEMPTS)
    create_user(app)
    client = app.test_client()
    auth = AuthActions(client)
    for _ in range(4):
        auth.login(password=WRONG_PASSWORD)
    assert auth.login().status_code == 302
    assert get_user(app).failed_login_count == 0
    auth.logout()
    for _ in range(4):
        auth.login(password=WRONG_PASSWORD)
    with app.app_context():
        device = db.session.scalars(select(TrustedDevice)).one()
        assert device.failed_login_count == 4
        assert device.locked_until is None
    assert auth.login().status_code == 302
    with app.app_context():
        assert db.session.scalars(select(TrustedDevice)).one().failed_login_count == 0


def test_lockout_threshold_and_duration_from_environment(make_app, monkeypatch):
    """LOCKOUT_THRESHOLD and LOCKOUT_DURATION_SECONDS from the environment decide the lockout."""
    monkeypatch.setenv("LOCKOUT_THRESHOLD", "2")
    monkeypatch.setenv("LOCKOUT_DURATION_SECONDS", "120")
    app = make_app()
    assert app.config["LOCKOUT_THRESHOLD"] == 2
    create_user(app)
    auth = AuthActions(app.test_client())
    auth.login(password=WRONG_PASSWORD)
    assert get_user(app).locked_until is None
    before = utcnow()
    auth.login(password=WRONG_PASSWORD)
    after = utcnow()
    locked_until = get_user(app).locked_until
    assert locked_until is not None
    assert before + timedelta(seconds=120) <= locked_until <= after + timedelta(seconds=120)
    response = auth.login(password=PASSWORD)
    assert response.status_code == 422
    assert INVALID in response.get_data(as_text=True)


def test_lockout_threshold_override(make_app):
    """A LOCKOUT_THRESHOLD passed as a setting override is honoured too."""
    app = make_app(LOCKOUT_THRESHOLD=3)
    create_user(app)
    auth = AuthActions(app.test_client())
    for _ in range(2):
        auth.login(password=WRONG_PASSWORD)
    assert get_user(app).locked_until is None
    auth.login(password=WRONG_PASSWORD)
    assert get_user(app).locked_until is not None
    assert auth.login().status_code == 422


def test_locked_attempts_are_recorded_as_failures(make_app):
    """A refused attempt on a locked account still leaves a failed LoginEvent (the owner sees it)."""
    app = make_app(LOCKOUT_THRESHOLD=1)
    user_id = create_user(app)
    auth = AuthActions(app.test_client())
    auth.login(password=WRONG_PASSWORD)
    auth.login(password=PASSWORD)
    assert count_rows(app, LoginEvent, LoginEvent.user_id == user_id, LoginEvent.success.is_(False)) == 2
    assert count_rows(app, LoginEvent, LoginEvent.success.is_(True)) == 0


# --- CLI ---------------------------------------------------------------------


def test_cli_unlock_user_lifts_lockout(make_app):
    """`flask unlock-user NAME` lifts a lockout and the right password works again."""
    app = make_app(LOCKOUT_THRESHOLD=2)
    create_user(app)
    client = app.test_client()
    auth = AuthActions(client)
    auth.login(password=WRONG_PASSWORD)
    auth.login(password=WRONG_PASSWORD)
    assert auth.login().status_code == 422

    result = app.test_cli_runner().invoke(args=["unlock-user", "alice"])
    assert result.exit_code == 0, result.output
    assert "Unlocked alice" in result.output
    user = get_user(app)
    assert user.locked_until is None
    assert user.failed_login_count == 0

    response = auth.login()
    assert response.status_code == 302
    assert signed_in(client)


def test_cli_unlock_unknown_user_fails(runner):
    """unlock-user with an unknown name exits non-zero with a message."""
    result = runner.invoke(args=["unlock-user", "nobody"])
    assert result.exit_code != 0
    assert "No account named 'nobody'" in result.output


def test_cli_create_user(app, runner, client, auth):
    """`flask create-user` creates a lower-case account with a policy-checked, hashed password."""
    result = runner.invoke(args=["create-user", "Bob", "Bob@Example.com", "--password", "Another-Secret-77"])
    assert result.exit_code == 0, result.output
    assert "Created user bob" in result.output
    user = get_user(app, "bob")
    assert user.email == "bob@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert auth.login(login="bob", password="Another-Secret-77").status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bob", "bob@example.com", "--password", "password"], "Password refused"),
        (["bob", "bob@example.com", "--password", "Short1a"], "Use at least 8 characters."),
        (["b!", "bob@example.com", "--password", "Another-Secret-77"], "USERNAME must be"),
        (["bob", "not-an-email", "--password", "Another-Secret-77"], "EMAIL is not valid"),
        (["alice", "new@example.com", "--password", "Another-Secret-77"], "already exists"),
        (["ALICE", "new@example.com", "--password", "Another-Secret-77"], "already exists"),
        (["bob", "Alice@Example.com", "--password", "Another-Secret-77"], "already exists"),
    ],
)
def test_cli_create_user_refusals(app, runner, args, message):
    """create-user refuses weak passwords, bad names and duplicates with a non-zero exit and a message."""
    create_user(app)
    result = runner.invoke(args=["create-user", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert count_rows(app, User) == 1


# --- rehash ------------------------------------------------------------------


def test_rehash_on_successful_login_only(app, auth):
    """A Werkzeug scrypt hash from before argon2id keeps signing in and is replaced by an
    argon2id hash with the configured parameters at the next successful sign-in, not on failure."""
    create_user(app, method="scrypt:1024:8:1")
    old_hash = get_user(app).password_hash
    assert old_hash.startswith("scrypt:1024:8:1$")

    assert auth.login(password=WRONG_PASSWORD).status_code == 422
    assert get_user(app).password_hash == old_hash

    assert auth.login().status_code == 302
    new_hash = get_user(app).password_hash
    assert new_hash != old_hash
    config = app.config
    assert new_hash.startswith(
        f"$argon2id$v=19$m={config['PASSWORD_ARGON2_MEMORY_KIB']},"
        f"t={config['PASSWORD_ARGON2_TIME_COST']},p={config['PASSWORD_ARGON2_PARALLELISM']}$"
    )
    assert checks(app, new_hash, PASSWORD)
    assert not checks(app, new_hash, WRONG_PASSWORD)


def test_rehash_is_stored_only_over_the_hash_that_was_checked(app, auth, monkeypatch):
    """A parallel sign-in that re-hashed first keeps its hash: the UPDATE is conditional on
    the stored hash still being the one this sign-in checked, and losing it is no failure."""
    from app.auth import routes

    create_user(app, method="scrypt:1024:8:1")
    with app.app_context():
        winner = hash_password(PASSWORD)
    real = routes.hash_password

    def racing_hash(password):
        new_hash = real(password)
        set_user(app, password_hash=winner)  # another sign-in stored its rehash meanwhile
        return new_hash

    monkeypatch.setattr(routes, "hash_password", racing_hash)
    assert auth.login().status_code == 302
    assert get_user(app).password_hash == winner


def test_argon2_hash_with_other_parameters_is_rehashed(make_app):
    """check_needs_rehash: an argon2id hash made with weaker parameters is upgraded at sign-in."""
    weak = make_app(PASSWORD_ARGON2_MEMORY_KIB=8, PASSWORD_ARGON2_TIME_COST=1)
    create_user(weak)
    old_hash = get_user(weak).password_hash
    assert old_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    stronger = make_app(PASSWORD_ARGON2_MEMORY_KIB=16, PASSWORD_ARGON2_TIME_COST=2)
    assert AuthActions(stronger.test_client()).login().status_code == 302
    assert get_user(stronger).password_hash.startswith("$argon2id$v=19$m=16,t=2,p=1$")


def test_no_rehash_when_method_matches(app, auth):
    """A hash already made with the configured method is left alone at sign-in."""
    create_user(app)
    old_hash = get_user(app).password_hash
    assert auth.login().status_code == 302
    assert get_user(app).password_hash == old_hash


# --- next --------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/dashboard", "/account/password?x=1", "/account/password"])
def test_safe_next_is_followed(app, client, auth, target):
    """A relative path on this site given as next is where sign-in lands."""
    create_user(app)
    response = auth.client.post(
        "/auth/login",
        query_string={"next": target},
        data={"csrf_token": auth.token(), "login": "alice", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == target


UNSAFE_NEXT = [
    "//evil.example",
    "https://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:/evil.example",
    "/%0d%0aevil",
    "/%09/evil.example",
    "%20//evil.example",
    " //evil.example",
    "////evil.example",
    "https:evil.example",
]


@pytest.mark.parametrize("raw_next", UNSAFE_NEXT)
def test_unsafe_next_goes_to_dashboard(app, client, auth, raw_next):
    """An off-site or malformed next (as written in the URL) is ignored: sign-in lands on /dashboard."""
    create_user(app)
    response = login_with_raw_next(client, auth, raw_next)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


def test_unsafe_next_without_url_encoding_is_refused(app, client, auth):
    """next values carrying control characters or backslashes (decoded) are refused."""
    create_user(app)
    for target in ["/\r\nevil", "/\\evil.example", "/\t/evil.example"]:
        response = auth.client.post(
            "/auth/login",
            query_string={"next": target},
            data={"csrf_token": auth.token(), "login": "alice", "password": PASSWORD},
        )
        assert response.headers["Location"] == "/dashboard"
        auth.logout()


def test_login_required_round_trip(app, client, auth):
    """An anonymous visit to /dashboard goes to sign-in with next, and signing in there returns to it."""
    create_user(app)
    response = client.get("/dashboard")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/auth/login?next=")
    page = client.get(location)
    assert page.status_code == 200
    assert "Please sign in to see that page." in page.get_data(as_text=True)
    response = client.post(
        location, data={"csrf_token": auth.token(), "login": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert signed_in(client)


def test_login_required_round_trip_other_page(app, client, auth):
    """The next parameter set by login_required brings the user back to the page asked for."""
    create_user(app)
    location = client.get("/account/password").headers["Location"]
    assert location.startswith("/auth/login?next=")
    response = client.post(
        location, data={"csrf_token": auth.token(), "login": "alice", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account/password"


@pytest.mark.parametrize(
    ("raw_next", "expected"),
    [
        ("/account/password", "/account/password"),
        ("/account/password?x=1", "/account/password?x=1"),
        ("//evil.example", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("", "/dashboard"),
    ],
)
def test_login_page_when_signed_in_redirects_to_safe_next(app, client, auth, raw_next, expected):
    """GET /auth/login while signed in follows a safe next and otherwise goes to /dashboard."""
    create_user(app)
    auth.login()
    response = client.get("/auth/login", query_string="next=" + raw_next)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


# --- logout ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status"),
    [("GET", 405), ("POST", 400)],
    ids=["get_not_allowed", "post_without_csrf_token_refused"],
)
def test_logout_refused(app, client, auth, method, status):
    """Sign-out is POST only: a GET (a link, an <img>) cannot sign anyone out, and neither can a
    cross-site POST without the CSRF token. The session stays."""
    create_user(app)
    auth.login()
    response = client.open("/auth/logout", method=method)
    assert response.status_code == status
    assert signed_in(client)
    assert count_rows(app, UserSession) == 1


def test_logout_with_csrf_token(app, client, auth):
    """POST with the CSRF token signs out, deletes the session row and says so."""
    create_user(app)
    auth.login()
    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert "You have been signed out." in client.get("/auth/login").get_data(as_text=True)
    assert not signed_in(client)
    assert count_rows(app, UserSession) == 0
