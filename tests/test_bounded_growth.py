"""Per-user data stays bounded: sessions are capped, the dashboard shows the most recent
few (the rest are paged), and `flask purge` deletes what is kept no longer."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import event, func, select, text

from app.extensions import db
from app.models import LoginEvent, TrustedDevice, User, UserSession, hash_session_token, utcnow
from tests.support.auth import AuthActions


def create_user(app):
    assert AuthActions(app.test_client()).register().status_code == 302


def add_sessions(app, count: int, *, start: int = 0) -> None:
    """count sessions of alice, as count sign-ins from count browsers would leave (oldest first)."""
    with app.app_context():
        user_id = db.session.scalar(select(User.id))
        now = utcnow()
        db.session.add_all(
            UserSession(
                id=hash_session_token(f"token-{start + i}"),
                user_id=user_id,
                created_at=now - timedelta(seconds=count - i),
                last_seen_at=now - timedelta(seconds=count - i),
                ip="192.0.2.1",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
                remember=False,
            )
            for i in range(count)
        )
        db.session.commit()


def session_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UserSession))


def test_sign_in_beyond_the_cap_ends_the_least_recently_used_session(make_app, caplog):
    """With SESSION_MAX_PER_USER sessions, one more sign-in ends the least recently used one."""
    app = make_app(SESSION_MAX_PER_USER=3, RATELIMIT_LOGIN="1000 per minute")
    create_user(app)
    browsers = [AuthActions(app.test_client()) for _ in range(4)]
    for browser in browsers[:3]:
        assert browser.login().status_code == 302
    with app.app_context():  # the first browser was used again a minute later (its last_seen_at written)
        first = db.session.scalars(select(UserSession).order_by(UserSession.created_at)).first()
        first.last_seen_at = utcnow() + timedelta(minutes=1)
        db.session.commit()
    assert browsers[3].login().status_code == 302
    assert session_count(app) == 3
    signed_in = [b.client.get("/dashboard").status_code == 200 for b in browsers]
    assert signed_in == [True, False, True, True]
    ended = [r for r in caplog.records if r.getMessage() == "session.ended"]
    assert [(r.reason, r.count) for r in ended] == [("session_limit", 1)]


def _dashboard(app, sessions: int) -> tuple[str, int]:
    """The dashboard's HTML and SQL statement count for alice with `sessions` other sessions."""
    with app.app_context():
        db.session.execute(text("DELETE FROM user_sessions"))
        db.session.commit()
    add_sessions(app, sessions)
    auth = AuthActions(app.test_client())
    assert auth.login().status_code == 302
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        html = auth.client.get("/dashboard").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return html, len(statements)


def test_dashboard_stays_the_same_size_with_many_sessions(make_app):
    """1,000 sessions give the same dashboard as 100, within 20% of its size, with the same
    number of queries; the dashboard links to the full, paged list."""
    app = make_app(SESSION_MAX_PER_USER=5000, RATELIMIT_LOGIN="1000 per minute")
    create_user(app)
    small, small_queries = _dashboard(app, 100)
    large, large_queries = _dashboard(app, 1000)
    assert len(large) <= 1.2 * len(small)
    assert large_queries == small_queries
    assert "See all 1001 active sessions" in large
    assert len(re.findall(r"/account/sessions/[0-9a-f]{64}/end", large)) == 5


def test_sessions_page_lists_every_session_in_pages(make_app):
    """/account/sessions pages through every live session, newest first; other pages 404."""
    app = make_app(SESSION_MAX_PER_USER=5000, RATELIMIT_LOGIN="1000 per minute")
    create_user(app)
    add_sessions(app, 44)
    auth = AuthActions(app.test_client())
    assert auth.login().status_code == 302
    seen = []
    for page in (1, 2, 3):
        html = auth.client.get(f"/account/sessions?page={page}").get_data(as_text=True)
        seen += re.findall(r"/account/sessions/([0-9a-f]{64})/end", html)
        assert f"Page {page} of 3" in html
    assert len(seen) == len(set(seen)) == 45
    assert seen[-1] == hash_session_token("token-0")  # the oldest last
    assert auth.client.get("/account/sessions?page=4").status_code == 404
    assert auth.client.get("/account/sessions?page=0").status_code == 404
    # A number no OFFSET can hold is no page either (not a database error).
    assert auth.client.get(f"/account/sessions?page={2**70}").status_code == 404


def test_purge_deletes_only_what_is_kept_no_longer(make_app):
    """`flask purge` deletes expired sessions, old sign-in events and long-unused devices, and
    keeps everything that is still live or recent."""
    app = make_app(RATELIMIT_LOGIN="1000 per minute")
    create_user(app)
    live = AuthActions(app.test_client())
    assert live.login().status_code == 302
    stale = AuthActions(app.test_client())
    assert stale.login().status_code == 302
    now = utcnow()
    with app.app_context():
        live_id = db.session.scalars(select(UserSession.id).order_by(UserSession.created_at)).first()
        db.session.execute(
            UserSession.__table__.update()
            .where(UserSession.id != live_id)
            .values(last_seen_at=now - timedelta(hours=2), created_at=now - timedelta(hours=3))
        )
        db.session.execute(
            LoginEvent.__table__.update()
            .where(LoginEvent.id == db.session.scalar(select(func.min(LoginEvent.id))))
            .values(created_at=now - timedelta(days=91))
        )
        db.session.execute(
            TrustedDevice.__table__.update()
            .where(TrustedDevice.id == db.session.scalar(select(func.min(TrustedDevice.id))))
            .values(last_used_at=now - timedelta(days=366))
        )
        db.session.commit()
        before = {
            "events": db.session.scalar(select(func.count()).select_from(LoginEvent)),
            "devices": db.session.scalar(select(func.count()).select_from(TrustedDevice)),
        }
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert (
        "Purged 1 sessions, 1 login events, 1 devices, 0 mfa pending sign ins, 0 webauthn challenges."
        in result.output
    )
    with app.app_context():
        assert db.session.scalars(select(UserSession.id)).all() == [live_id]
        assert db.session.scalar(select(func.count()).select_from(LoginEvent)) == before["events"] - 1
        assert db.session.scalar(select(func.count()).select_from(TrustedDevice)) == before["devices"] - 1
    assert live.client.get("/dashboard").status_code == 200
    again = app.test_cli_runner().invoke(args=["purge"])
    assert (
        "Purged 0 sessions, 0 login events, 0 devices, 0 mfa pending sign ins, 0 webauthn challenges."
        in again.output
    )
