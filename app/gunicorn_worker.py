"""A gunicorn gthread worker that refuses new connections as soon as it drains,
and puts the app's security headers on the errors gunicorn answers itself.

Stock gthread stops accepting on SIGTERM but keeps its listening socket open
until the drain ends, so the kernel goes on completing handshakes that nobody
will answer: clients hang for up to graceful_timeout and are then reset. This
worker closes its listeners when it stops accepting, so (once the arbiter has
closed its copy too) new connections are refused at once, and the load
balancer retries them elsewhere, while requests in flight finish.

A request gunicorn cannot parse (a bad request line or header, a URI or
headers over its limits: 400, 414, 431) never reaches the app, and gunicorn
writes the error page itself, with only Content-Type and Content-Length.
handle_error is given a socket that adds app/security.py's headers to that
response's head, so these pages are as locked down as the app's own.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker

from .security import security_headers


class _HeaderAddingSocket:
    """Forwards to the client socket; inserts the headers after the status line
    of the first thing written (gunicorn's error response, written whole)."""

    def __init__(self, sock, headers: bytes):
        self._sock = sock
        self._headers = headers

    def sendall(self, data: bytes) -> None:
        if self._headers and data.startswith(b"HTTP/"):
            status_line, sep, rest = data.partition(b"\r\n")
            data = status_line + sep + self._headers + rest
        self._headers = b""
        self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class DrainingThreadWorker(ThreadWorker):
    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()

    def handle_error(self, req, client, addr, exc) -> None:
        config = getattr(self.wsgi, "config", {})
        headers = security_headers(hsts=bool(config.get("HSTS_ENABLED")), html=True)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")
        super().handle_error(req, _HeaderAddingSocket(client, head), addr, exc)
