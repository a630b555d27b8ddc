"""The mail outbox (app/outbox.py): e-mails owed are written with the action that
owes them and delivered by a sender with retries, so an SMTP outage, a hung relay
or a sender killed mid-send loses none and slows no request.

Real parts: aiosmtpd on a private port, a port nobody listens on (refused), a
socket that accepts and never answers (hung), SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, func, select, text

from app import metrics, outbox
from app.auth import account_mail
from app.config import config_class
from app.extensions import db
from app.models import MailOutbox, User, utcnow
from tests.support.auth import AuthActions, csrf_token
from tests.support.config import PRODUCTION_BASE, assert_production_refuses, production_config
from tests.support.database import migrate, new_postgresql_database
from tests.support.mailbox import hung_relay, smtp_server
from tests.support.passwords import NEW_PASSWORD
from tests.support.ports import free_port
from tests.support.server import gunicorn
from tests.support.services import private_postgres

BASE_URL = "https://auth.example.test"


def mail_settings(port: int, **overrides: object) -> dict[str, object]:
    return {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_TIMEOUT": 2,
        "MAIL_DEFAULT_SENDER": "Flask Auth <no-reply@example.test>",
        "APP_BASE_URL": BASE_URL,
        **overrides,
    }


def app_with_alice(make_app, port: int, **overrides: object):
    """An app that mails through the relay on `port`, and the browser in which alice registered."""
    app = make_app(**mail_settings(port, **overrides))
    client = app.test_client()
    AuthActions(client).register()
    return app, client


def rows(app) -> list[MailOutbox]:
    with app.app_context():
        found = db.session.scalars(select(MailOutbox).order_by(MailOutbox.id)).all()
        db.session.expunge_all()
        return list(found)


def count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def events(caplog, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def request_reset(client, email: str = "alice@example.com", ip: str = "127.0.0.1"):
    token = csrf_token(client.get("/auth/reset").get_data(as_text=True))
    return client.post(
        "/auth/reset", data={"csrf_token": token, "email": email}, environ_base={"REMOTE_ADDR": ip}
    )


def path_of(link: str) -> str:
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL, link
    return parts.path


def set_new_password(client, path: str):
    token = csrf_token(client.get(path).get_data(as_text=True))
    data = {"csrf_token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    return client.post(path, data=data)


def mails_counted(kind: str, result: str) -> float:
    return metrics.MAILS.labels(kind=kind, result=result)._value.get()


# -- an SMTP outage ------------------------------------------------------------------------------


def test_mail_owed_during_an_smtp_outage_is_delivered_after_it_with_a_working_link(make_app):
    port = free_port()  # nothing listens: the relay refuses connections
    app = make_app(**mail_settings(port))
    client = app.test_client()
    registered = AuthActions(client).register(follow_redirects=True)
    assert "We have sent a link to alice@example.com" in registered.get_data(as_text=True)
    assert request_reset(client).status_code == 200

    started = utcnow()
    assert outbox.deliver_due(app) == {"sent": 0, "retried": 2, "failed": 0}
    for row in rows(app):
        assert row.status == "pending" and row.attempts == 1
        assert row.last_error == "ConnectionRefusedError"
        assert row.next_attempt_at > started  # backed off
    assert outbox.deliver_due(app) == {"sent": 0, "retried": 0, "failed": 0}  # not due yet

    with smtp_server(port=port) as (_port, mailbox):  # the relay is back, 70 s later
        assert outbox.deliver_due(app, now=utcnow() + timedelta(seconds=70))["sent"] == 2
        reset = mailbox.wait_for_mail("alice@example.com", "Reset your password", timeout=2)
        confirm = mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address", timeout=2)
    assert {row.status for row in rows(app)} == {"sent"}
    assert all(row.sent_at is not None and row.claimed_until is None for row in rows(app))

    assert "is confirmed" in client.get(path_of(confirm.link), follow_redirects=True).get_data(as_text=True)
    assert set_new_password(client, path_of(reset.link)).status_code == 302
    assert AuthActions(client).login(password=NEW_PASSWORD).status_code == 302


def test_the_default_retries_outlast_a_minute_of_outage(app):
    config = app.config
    assert config["MAIL_MAX_ATTEMPTS"] == 8
    # The shortest schedule jitter can make: every delay halved.
    shortest = sum(
        outbox.retry_delay(attempt, config["MAIL_RETRY_BASE_SECONDS"], config["MAIL_RETRY_MAX_SECONDS"], 0.0)
        for attempt in range(1, config["MAIL_MAX_ATTEMPTS"])
    )
    assert shortest > 60
    delays = [outbox.retry_delay(3, 2, 300, jitter) for jitter in (0.0, 0.5, 1.0)]
    assert delays == [4.0, 6.0, 8.0]  # exponential, with jitter
    assert outbox.retry_delay(20, 2, 300, 1.0) == 300  # capped


def test_the_sender_thread_delivers_once_the_relay_is_back(make_app):
    port = free_port()
    app = make_app(
        **mail_settings(port, MAIL_SENDER="thread", MAIL_RETRY_BASE_SECONDS=1, MAIL_POLL_SECONDS=1)
    )
    client = app.test_client()
    AuthActions(client).register()  # the first request starts the sender
    deadline = time.monotonic() + 10
    while not any(row.last_error for row in rows(app)):
        assert time.monotonic() < deadline, "the sender never tried"
        time.sleep(0.05)
    with smtp_server(port=port) as (_port, mailbox):
        mail = mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address", timeout=15)
    assert "is confirmed" in client.get(path_of(mail.link), follow_redirects=True).get_data(as_text=True)
    (row,) = rows(app)
    assert row.status == "sent" and row.attempts >= 2


# -- a sender that dies mid-send -----------------------------------------------------------------


def test_a_message_claimed_by_a_dead_sender_is_sent_after_its_lease(make_app):
    with smtp_server() as (port, mailbox):
        app, _ = app_with_alice(make_app, port)
        now = utcnow()
        with app.app_context():
            claimed = outbox.claim(now, limit=10)  # ... and the sender is killed before it sends
        assert len(claimed) == 1
        (row,) = rows(app)
        assert row.status == "sending" and row.claimed_until > now
        # No other sender takes a message under lease ...
        assert outbox.deliver_due(app, now=now)["sent"] == 0
        # ... and after the lease it is sent again (at least once).
        later = now + timedelta(seconds=app.config["MAIL_LEASE_SECONDS"] + 1)
        assert outbox.deliver_due(app, now=later)["sent"] == 1
        mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address", timeout=2)
    (row,) = rows(app)
    assert row.status == "sent" and row.attempts == 2


def test_a_message_whose_sender_lost_the_database_mid_send_goes_out_when_it_returns(
    make_app, monkeypatch, caplog
):
    """PostgreSQL stops while the sender talks to the relay, so the outcome cannot be
    recorded and the row stays claimed. When the database returns the sender gives the
    claim back and sends the message again at once (at least once), instead of leaving
    it for a minute until its lease runs out: the fault suite lost such mails."""
    from flask_mailman import EmailMultiAlternatives

    make_app()  # the fixture's own database, emptied at teardown
    with private_postgres() as server, smtp_server() as (port, mailbox):
        url = server.create_database("outbox_lost_database")
        migrate(url)
        monkeypatch.setenv("DATABASE_URL", url)
        app = make_app(**mail_settings(port, MAIL_SENDER="thread", MAIL_POLL_SECONDS=1))
        assert app.config["MAIL_LEASE_SECONDS"] >= 60
        real_send = EmailMultiAlternatives.send
        stopped = threading.Event()

        def send_while_the_database_stops(message, *args, **kwargs):
            if not stopped.is_set():
                stopped.set()
                server.stop()
            return real_send(message, *args, **kwargs)

        monkeypatch.setattr(EmailMultiAlternatives, "send", send_while_the_database_stops)
        AuthActions(app.test_client()).register()  # owes the mail, wakes the sender
        assert stopped.wait(10), "the sender never sent"
        mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address", timeout=10)
        deadline = time.monotonic() + 10
        while not events(caplog, "mail.sender_error"):
            assert time.monotonic() < deadline, "the sender never met the stopped database"
            time.sleep(0.05)
        server.start()
        # Sent again well inside the lease, and recorded as sent this time.
        deadline = time.monotonic() + 15
        while len(mailbox.to("alice@example.com")) < 2:
            assert time.monotonic() < deadline, "the message waits for its lease"
            time.sleep(0.1)
        while rows(app)[0].status != "sent":
            assert time.monotonic() < deadline, "the second send was not recorded"
            time.sleep(0.1)
        outbox.stop_sender(app)
        with app.app_context():
            db.engine.dispose()


def test_two_senders_never_claim_the_same_message(make_app):
    with smtp_server() as (port, _mailbox):
        app, client = app_with_alice(make_app, port)
        for ip in ("10.0.0.1", "10.0.0.2"):
            request_reset(client, ip=ip)
        now = utcnow()
        with app.app_context():
            first = outbox.claim(now, limit=2)
        with app.app_context():
            second = outbox.claim(now, limit=10)
        assert len(first) == 2 and len(second) == 1 and not set(first) & set(second)


# -- a message that keeps failing ----------------------------------------------------------------


def test_a_message_that_keeps_failing_ends_failed_logged_counted_listed_and_retried(make_app, caplog):
    port = free_port()
    app = make_app(**mail_settings(port, MAIL_MAX_ATTEMPTS=3))
    client = app.test_client()
    AuthActions(client).register()
    failed_before = mails_counted("email_verification", "failed")
    now = utcnow()
    results = [outbox.deliver_due(app, now=now + timedelta(hours=hour)) for hour in range(4)]
    assert [r["retried"] for r in results] == [1, 1, 0, 0]
    assert [r["failed"] for r in results] == [0, 0, 1, 0]
    (row,) = rows(app)
    assert row.status == "failed" and row.attempts == 3 and row.last_error == "ConnectionRefusedError"
    (logged,) = events(caplog, "mail.failed")
    assert logged.levelno == logging.ERROR
    assert logged.kind == "email_verification" and logged.attempts == 3 and logged.message_id == row.id
    assert "alice@example.com" not in str(logged.__dict__)
    assert mails_counted("email_verification", "failed") == failed_before + 1

    runner = app.test_cli_runner()
    listing = runner.invoke(args=["mail-outbox"])
    assert listing.exit_code == 0, listing.output
    assert f"{row.id}" in listing.output and "failed" in listing.output
    assert "email_verification" in listing.output and "ConnectionRefusedError" in listing.output
    assert "/auth/verify/" not in listing.output and "alice@example.com" not in listing.output

    with smtp_server(port=port) as (_port, mailbox):
        retried = runner.invoke(args=["mail-outbox", "--retry", str(row.id)])
        assert retried.exit_code == 0, retried.output
        (row,) = rows(app)
        assert row.status == "pending" and row.attempts == 0
        delivered = runner.invoke(args=["mail-outbox", "--deliver"])
        assert delivered.exit_code == 0 and "1 sent" in delivered.output
        mail = mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address", timeout=2)
    assert "is confirmed" in client.get(path_of(mail.link), follow_redirects=True).get_data(as_text=True)
    assert "Nothing" in runner.invoke(args=["mail-outbox"]).output  # nothing pending or failed


def test_retry_failed_and_refusals_of_the_cli(make_app):
    app = make_app(**mail_settings(free_port(), MAIL_MAX_ATTEMPTS=1))
    client = app.test_client()
    AuthActions(client).register()
    AuthActions(client).register(username="bob", email="bob@example.com")
    assert outbox.deliver_due(app)["failed"] == 2
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail-outbox", "--retry-failed"])
    assert result.exit_code == 0 and "2 messages" in result.output
    assert {(row.status, row.attempts) for row in rows(app)} == {("pending", 0)}

    unknown = runner.invoke(args=["mail-outbox", "--retry", "9999"])
    assert unknown.exit_code != 0 and "No message 9999" in unknown.output
    with smtp_server(port=app.config["MAIL_PORT"]):
        assert outbox.deliver_due(app)["sent"] == 2
    sent = rows(app)[0]
    refused = runner.invoke(args=["mail-outbox", "--retry", str(sent.id)])
    assert refused.exit_code != 0 and "already sent" in refused.output


# -- one transaction -----------------------------------------------------------------------------


@pytest.fixture
def refused_outbox_inserts(app):
    """A trigger that makes every INSERT into mail_outbox fail (dropped afterwards)."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(
                text(
                    "CREATE FUNCTION refuse_mail() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$"
                )
            )
            db.session.execute(
                text(
                    "CREATE TRIGGER refuse_mail BEFORE INSERT ON mail_outbox "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_mail()"
                )
            )
        else:
            db.session.execute(
                text(
                    "CREATE TRIGGER refuse_mail BEFORE INSERT ON mail_outbox "
                    "BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
                )
            )
        db.session.commit()
    yield
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP TRIGGER refuse_mail ON mail_outbox"))
            db.session.execute(text("DROP FUNCTION refuse_mail()"))
        else:
            db.session.execute(text("DROP TRIGGER refuse_mail"))
        db.session.commit()


