"""Models: UTC timestamps, unique accounts (races included), and cascading deletes in the database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

import app.auth.routes as auth_routes
from app.config import normalize_database_url
from app.extensions import db
from app.models import LoginEvent, User, UserSession, hash_session_token, utcnow
from tests.support.auth import csrf_token
from tests.support.passwords import PASSWORD

USERNAME_TAKEN = "That username is taken."
EMAIL_TAKEN = "An account with that e-mail address already exists."


def _user(username: str = "alice", email: str | None = None, **fields) -> User:
    return User(username=username, email=email or f"{username}@example.com", password_hash="x", **fields)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- UTCDateTime ------------------------------------------------------------------------------


def _non_utc_session_time_zone(backend: str) -> None:
    """On PostgreSQL, read in a non-UTC session time zone: the driver then returns +05:30 values."""
    if backend == "postgresql":
        db.session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))


def test_datetimes_come_back_aware_in_utc(app, backend):
    """Every backend returns timezone-aware UTC datetimes (SQLite alone would return naive ones,
    PostgreSQL ones in the session's time zone)."""
    moment = datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    with app.app_context():
        db.session.add(_user(last_login_at=moment))
        db.session.commit()
        db.session.remove()
        _non_utc_session_time_zone(backend)

        user = db.session.scalars(select(User)).one()
        assert user.last_login_at == moment
        assert user.last_login_at.tzinfo is UTC
        # The default (utcnow) goes through the same type.
        assert user.created_at.tzinfo is UTC
        assert abs(utcnow() - user.created_at) < timedelta(hours=1)


def test_naive_datetime_is_refused(app):
    """A naive datetime is ambiguous: the column type refuses it instead of guessing."""
    with app.app_context():
        db.session.add(_user(last_login_at=datetime(2030, 1, 1, 12, 0)))
        with pytest.raises(StatementError) as excinfo:
            db.session.commit()
        assert isinstance(excinfo.value.orig, ValueError)
        assert "naive" in str(excinfo.value)
        db.session.rollback()
        assert _count(User) == 0


def test_non_utc_datetime_is_stored_as_the_same_instant(app, backend):
    """12:00 at UTC+5 is stored and returned as 07:00 UTC, not as 12:00."""
    plus_five = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    with app.app_context():
        db.session.add(_user(locked_until=plus_five))
        db.session.commit()
        db.session.remove()
        _non_utc_session_time_zone(backend)

        value = db.session.scalars(select(User.locked_until)).one()
        assert value == plus_five
        assert value.tzinfo is UTC
        assert (value.hour, value.minute) == (7, 0)

        raw = db.session.execute(text("SELECT locked_until FROM users")).scalar_one()
        if backend == "sqlite":
            # No time zones in SQLite: the text itself must be the UTC wall-clock time.
            assert str(raw).startswith("2030-01-01 07:00:00")
        else:
            assert raw == datetime(2030, 1, 1, 7, 0, tzinfo=UTC)
            assert raw.utcoffset() == timedelta(hours=5, minutes=30)  # the type did the converting


# --- unique constraints -------------------------------------------------------------------------


@pytest.mark.parametrize("clash", ["username", "email"])
def test_unique_constraints_hold_at_the_database(app, clash):
    """Two accounts cannot share a username or an e-mail, whatever the application checked."""
    with app.app_context():
        db.session.add(_user("alice", "alice@example.com"))
        db.session.commit()

        second = {"username": "bob", "email": "bob@example.com"}
        second[clash] = {"username": "alice", "email": "alice@example.com"}[clash]
        db.session.add(_user(**second))
        with pytest.raises(IntegrityError) as excinfo:
            db.session.commit()
        assert clash in str(excinfo.value.orig)

        db.session.rollback()
        assert _count(User) == 1
        # The session is usable again after the rollback.
        db.session.add(_user("carol"))
        db.session.commit()
        assert _count(User) == 2


# --- registration races -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clash", "message", "other_message"),
    [("username", USERNAME_TAKEN, EMAIL_TAKEN), ("email", EMAIL_TAKEN, USERNAME_TAKEN)],
)
def test_registration_race_loser_gets_form_error(
    app, auth, database_url, monkeypatch, clash, message, other_message
):
    """The check-then-insert race: a rival commits between the check and the insert.

    The unique constraint catches it and the loser gets the form error, not a 500.
    """
    real_taken_fields = auth_routes._taken_fields
    rival_engine = create_engine(normalize_database_url(database_url))
    mine = {"username": "alice", "email": "alice@example.com"}
    rival = {"username": "rival", "email": "rival@example.com", clash: mine[clash]}
    calls = []

    def racing_taken_fields(username, email):
        calls.append((username, email))
        if len(calls) == 1:
            with rival_engine.begin() as connection:
                connection.execute(
                    User.__table__.insert().values(**rival, password_hash="x", created_at=utcnow())
                )
            return set()  # checked just before the rival's commit became visible
        return real_taken_fields(username, email)

    monkeypatch.setattr(auth_routes, "_taken_fields", racing_taken_fields)
    try:
        response = auth.register(**mine)
    finally:
        rival_engine.dispose()

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert other_message not in page
    # The second call is the route re-checking after the IntegrityError.
    assert len(calls) == 2
    with app.app_context():
        rows = db.session.execute(select(User.username, User.email)).all()
        assert [tuple(row) for row in rows] == [(rival["username"], rival["email"])]


