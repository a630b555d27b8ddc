"""Configuration: every setting declared once, below, and read from the environment.

SETTINGS (the app's) and GUNICORN_SETTINGS (gunicorn.conf.py's) hold one Setting per
environment variable: its name, type and validation (the kind), its default and how
the default differs per APP_ENV, the app.config key it fills, and what it means. The
README's configuration tables are generated from them (scripts/config_table.py) and a
test keeps them current. Rules that tie several settings together, or need the
instance folder, are Config._derive's.

The classes are instantiated by create_app() (not at import time), so a test or
a CLI command can change the environment and build a fresh app. Staging and
production refuse to start without the values that matter; development fills
in safe local defaults (a generated secret and a SQLite file under instance/).

This module imports nothing outside the standard library at import time:
gunicorn.conf.py loads it by path in the arbiter, without the app package.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a usable configuration."""


# --- kinds: how one variable's text becomes a value, and what is refused ------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


# Plain classes, not dataclasses: each dataclass costs about a millisecond to create, and
# this module is imported at every start of every worker.


class Int:
    blank_is_unset = True  # an empty value is the default

    def __init__(
        self,
        minimum: int = 0,
        maximum: int | None = None,
        too_big: str = "{name} must be at most {maximum}, not {value}",  # the message past maximum
    ):
        self.minimum, self.maximum, self.too_big = minimum, maximum, too_big

    def parse(self, name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
        if value < self.minimum:
            raise ConfigError(f"{name} must be at least {self.minimum}, not {value}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(self.too_big.format(name=name, maximum=self.maximum, value=value))
        return value

    def convert(self, value: Any) -> Any:
        return value

    def show(self, value: Any) -> str:
        return str(value)


class Seconds(Int):
    """A whole number of seconds (or days), kept in app.config as a timedelta."""

    def __init__(self, minimum: int = 0, unit: str = "seconds"):
        super().__init__(minimum)
        self.unit = unit

    def convert(self, value: Any) -> Any:
        return None if value is None else timedelta(**{self.unit: value})


class Bool:
    # An empty value is false (as it always was), not the default.
    blank_is_unset = False

    def parse(self, name: str, raw: str) -> bool:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")

    def convert(self, value: Any) -> Any:
        return value

    def show(self, value: Any) -> str:
        return "true" if value else "false"


class Text:
    blank_is_unset = True

    def __init__(self, strip: bool = True, lower: bool = False, rstrip: str = ""):
        self.strip, self.lower, self.rstrip = strip, lower, rstrip

    def parse(self, name: str, raw: str) -> str:
        value = raw.strip() if self.strip else raw
        value = value.rstrip(self.rstrip) if self.rstrip else value
        return value.lower() if self.lower else value

    def convert(self, value: Any) -> Any:
        return value

    def show(self, value: Any) -> str:
        return str(value)


class Choice(Text):
    def __init__(self, choices: tuple[str, ...], upper: bool = False):
        super().__init__()
        self.choices, self.upper = choices, upper

    def parse(self, name: str, raw: str) -> str:
        value = raw.strip().upper() if self.upper else raw.strip().lower()
        if value not in self.choices:
            raise ConfigError(f"{name} must be one of {', '.join(self.choices)}, not {raw.strip()!r}")
        return value


class RateLimit(Text):
    # An empty limit is refused, not replaced by the default.
    blank_is_unset = False

    def parse(self, name: str, raw: str) -> str:
        from limits import parse_many  # Flask-Limiter's own parser; imported with the app anyway

        value = raw.strip()
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(f"{name} must be a rate limit such as '10 per minute', not {value!r}") from None
        return value


Network = IPv4Network | IPv6Network


class Networks:
    """Comma-separated CIDRs; an empty value means everyone (not the default)."""

    blank_is_unset = False

    def parse(self, name: str, raw: str) -> tuple[Network, ...]:
        networks = []
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                networks.append(ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(f"{name} must be comma-separated CIDRs, and {part!r} is not one") from None
        return tuple(networks)

    def convert(self, value: Any) -> Any:
        return value

    def show(self, value: Any) -> str:
        return ",".join(str(network) for network in value)


class Keys(Text):
    """Encryption keys of at least min_length characters: one, or a comma-separated list."""

    def __init__(self, many: bool = False, min_length: int = 32):
        super().__init__()
        self.many, self.min_length = many, min_length

    def parse(self, name: str, raw: str) -> Any:
        keys = tuple(part.strip() for part in raw.split(",") if part.strip()) if self.many else (raw.strip(),)
        if any(len(key) < self.min_length for key in keys):
            raise ConfigError(f"{name} must hold keys of at least {self.min_length} characters")
        return keys if self.many else keys[0]


class BaseUrl(Text):
    """An absolute http(s) URL without query or fragment (a trailing slash is dropped)."""

    def __init__(self):
        super().__init__(rstrip="/")

    def parse(self, name: str, raw: str) -> str:
        value = super().parse(name, raw)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"{name} must be an absolute http(s) URL, not {value!r}")
        return value


class DatabaseUrl(Text):
    def parse(self, name: str, raw: str) -> str:
        return normalize_database_url(raw)


def normalize_database_url(url: str) -> str:
    """Map the forms operators paste to the driver this stack installs.

    SQLAlchemy maps a bare postgresql:// to psycopg (3) and refuses postgres://
    altogether; only psycopg2 is installed, so both become postgresql+psycopg2.
    """
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg2://", "sqlite://")):
        return url
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    raise ConfigError(
        "DATABASE_URL must start with postgresql://, postgres://, "
        f"postgresql+psycopg2:// or sqlite://, not {scheme!r}"
    )


# --- the declaration -----------------------------------------------------------------------------

Kind = Int | Bool | Text | Networks

STRICT = ("staging", "production")  # where a missing SECRET_KEY / DATABASE_URL is fatal
LOCAL = ("development", "testing")


class Computed:
    """A default worked out from the settings declared before it (a mapping by name)."""

    def __init__(self, compute: Callable[[Mapping[str, Any]], Any]):
        self.compute = compute


class Setting:
    """One environment variable: everything about it but the rules that tie it to others."""

    __slots__ = ("by_env", "default", "default_doc", "doc", "key", "kind", "name", "required_in")

    def __init__(
        self,
        name: str,  # the environment variable
        kind: Kind,
        default: Any,  # in the kind's own terms (seconds, not a timedelta); None: none
        doc: str,  # what it does, for the README
        key: str | None = "",  # the app.config key; "" is the name, None: only feeds derived values
        by_env: Mapping[str, Any] | None = None,  # APP_ENV -> another default
        required_in: tuple[str, ...] = (),  # the APP_ENVs that refuse to start without it
        default_doc: str = "",  # the default in words, where it is computed or made elsewhere
    ):
        self.name, self.kind, self.default, self.doc = name, kind, default, doc
        self.key, self.by_env = key, by_env or {}
        self.required_in, self.default_doc = required_in, default_doc

    def __repr__(self) -> str:
        return f"Setting({self.name!r})"

    def replace(self, **changes: Any) -> Setting:
        """A copy with some attributes changed."""
        return Setting(**{name: changes.get(name, getattr(self, name)) for name in self.__slots__})

    @property
    def config_key(self) -> str | None:
        return self.name if self.key == "" else self.key

    def default_for(self, env_name: str, values: Mapping[str, Any]) -> Any:
        default = self.by_env.get(env_name, self.default)
        return default.compute(values) if isinstance(default, Computed) else default

    def read(self, environ: Mapping[str, str], env_name: str, values: Mapping[str, Any] | None = None) -> Any:
        """This setting's value in environ for APP_ENV env_name; values: the ones read before
        (a Computed default needs them)."""
        raw = environ.get(self.name)
        if raw is not None and self.kind.blank_is_unset and not raw.strip():
            raw = None
        if raw is None:
            if env_name in self.required_in:
                raise ConfigError(f"{self.name} must be set when APP_ENV={env_name}")
            value = self.default_for(env_name, values or {})
        else:
            value = self.kind.parse(self.name, raw)
        return self.kind.convert(value)


def read_settings(settings: tuple[Setting, ...], environ: Mapping[str, str], env_name: str) -> dict[str, Any]:
    """Every setting's value by variable name, in declaration order (a Computed default
    sees the ones before it)."""
    values: dict[str, Any] = {}
    for setting in settings:
        values[setting.name] = setting.read(environ, env_name, values)
    return values


PRIVATE_NETWORKS = Networks().parse(
    "", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7"
)
ENVIRONMENTS = ("development", "testing", "staging", "production")

APP_ENV = Setting(
    "APP_ENV",
    Choice(choices=ENVIRONMENTS),
    "development",
    "`development`, `testing`, `staging` or `production`: picks the defaults below",
    key=None,
)

# Variables that no longer do anything, refused so that nobody believes they do.
RETIRED = {
    # nosec B105: a message, not a password
    "PASSWORD_HASH_METHOD": "PASSWORD_HASH_METHOD is no longer used: passwords are hashed with argon2id. "
    "Remove it; tune PASSWORD_ARGON2_MEMORY_KIB, PASSWORD_ARGON2_TIME_COST and "
    "PASSWORD_ARGON2_PARALLELISM instead",
}


def _days(minimum: int) -> Seconds:
    return Seconds(minimum=minimum, unit="days")


# One line group per setting: the table reads better unformatted.
# fmt: off
S = Setting
SETTINGS: tuple[Setting, ...] = (
    # --- secrets and the database
    S("SECRET_KEY", Text(), None,
      "signs cookies and CSRF tokens; at least 32 characters in staging/production", required_in=STRICT,
      default_doc="development/testing: generated once and kept in `instance/secret_key`"),
    S("SECRET_KEY_FALLBACKS", Keys(many=True), (),
      "comma-separated former `SECRET_KEY`s that still verify what they signed (session and remember-me "
      "cookies, e-mailed links, known-device cookies) but sign nothing: a rotation signs nobody out. "
      "Drop one once `REMEMBER_LIFETIME_SECONDS` has passed since the rotation", default_doc="none"),
    S("DATABASE_URL", DatabaseUrl(), None,
      "`postgresql://`, `postgres://`, `postgresql+psycopg2://` (all use psycopg2) or `sqlite:///path`",
      key=None, required_in=STRICT, default_doc="development/testing: `sqlite:///instance/app.db`"),
    S("DB_POOL_SIZE", Int(minimum=1), 5, "PostgreSQL connections each process keeps", key=None),
    S("DB_MAX_OVERFLOW", Int(), 5, "PostgreSQL connections each process may open beyond the pool", key=None),
    S("DB_POOL_RECYCLE_SECONDS", Int(minimum=1), 1800, "replace connections older than this", key=None),
    S("DB_POOL_PRE_PING", Bool(), True,
      "test a pooled connection before use (survives a database restart)", key=None),
    S("DB_POOL_TIMEOUT_SECONDS", Int(minimum=1), 3, "waiting for a pooled connection; then 503", key=None),
    S("DB_CONNECT_TIMEOUT_SECONDS", Int(minimum=1), 5, "waiting for a new connection; then 503", key=None),
    S("DB_STATEMENT_TIMEOUT_MS", Int(minimum=1), 5000,
      "PostgreSQL `statement_timeout`, set on every connection at connect (migrations run without it); "
      "then 503", key=None),
    S("DB_LOCK_TIMEOUT_MS", Int(minimum=1), 3000,
      "PostgreSQL `lock_timeout`, set on every connection at connect; then 503", key=None),
    S("DB_BUSY_TIMEOUT_MS", Int(minimum=1), 5000,
      "SQLite: how long a write waits for a locked database file; then 503", key=None),
    S("HEALTH_DB_TIMEOUT_SECONDS", Int(minimum=1), 2,
      "connect, pool and statement timeout of the readiness check's own engine"),
    S("DEPENDENCY_RETRY_AFTER_SECONDS", Int(minimum=1), 5,
      "`Retry-After` of a 503 answered because the database or Redis is away"),
    S("REDIS_TIMEOUT_MS", Int(minimum=10), 500,
      "connect and read timeout towards a Redis rate-limit store; then the in-memory fallback", key=None),
    # --- passwords: argon2id (argon2-cffi), OWASP's minimum by default (m=19 MiB, t=2, p=1);
    # cheap hashes keep the test suite fast (production parameters are tested too).
    S("PASSWORD_ARGON2_PARALLELISM", Int(minimum=1), 1, "argon2id lanes"),
    S("PASSWORD_ARGON2_MEMORY_KIB", Int(minimum=8), 19 * 1024,
      "argon2id memory (at least 8 KiB per lane); a hash made with other parameters (or an old Werkzeug "
      "scrypt hash) is re-hashed at the next sign-in. The former `PASSWORD_HASH_METHOD` is refused at "
      "start-up", by_env={"testing": 8}),
    S("PASSWORD_ARGON2_TIME_COST", Int(minimum=1), 2, "argon2id passes", by_env={"testing": 1}),
    S("PASSWORD_POLICY", Choice(choices=("default", "nist")), "default",
      "`default`: 8-128 characters with upper case, lower case and a digit; `nist`: 8-128 characters "
      "(15+ recommended), no composition rules, a zxcvbn strength floor. Both refuse common passwords and "
      "the username/e-mail"),
    S("PASSWORD_NIST_MIN_SCORE", Int(maximum=4, too_big="{name} must be a zxcvbn score 0-4, not {value}"), 3,
      "the zxcvbn score (0-4) a password needs under `PASSWORD_POLICY=nist`"),
    S("PASSWORD_HASH_CONCURRENCY", Int(minimum=1), 1,
      "password hashes one process runs at once (each costs a core and `PASSWORD_ARGON2_MEMORY_KIB`)"),
    S("PASSWORD_HASH_QUEUE", Int(), 4,
      "sign-ins one process lets wait for a hash slot; beyond it a sign-in, sign-up or password change is "
      "answered 503 with `Retry-After` (`DEPENDENCY_RETRY_AFTER_SECONDS`) instead of queueing "
      "(0: never wait)"),
    # --- lockout (OWASP's device cookie: a browser that signed in is counted on its own)
    S("LOCKOUT_THRESHOLD", Int(minimum=1), 5,
      "failed sign-ins (per known browser, or from unknown clients) that lock; also wrong current passwords "
      "that end a session"),
    S("LOCKOUT_DURATION_SECONDS", Seconds(minimum=1), 15 * 60,
      "how long a lock refuses even the right password", key="LOCKOUT_DURATION"),
    S("LOCKOUT_WINDOW_SECONDS", Seconds(minimum=1), 15 * 60,
      "failures count toward a lock only within this time from the first one", key="LOCKOUT_WINDOW"),
    S("DEVICE_COOKIE_LIFETIME_SECONDS", Seconds(minimum=60), 365 * 86400,
      "how long a browser that signed in stays a known device for the lockout", key="DEVICE_COOKIE_LIFETIME"),
    # --- rate limits (Flask-Limiter syntax; it reads RATELIMIT_* itself)
    S("RATELIMIT_LOGIN", RateLimit(), "10 per minute", "POST /auth/login per client IP"),
    S("RATELIMIT_REGISTER", RateLimit(), "5 per minute", "POST /auth/register per client IP"),
    S("RATELIMIT_REAUTH", RateLimit(), "10 per minute",
      "password checks per signed-in account (password change, deletion, ending sessions)"),
    S("RATELIMIT_STORAGE_URI", Text(), "memory://",
      "`redis://host:6379/0` wherever more than one process serves. `memory://` counts in each gunicorn "
      "worker: staging/production refuse to start with it and more than one worker; in development each "
      "worker has its own limits (`WEB_CONCURRENCY` workers, so up to that many times the limit); while "
      "Redis is away each worker counts the limits in its own memory"),
    S("RATELIMIT_ENABLED", Bool(), True, "switch rate limiting off (benchmarks only)"),
    S("TRUSTED_PROXIES", Int(), 0,
      "number of proxies in front (1 behind the ALB) whose `X-Forwarded-For`/`-Proto` are believed; a "
      "forwarded address that is not an IP is ignored (the peer's is used); `X-Forwarded-Host`/`-Port`/"
      "`-Prefix` never are"),
    # --- server-side sessions
    S("SESSION_IDLE_TIMEOUT_SECONDS", Seconds(minimum=60), 30 * 60,
      "a session unused this long ends (not remember-me sessions); `last_seen_at` is written at most every "
      "quarter of this (a minute at most)", key="SESSION_IDLE_TIMEOUT"),
    S("SESSION_LIFETIME_SECONDS", Seconds(minimum=60), 12 * 3600, "absolute lifetime of a session",
      key="SESSION_LIFETIME"),
    S("REMEMBER_LIFETIME_SECONDS", Seconds(minimum=60), 30 * 86400,
      "absolute lifetime of a remember-me session and its cookie", key="REMEMBER_LIFETIME"),
    S("SESSION_MAX_PER_USER", Int(minimum=1), 50,
      "sessions one account can have; a sign-in beyond it ends the least recently used one"),
    S("LOGIN_EVENT_RETENTION_DAYS", _days(1), 90, "`flask purge` deletes sign-in history older than this",
      key="LOGIN_EVENT_RETENTION"),
    # --- cookies and headers
    S("SECURE_COOKIES", Bool(), True, "`Secure` flag; staging/production then use `__Host-` cookie names",
      key=None, by_env=dict.fromkeys(LOCAL, False)),
    S("HSTS", Bool(), True, "`Strict-Transport-Security: max-age=31536000; includeSubDomains`",
      key="HSTS_ENABLED", by_env=dict.fromkeys(LOCAL, False)),
    S("MAX_CONTENT_LENGTH", Int(minimum=1024), 64 * 1024, "larger request bodies get 413"),
    S("CSRF_TIME_LIMIT_SECONDS", Int(minimum=60), 3600, "how long a form's CSRF token stays valid",
      key="WTF_CSRF_TIME_LIMIT"),
    # --- logs and metrics
    S("LOG_LEVEL", Choice(choices=("DEBUG", "INFO", "WARNING", "ERROR"), upper=True), "INFO",
      "`DEBUG` also logs health-probe and `/metrics` requests"),
    S("LOG_FORMAT", Choice(choices=("json", "text")), "json",
      "one JSON object per line on stdout, or one readable line", by_env={"development": "text"}),
    S("METRICS_ALLOWED_NETWORKS", Networks(), PRIVATE_NETWORKS,
      "comma-separated CIDRs that may read `/metrics` (none: everyone); others get 404",
      by_env=dict.fromkeys(LOCAL, ())),
    # --- e-mail (Flask-Mailman); links are built from APP_BASE_URL, never from the Host header
    S("APP_BASE_URL", BaseUrl(), "", "the site's address, for links in e-mails (required with `MAIL_SERVER`)",
      by_env={"development": "http://127.0.0.1:5000", "testing": "http://localhost"}),
    S("MAIL_SERVER", Text(), "",
      "SMTP server; without one, development writes each e-mail to the log, staging/production show a "
      "polite error"),
    S("MAIL_PORT", Int(minimum=1), 587, "SMTP port"),
    S("MAIL_USE_TLS", Bool(), True, "STARTTLS"),
    S("MAIL_USE_SSL", Bool(), False, "implicit TLS (port 465); excludes `MAIL_USE_TLS`"),
    S("MAIL_USERNAME", Text(), None, "SMTP user name"),
    S("MAIL_PASSWORD", Text(strip=False), None, "SMTP password (a Secret in Kubernetes)"),
    S("MAIL_FROM", Text(), "Flask Auth <no-reply@localhost>", "sender of every e-mail",
      key="MAIL_DEFAULT_SENDER"),
    S("MAIL_TIMEOUT_SECONDS", Int(minimum=1), 10, "SMTP connection timeout", key="MAIL_TIMEOUT"),
    S("REQUIRE_EMAIL_VERIFICATION", Bool(), False,
      "sign-in waits until the address is confirmed (a new link is sent with the refusal)"),
    S("PASSWORD_RESET_MAX_AGE_SECONDS", Seconds(minimum=60), 30 * 60, "how long a password-reset link works",
      key="PASSWORD_RESET_MAX_AGE"),
    S("EMAIL_VERIFY_MAX_AGE_SECONDS", Seconds(minimum=60), 48 * 3600,
      "how long an address-confirmation link works", key="EMAIL_VERIFY_MAX_AGE"),
    S("RATELIMIT_RESET", RateLimit(), "5 per minute; 30 per hour",
      "POST to the reset pages and the resend button, per client IP"),
    # Per account whoever asks, and per account and client address: a stranger uses up only
    # their own share, never the owner's (issue 12).
    S("MAIL_PER_ACCOUNT_LIMIT", RateLimit(), "10 per hour",
      "e-mails one account can be sent, whatever the IP"),
    S("MAIL_PER_ACCOUNT_CLIENT_LIMIT", RateLimit(), "3 per hour",
      "e-mails one account can be sent at the request of one client address"),
    # --- the outbox's sender (app/outbox.py): 8 tries 2 s apart doubling up to 5 min, the last
    # 2-4 min after the first, well past a 60 s relay outage (jitter halves a delay at most)
    S("MAIL_SENDER", Choice(choices=("thread", "off")), "thread",
      "`thread`: each app process sends its outbox; `off`: `flask mail-outbox --deliver` does",
      by_env={"testing": "off"}),
    S("MAIL_RETRY_BASE_SECONDS", Int(minimum=1), 2, "the outbox's first retry delay (doubling, with jitter)"),
    S("MAIL_RETRY_MAX_SECONDS", Int(minimum=1), 300, "the outbox's longest retry delay"),
    S("MAIL_MAX_ATTEMPTS", Int(minimum=1), 8, "tries before a message is `failed`"),
    S("MAIL_LEASE_SECONDS", Int(minimum=1), Computed(lambda v: max(60, 3 * v["MAIL_TIMEOUT_SECONDS"])),
      "how long a claimed message is left to its sender before another takes it (more than twice "
      "`MAIL_TIMEOUT_SECONDS`)", default_doc="`60`, or 3 x `MAIL_TIMEOUT_SECONDS` if more"),
    S("MAIL_POLL_SECONDS", Int(minimum=1), 2, "how often an idle sender looks for due messages"),
    S("MAIL_DRAIN_SECONDS", Int(), 5, "how long a stopping worker sends what is due"),
    S("MAIL_OUTBOX_RETENTION_DAYS", _days(1), 7,
      "`flask purge` deletes sent e-mails older than this (failed ones stay for `flask mail-outbox`)",
      key="MAIL_OUTBOX_RETENTION"),
    # --- second factors (app/mfa/)
    S("MFA_REQUIRED", Bool(), False,
      "every account needs a second factor: one without is sent to the Security page after signing in and "
      "can open nothing else"),
    S("MFA_ENCRYPTION_KEY", Keys(), None,
      "encrypts the authenticator apps' secrets at rest (at least 32 characters; a Secret in Kubernetes)",
      default_doc="none: a key derived (HKDF-SHA256) from `SECRET_KEY`"),
    S("MFA_ENCRYPTION_KEYS_OLD", Keys(many=True), (),
      "comma-separated former keys that still decrypt (rotation; then `flask --app app rotate-mfa-key`). "
      "While `MFA_ENCRYPTION_KEY` is unset, `SECRET_KEY_FALLBACKS` decrypt too",
      default_doc="none"),
    S("MFA_ISSUER", Text(), "Flask Auth", "the issuer name authenticator apps show"),
    S("RATELIMIT_MFA", RateLimit(), "5 per minute; 20 per hour",
      "wrong second-factor codes per account, over all its pending sign-ins (each also counts toward the "
      "lockout)"),
    # --- passkeys (app/mfa/passkeys.py): the origin and RP ID are settings, never taken from a request
    S("WEBAUTHN_ENABLED", Bool(), True,
      "offer passkeys (WebAuthn) on the Security page, as the second step and for a passwordless sign-in; "
      "they are off anyway without a usable origin (below)", key=None),
    S("WEBAUTHN_ORIGIN", Text(rstrip="/"), Computed(lambda v: v["APP_BASE_URL"] or None),
      "the origin browsers use the site on, checked in every passkey response: `https://host[:port]`, or "
      "`http://localhost[:port]`. An IP-address host (the development default `http://127.0.0.1:5000`) "
      "turns passkeys off: no browser accepts it as RP ID; for `make run` open `http://localhost:5000` with "
      "`WEBAUTHN_ORIGIN=http://localhost:5000`", key=None, default_doc="`APP_BASE_URL`"),
    S("WEBAUTHN_RP_ID", Text(lower=True), None,
      "the WebAuthn relying-party id: the host or a parent domain of it; passkeys are bound to it, so "
      "changing it orphans every passkey made before", key=None, default_doc="the origin's host"),
    S("WEBAUTHN_RP_NAME", Text(), Computed(lambda v: v["MFA_ISSUER"]),
      "the name authenticators show beside a passkey", default_doc="`MFA_ISSUER`"),
    S("WEBAUTHN_CHALLENGE_SECONDS", Seconds(minimum=30), 300,
      "how long a passkey challenge can be answered (each works once)", key="WEBAUTHN_CHALLENGE_LIFETIME"),
)

# gunicorn.conf.py's, read in the arbiter. The worker model and these defaults were chosen
# by measurement (scripts/bench/RESULTS.md; gunicorn.conf.py says why).
GUNICORN_SETTINGS: tuple[Setting, ...] = (
    S("PORT", Int(minimum=1), 8000, "port of the default bind address"),
    S("GUNICORN_BIND", Text(), Computed(lambda v: f"0.0.0.0:{v['PORT']}"), "address gunicorn listens on",
      default_doc="`0.0.0.0:$PORT`"),
    S("WEB_CONCURRENCY", Int(minimum=1), Computed(lambda v: os.cpu_count() or 1),
      "worker processes: the CPU-bound work (password hashing) cannot use more than one per core",
      default_doc="one per CPU"),
    S("GUNICORN_WORKER_CLASS", Text(), "gthread",
      "`gthread` serves with `app.gunicorn_worker.DrainingThreadWorker` (stops listening when a drain "
      "starts, answers liveness on its main loop); any other gunicorn worker class is used as named"),
    S("GUNICORN_THREADS", Int(minimum=1), 4,
      "threads per worker: one can hash while the others serve pages; more only contend for the GIL"),
    S("GUNICORN_TIMEOUT", Int(), 30, "seconds before the arbiter kills a silent worker"),
    S("GUNICORN_GRACEFUL_TIMEOUT", Int(), 25,
      "seconds a stopping worker gets to finish (the chart's `terminationGracePeriodSeconds` is longer)"),
    S("GUNICORN_KEEPALIVE", Int(), 5,
      "seconds an idle keep-alive connection stays open (below the ALB's 60)"),
    S("GUNICORN_MAX_REQUESTS", Int(), 20000,
      "requests before a worker is replaced (0: never); a new worker imports and builds the app"),
    S("GUNICORN_MAX_REQUESTS_JITTER", Int(), 2000, "random spread of `GUNICORN_MAX_REQUESTS` per worker"),
    S("GUNICORN_BACKLOG", Int(minimum=1), 512, "connections the kernel queues before gunicorn accepts them"),
    S("GUNICORN_CONTROL_SOCKET", Text(), None,
      "path of gunicorn's runtime control socket; without it the socket is off ($HOME is read-only in the "
      "container)"),
    S("FORWARDED_ALLOW_IPS", Text(), "127.0.0.1,::1",
      "peers whose `X-Forwarded-*` gunicorn believes; no request header ever becomes a WSGI environ key "
      "(`forwarder_headers` is empty)"),
    S("MALLOC_ARENA_MAX", Text(), None,
      "glibc's malloc arenas; unset, gunicorn.conf.py gives the workers one, so a worker holds at most one "
      "argon2id buffer", default_doc="`1` in gunicorn"),
    S("PROMETHEUS_MULTIPROC_DIR", Text(), None,
      "where gunicorn workers write the samples `/metrics` adds up; emptied at each start",
      key=None, default_doc="a fresh temporary directory per gunicorn start"),
)
del S
# fmt: on

BY_NAME: dict[str, Setting] = {s.name: s for s in (APP_ENV, *SETTINGS, *GUNICORN_SETTINGS)}


def _dev_secret_key(instance_path: Path) -> str:
    """A secret generated once per checkout and kept under instance/."""
    path = instance_path / "secret_key"
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


class Config:
    """The settings of one APP_ENV: every declared setting under its app.config key, the
    values derived from them, and the Flask settings no environment changes."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    # Development: an e-mail, link included, goes to the log when there is no MAIL_SERVER.
    LOG_MAIL_WITHOUT_SERVER = False

    RATELIMIT_HEADERS_ENABLED = True
    # With Redis away, every limit is counted in this worker's memory instead
    # (Flask-Limiter's own fallback): sign-in keeps working, still limited.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # Redis going away between a request's limit check and its X-RateLimit headers
    # (the fault suite's redis-stopped run): the fallback is already taken, and
    # Flask-Limiter would raise from its after_request, a 500 for a sign-in that
    # happened. The error is logged and the headers left out instead; the limits
    # themselves are still counted, in memory.
    RATELIMIT_SWALLOW_ERRORS = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_PATH = "/"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_PATH = "/"
    REMEMBER_COOKIE_REFRESH_EACH_REQUEST = False

    def __init__(self, environ: Mapping[str, str] | None = None, instance_path: str = "instance"):
        env = os.environ if environ is None else environ
        for name, message in RETIRED.items():
            if name in env:
                raise ConfigError(message)
        values = read_settings(SETTINGS, env, self.ENV_NAME)
        for setting in SETTINGS:
            if setting.config_key:
                setattr(self, setting.config_key, values[setting.name])
        self._derive(values, env, Path(instance_path))

    def _derive(self, v: Mapping[str, Any], env: Mapping[str, str], instance: Path) -> None:
        """The rules that tie settings together or need the instance folder."""
        strict = self.ENV_NAME in STRICT
        if self.SECRET_KEY is None:
            self.SECRET_KEY = _dev_secret_key(instance)
        elif strict and len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        database_url = v["DATABASE_URL"]
        if database_url is None:
            instance.mkdir(parents=True, exist_ok=True)
            database_url = f"sqlite:///{(instance / 'app.db').resolve()}"
        self.SQLALCHEMY_DATABASE_URI = database_url
        self.SQLALCHEMY_ENGINE_OPTIONS = _engine_options(database_url, v)

        # argon2 needs at least 8 KiB of memory per lane.
        lanes_minimum = 8 * self.PASSWORD_ARGON2_PARALLELISM
        if lanes_minimum > self.PASSWORD_ARGON2_MEMORY_KIB:
            raise ConfigError(
                f"PASSWORD_ARGON2_MEMORY_KIB must be at least {lanes_minimum}, "
                f"not {self.PASSWORD_ARGON2_MEMORY_KIB}"
            )

        # last_seen_at is written at most once per interval; the interval is a
        # quarter of the idle timeout (at most a minute), so a session in use
        # never looks idle because its last write lagged behind.
        self.SESSION_TOUCH_INTERVAL = min(timedelta(seconds=60), self.SESSION_IDLE_TIMEOUT / 4)
        self.PERMANENT_SESSION_LIFETIME = self.REMEMBER_COOKIE_DURATION = self.REMEMBER_LIFETIME
        # __Host- cookies must be Secure, Path=/ and host-only: a sibling
        # subdomain cannot plant or overwrite them.
        secure = v["SECURE_COOKIES"]
        host_prefix = "__Host-" if secure and strict else ""
        self.SESSION_COOKIE_NAME = f"{host_prefix}session"
        self.REMEMBER_COOKIE_NAME = f"{host_prefix}remember_token"
        self.DEVICE_COOKIE_NAME = f"{host_prefix}device"
        self.SESSION_COOKIE_SECURE = self.REMEMBER_COOKIE_SECURE = secure

        if self.RATELIMIT_STORAGE_URI.startswith(("redis://", "rediss://", "redis+unix://")):
            # A hung Redis must not hold a request thread for longer than this.
            redis_timeout = v["REDIS_TIMEOUT_MS"] / 1000
            self.RATELIMIT_STORAGE_OPTIONS = {
                "socket_connect_timeout": redis_timeout,
                "socket_timeout": redis_timeout,
            }
        self._derive_mail()
        self._derive_webauthn(v, env)

    def _derive_mail(self) -> None:
        if self.MAIL_USE_TLS and self.MAIL_USE_SSL:
            raise ConfigError("MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (implicit TLS) exclude each other")
        if self.MAIL_SERVER:
            if not self.APP_BASE_URL:
                raise ConfigError(
                    "APP_BASE_URL must be set when MAIL_SERVER is: e-mails carry absolute links"
                )
            self.MAIL_BACKEND = "smtp"
        elif self.LOG_MAIL_WITHOUT_SERVER:
            self.MAIL_BACKEND = "app.mail.LogEmailBackend"
        else:
            # Staging/production without a server: sending fails, is logged
            # and shown as a polite error; a token never reaches the logs.
            self.MAIL_BACKEND = "app.mail.UnconfiguredEmailBackend"
        if self.REQUIRE_EMAIL_VERIFICATION and not (self.MAIL_SERVER or self.LOG_MAIL_WITHOUT_SERVER):
            raise ConfigError("REQUIRE_EMAIL_VERIFICATION needs MAIL_SERVER: nobody could confirm an address")
        # A claimed message whose sender died is tried again after the lease.
        if self.MAIL_LEASE_SECONDS <= 2 * self.MAIL_TIMEOUT:
            raise ConfigError("MAIL_LEASE_SECONDS must be more than twice MAIL_TIMEOUT_SECONDS")

    def _derive_webauthn(self, v: Mapping[str, Any], env: Mapping[str, str]) -> None:
        """A browser signs the origin it is on and the RP ID hashes into what the
        authenticator signs. With no origin, or an IP address as host (which no browser
        accepts as an RP ID), passkeys are off and the pages do not offer them."""
        origin, rp_id = v["WEBAUTHN_ORIGIN"], v["WEBAUTHN_RP_ID"]
        self.WEBAUTHN_ORIGIN = origin or None
        self.WEBAUTHN_RP_ID = None
        self.WEBAUTHN_ENABLED = False
        if not origin:
            if rp_id:
                raise ConfigError("WEBAUTHN_RP_ID needs WEBAUTHN_ORIGIN (or APP_BASE_URL) to be set")
            return
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host or parts.path or parts.query or parts.fragment:
            raise ConfigError(f"WEBAUTHN_ORIGIN must be a scheme and host (and port), not {origin!r}")
        if parts.scheme == "http" and host != "localhost" and not host.endswith(".localhost"):
            if "WEBAUTHN_ORIGIN" in env or "WEBAUTHN_RP_ID" in env:
                raise ConfigError("WEBAUTHN_ORIGIN must be https:// (browsers allow http only on localhost)")
            return
        try:
            ip_network(host)
        except ValueError:
            pass
        else:
            if rp_id:
                raise ConfigError(f"WEBAUTHN_RP_ID cannot be used with an IP address origin ({origin!r})")
            return  # no browser takes an IP address as RP ID
        rp_id = rp_id or host
        if host != rp_id and not host.endswith("." + rp_id):
            raise ConfigError(
                f"WEBAUTHN_RP_ID must be the host of WEBAUTHN_ORIGIN or a parent domain of it, not {rp_id!r}"
            )
        self.WEBAUTHN_RP_ID = rp_id
        self.WEBAUTHN_ENABLED = v["WEBAUTHN_ENABLED"]


def _engine_options(url: str, v: Mapping[str, Any]) -> dict:
    # Never put bound values (password hashes, e-mail addresses) into the
    # text of database errors, which end up in logs.
    options: dict = {"hide_parameters": True}
    # Every wait is bounded, and shorter than gunicorn's timeout (30 s): a
    # locked table or a busy pool ends in a 503 the user can retry, not in a
    # worker killed mid-request.
    if url.startswith("sqlite"):
        return options | {"connect_args": {"timeout": v["DB_BUSY_TIMEOUT_MS"] / 1000}}
    return options | {
        "pool_pre_ping": v["DB_POOL_PRE_PING"],
        "pool_size": v["DB_POOL_SIZE"],
        "max_overflow": v["DB_MAX_OVERFLOW"],
        "pool_recycle": v["DB_POOL_RECYCLE_SECONDS"],
        "pool_timeout": v["DB_POOL_TIMEOUT_SECONDS"],
        "connect_args": {
            "connect_timeout": v["DB_CONNECT_TIMEOUT_SECONDS"],
            # Set by the server at connect: no extra round trip per checkout.
            # Migrations turn the statement timeout off (app/migrations/env.py).
            "options": f"-c statement_timeout={v['DB_STATEMENT_TIMEOUT_MS']} "
            f"-c lock_timeout={v['DB_LOCK_TIMEOUT_MS']}",
        },
    }


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the debugger runs arbitrary code; `flask run --debug` opts in
    LOG_MAIL_WITHOUT_SERVER = True


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    LOG_MAIL_WITHOUT_SERVER = True


class StagingConfig(Config):
    ENV_NAME = "staging"


class ProductionConfig(Config):
    ENV_NAME = "production"


CONFIGS: dict[str, type[Config]] = {
    cls.ENV_NAME: cls for cls in (DevelopmentConfig, TestingConfig, StagingConfig, ProductionConfig)
}


def config_class(name: str | None) -> type[Config]:
    key = (name or "development").strip().lower()
    try:
        return CONFIGS[key]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {', '.join(sorted(CONFIGS))}, not {name!r}") from None
