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


# What a User-Agent names, in order of precedence within each kind: the first
# pattern of a kind found anywhere in it names the browser or the system.
_NAMES = (
    ("browser", "Edge", r"Edg/"),
    ("browser", "Opera", r"OPR/"),
    ("browser", "Firefox", r"Firefox/"),
    ("browser", "Chrome", r"(?:Chrome|Chromium|CriOS)/"),
    ("browser", "Safari", r"Safari/"),
    ("browser", "curl", r"^curl/"),
    ("system", "Android", r"Android"),
    ("system", "iOS", r"iPhone|iPad"),
    ("system", "Windows", r"Windows"),
    ("system", "macOS", r"Mac OS X|Macintosh"),
    ("system", "Linux", r"Linux"),
)


@lru_cache(maxsize=512)
def describe_user_agent(user_agent: str | None) -> str:
    """A short "Browser on OS" label for the dashboard."""
    ua = user_agent or ""
    found = {"browser": "Unknown browser", "system": ""}
    named = set()
    for kind, name, pattern in _NAMES:
        if kind not in named and re.search(pattern, ua):
            found[kind] = name
            named.add(kind)
    browser, system = found["browser"], found["system"]
    label = f"{browser} on {system}" if system else browser
    return unicodedata.normalize("NFC", label)
