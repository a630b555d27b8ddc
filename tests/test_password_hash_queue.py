"""Password hashing under a real gunicorn with gthread workers.

The bounded wait: one worker with eight threads, one hash at a time and at most one sign-in
waiting for it. Eight sign-ins sent at once with a slow argon2id: the ones beyond the bound are
answered 503 with Retry-After (the outage page), not queued; the others sign in; none is a 500.

The memory: sign-ins hashed on every thread leave the worker about one hash buffer larger, not one
per thread (gunicorn.conf.py gives the workers one malloc arena).
"""

from __future__ import annotations

import http.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.auth import csrf_token
from tests.support.passwords import PASSWORD
from tests.support.server import HTTP_TIMEOUT, Browser, Server, gunicorn, register

PARALLEL = 8
# Slow enough (about 0.1 s a check here) that eight sign-ins sent together overlap; the buffer under
# glibc's largest mmap threshold (32 MiB), like production's 19 MiB, so that malloc keeps it in an arena.
SLOW_ARGON2 = {"PASSWORD_ARGON2_MEMORY_KIB": "24576", "PASSWORD_ARGON2_TIME_COST": "6"}


def gthread_server(tmp_path, database_url, queue: int):
    """One gthread worker with PARALLEL threads, one hash at a time and `queue` sign-ins waiting
    for it, slow argon2id, and no rate limit in the way (memory:// counters start empty)."""
    return gunicorn(
        tmp_path,
        database_url,
        workers=1,
        GUNICORN_WORKER_CLASS="gthread",
        GUNICORN_THREADS=str(PARALLEL),
        PASSWORD_HASH_CONCURRENCY="1",
        PASSWORD_HASH_QUEUE=str(queue),
        RATELIMIT_LOGIN="1000 per minute",
        RATELIMIT_STORAGE_URI="memory://",
        **SLOW_ARGON2,
    )


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
    with gthread_server(tmp_path, database_url, queue=1) as server:
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


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_gthread_worker_keeps_at_most_one_hash_buffer_whichever_threads_hashed(tmp_path, database_url):
    """glibc's per-thread malloc arenas would each keep the argon2id buffer of the last hash run
    on one of their threads; gunicorn.conf.py limits the workers to one arena, so sign-ins on
    every thread leave the worker a buffer or two (here 24 MiB each) larger, not one per thread."""
    memory_kib = int(SLOW_ARGON2["PASSWORD_ARGON2_MEMORY_KIB"])
    with gthread_server(tmp_path, database_url, queue=PARALLEL) as server:
        register(server)  # one hash: the worker now holds one buffer, however it is kept
        (worker,) = server.workers()
        forms = []
        for _ in range(PARALLEL):
            browser = Browser(server)
            page = browser.get("/auth/login")
            forms.append((browser.cookie_header(), csrf_token(page.body)))
        before = _rss_kib(worker)
        for _ in range(2):
            with ThreadPoolExecutor(PARALLEL) as pool:
                statuses = [status for status, _, _ in pool.map(lambda form: _sign_in(server, *form), forms)]
            assert statuses == [302] * PARALLEL, statuses
        grown = _rss_kib(worker) - before
        # One buffer, or two when small allocations took the freed one's place; not one per thread.
        assert grown < 3 * memory_kib, f"the worker grew by {grown} KiB after hashes on {PARALLEL} threads"
