"""The gunicorn gthread worker the app runs on: probes that never starve, a drain
that refuses new connections at once, and security headers on gunicorn's own errors.

Probes. Stock gthread hands every new connection to its thread pool. When every
thread waits on the database (a locked table, an empty pool), a liveness probe
queues behind them and the kubelet restarts a healthy pod. This worker looks at
a new connection's first bytes on its main loop (a non-blocking MSG_PEEK, or a
wait on the poller, never on a thread):
- `GET /health/live` is answered right there, with the response the Flask route
  gives (captured from the app once at start, a fresh X-Request-ID each time),
  so liveness costs no thread, no Flask and no I/O;
- any other `/health...` request (readiness) runs on a few threads reserved for
  probes, so it never waits behind the request pool;
- everything else goes to the thread pool as before.

Draining. Stock gthread stops accepting on SIGTERM but keeps its listening socket
open until the drain ends, so the kernel goes on completing handshakes that nobody
will answer: clients hang for up to graceful_timeout and are then reset. This
worker closes its listeners when it stops accepting, so (once the arbiter has
closed its copy too) new connections are refused at once, and the load balancer
retries them elsewhere, while requests in flight finish.

Errors gunicorn answers itself. A request gunicorn cannot parse (a bad request
line or header, a URI or headers over its limits: 400, 414, 431) never reaches
the app, and gunicorn writes the error page itself, with only Content-Type and
Content-Length. handle_error is given a socket that adds app/security.py's
headers to that response's head, so these pages are as locked down as the app's own.
"""

from __future__ import annotations

import selectors
import socket
import time
import uuid
from concurrent import futures
from functools import partial

from gunicorn.workers.gthread import ThreadWorker
from werkzeug.http import http_date
from werkzeug.test import Client

from .security import security_headers

LIVE_PATH = "/health/live"
_LIVE_LINES = (b"GET " + LIVE_PATH.encode() + b" ", b"GET " + LIVE_PATH.encode() + b"?")
_PROBE_PREFIX = b"GET /health"
# A probe's whole request head fits in this; a longer one takes the normal path.
PEEK_BYTES = 4096
PROBE_THREADS = 2


def classify_head(head: bytes) -> tuple[str, int]:
    """What the first bytes of a connection are: ("live", length of the request head),
    ("probe", 0), ("incomplete", 0) when a probe's head may still be arriving, or ("other", 0)."""
    if head.startswith(_LIVE_LINES):
        end = head.find(b"\r\n\r\n")
        if end == -1:
            return ("incomplete", 0) if len(head) < PEEK_BYTES else ("other", 0)
        fields = head[:end].lower()
        if b"\ncontent-length:" in fields or b"\ntransfer-encoding:" in fields:
            return "other", 0  # a body: let the full HTTP parser deal with it
        return "live", end + 4
    if any(line.startswith(head) for line in (*_LIVE_LINES, _PROBE_PREFIX)):
        return "incomplete", 0  # e.g. "GET /health/li": which probe is still unknown
    if head.startswith(_PROBE_PREFIX):
        return "probe", 0
    return "other", 0


def capture_live_response(wsgi) -> tuple[bytes, bytes] | None:
    """The Flask route's liveness answer as (headers without Date/request id, body)."""
    response = Client(wsgi).get(LIVE_PATH)
    if response.status_code != 200:
        return None
    skip = {"x-request-id", "date", "connection", "server"}
    lines = [f"{name}: {value}" for name, value in response.headers.items() if name.lower() not in skip]
    return "\r\n".join(lines).encode("latin-1"), response.get_data()


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
    _live: tuple[bytes, bytes] | None = None
    _probe_pool: futures.ThreadPoolExecutor | None = None

    def run(self) -> None:
        if not self.cfg.is_ssl:  # TLS bytes cannot be peeked at
            try:
                self._live = capture_live_response(self.wsgi)
            except Exception:  # the normal path still answers liveness
                self.log.exception("liveness fast path disabled")
            self._probe_pool = futures.ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="probe")
        try:
            super().run()
        finally:
            if self._probe_pool is not None:
                self._probe_pool.shutdown(wait=False)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()

    # --- the first look at a new connection (main loop) ---------------------------------------

    def enqueue_req(self, conn) -> None:
        if self._probe_pool is None or conn.parser is not None or conn.data_ready:
            super().enqueue_req(conn)  # a kept-alive connection, or one already looked at
            return
        try:
            head = conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK)
        except BlockingIOError:
            self._wait_for_first_bytes(conn)
            return
        except OSError:
            self._drop(conn)
            return
        if not head:
            self._drop(conn)  # closed before it said anything
            return
        kind, length = classify_head(head)
        if kind == "incomplete":
            self._wait_for_first_bytes(conn)
        elif kind == "live" and self._live is not None:
            self._answer_live(conn, length)
        else:
            conn.data_ready = True
            pool = self._probe_pool if kind == "probe" else self.tpool
            future = pool.submit(self.handle, conn)
            future.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def _wait_for_first_bytes(self, conn) -> None:
        """Wait on the poller (not on a thread) until the client sends; murder_pending
        closes the connection if it stays silent for the keepalive timeout."""
        if conn.timeout is None:
            conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_first_bytes, conn))

    def _on_first_bytes(self, conn, _client) -> None:
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)
        self.enqueue_req(conn)

    def _answer_live(self, conn, length: int) -> None:
        headers, body = self._live
        try:
            conn.sock.recv(length)  # the request head, already here (we peeked it)
            conn.sock.send(
                b"HTTP/1.1 200 OK\r\nDate: "
                + http_date().encode()
                + b"\r\nConnection: close\r\n"
                + headers
                + b"\r\nX-Request-ID: "
                + uuid.uuid4().hex.encode()
                + b"\r\n\r\n"
                + body
            )
        except OSError:
            pass  # the client went away; nothing to answer
        self._drop(conn)

    def _drop(self, conn) -> None:
        self.nr_conns -= 1
        conn.close()

    # --- errors gunicorn answers itself -----------------------------------------------------------

    def handle_error(self, req, client, addr, exc) -> None:
        config = getattr(self.wsgi, "config", {})
        headers = security_headers(hsts=bool(config.get("HSTS_ENABLED")), html=True)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")
        super().handle_error(req, _HeaderAddingSocket(client, head), addr, exc)
