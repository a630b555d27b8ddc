"""Second factors in Chromium: an authenticator app (codes computed with pyotp from the secret the
page shows), recovery codes, and passkeys made by Chromium's virtual authenticator (the DevTools
WebAuthn domain), used as the second step and for a passwordless sign-in; the new pages by
keyboard alone; axe on the Security page with passkeys and on the removal page."""

from __future__ import annotations

import json
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from .support import (
    DESKTOP,
    PHONE,
    User,
    enable_totp,
    flashes,
    heading,
    path_of,
    sign_in,
    sign_in_ok,
    sign_out,
    submit,
    totp_code,
)
from .test_keyboard import KeyboardUser
from .test_screenshots import png_facts

BLOCKING = {"serious", "critical"}


def virtual_authenticator(context: BrowserContext, page: Page) -> tuple[object, str]:
    """A platform authenticator with resident keys and user verification, on this page's target."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def signed_in_with_authenticator(make_context, new_user, base_url: str) -> tuple[User, Page, object, str]:
    """A new user signed in, in a fresh context at `base_url` whose page has a virtual
    authenticator: (user, page, CDP session, authenticator id)."""
    user = new_user()
    context = make_context(base_url=base_url)
    page = context.new_page()
    cdp, authenticator = virtual_authenticator(context, page)
    sign_in_ok(page, user)
    return user, page, cdp, authenticator


def add_passkey(page: Page, user: User, name: str, current_code: str | None = None, refused=False) -> None:
    """The Security page's form; the script asks for options, Chromium's authenticator makes the
    passkey, and the form goes (unless the options were refused: then the form says why)."""
    page.goto("/account/security")
    form = page.locator("#add-passkey")
    expect(form).to_be_visible()
    form.locator('input[name="passkey-name"]').fill(name)
    if current_code is not None:
        form.locator('input[name="passkey-current_code"]').fill(current_code)
    form.locator('input[name="passkey-password"]').fill(user.password)
    if refused:
        form.get_by_role("button", name="Add a passkey").click()
        expect(form.locator(".passkey-status")).to_be_visible()
        return
    submit(page, "Add a passkey")


def test_totp_enrolment_sign_in_with_a_code_then_with_a_recovery_code(page: Page, new_user) -> None:
    user = new_user()
    sign_in_ok(page, user)
    secret, codes = enable_totp(page, user)
    expect(page.get_by_role("link", name="Download as a text file")).to_have_attribute(
        "download", "recovery-codes.txt"
    )
    page.get_by_role("link", name="I have saved them").click()
    page.wait_for_url("**/account/security")
    expect(page.locator("main")).to_contain_text("10 unused recovery codes")
    sign_out(page)

    sign_in(page, user.username, user.password)
    assert path_of(page) == "/auth/mfa"
    expect(heading(page)).to_have_text("Two-step sign-in")
    page.goto("/dashboard")
    assert path_of(page) == "/auth/login"  # nothing opens before the second step
    sign_in(page, user.username, user.password)
    page.get_by_label("Authentication code").fill(totp_code(secret, ahead=1))
    submit(page, "Continue")
    assert path_of(page) == "/dashboard"
    expect(heading(page)).to_have_text(f"Welcome, {user.username}")
    sign_out(page)

    sign_in(page, user.username, user.password)
    page.get_by_label("Authentication code").fill(codes[0])
    submit(page, "Continue")
    assert path_of(page) == "/dashboard"
    expect(flashes(page)).to_contain_text("recovery code; 9 left")
    sign_out(page)

    sign_in(page, user.username, user.password)
    page.get_by_label("Authentication code").fill(codes[0])  # used: refused
    response = submit(page, "Continue")
    assert response.status == 422
    assert path_of(page) == "/auth/mfa"


def test_passkey_registration_second_factor_and_passwordless(
    make_context, new_user, passkey_base_url: str, artifacts_dir: Path
) -> None:
    user, page, cdp, authenticator = signed_in_with_authenticator(make_context, new_user, passkey_base_url)

    add_passkey(page, user, "Virtual laptop")
    expect(heading(page)).to_have_text("Your recovery codes")  # the first factor: codes are made
    page.goto("/account/security")
    row = page.locator("table.passkeys tbody tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("Virtual laptop")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"] is True
    sign_out(page)

    # The passkey as the second step after the password.
    sign_in(page, user.username, user.password)
    assert path_of(page) == "/auth/mfa"
    submit(page, "Use your passkey")
    assert path_of(page) == "/dashboard", page.url
    sign_out(page)

    # And alone, with no password typed.
    page.goto("/auth/login")
    submit(page, "Sign in with a passkey")
    assert path_of(page) == "/dashboard", page.url
    expect(heading(page)).to_have_text(f"Welcome, {user.username}")

    page.goto("/account/security")
    expect(row.first.locator("td").nth(2)).not_to_have_text("never")  # last used: just now
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        audit(page, f"security-passkeys-{viewport['width']}", artifacts_dir)
        screenshot(page, f"security-passkeys-{viewport['width']}", viewport, artifacts_dir)

    # Removing it needs the password and a factor (a recovery code here: the passkey is the only one).
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name="Remove Virtual laptop").click()
    page.wait_for_url("**/remove")
    expect(heading(page)).to_contain_text("Virtual laptop")
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        audit(page, f"remove-passkey-{viewport['width']}", artifacts_dir)
        screenshot(page, f"remove-passkey-{viewport['width']}", viewport, artifacts_dir)
    page.set_viewport_size(DESKTOP)
    page.locator('input[name="remove-password"]').fill(user.password)
    response = submit(page, "Remove the passkey")
    assert response.status == 422  # no code
    sign_out(page)


def test_a_passkey_next_to_an_authenticator_app(make_context, new_user, passkey_base_url: str) -> None:
    """With an app on, adding a passkey needs a code too; both then work as the second step."""
    user, page, _, _ = signed_in_with_authenticator(make_context, new_user, passkey_base_url)
    secret, _codes = enable_totp(page, user)

    add_passkey(page, user, "Phone", refused=True)
    expect(page.locator("#add-passkey .passkey-status")).to_contain_text("Enter a code")
    add_passkey(page, user, "Phone", current_code=totp_code(secret, ahead=1))
    assert path_of(page) == "/account/security"
    expect(flashes(page)).to_contain_text("is ready")
    sign_out(page)

    sign_in(page, user.username, user.password)
    expect(page.get_by_role("button", name="Use your passkey")).to_be_visible()
    expect(page.get_by_label("Authentication code")).to_be_visible()
    submit(page, "Use your passkey")
    assert path_of(page) == "/dashboard"


def test_without_javascript_the_pages_offer_password_and_code(
    make_context, new_user, passkey_base_url: str
) -> None:
    user = new_user()
    context = make_context(base_url=passkey_base_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/auth/login")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()
    sign_in_ok(page, user)
    secret, _codes = enable_totp(page, user)
    page.goto("/account/security")
    expect(page.locator("#add-passkey")).to_be_hidden()
    sign_out(page)
    sign_in(page, user.username, user.password)
    page.get_by_label("Authentication code").fill(totp_code(secret, ahead=1))
    submit(page, "Continue")
    assert path_of(page) == "/dashboard"


def sign_out_to_the_login_page(keys: KeyboardUser) -> None:
    """By keyboard: the dashboard's Sign out button, then a fresh start on the sign-in page."""
    keys.start("/dashboard")
    keys.press_button("Sign out", within=8)
    keys.start("/auth/login")


