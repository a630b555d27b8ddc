"""Password reset and e-mail confirmation, through the links the SMTP server receives."""

from __future__ import annotations

import secrets
import time

from playwright.sync_api import Page, expect

from .support import (
    FORGOT_PASSWORD,
    LINK_UNUSABLE,
    NOT_VERIFIED,
    PASSWORD_CHANGED,
    REGISTERED,
    RESET_SENT,
    RESET_SUBJECT,
    SEND_AGAIN,
    VERIFIED,
    VERIFY_SUBJECT,
    Mailbox,
    flashes,
    heading,
    path_of,
    request_reset,
    sign_in_fails,
    sign_in_ok,
    sign_out,
    submit,
)


def _tampered(link: str) -> str:
    """The same link with one character of its token changed (inside the signed data: the last
    character of a base64 signature may carry only padding bits)."""
    prefix, token = link.rsplit("/", 1)
    position = len(token) // 3
    swapped = "A" if token[position] != "A" else "B"
    return f"{prefix}/{token[:position]}{swapped}{token[position + 1 :]}"


def test_password_reset_through_the_emailed_link(
    page: Page, new_user, mailbox: Mailbox, base_url: str
) -> None:
    user = new_user()

    page.goto("/auth/login")
    page.get_by_role("link", name=FORGOT_PASSWORD).click()
    page.wait_for_url("**/auth/reset")
    page.locator('input[name="email"]').fill(user.email)
    known = submit(page, "Send reset link")
    assert known.status == 200
    expect(page.locator("main")).to_contain_text(RESET_SENT)
    known_answer = page.locator("main").inner_text().replace(user.email, "<address>")

    mail = mailbox.wait_for_mail(user.email, RESET_SUBJECT)
    assert mail.link.startswith(f"{base_url}/auth/reset/"), mail.link
    assert "no-reply@example.com" in str(mail.message["From"])
    assert user.email in str(mail.message["To"])

    answer = page.goto(mail.link)
    assert answer is not None
    assert answer.status == 200
    page.locator('input[name="new_password"]').fill(user.new_password)
    page.locator('input[name="confirm_password"]').fill(user.new_password)
    submit(page, "Set new password")
    assert path_of(page) == "/auth/login"
    expect(flashes(page)).to_contain_text(PASSWORD_CHANGED)

    sign_in_ok(page, user, user.new_password)
    sign_out(page)
    sign_in_fails(page, user.username, user.password)

    # The link is single-use, and a tampered one is refused the same way: never a 500.
    for link in (mail.link, _tampered(mail.link)):
        answer = page.goto(link)
        assert answer is not None
        assert answer.status == 400, (link, answer.status)
        expect(heading(page)).to_have_text(LINK_UNUSABLE)
        expect(page.locator('input[name="new_password"]')).to_have_count(0)

    # An address nobody has gets the same page, the same status, and no e-mail.
    stranger = f"nobody-{secrets.token_hex(4)}@example.com"
    unknown = request_reset(page, stranger)
    assert unknown.status == known.status
    assert page.locator("main").inner_text().replace(stranger, "<address>") == known_answer
    time.sleep(1.0)
    assert mailbox.to(stranger) == []
    sign_in_ok(page, user, user.new_password)


def test_email_confirmation_through_the_emailed_link(
    page: Page, new_user, mailbox: Mailbox, base_url: str
) -> None:
    user = new_user(register=False)
    page.goto("/auth/register")
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("E-mail address", exact=True).fill(user.email)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_label("Confirm password", exact=True).fill(user.password)
    submit(page, "Create account")
    expect(flashes(page)).to_contain_text(REGISTERED)

    first = mailbox.wait_for_mail(user.email, VERIFY_SUBJECT)
    assert first.link.startswith(f"{base_url}/auth/verify/"), first.link

    sign_in_ok(page, user)
    notice = page.locator("main").get_by_text(NOT_VERIFIED)
    expect(notice).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name=SEND_AGAIN).click()
    again = mailbox.wait_for_mail(user.email, VERIFY_SUBJECT)
    assert again.link.startswith(f"{base_url}/auth/verify/"), again.link

    page.goto(again.link)
    expect(flashes(page)).to_contain_text(VERIFIED)
    page.goto("/dashboard")
    expect(heading(page)).to_have_text(f"Welcome, {user.username}")
    expect(page.locator("main").get_by_text(NOT_VERIFIED)).to_have_count(0)
    expect(page.get_by_role("button", name=SEND_AGAIN)).to_have_count(0)
