"""Security rules in one place: password policy and hashing, safe redirects,
response headers."""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Response, current_app, g, has_app_context, request
from werkzeug.security import check_password_hash

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords from the list zxcvbn ships.

    zxcvbn's package __init__ builds ranked dictionaries of every word list it
    has (about 15 MB); load only its frequency_lists module, keep the
    passwords, and let the rest be collected.
    """
    package = importlib.util.find_spec("zxcvbn")
    if package is None or package.origin is None:  # pragma: no cover - pinned dependency
        raise RuntimeError("zxcvbn is not installed")
    path = Path(package.origin).with_name("frequency_lists.py")
    spec = importlib.util.spec_from_file_location("_zxcvbn_frequency_lists", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.FREQUENCY_LISTS["passwords"])


def password_problems(
    password: str, *, username: str = "", email: str = "", policy: str | None = None
) -> list[str]:
    """Every reason the password is refused (empty when it is acceptable),
    under the given policy, else PASSWORD_POLICY (outside an app: "default").

    Length is counted in characters and never truncated: argon2id has no
    72-byte limit like bcrypt.
    """
    if policy is None:
        policy = current_app.config["PASSWORD_POLICY"] if has_app_context() else "default"
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"Use at least {PASSWORD_MIN_LENGTH} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"Use at most {PASSWORD_MAX_LENGTH} characters.")
    if policy == "default":
        if not any(c.isupper() for c in password):
            problems.append("Include an upper-case letter.")
        if not any(c.islower() for c in password):
            problems.append("Include a lower-case letter.")
        if not any(c.isdigit() for c in password):
            problems.append("Include a digit.")
    folded = password.casefold()
    for label, value in (("username", username), ("e-mail address", email)):
        value = (value or "").casefold()
        if value and value in folded:
            problems.append(f"Do not include your {label}.")
    if folded in common_passwords():
        problems.append("This password is too common; choose another.")
    if policy == "nist" and not problems:
        problems.extend(_strength_problems(password, [v for v in (username, email) if v]))
    return problems


# zxcvbn's own limit: its matching grows with the square of the length, so a
# longer password is judged on its first 72 characters (and hashed whole).
ZXCVBN_MAX_LENGTH = 72


def _strength_problems(password: str, user_inputs: list[str]) -> list[str]:
    """The NIST policy's floor: zxcvbn's estimate (0-4) at least PASSWORD_NIST_MIN_SCORE."""
    from zxcvbn import zxcvbn  # about 15 MB of dictionaries: loaded only under this policy

    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=user_inputs)
    minimum = current_app.config["PASSWORD_NIST_MIN_SCORE"] if has_app_context() else 3
    if result["score"] >= minimum:
        return []
    warning = result["feedback"]["warning"].rstrip(".")
    because = f" ({warning})" if warning else ""
    return [f"This password is too easy to guess{because}: try a phrase of several uncommon words."]


PASSWORD_HINTS = {
    "default": (
        f"At least {PASSWORD_MIN_LENGTH} characters with an upper-case letter, a lower-case letter "
        "and a digit; not a common password."
    ),
    "nist": (
        f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters; 15 or more recommended: a phrase "
        "of several uncommon words is easy to remember and hard to guess. Not a common or easily "
        "guessed password, and not your username or e-mail address."
    ),
}


def password_hint() -> str:
    """The help text of every new-password field, for the policy in force."""
    return PASSWORD_HINTS[current_app.config["PASSWORD_POLICY"]]


class PasswordHashBusy(Exception):
    """More sign-ins are waiting for a hash slot than PASSWORD_HASH_QUEUE allows: the
    request is answered 503 with Retry-After instead of joining the queue."""


class HashSlots:
    """At most `concurrency` hashes at once in this process, and at most `queue_limit`
    requests waiting for one; a request beyond that raises PasswordHashBusy at once.

    argon2id costs a core and PASSWORD_ARGON2_MEMORY_KIB (19 MiB) for tens of
    milliseconds. Waiting here uses no CPU, so a burst of sign-ins does not starve
    the worker's other threads (health probes included) or its memory; the bound
    keeps a flood from holding every thread of the worker for seconds: past it, the
    client is told to come back, and the load balancer may send it to another pod.
    """

    def __init__(self, concurrency: int, queue_limit: int) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self.queue_limit = queue_limit
        self.waiting = 0

    def __enter__(self) -> HashSlots:
        if self._slots.acquire(blocking=False):
            return self
        with self._lock:
            if self.waiting >= self.queue_limit:
                raise PasswordHashBusy
            self.waiting += 1
        try:
            self._slots.acquire()
        finally:
            with self._lock:
                self.waiting -= 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._slots.release()


def _hash_slot() -> HashSlots:
    """The process's hash slots (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE)."""
    return current_app.extensions["password_hash_slots"]


