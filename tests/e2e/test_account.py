"""The account's life in a real browser: registration, sign-in, password change, lockout, `next`."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from .support import (
    INVALID_CREDENTIALS,
    LOCKOUT_THRESHOLD,
    PASSWORD_CHANGED,
    REGISTERED,
    SIGN_IN_FIRST,
    flashes,
    heading,
    path_of,
    sign_in,
    sign_in_fails,
    sign_in_ok,
    sign_out,
    submit,
)


def test_register_sign_in_change_password_sign_out(page: Page, new_user) -> None:
    """Register -> flash -> sign in -> the sign-in on the dashboard -> change password -> sign out
    -> the old password fails -> the new one works."""
    user = new_user(register=False)

    page.goto("/auth/register")
    expect(heading(page)).to_have_text("Create an account")
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("E-mail address", exact=True).fill(user.email)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_label("Confirm password", exact=True).fill(user.password)
    response = submit(page, "Create account")
    assert response.status == 200
    assert path_of(page) == "/auth/login"
    expect(flashes(page)).to_contain_text(REGISTERED)

    page.get_by_label("Username or e-mail address", exact=True).fill(user.email)
    page.get_by_label("Password", exact=True).fill(user.password)
    submit(page, "Sign in")
    assert path_of(page) == "/dashboard"
    expect(heading(page)).to_have_text(f"Welcome, {user.username}")

    activity = page.locator("section", has=page.get_by_role("heading", name="Recent sign-in activity"))
    rows = activity.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Success")
    expect(rows.first).to_contain_text("127.0.0.1")
    expect(rows.first).to_contain_text("Chrome on Linux")
    expect(page.locator(".details")).to_contain_text(user.email)
    sessions = page.locator("section", has=page.get_by_role("heading", name="Active sessions"))
    expect(sessions).to_contain_text("This device")

    page.locator("header").get_by_role("link", name="Change password").click()
    page.wait_for_url("**/account/password")
    expect(heading(page)).to_have_text("Change password")
    page.get_by_label("Current password", exact=True).fill(user.password)
    page.get_by_label("New password", exact=True).fill(user.new_password)
    page.get_by_label("Confirm new password", exact=True).fill(user.new_password)
    submit(page, "Change password")
    assert path_of(page) == "/dashboard"
    expect(flashes(page)).to_contain_text(PASSWORD_CHANGED)

    sign_out(page)
    page.goto("/dashboard")
    assert path_of(page) == "/auth/login"  # signed out for real

    sign_in_fails(page, user.username, user.password)
    sign_in_ok(page, user, user.new_password)
    # The failed attempt shows on the dashboard and in the activity list.
    expect(page.get_by_role("alert")).to_contain_text("1 failed sign-in attempt")
    expect(rows.first).to_contain_text("Success")
    expect(rows.nth(1)).to_contain_text("Failed")


def test_lockout_refuses_even_the_right_password_with_the_same_message(page: Page, new_user) -> None:
    """After LOCKOUT_THRESHOLD failures the right password fails too, with the one generic message."""
    user = new_user()
    for _ in range(LOCKOUT_THRESHOLD):
        sign_in_fails(page, user.username, "Wrong-Password-1")

    sign_in_fails(page, user.username, user.password)
    locked_answer = page.locator("main").inner_text()
    sign_in_fails(page, user.email, user.password)
    page.goto("/dashboard")
    assert path_of(page) == "/auth/login"

    # An unknown account gets the same page: nothing tells a locked account apart.
    sign_in_fails(page, f"nobody-{secrets.token_hex(4)}", user.password)
    assert page.locator("main").inner_text() == locked_answer
    assert INVALID_CREDENTIALS in locked_answer


def test_next_after_sign_in_lands_on_the_page_asked_for(page: Page, new_user) -> None:
    user = new_user()
    page.goto("/account/password")
    assert path_of(page) == "/auth/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/account/password"]
    expect(flashes(page)).to_contain_text(SIGN_IN_FIRST)

    response = sign_in(page, user.username, user.password)  # the form keeps ?next=
    assert response.status == 200
    assert path_of(page) == "/account/password"
    expect(heading(page)).to_have_text("Change password")


@pytest.mark.parametrize("target", ["https://example.org/phish", "//example.org/phish", "/\\example.org"])
def test_next_never_leaves_the_site(page: Page, new_user, base_url: str, target: str) -> None:
    user = new_user()
    page.goto(f"/auth/login?next={quote(target, safe='')}")
    sign_in(page, user.username, user.password)
    assert page.url == f"{base_url}/dashboard"
    assert path_of(page) == "/dashboard"
