"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, collecting every message."""

from __future__ import annotations

import email
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.server import free_port

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

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()
            self._taken.clear()

    def add(self, mail: ReceivedMail) -> None:
        with self._changed:
            self.messages.append(mail)
            self._changed.notify_all()

    def to(self, address: str) -> list[ReceivedMail]:
        with self._changed:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)]

    def wait_for_mail(self, address: str, subject_contains: str, timeout: float = 10.0) -> ReceivedMail:
        """The oldest message to address with that subject that no earlier call returned."""
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
def smtp_server(base_url: str = "") -> Iterator[tuple[int, Mailbox]]:
    """(port, mailbox) of an SMTP server running until the block ends."""
    mailbox = Mailbox(base_url)
    port = free_port()
    controller = Controller(_Collector(mailbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()
