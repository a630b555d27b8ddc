"""Against a real gunicorn on PostgreSQL: one second-factor code submitted by several pending
sign-ins at the same moment signs in at most once (TOTP codes and recovery codes alike)."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from app.extensions import db
from app.mfa import factors
from app.models import User, utcnow
from tests.support.auth import csrf_token
from tests.support.passwords import PASSWORD
from tests.support.races import row_held, start_parallel, wait_for_lock_waiters
from tests.support.server import Browser, gunicorn, register, server_app_context


def _give_alice_a_factor(url: str) -> tuple[str, list[str]]:
    """An enabled authenticator app and recovery codes for alice, encrypted with the server's key."""
    with server_app_context(url):
        user = db.session.scalars(select(User)).one()
        factor = factors.start_totp_enrolment(user)
        factor.enabled_at = utcnow()
        codes = factors.new_recovery_codes(user.id)
        db.session.commit()
        return factors.totp_secret(factor), codes


@pytest.mark.postgresql_only
@pytest.mark.parametrize("kind", ["totp", "recovery_code"])
def test_one_code_submitted_in_parallel_signs_in_once(tmp_path, postgresql_database, kind):
    url, name = postgresql_database
    settings = {"RATELIMIT_LOGIN": "1000 per minute", "RATELIMIT_MFA": "1000 per minute"}
    with gunicorn(tmp_path, url, workers=2, **settings) as server:
        register(server)
        secret, codes = _give_alice_a_factor(url)
        browsers = [Browser(server) for _ in range(3)]
        forms = []
        for browser in browsers:
            reply = browser.submit("/auth/login", {"login": "alice", "password": PASSWORD})
            assert (reply.status, reply.headers.get("Location")) == (302, "/auth/mfa"), server.output()
            forms.append(csrf_token(browser.get("/auth/mfa").body))
        code = pyotp.TOTP(secret).now() if kind == "totp" else codes[0]
        table = "mfa_factors" if kind == "totp" else "mfa_recovery_codes"
        with row_held(url, f"SELECT id FROM {table} FOR UPDATE"):
            threads, replies = start_parallel(
                [
                    lambda b=b, t=t: b.post("/auth/mfa", {"csrf_token": t, "code": code})
                    for b, t in zip(browsers, forms, strict=True)
                ]
            )
            wait_for_lock_waiters(url, name, 3)
        for thread in threads:
            thread.join(timeout=15)
        statuses = sorted((r.status, r.headers.get("Location")) for r in replies)
        assert statuses == [(302, "/dashboard"), (422, None), (422, None)], server.output()
        signed_in = [b.get("/dashboard").status == 200 for b in browsers]
        assert signed_in.count(True) == 1
        assert "Traceback" not in server.output()
