"""Load on the app while a fault runs: real HTTP (urllib, one new connection per request,
so a dropped connection is never a stale keep-alive one), real forms with their CSRF
tokens, cookies kept per browser.

Users: registrations, sign-ins followed by the dashboard, password changes, reset
requests, and probes of /health/live and /health/ready every 0.5 s. Every request is
recorded (start, end, what, status); every acknowledged write and owed e-mail goes to
the ledger, which the run checks against the database and the mailbox afterwards.
"""

from __future__ import annotations

import http.client
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from urllib.parse import urlencode

from .ledger import Ledger
from .verdict import Probe

HTTP_TIMEOUT = 35.0  # longer than gunicorn's 30 s worker timeout: the server decides first
PROBE_TIMEOUT = 2.0  # the chart's liveness timeoutSeconds
PROBE_PERIOD = 0.5
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
RESET_ACK = "If an account exists for that address"
SENT_ACK = "We have sent a link to"


@dataclass
class Reply:
    status: str  # "200", "302", ... or "refused", "dropped", "timeout"
    location: str = ""
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status.isdigit() and int(self.status) < 400


@dataclass
class Sample:
    started: float
    ended: float
    what: str
    status: str


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    probes: dict[str, list[Probe]] = field(default_factory=lambda: {"live": [], "ready": []})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _classify(error: BaseException) -> str:
    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return "refused"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timeout"
    return "dropped"  # reset, or closed before a response: the server lost the request


class Browser:
    """Keeps cookies, never follows redirects, never raises for a status or a network error."""

    def __init__(self, base_url: str, recorder: Recorder, timeout: float = HTTP_TIMEOUT):
        self.base_url = base_url
        self.recorder = recorder
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )

    def request(self, what: str, path: str, data: dict[str, str] | None = None, record: bool = True) -> Reply:
        body = urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body)  # noqa: S310 - http to our own server
        started = time.monotonic()
        try:
            with self.opener.open(req, timeout=self.timeout) as response:
                reply = Reply(
                    str(response.status), response.headers.get("Location", ""), response.read().decode()
                )
        except urllib.error.HTTPError as error:
            reply = Reply(
                str(error.code), error.headers.get("Location", ""), error.read().decode(errors="replace")
            )
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reply = Reply(_classify(error))
        if record:
            self.recorder.add(Sample(started, time.monotonic(), what, reply.status))
        return reply

    def submit(self, what: str, path: str, fields: dict[str, str]) -> Reply | None:
        """GET the form, POST it with its CSRF token; None when the form never came."""
        page = self.request(f"{what} form", path)
        match = _CSRF.search(page.body) if page.status == "200" else None
        if not match:
            return page if not page.ok else None
        return self.request(what, path, {"csrf_token": match.group(1) or match.group(2), **fields})


def new_password() -> str:
    """Upper, lower and a digit, whatever the random part holds (app/security.py's policy)."""
    return "Pw7-" + secrets.token_urlsafe(15)


@dataclass
class Account:
    username: str
    email: str
    password: str


