"""Rate limits on sign-in and registration: per client address, proxy-aware
only when told to be, shared between processes through Redis."""

from __future__ import annotations

import os

import pytest
import redis

from app.config import ConfigError
from tests.support.auth import AuthActions

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def assert_rate_limited(response) -> None:
    assert response.status_code == 429
    body = response.get_data(as_text=True)
    assert "Too many requests" in body
    assert "Error 429" in body
    assert "Traceback" not in body


def failed_login(auth: AuthActions, **kwargs):
    """A well-formed sign-in (CSRF token included) for an account that does not exist."""
    return auth.login(login="nobody", password="Wrong-Password-1", **kwargs)


def invalid_registration(auth: AuthActions, **kwargs):
    """A well-formed registration the form refuses (password too short)."""
    return auth.register(username="bob", email="bob@example.com", password="Short1", **kwargs)


def use_up_the_limit(attempt, allowed: int) -> None:
    """`allowed` calls of `attempt` (a POST the form refuses) answer 422; the next one gets the 429 page."""
    for _ in range(allowed):
        assert attempt().status_code == 422
    assert_rate_limited(attempt())


@pytest.fixture
def limited_app(make_app, monkeypatch):
    monkeypatch.setenv("RATELIMIT_LOGIN", "3 per minute")
    monkeypatch.setenv("RATELIMIT_REGISTER", "2 per minute")
    return make_app()


def test_login_posts_over_the_limit_get_429(limited_app):
    """RATELIMIT_LOGIN caps sign-in attempts: the 4th POST in a minute gets the 429 page."""
    auth = AuthActions(limited_app.test_client())
    use_up_the_limit(lambda: failed_login(auth), 3)
    # Even the right password is refused while limited.
    assert_rate_limited(auth.login())


@pytest.mark.parametrize(
    ("page", "gets", "refused_post", "allowed", "right_post"),
    [
        ("/auth/login", 6, failed_login, 3, AuthActions.login),
        ("/auth/register", 5, invalid_registration, 2, AuthActions.register),
    ],
    ids=["login", "register"],
)
def test_posts_over_the_limit_get_429_but_the_page_stays_available(
    limited_app, page, gets, refused_post, allowed, right_post
):
    """RATELIMIT_LOGIN and RATELIMIT_REGISTER cap the POSTs, even a right one once limited;
    showing the form (GET) costs nothing, before or after the limit is reached."""
    client = limited_app.test_client()
    auth = AuthActions(client)
    for _ in range(gets):
        assert client.get(page).status_code == 200
    use_up_the_limit(lambda: refused_post(auth), allowed)
    assert_rate_limited(right_post(auth))
    assert client.get(page).status_code == 200


def test_login_and_register_limits_are_separate(limited_app):
    """Using up the registration limit does not block sign-in, and the reverse."""
    auth = AuthActions(limited_app.test_client())
    use_up_the_limit(lambda: invalid_registration(auth), 2)
    assert failed_login(auth).status_code == 422


def test_limit_is_per_client_address(limited_app):
    """Another direct client (REMOTE_ADDR) has its own counter."""
    auth = AuthActions(limited_app.test_client())
    use_up_the_limit(lambda: failed_login(auth, environ_base={"REMOTE_ADDR": "192.0.2.1"}), 3)
    assert failed_login(auth, environ_base={"REMOTE_ADDR": "192.0.2.2"}).status_code == 422


def test_x_forwarded_for_is_ignored_without_trusted_proxies(limited_app):
    """Without TRUSTED_PROXIES a client cannot dodge the limit by inventing X-Forwarded-For values."""
    assert limited_app.config["TRUSTED_PROXIES"] == 0
    auth = AuthActions(limited_app.test_client())
    for i in range(3):
        response = failed_login(auth, headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
        assert response.status_code == 422
    assert_rate_limited(failed_login(auth, headers={"X-Forwarded-For": "203.0.113.99"}))


def test_x_forwarded_for_is_used_behind_a_trusted_proxy(make_app, monkeypatch):
    """With TRUSTED_PROXIES=1 each forwarded client address has its own counter."""
    monkeypatch.setenv("RATELIMIT_LOGIN", "3 per minute")
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    app = make_app()
    auth = AuthActions(app.test_client())
    for i in range(3):
        # Different forwarded clients behind the same proxy: none is limited.
        response = failed_login(auth, headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
        assert response.status_code == 422
    for _ in range(2):
        response = failed_login(auth, headers={"X-Forwarded-For": "198.51.100.7"})
        assert response.status_code == 422
    # 198.51.100.7 has now made 3 attempts; its 4th is refused, a new address is not.
    assert failed_login(auth, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 422
    assert_rate_limited(failed_login(auth, headers={"X-Forwarded-For": "198.51.100.7"}))
    assert failed_login(auth, headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 422


def test_trusted_proxy_uses_only_the_hop_it_trusts(make_app, monkeypatch):
    """With one trusted hop, a value the client put in front of the chain is not its identity."""
    monkeypatch.setenv("RATELIMIT_LOGIN", "3 per minute")
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    auth = AuthActions(make_app().test_client())
    for i in range(3):
        spoofed = f"10.9.9.{i + 1}, 198.51.100.7"  # the proxy appended the real address
        assert failed_login(auth, headers={"X-Forwarded-For": spoofed}).status_code == 422
    assert_rate_limited(failed_login(auth, headers={"X-Forwarded-For": "10.9.9.50, 198.51.100.7"}))


@pytest.fixture
def redis_db():
    """The test Redis database, empty before and after."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_redis_storage_shares_the_counter_between_apps(make_app, monkeypatch, redis_db):
    """With RATELIMIT_STORAGE_URI on Redis, attempts on one app instance count against another."""
    monkeypatch.setenv("RATELIMIT_LOGIN", "3 per minute")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", REDIS_URL)
    app_a = make_app()
    auth_a = AuthActions(app_a.test_client())
    for _ in range(2):
        assert failed_login(auth_a).status_code == 422
    assert redis_db.keys("*"), "the counter should live in Redis"

    # A second instance (another worker) connects to the same Redis afresh.
    app_b = make_app()
    auth_b = AuthActions(app_b.test_client())
    assert failed_login(auth_b).status_code == 422
    assert_rate_limited(failed_login(auth_b))
    assert_rate_limited(failed_login(auth_a))


@pytest.mark.parametrize("name", ["RATELIMIT_LOGIN", "RATELIMIT_REGISTER"])
@pytest.mark.parametrize("value", ["lots", "10 per fortnight", "per minute"])
def test_invalid_rate_limit_is_a_config_error(make_app, monkeypatch, name, value):
    """A rate limit that cannot be parsed stops the app from starting, naming the setting."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        make_app()
