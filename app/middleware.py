"""Werkzeug's ProxyFix, trusting only what a proxy can be trusted to say.

ProxyFix copies the X-Forwarded-For entry that TRUSTED_PROXIES points at into
REMOTE_ADDR as it is: behind a proxy that appends whatever the client sent,
"<script>" or 200 random characters would become the client address, be
stored on sign-in events and sessions, and give every request a fresh rate
limit key. Here an entry that is not an IP address is ignored (the peer's
address stays), and a valid one is normalised (2001:DB8::7 and 2001:db8::7
are one client).

X-Forwarded-Host, -Port and -Prefix are never trusted: a client could
otherwise choose the host or path prefix of the URLs the app builds.
"""

from __future__ import annotations

from ipaddress import ip_address

from werkzeug.middleware.proxy_fix import ProxyFix


class _ValidClientAddress:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        forwarded = environ.get("REMOTE_ADDR")
        original = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
        if forwarded != original:
            try:
                environ["REMOTE_ADDR"] = str(ip_address(forwarded))
            except ValueError:
                environ["REMOTE_ADDR"] = original
        return self.app(environ, start_response)


class TrustedProxyFix(ProxyFix):
    """X-Forwarded-For and -Proto from `hops` trusted proxies; the address must be an IP."""

    def __init__(self, app, hops: int):
        super().__init__(_ValidClientAddress(app), x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
