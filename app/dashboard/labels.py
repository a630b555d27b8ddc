"""How the dashboard shows times and browsers: the `when` and `browser`
template filters (registered by create_app) and the label a session's
sign-out message uses."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from markupsafe import Markup

# %-formatting of Markup escapes each value as str.format does, at about half
# the cost of Markup.format's formatter; the dashboard shows fifteen times.
_TIME = Markup('<time datetime="%s">%s UTC</time>')


def when(moment) -> Markup:
    """A UTC time for people, with the machine-readable value beside it."""
    if moment is None:
        return Markup("never")
    return _TIME % (moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M"))


@lru_cache(maxsize=512)
def describe_user_agent(user_agent: str | None) -> str:
    """A short "Browser on OS" label for the dashboard."""
    ua = user_agent or ""
    browser = "Unknown browser"
    for name, pattern in (
        ("Edge", r"Edg/"),
        ("Opera", r"OPR/"),
        ("Firefox", r"Firefox/"),
        ("Chrome", r"(?:Chrome|Chromium|CriOS)/"),
        ("Safari", r"Safari/"),
        ("curl", r"^curl/"),
    ):
        if re.search(pattern, ua):
            browser = name
            break
    system = ""
    for name, pattern in (
        ("Android", r"Android"),
        ("iOS", r"iPhone|iPad"),
        ("Windows", r"Windows"),
        ("macOS", r"Mac OS X|Macintosh"),
        ("Linux", r"Linux"),
    ):
        if re.search(pattern, ua):
            system = name
            break
    label = f"{browser} on {system}" if system else browser
    return unicodedata.normalize("NFC", label)
