"""Password reset and e-mail confirmation, with mail sent over SMTP to a real
server on 127.0.0.1 (aiosmtpd) and the links read out of the received messages."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest
from sqlalchemy import func, select

from app import outbox
from app.extensions import db
from app.models import User, UserSession
from tests.support.auth import AuthActions, csrf_token
from tests.support.config import assert_production_refuses, production_config
from tests.support.mailbox import smtp_server
from tests.support.passwords import NEW_PASSWORD, PASSWORD
from tests.support.ports import free_port

BASE_URL = "https://auth.example.test"
RESET_ANSWER = "If an account exists for that address, we have sent a link to reset its password."


@pytest.fixture(scope="module")
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailbox(smtp):
    _port, box = smtp
    box.clear()
    return box


@pytest.fixture
def mail_app(make_app, smtp):
    """An app that sends through the test SMTP server; keyword overrides allowed.

    Its outbox is delivered whenever the test reads the mailbox."""
    port, box = smtp
    apps = []
    box.before_read = lambda: [outbox.deliver_due(app) for app in apps]

    def factory(**overrides):
        settings = {
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_USE_TLS": False,
            "MAIL_DEFAULT_SENDER": "Flask Auth <no-reply@example.test>",
            "APP_BASE_URL": BASE_URL,
        }
        settings.update(overrides)
        app = make_app(**settings)
        apps.append(app)
        return app

    yield factory
    box.before_read = None


@pytest.fixture
def app(mail_app):
    return mail_app()


def path_of(link: str) -> str:
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL, link
    return parts.path


def user_row(app, username: str = "alice") -> User:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == username)).one()
        db.session.expunge(user)
        return user


def events(caplog, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def request_reset(client, email: str = "alice@example.com", **kwargs):
    same = {k: v for k, v in kwargs.items() if k in ("base_url", "environ_base")}
    page = client.get("/auth/reset", **same)
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/auth/reset", data={"csrf_token": token, "email": email}, **kwargs)


def reset_link(mailbox) -> str:
    return path_of(mailbox.wait_for_mail("alice@example.com", "Reset your password").link)


def set_new_password(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    token = csrf_token(client.get(path).get_data(as_text=True))
    data = {"csrf_token": token, "new_password": password, "confirm_password": confirm or password}
    return client.post(path, data=data)


# -- the request -------------------------------------------------------------------------------


def test_the_reset_request_answers_the_same_whether_or_not_the_account_exists(client, auth, mailbox):
    auth.register()
    known = request_reset(client, "alice@example.com")
    unknown = request_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    known_text, unknown_text = known.get_data(as_text=True), unknown.get_data(as_text=True)
    assert RESET_ANSWER in known_text
    # The same page, apart from the per-response CSP nonce-free markup: identical bytes.
    assert known_text == unknown_text
    mail = mailbox.wait_for_mail("alice@example.com", "Reset your password")
    assert mailbox.to("nobody@example.com") == []
    assert "30 minutes" in mail.text
    assert mail.link in mail.html  # the HTML part carries the same link


def test_the_link_is_built_from_app_base_url_never_from_the_host_header(client, auth, mailbox):
    auth.register()
    # The request arrives for another host; the link must not follow it.
    response = request_reset(client, base_url="http://evil.example")
    assert response.status_code == 200
    link = mailbox.wait_for_mail("alice@example.com", "Reset your password").link
    assert link.startswith(BASE_URL + "/auth/reset/")
    assert "evil.example" not in link


def test_a_malformed_address_gets_a_form_error_and_no_mail(client, mailbox):
    response = request_reset(client, "not-an-address")
    assert response.status_code == 422
    assert "Enter a valid e-mail address" in response.get_data(as_text=True)
    assert mailbox.messages == []


def test_the_reset_request_is_limited_per_client_ip(mail_app, mailbox):
    client = mail_app(RATELIMIT_RESET="2 per minute").test_client()
    assert request_reset(client, "a@example.com").status_code == 200
    assert request_reset(client, "b@example.com").status_code == 200
    assert request_reset(client, "c@example.com").status_code == 429


def test_an_account_gets_only_a_few_mails_an_hour_whatever_the_ip(mail_app, mailbox, caplog):
    app = mail_app(MAIL_PER_ACCOUNT_LIMIT="2 per hour", REQUIRE_EMAIL_VERIFICATION=False)
    client = app.test_client()
    AuthActions(client).register()  # the confirmation mail counts too
    mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address")
    mailbox.clear()
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        response = request_reset(client, environ_base={"REMOTE_ADDR": ip})
        assert response.status_code == 200 and RESET_ANSWER in response.get_data(as_text=True)
    mailbox.wait_for_mail("alice@example.com", "Reset your password")
    time.sleep(0.3)
    assert len(mailbox.to("alice@example.com")) == 1  # 1 confirmation + 1 reset = the limit of 2
    assert events(caplog, "mail.throttled")


# -- the link ----------------------------------------------------------------------------------


def test_a_reset_sets_the_password_ends_every_session_and_clears_the_lockout(mail_app, mailbox, caplog):
    app = mail_app(LOCKOUT_THRESHOLD=2)
    signed_in, attacker, browser = app.test_client(), app.test_client(), app.test_client()
    AuthActions(signed_in).register()
    assert AuthActions(signed_in).login().status_code == 302
    for _ in range(2):
        AuthActions(attacker).login(password="Wrong-Password-1")
    assert user_row(app).locked_until is not None

    request_reset(browser)
    path = reset_link(mailbox)
    form = browser.get(path)
    assert form.status_code == 200 and "Choose a new password" in form.get_data(as_text=True)
    response = set_new_password(browser, path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/login")
    assert "Your password has been changed" in browser.get("/auth/login").get_data(as_text=True)

    user = user_row(app)
    assert user.locked_until is None and user.failed_login_count == 0
    assert user.email_verified_at is not None  # the link proved the address
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0
    assert signed_in.get("/dashboard").status_code == 302  # that session is over
    assert AuthActions(browser).login(password=PASSWORD).status_code == 422
    assert AuthActions(browser).login(password=NEW_PASSWORD).status_code == 302
    (record,) = events(caplog, "auth.password_reset")
    assert record.user_id == user.id and record.sessions_ended == 1


def test_a_used_link_cannot_be_used_again(client, auth, mailbox):
    auth.register()
    request_reset(client)
    path = reset_link(mailbox)
    assert set_new_password(client, path).status_code == 302
    again = client.get(path)
    assert again.status_code == 400
    assert "This link cannot be used" in again.get_data(as_text=True)
    assert "already been used" in again.get_data(as_text=True)
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    data = {"csrf_token": token, "new_password": "Another-Pass-99", "confirm_password": "Another-Pass-99"}
    assert client.post(path, data=data).status_code == 400
    assert AuthActions(client).login(password=NEW_PASSWORD).status_code == 302


def test_changing_the_password_voids_an_outstanding_link(client, auth, mailbox):
    auth.register()
    request_reset(client)
    path = reset_link(mailbox)
    auth.login()
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    assert client.post("/account/password", data=data).status_code == 302
    assert client.get(path).status_code == 400


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: token.split(".")[0],
        lambda token: "x" * 40,
        lambda token: token + "%00",
    ],
    ids=["bad-signature", "truncated", "garbage", "nul"],
)
def test_a_tampered_link_gets_a_clear_page_not_a_500(client, auth, mailbox, mangle):
    auth.register()
    request_reset(client)
    path = reset_link(mailbox)
    token = path.rsplit("/", 1)[1]
    response = client.get(f"/auth/reset/{mangle(token)}")
    assert response.status_code == 400
    assert "This link cannot be used" in response.get_data(as_text=True)


def test_an_expired_link_gets_a_clear_page(client, auth, mailbox, monkeypatch):
    auth.register()
    real_time = time.time
    request_reset(client)
    # The link was made (when the mail was sent) 31 minutes ago.
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 31 * 60)
    path = reset_link(mailbox)
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    response = client.get(path)
    assert response.status_code == 400
    assert "The link has expired" in response.get_data(as_text=True)


def test_a_link_for_a_deleted_account_is_refused(app, client, auth, mailbox):
    auth.register()
    request_reset(client)
    path = reset_link(mailbox)
    with app.app_context():
        db.session.execute(db.delete(User))
        db.session.commit()
    assert client.get(path).status_code == 400


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", None, "at least"),
        (NEW_PASSWORD, "Something-Else-1", "do not match"),
        ("alice-Password-1", None, "username"),
    ],
)
def test_a_weak_or_mismatched_new_password_changes_nothing(client, auth, mailbox, password, confirm, message):
    auth.register()
    request_reset(client)
    path = reset_link(mailbox)
    response = set_new_password(client, path, password, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).lower() or message in response.get_data(as_text=True)
    assert AuthActions(client).login(password=PASSWORD).status_code == 302
    assert client.get(path).status_code == 200  # the link still works: nothing was used


def test_the_token_never_reaches_the_request_log(client, auth, mailbox, caplog):
    auth.register()
    request_reset(client)
    path = reset_link(mailbox)
    caplog.clear()
    client.get(path)
    token = path.rsplit("/", 1)[1]
    assert all(token not in r.getMessage() and token not in str(r.__dict__) for r in caplog.records)


# -- sending fails -----------------------------------------------------------------------------


def test_a_failed_send_is_logged_and_the_answer_stays_the_same(mail_app, caplog):
    app = mail_app(MAIL_PORT=free_port(), MAIL_TIMEOUT=2)  # nothing listens there
    client = app.test_client()
    AuthActions(client).register()
    caplog.clear()
    response = request_reset(client)
    assert response.status_code == 200 and RESET_ANSWER in response.get_data(as_text=True)
    outbox.deliver_due(app)
    failures = events(caplog, "mail.send_failed")
    assert {f.kind for f in failures} == {"password_reset", "email_verification"}
    assert all(f.error == "ConnectionRefusedError" and f.levelno == logging.WARNING for f in failures)


def test_a_confirmation_mail_owed_during_an_outage_keeps_the_account_and_is_offered_again(mail_app):
    app = mail_app(MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    client = app.test_client()
    response = AuthActions(client).register(follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your account is ready" in text
    assert "We have sent a link to alice@example.com" in text  # owed, and sent once the relay is back
    assert user_row(app).email == "alice@example.com"
    assert AuthActions(client).login().status_code == 302  # verification is not required here
    resend = client.post(
        "/auth/verify/resend", data={"csrf_token": csrf_token(client.get("/dashboard").text)}
    )
    assert "We have sent a new confirmation link" in client.get(resend.headers["Location"]).get_data(
        as_text=True
    )


def test_without_a_mail_server_staging_fails_politely_and_logs_no_token(make_app, monkeypatch, caplog):
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.delenv("MAIL_SERVER", raising=False)
    app = make_app(SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False, SESSION_COOKIE_NAME="session")
    client = app.test_client()
    text = AuthActions(client).register(follow_redirects=True).get_data(as_text=True)
    assert "could not send the confirmation e-mail" in text
    (failure,) = events(caplog, "mail.send_failed")
    assert failure.error == "MailNotConfigured"
    assert not events(caplog, "mail.logged")


def test_in_development_without_a_mail_server_the_message_goes_to_the_log(make_app, monkeypatch, caplog):
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.delenv("MAIL_SERVER", raising=False)
    monkeypatch.delenv("APP_BASE_URL", raising=False)
    app = make_app(MAIL_SENDER="off")
    AuthActions(app.test_client()).register()
    assert not events(caplog, "mail.logged")  # owed, not sent while the request waited
    outbox.deliver_due(app)
    (logged,) = events(caplog, "mail.logged")
    assert logged.to == ["alice@example.com"] and logged.subject == "Confirm your e-mail address"
    assert "http://127.0.0.1:5000/auth/verify/" in logged.body


# -- e-mail confirmation -----------------------------------------------------------------------


def test_registration_sends_a_confirmation_link_that_confirms_once(client, auth, mailbox, caplog):
    response = auth.register(follow_redirects=True)
    assert "We have sent a link to alice@example.com" in response.get_data(as_text=True)
    mail = mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address")
    assert "48 hours" in mail.text
    auth.login()
    assert "Your e-mail address is not confirmed yet" in client.get("/dashboard").get_data(as_text=True)

    confirmed = client.get(path_of(mail.link), follow_redirects=True)
    text = confirmed.get_data(as_text=True)
    assert "Your e-mail address is confirmed" in text
    assert "not confirmed yet" not in text
    assert events(caplog, "auth.email_verified")
    again = client.get(path_of(mail.link), follow_redirects=True)
    assert "already confirmed" in again.get_data(as_text=True)


def test_a_tampered_confirmation_link_gets_a_clear_page(client, auth, mailbox):
    auth.register()
    path = path_of(mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address").link)
    response = client.get(path[:-3] + "xyz")
    assert response.status_code == 400
    assert "This link cannot be used" in response.get_data(as_text=True)


def test_a_reset_link_is_not_a_confirmation_link(client, auth, mailbox):
    """Each purpose signs with its own salt: one kind of link cannot stand in for the other."""
    auth.register()
    request_reset(client)
    token = reset_link(mailbox).rsplit("/", 1)[1]
    assert client.get(f"/auth/verify/{token}").status_code == 400


def test_the_dashboard_button_sends_the_link_again_up_to_the_limit(mail_app, mailbox):
    client = mail_app(MAIL_PER_ACCOUNT_LIMIT="2 per hour").test_client()
    auth = AuthActions(client)
    auth.register()
    auth.login()
    token = csrf_token(client.get("/dashboard").get_data(as_text=True))
    first = client.post("/auth/verify/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "We have sent a new confirmation link" in first.get_data(as_text=True)
    mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address")  # the registration's
    second = mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address")
    throttled = client.post("/auth/verify/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "already sent several links" in throttled.get_data(as_text=True)
    # The newest link works.
    assert "is confirmed" in client.get(path_of(second.link), follow_redirects=True).get_data(as_text=True)


def test_resend_needs_a_signed_in_user_and_a_csrf_token(client, auth):
    assert client.post("/auth/verify/resend").status_code in (302, 400)
    auth.register()
    auth.login()
    assert client.post("/auth/verify/resend").status_code == 400


def test_required_confirmation_holds_sign_in_until_the_link_is_followed(mail_app, mailbox, caplog):
    client = mail_app(REQUIRE_EMAIL_VERIFICATION=True).test_client()
    auth = AuthActions(client)
    auth.register()
    mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address")
    held = auth.login()
    assert held.status_code == 422
    assert "Confirm your e-mail address first" in held.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302  # not signed in
    assert events(caplog, "auth.login_unverified")
    # A fresh link was sent with the refusal; a wrong password still gets the generic answer.
    fresh = mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address")
    wrong = auth.login(password="Wrong-Password-1")
    assert "Invalid username/e-mail or password." in wrong.get_data(as_text=True)
    assert "Confirm your e-mail" not in wrong.get_data(as_text=True)
    client.get(path_of(fresh.link))
    assert auth.login().status_code == 302


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MAIL_SERVER": "smtp.example.com"}, "APP_BASE_URL must be set"),
        ({"REQUIRE_EMAIL_VERIFICATION": "true"}, "REQUIRE_EMAIL_VERIFICATION needs MAIL_SERVER"),
        ({"APP_BASE_URL": "auth.example.com"}, "APP_BASE_URL must be an absolute http(s) URL"),
        ({"APP_BASE_URL": "https://auth.example.com/?next=x"}, "APP_BASE_URL must be an absolute"),
        ({"MAIL_USE_TLS": "true", "MAIL_USE_SSL": "true"}, "exclude each other"),
        ({"MAIL_PER_ACCOUNT_LIMIT": "lots"}, "MAIL_PER_ACCOUNT_LIMIT must be a rate limit"),
    ],
)
def test_mail_settings_that_cannot_work_stop_the_start(environ, message):
    assert_production_refuses(environ, message)


def test_mail_settings_from_the_environment():
    config = production_config(
        MAIL_SERVER="email-smtp.ap-south-1.amazonaws.com",
        MAIL_PORT="2587",
        MAIL_USERNAME="AKIAEXAMPLE",
        MAIL_PASSWORD="smtp-secret",
        MAIL_FROM="Flask Auth <no-reply@example.com>",
        APP_BASE_URL="https://auth.example.com/",
        REQUIRE_EMAIL_VERIFICATION="true",
        PASSWORD_RESET_MAX_AGE_SECONDS="900",
    )
    assert config.MAIL_BACKEND == "smtp" and config.MAIL_PORT == 2587 and config.MAIL_USE_TLS is True
    assert config.APP_BASE_URL == "https://auth.example.com"
    assert config.MAIL_DEFAULT_SENDER == "Flask Auth <no-reply@example.com>"
    assert config.REQUIRE_EMAIL_VERIFICATION is True
    assert config.PASSWORD_RESET_MAX_AGE.total_seconds() == 15 * 60
    bare = production_config()
    assert bare.MAIL_BACKEND == "app.mail.UnconfiguredEmailBackend"
    assert bare.REQUIRE_EMAIL_VERIFICATION is False


def test_resetting_while_signed_in_signs_this_browser_out_too(client, auth, mailbox):
    auth.register()
    auth.login()
    request_reset(client)
    response = set_new_password(client, reset_link(mailbox))
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 302  # the cookie's session is gone
    assert AuthActions(client).login(password=NEW_PASSWORD).status_code == 302


def test_resend_for_a_confirmed_address_sends_nothing(client, auth, mailbox):
    auth.register()
    confirm = mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address")
    client.get(path_of(confirm.link))
    auth.login()
    token = csrf_token(client.get("/dashboard").get_data(as_text=True))
    response = client.post("/auth/verify/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "already confirmed" in response.get_data(as_text=True)
    time.sleep(0.2)
    assert len(mailbox.to("alice@example.com")) == 1


def test_a_validly_signed_but_malformed_payload_is_refused(app, client):
    from app import tokens

    with app.app_context():
        forged = tokens._serializer(tokens.RESET_LINK).dumps(["not", "a", "dict"])
    assert client.get(f"/auth/reset/{forged}").status_code == 400
