"""Operator commands: reset-mfa (a user who lost every factor) and rotate-mfa-key."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import delete, or_, select

from .. import mail, outbox
from ..events import emit
from ..extensions import db
from ..models import MfaFactor, User, UserSession
from . import bp, crypto, factors


@bp.cli.command("reset-mfa")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_mfa(name: str, yes: bool) -> None:
    """Remove every second factor and recovery code of the account NAME (username
    or e-mail), and end its sessions; the owner is told by e-mail. For an owner
    who lost their authenticator and recovery codes, after checking who they are."""
    identifier = name.strip().lower()
    user = db.session.scalars(
        select(User).where(or_(User.username == identifier, User.email == identifier))
    ).first()
    if user is None:
        raise click.ClickException(f"No account named {name!r}.")
    if not yes:
        click.confirm(
            f"Remove every second factor of {user.username} and sign it out everywhere?", abort=True
        )
    removed = factors.remove_all(user.id)
    ended = db.session.execute(delete(UserSession).where(UserSession.user_id == user.id)).rowcount or 0
    if mail.sending_possible():
        outbox.enqueue("mfa_reset", user)
    db.session.commit()
    emit("auth.mfa_reset", user_id=user.id, via="cli", factors=removed, sessions_ended=ended)
    click.echo(
        f"Removed {removed} factor{'s' if removed != 1 else ''} of {user.username}; ended {ended} sessions."
    )


@bp.cli.command("rotate-mfa-key")
def rotate_mfa_key() -> None:
    """Re-encrypt every stored TOTP secret with the current MFA key (after a new
    MFA_ENCRYPTION_KEY, with the old one in MFA_ENCRYPTION_KEYS_OLD). Safe to run again."""
    rows = db.session.execute(
        select(MfaFactor.id, MfaFactor.secret).where(MfaFactor.secret.is_not(None))
    ).all()
    changed = unreadable = 0
    for factor_id, secret in rows:
        if not crypto.needs_reencryption(secret):
            continue
        try:
            new = crypto.reencrypt(secret)
        except crypto.SecretUnreadable:
            unreadable += 1
            continue
        db.session.execute(
            MfaFactor.__table__.update()
            .where(MfaFactor.id == factor_id, MfaFactor.secret == secret)
            .values(secret=new)
        )
        changed += 1
    db.session.commit()
    emit("maintenance.mfa_key_rotated", via="cli", reencrypted=changed, unreadable=unreadable)
    click.echo(f"Re-encrypted {changed} secret{'s' if changed != 1 else ''}; {unreadable} unreadable.")
    if unreadable:
        current_app.logger.warning("some MFA secrets are readable by no configured key")
        raise SystemExit(1)