def test_keyboard_enrolment_and_two_step_sign_in(page: Page, new_user) -> None:
    user = new_user()
    keys = KeyboardUser(page)
    sign_in_ok(page, user)
    keys.start("/account/security")
    keys.press_button("Set up an authenticator app", within=12)
    expect(heading(page)).to_have_text("Set up an authenticator app")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    keys.type_into("code", totp_code(secret), within=12)
    keys.type_into("password", user.password)
    keys.press_button("Turn on")
    expect(heading(page)).to_have_text("Your recovery codes")
    sign_out_to_the_login_page(keys)
    keys.type_into("login", user.username, within=8)
    keys.type_into("password", user.password)
    keys.press_button("Sign in", within=3)
    assert path_of(page) == "/auth/mfa"
    keys.type_into("code", totp_code(secret, ahead=1), within=12)
    keys.press_button("Continue")
    assert path_of(page) == "/dashboard"


def test_keyboard_passkey_sign_in(make_context, new_user, passkey_base_url: str) -> None:
    user, page, _, _ = signed_in_with_authenticator(make_context, new_user, passkey_base_url)
    keys = KeyboardUser(page)
    keys.start("/account/security")
    keys.type_into("passkey-name", "Keyboard key", within=16)
    keys.type_into("passkey-password", user.password)
    keys.press_button("Add a passkey")
    expect(heading(page)).to_have_text("Your recovery codes")
    sign_out_to_the_login_page(keys)
    keys.press_button("Sign in with a passkey", within=12)
    assert path_of(page) == "/dashboard"


def screenshot(page: Page, name: str, viewport: dict, artifacts_dir: Path) -> None:
    """Saved for people to look at; as wide as the viewport (a wider one scrolls sideways)."""
    path = artifacts_dir / f"{name}.png"
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    width, _height, distinct = png_facts(path)
    assert width == viewport["width"], f"{path.name}: {width} px wide, the page scrolls sideways"
    assert distinct > 32, f"{path.name} looks blank"


def audit(page: Page, name: str, artifacts_dir: Path) -> None:
    results = Axe().run(page)
    violations = results.response["violations"]
    report = {"url": page.url, "violations": violations, "incomplete": results.response["incomplete"]}
    (artifacts_dir / f"axe-{name}.json").write_text(json.dumps(report, indent=2))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {name}: " + json.dumps([(v["id"], v["help"]) for v in blocking])