class Load:
    """The load's threads, started and stopped as a whole; one Ledger per fault."""

    def __init__(self, base_url: str, prefix: str, ledger: Ledger, recorder: Recorder):
        self.base_url = base_url
        self.prefix = prefix
        self.ledger = ledger
        self.recorder = recorder
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self._serial = 0
        self._serial_lock = threading.Lock()
        self.stable_accounts: list[Account] = []

    # --- the accounts --------------------------------------------------------------------

    def _name(self) -> str:
        with self._serial_lock:
            self._serial += 1
            return f"{self.prefix}u{self._serial}"

    def register(self, browser: Browser | None = None) -> Account | None:
        """One registration; the ledger learns its outcome. The account when acknowledged."""
        browser = browser or Browser(self.base_url, self.recorder)
        username = self._name()
        account = Account(username, f"{username}@faults.example.com", new_password())
        fields = {"username": username, "email": account.email}
        fields |= {"password": account.password, "confirm_password": account.password}
        reply = browser.submit("register", "/auth/register", fields)
        if reply is None:
            return None
        acked = reply.status == "302" and "/auth/login" in reply.location
        self.ledger.registration(username, account.email, account.password, _outcome(reply, acked))
        if not acked:
            return None
        # The next page carries the flash that tells the user whether the link went out.
        page = browser.request("login page", "/auth/login")
        if page.status == "200":
            self.ledger.told(account.email, "verify", sent=SENT_ACK in page.body)
        return account

    def sign_in(self, browser: Browser, account: Account) -> bool:
        for password in self.ledger.password_candidates(account.username) or [account.password]:
            reply = browser.submit(
                "sign-in", "/auth/login", {"login": account.username, "password": password}
            )
            if reply is not None and reply.status == "302" and "/auth/login" not in reply.location:
                account.password = password
                return True
            if reply is None or reply.status != "422":
                return False
        return False

    # --- the users -----------------------------------------------------------------------

    def _loop(self, step, *args) -> None:
        """A user repeating one action; after a failure they wait a moment, as people do."""
        while not self.stop_event.is_set():
            if step(*args) is False:
                self.stop_event.wait(0.2)

    def _registering(self) -> bool:
        return self.register() is not None

    def _signing_in(self, account: Account) -> bool:
        browser = Browser(self.base_url, self.recorder)
        return self.sign_in(browser, account) and browser.request("dashboard", "/dashboard").ok

    def _changing_password(self, account: Account, browser_box: list) -> bool:
        if not browser_box:
            browser_box.append(Browser(self.base_url, self.recorder))
            if not self.sign_in(browser_box[0], account):
                browser_box.clear()
                return False
        browser = browser_box[0]
        password = new_password()
        fields = {
            "current_password": account.password,
            "new_password": password,
            "confirm_password": password,
        }
        reply = browser.submit("password change", "/account/password", fields)
        if reply is None or (reply.status == "302" and "/auth/login" in reply.location):
            browser_box.clear()  # signed out: sign in again next time
            return False
        acked = reply.status == "302" and "/dashboard" in reply.location
        self.ledger.password_change(account.username, password, _outcome(reply, acked))
        if acked:
            account.password = password
        elif not reply.status.isdigit() or reply.status.startswith("5"):
            browser_box.clear()
        return acked

    def _requesting_reset(self, account: Account) -> bool:
        browser = Browser(self.base_url, self.recorder)
        reply = browser.submit("reset request", "/auth/reset", {"email": account.email})
        if reply is not None and reply.status == "200" and RESET_ACK in reply.body:
            self.ledger.mail_owed(account.email, "reset")
            return True
        return False

    def _probing(self, name: str, path: str) -> None:
        browser = Browser(self.base_url, self.recorder, timeout=PROBE_TIMEOUT)
        while not self.stop_event.is_set():
            started = time.monotonic()
            reply = browser.request(name, path, record=False)
            ended = time.monotonic()
            with self.recorder.lock:
                self.recorder.probes[name].append(Probe(started, ended, reply.status))
            self.stop_event.wait(max(0.0, PROBE_PERIOD - (ended - started)))

    # --- control -------------------------------------------------------------------------

    def spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start(
        self, accounts: list[Account], registrations: int = 1, changers: int = 1, resetters: int = 2
    ) -> None:
        self.spawn(self._probing, "live", "/health/live")
        self.spawn(self._probing, "ready", "/health/ready")
        for _ in range(registrations):
            self.spawn(self._loop, self._registering)
        signers, rest = accounts[:2], accounts[2:]
        # Bursts sign in with accounts whose password stays put: a burst racing a
        # password change would only measure failed sign-ins (and lock the account).
        self.stable_accounts = signers + rest[changers:]
        for account in signers:
            self.spawn(self._loop, self._signing_in, account)
        for account in rest[:changers]:
            self.spawn(self._loop, self._changing_password, account, [])
        for i in range(resetters):
            self.spawn(self._loop, self._requesting_reset, accounts[i % len(accounts)])

    def burst(self, step: str, count: int) -> list[threading.Thread]:
        """count more users at once, each doing one sign-in or reset request."""
        target = {"sign-in": self._signing_in, "reset": self._requesting_reset}[step]
        accounts = self.stable_accounts
        threads = [
            threading.Thread(target=target, args=(accounts[i % len(accounts)],), daemon=True)
            for i in range(count)
        ]
        for thread in threads:
            thread.start()
        return threads

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=HTTP_TIMEOUT + 5)


def _outcome(reply: Reply, acked: bool) -> str:
    """acked: the user was told it worked; refused: told it failed (any answer); unknown: no answer."""
    if acked:
        return "acked"
    return "refused" if reply.status.isdigit() else "unknown"
