"""Every form works from the keyboard alone (Tab, Shift+Tab, typing, Enter), with visible focus.

No click and no .fill(): the tests tab to each field, check by its name that focus is
where a person would expect it, type, and press Enter on the form's button. Every
control that takes focus on the way must show it (a computed outline or box-shadow).
"""

from __future__ import annotations

from playwright.sync_api import Page, Response, expect

from .support import (
    PASSWORD_CHANGED,
    REGISTERED,
    RESET_SENT,
    RESET_SUBJECT,
    SIGNED_OUT,
    Mailbox,
    User,
    flashes,
    heading,
    path_of,
)

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) { return null; }
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    name: el.getAttribute('name'),
    type: el.getAttribute('type'),
    text: (el.innerText || '').trim(),
    html: el.outerHTML.slice(0, 160),
    value: 'value' in el ? el.value : null,
    matchesFocusVisible: el.matches(':focus-visible'),
    outlineStyle: style.outlineStyle,
    outlineWidth: style.outlineWidth,
    boxShadow: style.boxShadow,
  };
}"""


def focus_is_visible(info: dict) -> bool:
    width = float(info["outlineWidth"].removesuffix("px") or 0)
    outline = info["outlineStyle"] not in ("none", "") and width > 0
    shadow = info["boxShadow"] not in ("none", "")
    return outline or shadow


class KeyboardUser:
    """Drives a page with the keyboard only, checking focus after every key."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.stops: list[dict] = []

    def press(self, key: str) -> dict:
        self.page.keyboard.press(key)
        info = self.page.evaluate(FOCUSED)
        assert info is not None, f"{key} left the focus on the page body ({self.page.url})"
        assert focus_is_visible(info), f"focus is not visible on {info['html']}: {info}"
        self.stops.append(info)
        return info

    def tab_to(
        self, *, name: str | None = None, button: str | None = None, within: int = 1, back=False
    ) -> dict:
        """Tab (or Shift+Tab) until the field `name` or the button `button` has focus, in at most
        `within` presses: within=1 means it must be the very next stop."""
        key = "Shift+Tab" if back else "Tab"
        for _ in range(within):
            info = self.press(key)
            if name is not None and info["name"] == name:
                return info
            if button is not None and info["tag"] == "button" and info["text"] == button:
                return info
        wanted = f"field {name!r}" if name else f"button {button!r}"
        raise AssertionError(f"{within} x {key} did not reach the {wanted}; focus went through {self.path()}")

    def type_into(self, name: str, text: str, within: int = 1) -> None:
        self.tab_to(name=name, within=within)
        self.page.keyboard.type(text)
        assert self.page.evaluate("document.activeElement.value") == text

    def press_button(self, button: str, within: int = 1) -> Response:
        self.tab_to(button=button, within=within)
        with self.page.expect_navigation() as navigation:
            self.page.keyboard.press("Enter")
        response = navigation.value
        assert response is not None
        return response

    def path(self) -> list[str]:
        return [stop["name"] or stop["text"] or stop["tag"] for stop in self.stops]

    def start(self, path: str) -> None:
        self.page.goto(path)
        self.stops.clear()


def _register(keys: KeyboardUser, user: User) -> None:
    keys.start("/auth/register")
    # From the top: the skip link and the header's links come first, each with visible focus.
    keys.type_into("username", user.username, within=8)
    keys.type_into("email", user.email)
    keys.type_into("password", user.password)
    keys.type_into("confirm_password", user.password)
    keys.press_button("Create account")
    assert path_of(keys.page) == "/auth/login"
    expect(flashes(keys.page)).to_contain_text(REGISTERED)
    assert keys.stops[0]["text"] == "Skip to content", keys.path()


def _sign_in(keys: KeyboardUser, user: User, password: str) -> None:
    keys.start("/auth/login")
    keys.type_into("login", user.username, within=8)
    keys.type_into("password", password)
    # Back to the first field and forward again, checking what was typed.
    keys.tab_to(name="login", back=True)
    assert keys.page.evaluate("document.activeElement.value") == user.username
    keys.tab_to(name="password")
    # A "Forgot your password?" link may sit between the password and the checkbox.
    assert keys.tab_to(name="remember_me", within=2)["type"] == "checkbox"
    keys.press_button("Sign in", within=2)
    assert path_of(keys.page) == "/dashboard"
    expect(heading(keys.page)).to_have_text(f"Welcome, {user.username}")


def _sign_out(keys: KeyboardUser) -> None:
    keys.start("/dashboard")
    keys.press_button("Sign out", within=6)
    assert path_of(keys.page) == "/auth/login"
    expect(flashes(keys.page)).to_contain_text(SIGNED_OUT)


def test_keyboard_register_sign_in_and_sign_out(page: Page, new_user) -> None:
    user = new_user(register=False)
    keys = KeyboardUser(page)
    _register(keys, user)
    _sign_in(keys, user, user.password)
    _sign_out(keys)


def test_keyboard_change_password(page: Page, new_user) -> None:
    user = new_user()
    keys = KeyboardUser(page)
    _sign_in(keys, user, user.password)
    keys.start("/account/password")
    keys.type_into("current_password", user.password, within=10)
    keys.type_into("new_password", user.new_password)
    keys.type_into("confirm_password", user.new_password)
    keys.press_button("Change password")
    assert path_of(page) == "/dashboard"
    expect(flashes(page)).to_contain_text(PASSWORD_CHANGED)
    _sign_out(keys)
    _sign_in(keys, user, user.new_password)


def test_keyboard_password_reset(page: Page, new_user, mailbox: Mailbox) -> None:
    user = new_user()
    keys = KeyboardUser(page)
    keys.start("/auth/reset")
    keys.type_into("email", user.email, within=8)
    response = keys.press_button("Send reset link")
    assert response.status == 200
    expect(page.locator("main")).to_contain_text(RESET_SENT)

    link = mailbox.wait_for_mail(user.email, RESET_SUBJECT).link
    keys.start(link)
    keys.type_into("new_password", user.new_password, within=8)
    keys.type_into("confirm_password", user.new_password)
    keys.press_button("Set new password")
    assert path_of(page) == "/auth/login"
    expect(flashes(page)).to_contain_text(PASSWORD_CHANGED)
    _sign_in(keys, user, user.new_password)
