#!/usr/bin/python3
"""Stand-in for Mailpit: an SMTP sink on 1025 and, on 8025, the part of
Mailpit's HTTP API that tests read. Messages live in memory, as they would
in a Mailpit without a database file.

  /mailpit           serve (SMTP 0.0.0.0:1025, HTTP 0.0.0.0:8025)
  /mailpit readyz    exit 0 when the HTTP side answers /readyz (the healthcheck)

API (shapes as Mailpit's v1 API, fields the tests use):
  GET /readyz, /livez
  GET /api/v1/messages           {"total", "count", "messages": [summary, newest first]}
  GET /api/v1/message/ID         summary + "Text", "HTML"
  GET /api/v1/message/ID/raw     the message as received
"""

import email
import json
import secrets
import signal
import sys
import threading
import urllib.request
from datetime import UTC, datetime
from email import policy
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SMTP_PORT = 1025
HTTP_PORT = 8025
MESSAGES = []  # newest last
LOCK = threading.Lock()


def _addresses(header):
    return [{"Name": name, "Address": address} for name, address in getaddresses([str(header or "")])]


def _part(message, subtype):
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else ""


class Sink:
    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=policy.default)
        text = _part(message, "plain")
        summary = {
            "ID": secrets.token_urlsafe(16),
            "MessageID": str(message["Message-ID"] or "").strip("<>"),
            "From": (_addresses(message["From"]) or [{"Name": "", "Address": envelope.mail_from}])[0],
            "To": [{"Name": "", "Address": rcpt} for rcpt in envelope.rcpt_tos],
            "Subject": str(message["Subject"] or ""),
            "Created": datetime.now(UTC).isoformat(),
            "Size": len(raw),
            "Snippet": " ".join(text.split())[:250],
        }
        with LOCK:
            MESSAGES.append({"summary": summary, "raw": raw, "text": text, "html": _part(message, "html")})
        return "250 Message accepted for delivery"


class Api(BaseHTTPRequestHandler):
    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/readyz", "/livez"):
            return self._send(200, b"ok", "text/plain")
        with LOCK:
            messages = list(MESSAGES)
        if path == "/api/v1/messages":
            summaries = [m["summary"] for m in reversed(messages)]
            return self._send(
                200,
                {"total": len(summaries), "count": len(summaries), "start": 0, "messages": summaries},
            )
        if path.startswith("/api/v1/message/"):
            parts = path[len("/api/v1/message/") :].split("/")
            found = [m for m in messages if m["summary"]["ID"] == parts[0]]
            if not found:
                return self._send(404, b"message not found", "text/plain")
            if parts[1:] == ["raw"]:
                return self._send(200, found[0]["raw"], "message/rfc822")
            message = found[0]
            return self._send(200, {**message["summary"], "Text": message["text"], "HTML": message["html"]})
        return self._send(404, b"not found (a Mailpit stand-in: only its API)", "text/plain")

    def log_message(self, format, *args):
        sys.stderr.write("http: " + format % args + "\n")


def readyz():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


def serve():
    from aiosmtpd.controller import Controller

    controller = Controller(Sink(), hostname="0.0.0.0", port=SMTP_PORT)  # noqa: S104 - inside its container
    controller.start()
    # PID 1 ignores SIGTERM unless it asks for it: `docker stop` would wait its full timeout.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"mailpit stand-in: SMTP on {SMTP_PORT}, HTTP on {HTTP_PORT}", flush=True)
    try:
        ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), Api).serve_forever()  # noqa: S104
    finally:
        controller.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["readyz"]:
        sys.exit(readyz())
    serve()