def test_concurrent_registrations_of_one_username(app, monkeypatch):
    """Two real requests for the same username at once: one 302, one 422, never a 500, one row.

    A barrier after the duplicate check makes both requests pass it before either inserts,
    so the database constraint (not the check) decides the race every time.
    """
    real_taken_fields = auth_routes._taken_fields
    checked = threading.Barrier(2)
    local = threading.local()

    def taken_fields_then_wait(username, email):
        result = real_taken_fields(username, email)
        if not getattr(local, "waited", False):
            local.waited = True
            checked.wait(timeout=10)
        return result

    monkeypatch.setattr(auth_routes, "_taken_fields", taken_fields_then_wait)

    clients = [app.test_client() for _ in range(2)]
    tokens = [csrf_token(c.get("/auth/register").get_data(as_text=True)) for c in clients]
    start = threading.Barrier(2)
    responses: list = [None, None]
    errors: list = []

    def register(index: int) -> None:
        try:
            start.wait(timeout=10)
            responses[index] = clients[index].post(
                "/auth/register",
                data={
                    "csrf_token": tokens[index],
                    "username": "alice",
                    "email": f"alice{index}@example.com",
                    "password": PASSWORD,
                    "confirm_password": PASSWORD,
                },
            )
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert all(not thread.is_alive() for thread in threads)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [302, 422]
    loser = next(r for r in responses if r.status_code == 422)
    assert USERNAME_TAKEN in loser.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(User.username)).all() == ["alice"]


# --- cascading deletes --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["raw_sql", "orm"])
def test_deleting_a_user_cascades_in_the_database(app, backend, how):
    """ON DELETE CASCADE removes a user's sessions and sign-in events (SQLite too, via the PRAGMA)."""
    with app.app_context():
        if backend == "sqlite":
            assert db.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        alice, bob = _user("alice"), _user("bob")
        db.session.add_all([alice, bob])
        db.session.flush()
        for user in (alice, bob):
            db.session.add(UserSession(id=hash_session_token(user.username), user_id=user.id, ip="192.0.2.1"))
            db.session.add(LoginEvent(user_id=user.id, success=True))
            db.session.add(LoginEvent(user_id=user.id, success=False))
        db.session.commit()
        alice_id, bob_id = alice.id, bob.id

        if how == "raw_sql":
            db.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": alice_id})
        else:
            db.session.expire_all()  # children not loaded: only the database can cascade
            db.session.delete(db.session.get(User, alice_id))
        db.session.commit()
        db.session.remove()

        sessions = db.session.execute(text("SELECT user_id FROM user_sessions")).scalars().all()
        events = db.session.execute(text("SELECT user_id FROM login_events")).scalars().all()
        assert sessions == [bob_id]
        assert sorted(events) == [bob_id, bob_id]
        assert db.session.scalars(select(User.id)).all() == [bob_id]