def _hash_busy(exc: PasswordHashBusy):
    from .events import emit  # both import much of the app: not at import time
    from .outages import unavailable_response

    emit("password_hash.busy", path=request.path)
    # outages' after_request keeps this Retry-After instead of the limiter's window reset.
    g.dependency_unavailable = "password_hash"
    return unavailable_response("password_hash", current_app.config["DEPENDENCY_RETRY_AFTER_SECONDS"])


def _hasher() -> PasswordHasher:
    return current_app.extensions["password_hasher"]


def make_hasher(config: Mapping[str, object]) -> PasswordHasher:
    """argon2id with the configured parameters (argon2-cffi's 16-byte salt, 32-byte hash)."""
    return PasswordHasher(
        time_cost=int(config["PASSWORD_ARGON2_TIME_COST"]),
        memory_cost=int(config["PASSWORD_ARGON2_MEMORY_KIB"]),
        parallelism=int(config["PASSWORD_ARGON2_PARALLELISM"]),
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    with _hash_slot():
        return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    with _hash_slot():
        return stored_hash_matches(stored_hash, password, _hasher())


def check_typed_password(stored_hash: str, password: str) -> bool:
    """A password someone typed, against the stored hash: one hash check's cost
    whatever its length (one longer than PASSWORD_MAX_LENGTH is never right)."""
    if len(password) > PASSWORD_MAX_LENGTH:
        dummy_password_check(password)
        return False
    return verify_password(stored_hash, password)


def stored_hash_matches(stored_hash: str, password: str, hasher: PasswordHasher) -> bool:
    """argon2 hashes (their parameters are read from the hash), and the Werkzeug
    scrypt hashes stored before argon2id. No app needed: the fault suite uses it too."""
    if not stored_hash.startswith("$argon2"):
        return check_password_hash(stored_hash, password)
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True for a scrypt hash, and for an argon2 hash made with other
    parameters (or another variant) than configured."""
    if not stored_hash.startswith("$argon2id$"):
        return True
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def dummy_password_check(password: str) -> None:
    """Spend one hash check so an unknown account costs what a known one does."""
    dummy = current_app.extensions.get("dummy_password_hash")
    if dummy is None:
        dummy = hash_password("dummy-password-for-timing")
        current_app.extensions["dummy_password_hash"] = dummy
    verify_password(dummy, password)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_safe_redirect(target: str | None) -> bool:
    """Only a relative path on this site: no scheme, no host, no tricks.

    Refuses //host, /\\host, https://host, javascript:..., and control
    characters that browsers strip before parsing.
    """
    if not target or len(target) > 2048:
        return False
    if _CONTROL.search(target) or "\\" in target:
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_redirect_target(target: str | None, default: str) -> str:
    return target if is_safe_redirect(target) else default


CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; img-src 'self' data:"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


_STATIC_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


def security_headers(*, hsts: bool, html: bool) -> tuple[tuple[str, str], ...]:
    """The one list of security headers: the app's responses and the errors
    gunicorn writes itself (app/gunicorn_worker.py) both take it from here."""
    headers = _STATIC_HEADERS
    if hsts:
        headers += (_HSTS,)
    # Every HTML page here holds a form or account data: never store it.
    if html:
        headers += _NO_STORE
    return headers


def set_security_headers(response: Response) -> Response:
    """Every response gets the same headers; no view here sets any of them,
    so they are appended in one step (this runs on every request, probes too)."""
    response.headers.extend(
        security_headers(hsts=current_app.config["HSTS_ENABLED"], html=response.mimetype == "text/html")
    )
    return response


def init_app(app: Flask) -> None:
    app.extensions["password_hash_slots"] = HashSlots(
        app.config["PASSWORD_HASH_CONCURRENCY"], app.config["PASSWORD_HASH_QUEUE"]
    )
    app.register_error_handler(PasswordHashBusy, _hash_busy)
    app.extensions["password_hasher"] = make_hasher(app.config)
    app.after_request(set_security_headers)
    app.jinja_env.globals["password_hint"] = password_hint
