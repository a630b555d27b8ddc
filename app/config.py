"""Configuration: one class per APP_ENV, every value read from the environment.

The classes are instantiated by create_app() (not at import time), so a test or
a CLI command can change the environment and build a fresh app. Staging and
production refuse to start without the values that matter; development fills
in safe local defaults (a generated secret and a SQLite file under instance/).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a usable configuration."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def read_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _rate_limit(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default).strip()
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit such as '10 per minute', not {value!r}") from None
    return value


def _choice(
    environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...], upper: bool = False
) -> str:
    raw = environ.get(name, "").strip() or default
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


PRIVATE_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7"


def _networks(environ: Mapping[str, str], name: str, default: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A comma-separated list of CIDRs; empty means everyone."""
    raw = environ.get(name, default)
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
    """Settings shared by every environment; subclasses change the defaults."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    # Whether a missing SECRET_KEY / DATABASE_URL is fatal.
    REQUIRE_EXPLICIT_SETTINGS = True
    SECURE_COOKIES = True
    HSTS = True

    def __init__(self, environ: Mapping[str, str] | None = None, instance_path: str = "instance"):
        env = os.environ if environ is None else environ
        instance = Path(instance_path)

        secret = env.get("SECRET_KEY", "").strip()
        if not secret:
            if self.REQUIRE_EXPLICIT_SETTINGS:
                raise ConfigError(f"SECRET_KEY must be set when APP_ENV={self.ENV_NAME}")
            secret = _dev_secret_key(instance)
        elif self.REQUIRE_EXPLICIT_SETTINGS and len(secret) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        self.SECRET_KEY = secret

        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            if self.REQUIRE_EXPLICIT_SETTINGS:
                raise ConfigError(f"DATABASE_URL must be set when APP_ENV={self.ENV_NAME}")
            instance.mkdir(parents=True, exist_ok=True)
            database_url = f"sqlite:///{(instance / 'app.db').resolve()}"
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = self._engine_options(env)

        self.MAX_CONTENT_LENGTH = _int(env, "MAX_CONTENT_LENGTH", 64 * 1024, minimum=1024)

        self._password_hash_settings(env)

        # "default": 8-128 characters with upper, lower and digit; "nist": NIST
        # SP 800-63B / ASVS 6.2.5, no composition rules but a zxcvbn strength
        # floor (scores 0-4). Both refuse common passwords, username and e-mail.
        self.PASSWORD_POLICY = _choice(env, "PASSWORD_POLICY", "default", ("default", "nist"))
        self.PASSWORD_NIST_MIN_SCORE = _int(env, "PASSWORD_NIST_MIN_SCORE", 3, minimum=0)
        if self.PASSWORD_NIST_MIN_SCORE > 4:
            raise ConfigError(
                f"PASSWORD_NIST_MIN_SCORE must be a zxcvbn score 0-4, not {self.PASSWORD_NIST_MIN_SCORE}"
            )

        self.PASSWORD_HASH_CONCURRENCY = _int(env, "PASSWORD_HASH_CONCURRENCY", 1, minimum=1)
        # Sign-ins allowed to wait for a hash slot in one process; beyond it, 503 with
        # Retry-After (app/security.py HashSlots). 0: never wait.
        self.PASSWORD_HASH_QUEUE = _int(env, "PASSWORD_HASH_QUEUE", 4, minimum=0)

        self.LOCKOUT_THRESHOLD = _int(env, "LOCKOUT_THRESHOLD", 5, minimum=1)
        self.LOCKOUT_DURATION = timedelta(seconds=_int(env, "LOCKOUT_DURATION_SECONDS", 15 * 60, minimum=1))
        # Failures count toward a lock only within this window from the first
        # one: five typos spread over months never lock anyone.
        self.LOCKOUT_WINDOW = timedelta(seconds=_int(env, "LOCKOUT_WINDOW_SECONDS", 15 * 60, minimum=1))
        # OWASP's device cookie: a browser that signed in to an account is
        # counted and locked on its own, apart from unknown clients.
        self.DEVICE_COOKIE_LIFETIME = timedelta(
            seconds=_int(env, "DEVICE_COOKIE_LIFETIME_SECONDS", 365 * 86400, minimum=60)
        )

        # Rate limits (Flask-Limiter reads RATELIMIT_* itself).
        self.RATELIMIT_LOGIN = _rate_limit(env, "RATELIMIT_LOGIN", "10 per minute")
        self.RATELIMIT_REGISTER = _rate_limit(env, "RATELIMIT_REGISTER", "5 per minute")
        # Per signed-in user: password checks behind the password change,
        # account deletion and ending sessions (each costs a hash).
        self.RATELIMIT_REAUTH = _rate_limit(env, "RATELIMIT_REAUTH", "10 per minute")
        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_ENABLED = read_bool(env, "RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = True
        self.TRUSTED_PROXIES = _int(env, "TRUSTED_PROXIES", 0)

        # Server-side sessions.
        self.SESSION_IDLE_TIMEOUT = timedelta(
            seconds=_int(env, "SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60, minimum=60)
        )
        self.SESSION_LIFETIME = timedelta(
            seconds=_int(env, "SESSION_LIFETIME_SECONDS", 12 * 3600, minimum=60)
        )
        self.REMEMBER_LIFETIME = timedelta(
            seconds=_int(env, "REMEMBER_LIFETIME_SECONDS", 30 * 86400, minimum=60)
        )
        # A sign-in beyond this many sessions of one account ends the least
        # recently used one: a user's rows (and dashboard) stay bounded.
        self.SESSION_MAX_PER_USER = _int(env, "SESSION_MAX_PER_USER", 50, minimum=1)
        # `flask purge` keeps sign-in history this long.
        self.LOGIN_EVENT_RETENTION = timedelta(days=_int(env, "LOGIN_EVENT_RETENTION_DAYS", 90, minimum=1))
        # last_seen_at is written at most once per interval; the interval is a
        # quarter of the idle timeout (at most a minute), so a session in use
        # never looks idle because its last write lagged behind.
        self.SESSION_TOUCH_INTERVAL = min(timedelta(seconds=60), self.SESSION_IDLE_TIMEOUT / 4)

        # Cookies.
        secure = read_bool(env, "SECURE_COOKIES", self.SECURE_COOKIES)
        # __Host- cookies must be Secure, Path=/ and host-only: a sibling
        # subdomain cannot plant or overwrite them.
        host_prefix = "__Host-" if secure and self.ENV_NAME in {"staging", "production"} else ""
        self.SESSION_COOKIE_NAME = f"{host_prefix}session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = secure
        self.SESSION_COOKIE_PATH = "/"
        self.PERMANENT_SESSION_LIFETIME = self.REMEMBER_LIFETIME
        self.REMEMBER_COOKIE_NAME = f"{host_prefix}remember_token"
        self.REMEMBER_COOKIE_DURATION = self.REMEMBER_LIFETIME
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = secure
        self.REMEMBER_COOKIE_PATH = "/"
        self.DEVICE_COOKIE_NAME = f"{host_prefix}device"
        self.REMEMBER_COOKIE_REFRESH_EACH_REQUEST = False
        self.HSTS_ENABLED = read_bool(env, "HSTS", self.HSTS)

        self.WTF_CSRF_TIME_LIMIT = _int(env, "CSRF_TIME_LIMIT_SECONDS", 3600, minimum=60)
        self.LOG_LEVEL = _choice(env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True)
        self.LOG_FORMAT = _choice(env, "LOG_FORMAT", self.LOG_FORMAT_DEFAULT, ("json", "text"))
        self.METRICS_ALLOWED_NETWORKS = _networks(
            env, "METRICS_ALLOWED_NETWORKS", self.METRICS_ALLOWED_NETWORKS_DEFAULT
        )

        self.HEALTH_DB_TIMEOUT_SECONDS = _int(env, "HEALTH_DB_TIMEOUT_SECONDS", 2, minimum=1)

        # A dependency that is away is answered 503 with this Retry-After (app/outages.py).
        self.DEPENDENCY_RETRY_AFTER_SECONDS = _int(env, "DEPENDENCY_RETRY_AFTER_SECONDS", 5, minimum=1)
        # With Redis away, every limit is counted in this worker's memory instead
        # (Flask-Limiter's own fallback): sign-in keeps working, still limited.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        if self.RATELIMIT_STORAGE_URI.startswith(("redis://", "rediss://", "redis+unix://")):
            # A hung Redis must not hold a request thread for longer than this.
            redis_timeout = _int(env, "REDIS_TIMEOUT_MS", 500, minimum=10) / 1000
            self.RATELIMIT_STORAGE_OPTIONS = {
                "socket_connect_timeout": redis_timeout,
                "socket_timeout": redis_timeout,
            }

        self._mail_settings(env)
        self._mfa_settings(env)
        self._webauthn_settings(env)

    def _mfa_settings(self, env: Mapping[str, str]) -> None:
        """Second factors (app/mfa/): TOTP secrets are encrypted with a key of
        MFA_ENCRYPTION_KEY, else one derived from SECRET_KEY; MFA_ENCRYPTION_KEYS_OLD
        (comma-separated) still decrypt what older keys encrypted."""
        self.MFA_REQUIRED = read_bool(env, "MFA_REQUIRED", False)
        key = env.get("MFA_ENCRYPTION_KEY", "").strip()
        old = tuple(
            part.strip() for part in env.get("MFA_ENCRYPTION_KEYS_OLD", "").split(",") if part.strip()
        )
        for name, value in [("MFA_ENCRYPTION_KEY", key)] + [("MFA_ENCRYPTION_KEYS_OLD", k) for k in old]:
            if value and len(value) < 32:
                raise ConfigError(f"{name} must hold keys of at least 32 characters")
        self.MFA_ENCRYPTION_KEY = key or None
        self.MFA_ENCRYPTION_KEYS_OLD = old
        self.MFA_ISSUER = env.get("MFA_ISSUER", "").strip() or "Flask Auth"
        # Wrong second-factor codes per account, whichever sign-in they come from.
        self.RATELIMIT_MFA = _rate_limit(env, "RATELIMIT_MFA", "5 per minute; 20 per hour")

    def _webauthn_settings(self, env: Mapping[str, str]) -> None:
        """Passkeys (app/mfa/passkeys.py). A browser signs the origin it is on and the
        RP ID hashes into what the authenticator signs, so both are settings, never
        taken from a request: WEBAUTHN_ORIGIN defaults to APP_BASE_URL, WEBAUTHN_RP_ID
        to the origin's host. With no origin, or an IP address as host (which no
        browser accepts as an RP ID), passkeys are off and the pages do not offer them."""
        origin = env.get("WEBAUTHN_ORIGIN", "").strip().rstrip("/") or self.APP_BASE_URL
        rp_id = env.get("WEBAUTHN_RP_ID", "").strip().lower()
        self.WEBAUTHN_ORIGIN = origin or None
        self.WEBAUTHN_RP_ID = None
        self.WEBAUTHN_RP_NAME = env.get("WEBAUTHN_RP_NAME", "").strip() or self.MFA_ISSUER
        self.WEBAUTHN_CHALLENGE_LIFETIME = timedelta(
            seconds=_int(env, "WEBAUTHN_CHALLENGE_SECONDS", 300, minimum=30)
        )
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
        self.WEBAUTHN_ENABLED = read_bool(env, "WEBAUTHN_ENABLED", True)

    def _password_hash_settings(self, env: Mapping[str, str]) -> None:
        """argon2id (argon2-cffi), OWASP's parameters by default. Werkzeug scrypt
        hashes stored before still verify; they, and argon2 hashes made with
        other parameters, are re-hashed at the next successful sign-in."""
        if "PASSWORD_HASH_METHOD" in env:
            raise ConfigError(
                "PASSWORD_HASH_METHOD is no longer used: passwords are hashed with argon2id. "
                "Remove it; tune PASSWORD_ARGON2_MEMORY_KIB, PASSWORD_ARGON2_TIME_COST and "
                "PASSWORD_ARGON2_PARALLELISM instead"
            )
        memory, time_cost, parallelism = self.ARGON2_DEFAULTS
        self.PASSWORD_ARGON2_PARALLELISM = _int(env, "PASSWORD_ARGON2_PARALLELISM", parallelism, minimum=1)
        # argon2 needs at least 8 KiB of memory per lane.
        self.PASSWORD_ARGON2_MEMORY_KIB = _int(
            env, "PASSWORD_ARGON2_MEMORY_KIB", memory, minimum=8 * self.PASSWORD_ARGON2_PARALLELISM
        )
        self.PASSWORD_ARGON2_TIME_COST = _int(env, "PASSWORD_ARGON2_TIME_COST", time_cost, minimum=1)

    def _mail_settings(self, env: Mapping[str, str]) -> None:
        """E-mail (password reset, address confirmation) through Flask-Mailman."""
        # Links in e-mails are built from this, never from the request's Host
        # header, which a client chooses.
        base_url = env.get("APP_BASE_URL", "").strip().rstrip("/") or self.APP_BASE_URL_DEFAULT
        if base_url:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                raise ConfigError(f"APP_BASE_URL must be an absolute http(s) URL, not {base_url!r}")
        self.APP_BASE_URL = base_url

        self.MAIL_SERVER = env.get("MAIL_SERVER", "").strip()
        self.MAIL_PORT = _int(env, "MAIL_PORT", 587, minimum=1)
        self.MAIL_USE_TLS = read_bool(env, "MAIL_USE_TLS", True)
        self.MAIL_USE_SSL = read_bool(env, "MAIL_USE_SSL", False)
        if self.MAIL_USE_TLS and self.MAIL_USE_SSL:
            raise ConfigError("MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (implicit TLS) exclude each other")
        self.MAIL_USERNAME = env.get("MAIL_USERNAME", "").strip() or None
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD", "") or None
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_FROM", "").strip() or "Flask Auth <no-reply@localhost>"
        self.MAIL_TIMEOUT = _int(env, "MAIL_TIMEOUT_SECONDS", 10, minimum=1)
        if self.MAIL_SERVER:
            if not self.APP_BASE_URL:
                raise ConfigError(
                    "APP_BASE_URL must be set when MAIL_SERVER is: e-mails carry absolute links"
                )
            self.MAIL_BACKEND = "smtp"
        elif self.LOG_MAIL_WITHOUT_SERVER:
            # Development: the message, link included, goes to the log.
            self.MAIL_BACKEND = "app.mail.LogEmailBackend"
        else:
            # Staging/production without a server: sending fails, is logged
            # and shown as a polite error; a token never reaches the logs.
            self.MAIL_BACKEND = "app.mail.UnconfiguredEmailBackend"

        self.REQUIRE_EMAIL_VERIFICATION = read_bool(env, "REQUIRE_EMAIL_VERIFICATION", False)
        if self.REQUIRE_EMAIL_VERIFICATION and not (self.MAIL_SERVER or self.LOG_MAIL_WITHOUT_SERVER):
            raise ConfigError("REQUIRE_EMAIL_VERIFICATION needs MAIL_SERVER: nobody could confirm an address")
        self.PASSWORD_RESET_MAX_AGE = timedelta(
            seconds=_int(env, "PASSWORD_RESET_MAX_AGE_SECONDS", 30 * 60, minimum=60)
        )
        self.EMAIL_VERIFY_MAX_AGE = timedelta(
            seconds=_int(env, "EMAIL_VERIFY_MAX_AGE_SECONDS", 48 * 3600, minimum=60)
        )
        self.RATELIMIT_RESET = _rate_limit(env, "RATELIMIT_RESET", "5 per minute; 30 per hour")
        # Mails per account whoever asks, and per account and client address: a
        # stranger uses up only their own share, never the owner's (issue 12).
        self.MAIL_PER_ACCOUNT_LIMIT = _rate_limit(env, "MAIL_PER_ACCOUNT_LIMIT", "10 per hour")
        self.MAIL_PER_ACCOUNT_CLIENT_LIMIT = _rate_limit(env, "MAIL_PER_ACCOUNT_CLIENT_LIMIT", "3 per hour")
        self._mail_outbox_settings(env)

    def _mail_outbox_settings(self, env: Mapping[str, str]) -> None:
        """The outbox's sender (app/outbox.py): retries, lease and drain."""
        self.MAIL_SENDER = _choice(env, "MAIL_SENDER", self.MAIL_SENDER_DEFAULT, ("thread", "off"))
        # 8 tries 2 s apart doubling up to 5 min: the last one comes 2-4 min after
        # the first, well past a 60 s relay outage (jitter halves a delay at most).
        self.MAIL_RETRY_BASE_SECONDS = _int(env, "MAIL_RETRY_BASE_SECONDS", 2, minimum=1)
        self.MAIL_RETRY_MAX_SECONDS = _int(env, "MAIL_RETRY_MAX_SECONDS", 300, minimum=1)
        self.MAIL_MAX_ATTEMPTS = _int(env, "MAIL_MAX_ATTEMPTS", 8, minimum=1)
        # A claimed message whose sender died is tried again after the lease.
        self.MAIL_LEASE_SECONDS = _int(env, "MAIL_LEASE_SECONDS", max(60, 3 * self.MAIL_TIMEOUT), minimum=1)
        if self.MAIL_LEASE_SECONDS <= 2 * self.MAIL_TIMEOUT:
            raise ConfigError("MAIL_LEASE_SECONDS must be more than twice MAIL_TIMEOUT_SECONDS")
        self.MAIL_POLL_SECONDS = _int(env, "MAIL_POLL_SECONDS", 2, minimum=1)
        self.MAIL_DRAIN_SECONDS = _int(env, "MAIL_DRAIN_SECONDS", 5)
        # Sent messages are deleted by `flask purge` after this.
        self.MAIL_OUTBOX_RETENTION = timedelta(days=_int(env, "MAIL_OUTBOX_RETENTION_DAYS", 7, minimum=1))

    # (memory KiB, time cost, lanes): OWASP's argon2id minimum, m=19 MiB, t=2, p=1.
    ARGON2_DEFAULTS = (19 * 1024, 2, 1)
    APP_BASE_URL_DEFAULT = ""
    LOG_MAIL_WITHOUT_SERVER = False
    MAIL_SENDER_DEFAULT = "thread"
    LOG_FORMAT_DEFAULT = "json"
    METRICS_ALLOWED_NETWORKS_DEFAULT = PRIVATE_NETWORKS

    def _engine_options(self, env: Mapping[str, str]) -> dict:
        # Never put bound values (password hashes, e-mail addresses) into the
        # text of database errors, which end up in logs.
        options: dict = {"hide_parameters": True}
        # Every wait is bounded, and shorter than gunicorn's timeout (30 s): a
        # locked table or a busy pool ends in a 503 the user can retry, not in a
        # worker killed mid-request.
        if self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            busy_ms = _int(env, "DB_BUSY_TIMEOUT_MS", 5000, minimum=1)
            return options | {"connect_args": {"timeout": busy_ms / 1000}}
        statement_ms = _int(env, "DB_STATEMENT_TIMEOUT_MS", 5000, minimum=1)
        lock_ms = _int(env, "DB_LOCK_TIMEOUT_MS", 3000, minimum=1)
        return options | {
            "pool_pre_ping": read_bool(env, "DB_POOL_PRE_PING", True),
            "pool_size": _int(env, "DB_POOL_SIZE", 5, minimum=1),
            "max_overflow": _int(env, "DB_MAX_OVERFLOW", 5),
            "pool_recycle": _int(env, "DB_POOL_RECYCLE_SECONDS", 1800, minimum=1),
            "pool_timeout": _int(env, "DB_POOL_TIMEOUT_SECONDS", 3, minimum=1),
            "connect_args": {
                "connect_timeout": _int(env, "DB_CONNECT_TIMEOUT_SECONDS", 5, minimum=1),
                # Set by the server at connect: no extra round trip per checkout.
                # Migrations turn the statement timeout off (app/migrations/env.py).
                "options": f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}",
            },
        }


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the debugger runs arbitrary code; `flask run --debug` opts in
    REQUIRE_EXPLICIT_SETTINGS = False
    SECURE_COOKIES = False
    HSTS = False
    LOG_FORMAT_DEFAULT = "text"
    METRICS_ALLOWED_NETWORKS_DEFAULT = ""
    APP_BASE_URL_DEFAULT = "http://127.0.0.1:5000"  # make run
    LOG_MAIL_WITHOUT_SERVER = True


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    REQUIRE_EXPLICIT_SETTINGS = False
    SECURE_COOKIES = False
    HSTS = False
    # Cheap hashes keep the suite fast; production parameters are tested too.
    ARGON2_DEFAULTS = (8, 1, 1)
    METRICS_ALLOWED_NETWORKS_DEFAULT = ""
    APP_BASE_URL_DEFAULT = "http://localhost"
    LOG_MAIL_WITHOUT_SERVER = True
    # Tests deliver the outbox with outbox.deliver_due() when they choose to.
    MAIL_SENDER_DEFAULT = "off"


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
