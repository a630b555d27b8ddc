"""Helpers for race tests against a real gunicorn on PostgreSQL: hold a row lock from an
admin connection, wait until requests queue behind it, then let them go at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def wait_for_lock_waiters(url: str, name: str, count: int, timeout: float = 15.0) -> None:
    """Return once count backends of database name wait on a row or table lock."""
    import psycopg2

    deadline = time.monotonic() + timeout
    watcher = psycopg2.connect(url)
    watcher.autocommit = True
    try:
        with watcher.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (name,),
                )
                if cursor.fetchone()[0] >= count:
                    return
                time.sleep(0.02)
    finally:
        watcher.close()
    pytest.fail(f"{count} requests never queued on the lock")


@contextmanager
def row_held(url: str, sql: str, params: tuple = ()) -> Iterator[object]:
    """An admin transaction holding the rows `sql` (a SELECT ... FOR UPDATE) locks; it yields
    the cursor (statements run in the same transaction) and commits on exit."""
    import psycopg2

    admin = psycopg2.connect(url)
    try:
        cursor = admin.cursor()
        cursor.execute(sql, params)
        yield cursor
        admin.commit()
    finally:
        admin.close()


def start_parallel(calls: list) -> tuple[list[threading.Thread], list]:
    """Start each call on a thread of its own at once: (the threads, to join; the results,
    filled in call order as they finish)."""
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    return threads, results
