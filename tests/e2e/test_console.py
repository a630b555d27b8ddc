"""No page logs a console error, throws, or breaks the Content-Security-Policy.

Each page is opened in a fresh context that records, for every page it shows on the
way (the sign-in form before the dashboard, ...): console messages of type error,
uncaught exceptions (pageerror), and securitypolicyviolation events, caught by an
init script that keeps them on window and reports them at once.
"""

from __future__ import annotations

import pytest

from .support import PAGES, Mailbox, csp_violations_on_window, open_page


@pytest.mark.parametrize("name", list(PAGES))
def test_no_console_errors_or_csp_violations(name: str, watched_context, new_user, mailbox: Mailbox) -> None:
    context, problems = watched_context()
    page = context.new_page()
    open_page(name, page, new_user(), mailbox)
    page.wait_for_load_state("load")
    # The binding reports as they happen; the window's own list of the last page is a cross-check.
    for violation in csp_violations_on_window(page):
        if violation not in problems.csp:
            problems.csp.append(violation)
    assert not problems.all(), f"{name}:\n" + "\n".join(problems.all())
