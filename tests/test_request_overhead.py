"""Work a request does not need is not done (the cost itself is measured by
scripts/bench, never asserted here): these tests pin *that* it is skipped."""

from __future__ import annotations

import pytest

from app.extensions import limiter


def _spy_on_limit_evaluation(monkeypatch) -> list[str]:
    """Flask-Limiter asks which limits are exempt for every request it evaluates."""
    calls: list[str] = []
    manager = limiter.limit_manager
    exemption_scope = manager.exemption_scope

    def spy(*args, **kwargs):
        calls.append(1)
        return exemption_scope(*args, **kwargs)

    monkeypatch.setattr(manager, "exemption_scope", spy)
    return calls


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/dashboard", "/no-such-page"])
def test_safe_methods_never_reach_the_rate_limiter(client, monkeypatch, method, path):
    """Every limit is on POST: a GET does not even evaluate which limits apply."""
    calls = _spy_on_limit_evaluation(monkeypatch)
    client.open(path, method=method)
    assert calls == []


def test_a_post_still_reaches_the_rate_limiter(client, auth, monkeypatch):
    token = auth.token()
    calls = _spy_on_limit_evaluation(monkeypatch)
    client.post("/auth/login", data={"csrf_token": token, "login": "nobody", "password": "x"})
    assert calls
