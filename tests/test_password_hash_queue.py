"""The bounded wait for password hashing, against a real gunicorn: one worker with eight
threads, one hash at a time and at most one sign-in waiting for it. Eight sign-ins sent at
once with a slow argon2id: the ones beyond the bound are answered 503 with Retry-After (the
outage page), not queued; the others sign in; none is a 500.
"""

from __future__ import annotations

import http.client
from concurrent.futures import ThreadPoolExecutor

from conftest import PASSWORD, csrf_token

from tests.support.server import HTTP_TIMEOUT, Browser, Server, gunicorn, register

PARALLEL = 8
# Slow enough (about 0.1-0.3 s a check here) that eight sign-ins sent together overlap.
SLOW_ARGON2 = {"PASSWORD_ARGON2_MEMORY_KIB": "65536", "PASSWORD_ARGON2_TIME_COST": "4"}


def _sign_in(server: Server, cookie: str, token: str) -> tuple[int, str | None, str]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT * 2)
    try:
        conn.request(
            "POST",
            "/auth/login",
            body=f"csrf_token={token}&login=alice&password={PASSWORD}",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        response = conn.getresponse()
        return response.status, response.getheader("Retry-After"), response.read().decode()
    finally:
        conn.close()


def test_sign_ins_beyond_the_hash_queue_bound_are_answered_503_with_retry_after(tmp_path, database_url):
    with gunicorn(
        tmp_path,
        database_url,
        workers=1,
        GUNICORN_WORKER_CLASS="gthread",
        GUNICORN_THREADS=str(PARALLEL),
        PASSWORD_HASH_CONCURRENCY="1",
        PASSWORD_HASH_QUEUE="1",
        RATELIMIT_LOGIN="1000 per minute",
        RATELIMIT_STORAGE_URI="memory://",  # one worker: its own counters start empty
        **SLOW_ARGON2,
    ) as server:
        register(server)
        forms = []
        for _ in range(PARALLEL):
            browser = Browser(server)
            page = browser.get("/auth/login")
            forms.append((browser.cookie_header(), csrf_token(page.body)))

        with ThreadPoolExecutor(PARALLEL) as pool:
            replies = list(pool.map(lambda form: _sign_in(server, *form), forms))

        statuses = sorted(status for status, _, _ in replies)
        assert set(statuses) <= {302, 503}, f"{statuses}\n{server.output()}"
        assert 302 in statuses, statuses  # the ones within the bound sign in
        refused = [(retry, body) for status, retry, body in replies if status == 503]
        assert refused, f"every sign-in waited for the hash: {statuses}"
        for retry_after, body in refused:
            assert retry_after is not None and int(retry_after) >= 1
            assert "temporarily unavailable" in body.lower()

        # A refused sign-in is not a failed attempt: the account signs in again afterwards.
        browser = Browser(server)
        assert browser.submit("/auth/login", {"login": "alice", "password": PASSWORD}).status == 302
