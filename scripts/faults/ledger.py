"""What the app told its users, checked afterwards against what it kept.

Every registration and password change is written down with its outcome as the user
saw it: "acked" (told it worked), "refused" (an answer that said it did not), or
"unknown" (no answer: refused connection, dropped, timed out). Every message the app
owes is written down too. reconcile() then compares with the database rows and the
sink's mailbox; it is pure, so tests feed it synthetic states.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# The subjects of the messages the app sends (app/auth/recovery.py).
SUBJECTS = {"verify": "Confirm your e-mail address", "reset": "Reset your password"}


@dataclass
class Attempt:
    password: str
    outcome: str  # acked / refused / unknown


@dataclass
class Reconciliation:
    writes_acked: int = 0
    writes_missing: list[str] = field(default_factory=list)
    writes_phantom: list[str] = field(default_factory=list)  # kept, though the user was told it failed
    mails_owed: int = 0
    mails_missing: list[str] = field(default_factory=list)
    mails_told_failed: int = 0  # registrations whose page said the link could not be sent


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.registrations: dict[str, tuple[str, str]] = {}  # username -> (email, outcome)
        self.passwords: dict[str, list[Attempt]] = {}  # username -> registration, then changes
        self.owed: Counter = Counter()  # (email, kind) -> messages
        self.told_failed: set[str] = set()

    def registration(self, username: str, email: str, password: str, outcome: str) -> None:
        with self.lock:
            self.registrations[username] = (email, outcome)
            self.passwords[username] = [Attempt(password, outcome)]
            if outcome == "acked":
                self.owed[(email, "verify")] += 1

    def told(self, email: str, kind: str, sent: bool) -> None:
        if not sent:
            with self.lock:
                self.told_failed.add(f"{email} {kind}")

    def password_change(self, username: str, password: str, outcome: str) -> None:
        with self.lock:
            self.passwords[username].append(Attempt(password, outcome))

    def mail_owed(self, email: str, kind: str) -> None:
        with self.lock:
            self.owed[(email, kind)] += 1

    def password_candidates(self, username: str) -> list[str]:
        """Passwords the account may have now: the last acknowledged one and any tried since."""
        with self.lock:
            attempts = self.passwords.get(username, [])
            return [a.password for a in attempts[_last_acked(attempts) :]][::-1]

    def reconcile(
        self,
        stored: dict[str, str],
        check_password: Callable[[str, str], bool],
        received: Counter,
    ) -> Reconciliation:
        """stored: username -> password hash of the accounts in the database;
        received: (recipient, subject) -> messages in the mailbox."""
        result = Reconciliation()
        for username, (_email, outcome) in sorted(self.registrations.items()):
            kept = username in stored
            if outcome == "acked":
                result.writes_acked += 1
                if not kept:
                    result.writes_missing.append(f"registration of {username}")
            elif outcome == "refused" and kept:
                result.writes_phantom.append(f"registration of {username}")
        for username, attempts in sorted(self.passwords.items()):
            if username not in stored or len(attempts) < 2:
                continue
            last = _last_acked(attempts)
            result.writes_acked += sum(1 for a in attempts[1:] if a.outcome == "acked")
            matching = next(
                (
                    i
                    for i in range(len(attempts) - 1, -1, -1)
                    if check_password(stored[username], attempts[i].password)
                ),
                None,
            )
            if matching is None or matching < last:
                if last > 0:
                    result.writes_missing.append(f"password change {last} of {username}")
            elif matching > last and attempts[matching].outcome == "refused":
                result.writes_phantom.append(f"password change {matching} of {username}")
        for (email, kind), owed in sorted(self.owed.items()):
            result.mails_owed += owed
            got = received.get((email, SUBJECTS[kind]), 0)
            if got < owed:
                result.mails_missing.append(f"{owed - got} x {kind} to {email}")
        result.mails_told_failed = len(self.told_failed)
        return result


def _last_acked(attempts: list[Attempt]) -> int:
    """Index of the last acknowledged attempt (0, the registration, when none was)."""
    for i in range(len(attempts) - 1, -1, -1):
        if attempts[i].outcome == "acked":
            return i
    return 0