def test_registration_writes_the_user_and_its_mail_in_one_transaction(app, refused_outbox_inserts):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = AuthActions(app.test_client()).register()
    assert response.status_code == 500  # a bug-class failure: nothing half-written
    assert count_users(app) == 0


def test_registration_owes_its_confirmation_mail_with_the_user(app):
    AuthActions(app.test_client()).register()
    (row,) = rows(app)
    with app.app_context():
        user = db.session.scalars(select(User)).one()
    assert (row.user_id, row.recipient, row.kind, row.status) == (
        user.id,
        "alice@example.com",
        "email_verification",
        "pending",
    )


# -- the request path ----------------------------------------------------------------------------


class Statements:
    """The SQL statements an engine runs while watched."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[str] = []

    def _record(self, _conn, _cursor, statement, *_args):
        words = statement.split()
        # "INSERT INTO table ...": the verb and the table; any other statement: its text.
        self.seen.append(f"INSERT {words[2]}" if words[0].upper() == "INSERT" else statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_reset_and_resend_answer_at_once_with_a_hung_relay_and_queue_the_mail(make_app):
    with hung_relay() as relay:
        app = make_app(**mail_settings(relay.port, MAIL_TIMEOUT=5))
        client = app.test_client()
        AuthActions(client).register()
        with app.app_context():
            engine = db.engine
        with Statements(engine) as known_work:
            started = time.monotonic()
            known = request_reset(client, "alice@example.com")
            known_seconds = time.monotonic() - started
        with Statements(engine) as unknown_work:
            unknown = request_reset(client, "nobody@example.com")
        assert known.status_code == unknown.status_code == 200
        assert known.get_data() == unknown.get_data()
        # The known address costs one INSERT more, never a conversation with the relay.
        extra = list(known_work.seen)
        for statement in unknown_work.seen:
            extra.remove(statement)
        assert extra == ["INSERT mail_outbox"], known_work.seen
        assert known_seconds < app.config["MAIL_TIMEOUT"]  # the hung relay's bound, never reached
        AuthActions(client).login()
        token = csrf_token(client.get("/dashboard").get_data(as_text=True))
        resend = client.post("/auth/verify/resend", data={"csrf_token": token}, follow_redirects=True)
        assert "We have sent a new confirmation link" in resend.get_data(as_text=True)
        assert relay.accepted == []  # no request spoke to the relay
        assert [(r.kind, r.status) for r in rows(app)] == [
            ("email_verification", "pending"),
            ("password_reset", "pending"),
            ("email_verification", "pending"),
        ]


def test_no_transaction_is_open_while_the_relay_hangs(make_app):
    with hung_relay() as relay:
        app = make_app(**mail_settings(relay.port, MAIL_TIMEOUT=3))
        AuthActions(app.test_client()).register()
        results: list[dict] = []
        sender = threading.Thread(target=lambda: results.append(outbox.deliver_due(app)))
        sender.start()
        assert relay.connected.wait(5)
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                open_transactions = db.session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                    )
                )
                assert open_transactions == 0
            else:
                # Another connection can take the write lock at once: the sender holds none.
                other = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                other.close()
        sender.join(10)
    assert results == [{"sent": 0, "retried": 1, "failed": 0}]
    (row,) = rows(app)
    assert row.status == "pending" and row.last_error in {"SMTPServerDisconnected", "TimeoutError"}


# -- the per-account quota -----------------------------------------------------------------------


def test_a_stranger_cannot_use_up_the_owners_reset_mails(make_app, caplog):
    app = make_app(**mail_settings(free_port()))
    assert app.config["MAIL_PER_ACCOUNT_CLIENT_LIMIT"] == "3 per hour"
    assert app.config["MAIL_PER_ACCOUNT_LIMIT"] == "10 per hour"
    client = app.test_client()
    AuthActions(client).register()
    for _ in range(4):
        assert request_reset(client, ip="203.0.113.66").status_code == 200
    assert len([r for r in rows(app) if r.kind == "password_reset"]) == 3
    assert events(caplog, "mail.throttled")
    assert request_reset(client, ip="198.51.100.7").status_code == 200  # the owner
    assert len([r for r in rows(app) if r.kind == "password_reset"]) == 4


def test_the_mail_quota_fails_open_when_its_store_is_away(make_app, caplog):
    app = make_app(**mail_settings(free_port()))
    AuthActions(app.test_client()).register()
    # The process's one limiter now counts in a Redis nobody listens on.
    away = make_app(**mail_settings(free_port()), RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    try:
        with away.test_request_context("/auth/reset", method="POST"):
            user = db.session.scalars(select(User)).one()
            assert account_mail.mail_allowed(user, "password_reset") is True
            assert account_mail.mail_allowed(user, "password_reset") is True
    finally:
        make_app()  # back on memory storage, which the fixture's teardown resets
    warnings = events(caplog, "mail.quota_unavailable")
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert warnings[0].error == "ConnectionError"


# -- development and the drain -------------------------------------------------------------------


def test_drain_delivers_what_is_due_within_its_time(make_app):
    with smtp_server() as (port, mailbox):
        app, client = app_with_alice(make_app, port)
        request_reset(client)
        assert outbox.drain(app, seconds=5) == 2
        assert len(mailbox.to("alice@example.com")) == 2
        request_reset(client, ip="10.0.0.9")
        assert outbox.drain(app, seconds=0) == 0  # no time left: the message stays owed
    assert [row.status for row in rows(app)] == ["sent", "sent", "pending"]


def test_drain_stops_the_sender_thread_and_leaves_nothing_due(make_app):
    with smtp_server() as (port, mailbox):
        app, client = app_with_alice(make_app, port, MAIL_SENDER="thread", MAIL_POLL_SECONDS=60)
        request_reset(client)
        outbox.drain(app, seconds=5)
        assert not app.extensions["mail_outbox"].thread.is_alive()
        assert len(mailbox.to("alice@example.com")) == 2
        request_reset(client, ip="10.0.0.9")  # after the drain: owed, for another process
    assert [row.status for row in rows(app)] == ["sent", "sent", "pending"]


def test_a_reset_for_a_deleted_account_is_dropped_with_it(make_app):
    app = make_app(**mail_settings(free_port()))
    client = app.test_client()
    AuthActions(client).register()
    with app.app_context():
        db.session.execute(db.delete(User))
        db.session.commit()
    assert rows(app) == []


def idle_sender(smtp_port: int, **env: str) -> dict[str, str]:
    """gunicorn settings whose sender is idle: only a wake-up, its start or a drain sends."""
    return {
        "MAIL_SENDER": "thread",
        "MAIL_POLL_SECONDS": "300",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_USE_TLS": "false",
        "APP_BASE_URL": BASE_URL,
        **env,
    }


def owe_alice(app, kind: str) -> None:
    """A `kind` mail owed to a new user alice, written as another process would: no wake-up here."""
    with app.app_context():
        user = User(username="alice", email="alice@example.com", password_hash="x")
        db.session.add(user)
        db.session.flush()
        outbox.enqueue(kind, user)
        db.session.commit()


def test_a_sigterm_drain_sends_what_is_due_before_the_worker_exits(tmp_path, database_url, app):
    """gunicorn's worker_exit hook gives the sender MAIL_DRAIN_SECONDS: a message owed
    while the sender was idle goes out during the drain, not after the pod is gone."""
    with smtp_server() as (smtp_port, mailbox):
        settings = idle_sender(smtp_port, GUNICORN_GRACEFUL_TIMEOUT="10")
        with gunicorn(tmp_path, database_url, workers=1, **settings) as server:
            owe_alice(app, "password_reset")
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(timeout=15) == 0, server.output()
        mail = mailbox.wait_for_mail("alice@example.com", "Reset your password", timeout=2)
    stdout = server.stdout()
    assert stdout.index('"mail.sent"') > stdout.index("Handling signal: term")
    assert [row.status for row in rows(app)] == ["sent"]
    assert path_of(mail.link).startswith("/auth/reset/")


def test_a_worker_recycled_by_max_requests_leaves_its_mail_to_its_replacement(tmp_path, database_url, app):
    """A recycled worker does not drain: gunicorn starts the replacement only after it
    exited, so a drain waiting on a hung relay would leave the other workers alone (the
    fault suite saw liveness fail when both workers recycled under a hung relay). The
    message owed is sent by the replacement's sender instead."""
    import urllib.request

    with smtp_server() as (smtp_port, mailbox):
        settings = idle_sender(smtp_port, GUNICORN_MAX_REQUESTS="3", GUNICORN_MAX_REQUESTS_JITTER="0")
        with gunicorn(tmp_path, database_url, workers=1, **settings) as server:
            owe_alice(app, "password_reset")
            for _ in range(3):  # the third request ends the worker
                with urllib.request.urlopen(server.base_url + "/auth/login", timeout=10) as reply:  # noqa: S310
                    assert reply.status == 200
            mailbox.wait_for_mail("alice@example.com", "Reset your password", timeout=15)
            with urllib.request.urlopen(server.base_url + "/auth/login", timeout=10) as reply:  # noqa: S310
                assert reply.status == 200  # served by the replacement
    stdout = server.stdout()
    booted = [i for i in range(len(stdout)) if stdout.startswith("Booting worker", i)]
    assert len(booted) >= 2, stdout
    assert stdout.index('"mail.sent"') > booted[1], "the recycled worker drained instead"
    assert [row.status for row in rows(app)] == ["sent"]


