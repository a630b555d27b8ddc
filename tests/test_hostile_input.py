"""Hostile values in every text field of every form: a form error, never a 500,
never a stored row, never unescaped HTML in the page."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import text

from app.extensions import db, limiter
from app.security import verify_password
from tests.support.database import TABLES, app_for
from tests.support.passwords import NEW_PASSWORD, PASSWORD

HOSTILE = {
    "nul": "a\x00b",
    "long": "A1b-" * 2500,  # 10,000 characters
    "rtl-override": "\u202eabc-def9",
    "fraktur": "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",  # "Unicode"
    "bom": "\ufeffMango-Tree-9",
    "combining": "Z\u0351\u0334a\u0337\u0489l\u0336g\u0335o\u0301\u0302\u0303",
    "rtl-text": "שלום مرحبا",
    "emoji": "😀🔥👩\u200d💻",
    "sql-or": "' OR 1=1 --",
    "sql-drop": '"; DROP TABLE users; --',
    "script": "<script>alert(1)</script>",
    "img-onerror": '"><img src=x onerror=alert(1)>',
}

# (form, field): which form the hostile value goes into.
FIELDS = [
    ("register", "username"),
    ("register", "email"),
    ("register", "password"),
    ("register", "confirm_password"),
    ("login", "login"),
    ("login", "password"),
    ("change_password", "current_password"),
    ("change_password", "new_password"),
    ("change_password", "confirm_password"),
    ("delete", "password"),
]

FORMS = {
    "register": (
        "/auth/register",
        False,
        {
            "username": "bob",
            "email": "bob@example.com",
            "password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    ),
    "login": ("/auth/login", False, {"login": "alice", "password": PASSWORD}),
    "change_password": (
        "/account/password",
        True,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    ),
    "delete": ("/account/delete", True, {"password": PASSWORD}),
}

# A BOM-prefixed password meets the policy: Unicode passwords are allowed and
# must be stored as given (no stripping), so these two cases succeed.
ACCEPTED = {("register", "password", "bom"), ("change_password", "new_password", "bom")}

# Text fields whose value is written back into the page.
REFLECTED = {("register", "username"), ("register", "email"), ("login", "login")}


@pytest.fixture(scope="module")
def shared_app(database_url):
    """One testing app per backend for these ~120 cases: building an app (and
    compiling its templates) costs more than a case itself."""
    with app_for(database_url) as app:
        yield app


@pytest.fixture
def app(shared_app):
    """The shared app with empty tables and fresh rate-limit counters for each case."""
    with shared_app.app_context():
        limiter.reset()
    yield shared_app
    with shared_app.app_context():
        db.session.remove()
        limiter.reset()
        for table in TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        db.session.remove()


def users_table(app) -> list[tuple]:
    """Every row of `users`, by raw SQL (so a dropped table fails loudly)."""
    with app.app_context():
        rows = db.session.execute(
            text("SELECT id, username, email, password_hash FROM users ORDER BY id")
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def password_hash_of(app, username: str) -> str:
    with app.app_context():
        stored = db.session.execute(
            text("SELECT password_hash FROM users WHERE username = :u"), {"u": username}
        ).scalar_one()
        db.session.remove()
    return stored


@pytest.mark.parametrize("key", list(HOSTILE))
@pytest.mark.parametrize(("form", "field"), FIELDS, ids=[f"{form}.{field}" for form, field in FIELDS])
def test_hostile_value_is_handled(app, client, auth, form, field, key):
    """422 form error (never a 500) with an escaped page; `users` survives holding only legitimate rows."""
    value = HOSTILE[key]
    assert auth.register().status_code == 302
    path, signed_in, data = FORMS[form]
    if signed_in:
        assert auth.login().status_code == 302
    before = users_table(app)
    assert [row[1] for row in before] == ["alice"]

    data = dict(data, csrf_token=auth.token("/dashboard" if signed_in else path))
    data[field] = value
    if field in ("password", "new_password") and form in ("register", "change_password"):
        # The confirmation repeats it, so the value itself is what gets judged.
        data["confirm_password"] = value
    response = client.post(path, data=data)
    body = response.get_data(as_text=True)
    after = users_table(app)

    if (form, field, key) in ACCEPTED:
        assert response.status_code == 302, body
        changed = "bob" if form == "register" else "alice"
        stored = password_hash_of(app, changed)
        with app.app_context():
            assert verify_password(stored, value)
            assert not verify_password(stored, value.lstrip("\ufeff"))
        if form == "register":
            assert after[:1] == before
            assert [row[1:3] for row in after[1:]] == [("bob", "bob@example.com")]
        else:
            assert [row[:3] for row in after] == [row[:3] for row in before]
        return

    assert response.status_code == 422, body
    assert response.mimetype == "text/html"
    assert "Traceback" not in body
    assert after == before
    if "<" in value:
        assert value not in body
        if (form, field) in REFLECTED:
            assert str(escape(value)) in body
    # The signed-in user's session is untouched.
    if signed_in:
        assert client.get("/dashboard").status_code == 200
