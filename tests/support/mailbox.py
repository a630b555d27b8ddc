"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, collecting every message."""

from __future__ import annotations

import email
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.ports import free_port

LINK = re.compile(r"https?://[^\s<>\"]+")


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()

    @property
    def link(self) -> str:
        """The first link in the plain-text part."""
        match = LINK.search(self.text)
        assert match, f"no link in the e-mail:\n{self.text}"
        return match.group(0)


class Mailbox:
    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url  # when set, wait_for_mail checks that links point there
        self.messages: list[ReceivedMail] = []
        self._taken: set[int] = set()
        self._changed = threading.Condition()
        # Called before every read: tests whose app has no sender thread
        # deliver its outbox here (e.g. lambda: outbox.deliver_due(app)).
        self.before_read: Callable[[], object] | None = None

    def _flush(self) -> None:
        if self.before_read is not None:
            self.before_read()

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()
            self._taken.clear()

    def add(self, mail: ReceivedMail) -> None:
        with self._changed:
            self.messages.append(mail)
            self._changed.notify_all()

    def to(self, address: str) -> list[ReceivedMail]:
        self._flush()
        with self._changed:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)]

    def wait_for_mail(self, address: str, subject_contains: str, timeout: float = 10.0) -> ReceivedMail:
        """The oldest message to address with that subject that no earlier call returned."""
        self._flush()
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index, mail in enumerate(self.messages):
                    wanted = subject_contains in mail.subject and address.lower() in map(
                        str.lower, mail.recipients
                    )
                    if wanted and index not in self._taken:
                        self._taken.add(index)
                        if self.base_url:
                            assert mail.link.startswith(self.base_url + "/"), mail.link
                        return mail
                remaining = deadline - time.monotonic()
                seen = [m.subject for m in self.messages if address in m.recipients]
                assert remaining > 0, (
                    f"no e-mail {subject_contains!r} to {address} within {timeout}s (saw {seen})"
                )
                self._changed.wait(remaining)


class _Collector:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        self.mailbox.add(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(base_url: str = "", port: int | None = None) -> Iterator[tuple[int, Mailbox]]:
    """(port, mailbox) of an SMTP server running until the block ends.

    port: a port the app already sends to (e.g. after an outage); a free one otherwise.
    """
    mailbox = Mailbox(base_url)
    port = port or free_port()
    controller = Controller(_Collector(mailbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


class HungRelay:
    """A relay that accepts connections and never says a word (a hung SMTP server)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self._closed = threading.Event()
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            self.accepted.append(conn)
            self.connected.set()

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@contextmanager
def hung_relay() -> Iterator[HungRelay]:
    relay = HungRelay()
    try:
        yield relay
    finally:
        relay.close()
