"""What gunicorn itself decides, tested against a real gunicorn (gunicorn.conf.py):
environ headers a client cannot set, refusing per-worker rate limits in
production, and the security headers on the errors gunicorn answers itself."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from app.extensions import db
from app.models import User
from app.security import hash_password, security_headers
from tests.support.auth import csrf_token
from tests.support.passwords import PASSWORD, PRODUCTION_SECRET_KEY
from tests.support.ports import free_port
from tests.support.server import GUNICORN, HTTP_TIMEOUT, ROOT, Reply, Server, gunicorn

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def request(server: Server, method: str, path: str, headers: dict[str, str], body: str = "") -> Reply:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read().decode())
    finally:
        conn.close()


# --- environ headers -----------------------------------------------------------------------------

PREFIX_HEADERS = [{"SCRIPT_NAME": "/evil"}, {"X-Forwarded-Prefix": "/evil"}, {"PATH_INFO": "/evil"}]


@pytest.mark.parametrize("headers", PREFIX_HEADERS, ids=lambda h: next(iter(h)))
def test_client_sent_script_name_never_changes_generated_urls(tmp_path, database_url, headers):
    """From a peer gunicorn trusts (loopback, forwarded_allow_ips) behind TRUSTED_PROXIES=1, a
    SCRIPT_NAME/PATH_INFO header or X-Forwarded-Prefix changes no URL the app builds, and no
    prefixed path is served."""
    with gunicorn(tmp_path, database_url, TRUSTED_PROXIES="1") as server:
        plain = request(server, "GET", "/auth/login", headers)
        prefixed = request(server, "GET", "/evil/auth/login", headers)
        redirect = request(server, "GET", "/dashboard", headers)
    assert plain.status == 200, plain
    assert 'href="/auth/register"' in plain.body
    assert "/evil" not in plain.body
    assert prefixed.status == 404
    assert "/evil" not in prefixed.body
    assert redirect.status == 302
    assert redirect.headers["Location"].startswith("/auth/login")


def test_client_sent_script_name_never_changes_emailed_links(tmp_path, database_url, make_app):
    """A reset requested with a SCRIPT_NAME header (on the prefixed or the plain path) e-mails a
    link under APP_BASE_URL/auth/reset/, never with the client's prefix."""
    with make_app().app_context():
        db.session.add(
            User(username="alice", email="alice@example.com", password_hash=hash_password(PASSWORD))
        )
        db.session.commit()
    with gunicorn(
        tmp_path, database_url, APP_BASE_URL="https://auth.example.com", MAIL_SENDER="thread"
    ) as server:
        offset = server.log_offset()
        for path in ("/evil/auth/reset", "/auth/reset"):
            page = request(server, "GET", path, {"SCRIPT_NAME": "/evil"})
            if page.status != 200:
                continue
            cookie = SimpleCookie(page.headers["Set-Cookie"])
            headers = {
                "SCRIPT_NAME": "/evil",
                "Cookie": "; ".join(f"{k}={v.value}" for k, v in cookie.items()),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            body = urlencode({"csrf_token": csrf_token(page.body), "email": "alice@example.com"})
            assert request(server, "POST", path, headers, body).status == 200  # "check your inbox"
        links = []
        deadline = time.monotonic() + 10
        while not links and time.monotonic() < deadline:
            mails = [e for e in server.json_logs_since(offset) if e.get("event") == "mail.logged"]
            links = [link for mail in mails for link in re.findall(r"https?://\S+", mail["body"])]
            time.sleep(0.1)
    assert links, server.output()
    for link in links:
        assert link.startswith("https://auth.example.com/auth/reset/"), link


# --- rate-limit storage and workers --------------------------------------------------------------


def start_and_wait(tmp_path, database_url: str, **env: str) -> subprocess.CompletedProcess:
    """Run gunicorn until it exits by itself (or is stopped after 30 s)."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "SECRET_KEY": PRODUCTION_SECRET_KEY,
        "DATABASE_URL": database_url,
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **env,
    }
    return subprocess.run(
        [*GUNICORN, "-c", "gunicorn.conf.py", "app:create_app()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("env_name", ["staging", "production"])
@pytest.mark.parametrize("storage", [None, "memory://"])
def test_memory_rate_limits_with_several_workers_refuse_to_start(tmp_path, database_url, env_name, storage):
    """memory:// counts in each worker: with two workers every limit would be doubled, so
    staging and production refuse to start, naming RATELIMIT_STORAGE_URI."""
    env = {"APP_ENV": env_name, "WEB_CONCURRENCY": "2"}
    if storage:
        env["RATELIMIT_STORAGE_URI"] = storage
    result = start_and_wait(tmp_path, database_url, **env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "RATELIMIT_STORAGE_URI" in output
    assert "memory://" in output


@pytest.mark.parametrize(
    "env",
    [
        {"APP_ENV": "production", "WEB_CONCURRENCY": "2", "RATELIMIT_STORAGE_URI": REDIS_URL},
        {"APP_ENV": "production", "WEB_CONCURRENCY": "1", "RATELIMIT_STORAGE_URI": "memory://"},
        {"APP_ENV": "production", "WEB_CONCURRENCY": "2", "RATELIMIT_ENABLED": "false"},
        {"APP_ENV": "development", "WEB_CONCURRENCY": "2", "RATELIMIT_STORAGE_URI": "memory://"},
    ],
    ids=["production-redis-2", "production-memory-1", "production-disabled-2", "development-memory-2"],
)
def test_shared_or_single_worker_rate_limits_start(tmp_path, database_url, env):
    """A shared store, one worker, no limits, or development (documented per worker) all serve."""
    workers = int(env["WEB_CONCURRENCY"])
    env = {"SECRET_KEY": PRODUCTION_SECRET_KEY, "SECURE_COOKIES": "false", **env}
    with gunicorn(tmp_path, database_url, workers=workers, **env) as server:
        assert request(server, "GET", "/auth/login", {}).status == 200


# --- errors gunicorn answers itself --------------------------------------------------------------


def raw_exchange(server: Server, data: bytes) -> tuple[int, dict[str, str]]:
    with socket.create_connection((server.host, server.port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin1")
    status_line, *lines = head.split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


GUNICORN_ERRORS = {
    "bad-request-line": (b"THIS IS NOT HTTP\r\n\r\n", 400),
    "bad-header": (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
    "uri-too-long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "header-too-large": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    "too-many-headers": (
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n",
        431,
    ),
}


@pytest.mark.parametrize("hsts", [False, True])
def test_errors_gunicorn_answers_itself_carry_the_security_headers(tmp_path, database_url, hsts):
    """400, 414 and 431 written by gunicorn (the app never sees the request) carry the app's
    security headers (one list, app/security.py), HSTS when configured."""
    expected = dict(security_headers(hsts=hsts, html=True))
    with gunicorn(tmp_path, database_url, HSTS="true" if hsts else "false") as server:
        for name, (data, status) in GUNICORN_ERRORS.items():
            got_status, headers = raw_exchange(server, data)
            assert got_status == status, name
            for header, value in expected.items():
                assert headers.get(header.lower()) == value, (name, header, headers)
            assert ("strict-transport-security" in headers) is hsts
        assert request(server, "GET", "/health/live", {}).status == 200  # the worker still serves
