"""Database models (SQLAlchemy 2.0 typed style).

The schema's only source outside tests is the migration history under
app/migrations; tests prove the two agree.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
    delete,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL stores timestamptz; SQLite has no time zones and hands back
    naive values, which are UTC because this type is the only writer.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def hash_session_token(token: str) -> str:
    """The database keeps only a digest of each token a browser holds (a
    session's, a pending sign-in's, a passkey challenge's).

    The cookie carries the 256-bit random token; a leaked table of digests
    cannot be replayed as cookies.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def add_token_row(model: type, user_id: int | None, now: datetime, **columns) -> str:
    """Add a row of model for the account user_id, keyed by the digest of a
    fresh 256-bit random token, created now; return the token (for the browser
    only). The caller commits."""
    token = secrets.token_urlsafe(32)
    db.session.add(model(id=hash_session_token(token), user_id=user_id, created_at=now, **columns))
    return token


def delete_rows(model: type, *conditions) -> int:
    """Delete the rows of model that meet conditions, in one statement (objects
    already in the session are left as they are); how many went. The caller commits."""
    statement = delete(model).where(*conditions).execution_options(synchronize_session=False)
    return db.session.execute(statement).rowcount or 0


def increment(column: InstrumentedAttribute, row_id: object) -> int | None:
    """Add one to column in the row whose id is row_id, atomically (one UPDATE
    ... RETURNING); the new value, None when there is no such row. The caller commits."""
    model = column.class_
    return db.session.execute(
        update(model).where(model.id == row_id).values({column.key: column + 1}).returning(column)
    ).scalar()


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Usernames and e-mail addresses are stored lower-case, so the unique
    # constraints compare them case-insensitively on every backend.
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Lockout of clients that carry no device cookie of this account (see
    # app/lockout.py): failures counted in a window that starts at the first
    # one, so old typos decay instead of adding up for ever.
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_login_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped by every password change or reset; each session records the value
    # it was created with, and the user loader ends sessions whose value is
    # older, even when the sign-in that created one raced the change.
    credential_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the owner followed the confirmation link (or a reset link, which
    # proves the same); None until then.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    login_events: Mapped[list[LoginEvent]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    devices: Mapped[list[TrustedDevice]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login protocol. The "user id" in the cookie is the session token,
    # set by the loader (or at sign-in) on the instance serving this request.
    session_token = None  # str | None, per request, never stored
    current_session = None  # app.sessions.CurrentSession | None, per request
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


class UserSession(db.Model):
    """A signed-in browser. Deleting the row signs that browser out."""

    __tablename__ = "user_sessions"

    # SHA-256 of the token held in the cookie (see hash_session_token).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    # The user's credential_version when this session was created.
    credential_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Wrong current passwords typed in this session (password change, account
    # deletion, ending other sessions); the session ends at LOCKOUT_THRESHOLD.
    reauth_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    user: Mapped[User] = relationship(back_populates="sessions")

    @classmethod
    def start(
        cls,
        user_id: int,
        *,
        credential_version: int,
        ip: str | None,
        user_agent: str | None,
        remember: bool,
    ) -> str:
        """Create a session for the user; return the token for the cookie.

        credential_version is the one read together with the password hash that
        was checked, never a fresher one: a password change that raced the
        sign-in then ends this session at its first request.
        """
        now = utcnow()
        return add_token_row(
            cls,
            user_id,
            now,
            last_seen_at=now,
            credential_version=credential_version,
            ip=ip,
            user_agent=(user_agent or "")[:255] or None,
            remember=remember,
        )


class TrustedDevice(db.Model):
    """A browser that has signed in to this account (OWASP's device cookie).

    The cookie holds a random nonce signed for the account; the row, keyed by
    the nonce's digest, counts that browser's failed sign-ins on its own, so a
    stranger who locks the account out for unknown clients cannot lock out
    the owner's known browsers.
    """

    __tablename__ = "trusted_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_login_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="devices")


class LoginEvent(db.Model):
    """One sign-in attempt against an existing account."""

    __tablename__ = "login_events"
    __table_args__ = (Index("ix_login_events_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    success: Mapped[bool] = mapped_column(Boolean)

    user: Mapped[User] = relationship(back_populates="login_events")


class MailOutbox(db.Model):
    """An e-mail owed to someone, written in the transaction that owes it.

    app/outbox.py delivers it at least once: a sender claims the row for a
    lease (claimed_until), sends with no transaction open, and records the
    outcome; a sender that dies mid-send lets the lease run out and another
    one tries again. No link token is stored: the message is rendered, token
    included, when it is sent, so the link is fresh when it arrives and the
    table holds nothing that would open an account.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # a key of app.outbox.KINDS
    recipient: Mapped[str] = mapped_column(String(254))
    # A message is about an account; deleting the account drops what it was owed.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/sending/sent/failed
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MfaFactor(db.Model):
    """A second factor of an account, of one `kind`: "totp" or "passkey".

    Whatever the kind, "the account has a factor" is one query: an enabled row
    (enabled_at set). A row with enabled_at None is an enrolment in progress
    (the secret was shown, no valid code was typed yet) and counts for nothing.
    Kind-specific data that does not fit `secret` (a passkey's credential id,
    public key and signature counter) belongs in a table keyed by this row's id,
    so a new kind adds a table, never reshapes this one.
    """

    __tablename__ = "mfa_factors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    # TOTP: the shared secret, encrypted (app/mfa/crypto.py); never stored in clear.
    secret: Mapped[str | None] = mapped_column(String(512))
    # TOTP: the time step of the last code accepted. A code is accepted only for
    # a later step, in one conditional UPDATE: a code never works twice, even
    # when submitted twice at the same moment.
    last_used_step: Mapped[int | None] = mapped_column(db.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MfaRecoveryCode(db.Model):
    """One single-use recovery code, stored as the SHA-256 of its 80 random bits
    (like session tokens: too much entropy to guess back from the digest)."""

    __tablename__ = "mfa_recovery_codes"
    # The unique constraint is also the index of "the codes of this account".
    __table_args__ = (db.UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MfaPendingSignIn(db.Model):
    """A sign-in whose password was right and whose second factor is still owed.

    The browser holds a random token (in its session cookie); this row, keyed by
    the token's digest, holds everything else, so the cookie alone proves
    nothing and the step ends at expires_at whatever the client keeps.
    """

    __tablename__ = "mfa_pending_sign_ins"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The user's credential_version read with the password hash that was checked.
    credential_version: Mapped[int] = mapped_column(Integer)
    # The lockout scope of the password step (app/lockout.py): a known browser, or none.
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("trusted_devices.id", ondelete="SET NULL"), index=True
    )
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    next_url: Mapped[str | None] = mapped_column(String(2048))
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PasskeyCredential(db.Model):
    """The WebAuthn credential of a passkey factor (an MfaFactor of kind "passkey"),
    keyed by that factor's id: deleting the factor deletes the credential."""

    __tablename__ = "passkey_credentials"

    factor_id: Mapped[int] = mapped_column(
        ForeignKey("mfa_factors.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # Denormalised from the factor: "the passkeys of this account" without a join.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The authenticator's credential id (at most 1023 bytes, WebAuthn Level 3); a
    # passwordless sign-in finds the passkey by it.
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    # The COSE public key the signatures are checked with (public: no encryption needed).
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    # The authenticator's signature counter; a non-zero counter must grow at each use.
    sign_count: Mapped[int] = mapped_column(db.BigInteger, default=0, server_default="0")
    # Comma-separated ("internal,hybrid"), handed back to the browser as hints.
    transports: Mapped[str | None] = mapped_column(String(255))
    # The WebAuthn user handle of the account: random, the same for each of its
    # passkeys, returned by the authenticator at a passwordless sign-in.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)


class WebAuthnChallenge(db.Model):
    """A WebAuthn challenge handed to a browser, usable once until expires_at.

    The browser's session holds a random token; the row, keyed by the token's
    SHA-256, holds the challenge, what it is for and whom; verifying deletes the
    row first (one DELETE ... RETURNING), so a challenge never verifies twice.
    """

    __tablename__ = "webauthn_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # "register", "second_factor", "sign_in" or "reauth" (app/mfa/passkeys.py)
    purpose: Mapped[str] = mapped_column(String(16))
    # The account it was issued for; None for a passwordless sign-in (anyone's passkey).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    # register: the name the user gave the passkey, and the user handle offered.
    name: Mapped[str | None] = mapped_column(String(64))
    user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