def test_purge_deletes_sent_mail_after_its_retention_and_keeps_the_rest(make_app):
    with smtp_server() as (port, _mailbox):
        app, client = app_with_alice(make_app, port)
        request_reset(client)
        assert outbox.deliver_due(app)["sent"] == 2
    request_reset(client)  # owed, not sent
    with app.app_context():
        first = db.session.scalar(select(func.min(MailOutbox.id)))
        db.session.execute(
            MailOutbox.__table__.update()
            .where(MailOutbox.id == first)
            .values(sent_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0 and "Purged 1 sent e-mail from the outbox." in result.output
    assert [row.status for row in rows(app)] == ["sent", "pending"]


def test_parallel_senders_send_each_message_once(make_app):
    with smtp_server() as (port, mailbox):
        app = make_app(
            **mail_settings(port, RATELIMIT_RESET="1000 per minute", MAIL_PER_ACCOUNT_LIMIT="100 per hour")
        )
        client = app.test_client()
        AuthActions(client).register()
        for i in range(11):
            assert request_reset(client, ip=f"10.0.1.{i}").status_code == 200
        results: list[dict] = []
        barrier = threading.Barrier(8)

        def sender() -> None:
            barrier.wait()
            results.append(outbox.deliver_due(app))

        threads = [threading.Thread(target=sender) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sum(r["sent"] for r in results) == 12
        assert sum(r["retried"] + r["failed"] for r in results) == 0
        assert len(mailbox.to("alice@example.com")) == 12
    assert {(row.status, row.attempts) for row in rows(app)} == {("sent", 1)}


def test_a_message_this_release_cannot_render_is_kept_for_another_try(make_app, caplog):
    """E.g. a kind written by a newer release during a rolling upgrade: logged, kept, retried."""
    with smtp_server() as (port, mailbox):
        app, _ = app_with_alice(make_app, port)
        with app.app_context():
            db.session.execute(MailOutbox.__table__.update().values(kind="newsletter"))
            db.session.commit()
        assert outbox.deliver_due(app) == {"sent": 0, "retried": 1, "failed": 0}
        assert mailbox.messages == []
    (logged,) = events(caplog, "mail.render_failed")
    assert logged.kind == "newsletter" and logged.error == "KeyError"
    (row,) = rows(app)
    assert row.status == "pending" and row.last_error == "KeyError"


def test_the_sender_thread_outlives_a_database_that_is_not_there_yet(
    make_app, backend, tmp_path, monkeypatch, caplog
):
    """A pod may start before its migrations ran: the sender warns once and carries on."""
    make_app()  # the fixture's own database, emptied at teardown
    with ExitStack() as stack, smtp_server() as (port, mailbox):
        if backend == "postgresql":
            url = stack.enter_context(new_postgresql_database("test_flask_auth_late"))[0]
        else:
            url = f"sqlite:///{tmp_path / 'late.db'}"
        monkeypatch.setenv("DATABASE_URL", url)
        app = make_app(**mail_settings(port, MAIL_SENDER="thread", MAIL_POLL_SECONDS=1))
        outbox.start_sender(app)
        deadline = time.monotonic() + 10
        while not events(caplog, "mail.sender_error"):
            assert time.monotonic() < deadline, "the sender never met the missing table"
            time.sleep(0.05)
        migrate(url)
        owe_alice(app, "email_verification")
        with app.app_context():
            outbox.wake()
        mailbox.wait_for_mail("alice@example.com", "Confirm your e-mail address", timeout=10)
        outbox.stop_sender(app)
        with app.app_context():
            db.engine.dispose()
    (warning,) = events(caplog, "mail.sender_error")
    assert warning.levelno == logging.WARNING
    assert warning.error in {
        "OperationalError",
        "ProgrammingError",
    }  # SQLite's / PostgreSQL's "no such table"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MAIL_SENDER": "cron"}, "MAIL_SENDER must be one of thread, off"),
        ({"MAIL_LEASE_SECONDS": "20", "MAIL_TIMEOUT_SECONDS": "10"}, "more than twice MAIL_TIMEOUT_SECONDS"),
        ({"MAIL_MAX_ATTEMPTS": "0"}, "MAIL_MAX_ATTEMPTS must be at least 1"),
        ({"MAIL_PER_ACCOUNT_CLIENT_LIMIT": "many"}, "MAIL_PER_ACCOUNT_CLIENT_LIMIT must be a rate limit"),
    ],
)
def test_outbox_settings_that_cannot_work_stop_the_start(environ, message):
    assert_production_refuses(environ, message)


def test_outbox_settings_from_the_environment():
    config = production_config(MAIL_SENDER="off", MAIL_RETRY_BASE_SECONDS="5", MAIL_TIMEOUT_SECONDS="30")
    assert config.MAIL_SENDER == "off" and config.MAIL_RETRY_BASE_SECONDS == 5
    assert config.MAIL_LEASE_SECONDS == 90  # three SMTP timeouts
    assert production_config().MAIL_SENDER == "thread"
    assert config_class("testing")(PRODUCTION_BASE).MAIL_SENDER == "off"
