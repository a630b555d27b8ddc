"""second factors: TOTP factors, recovery codes, pending sign-ins

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

- mfa_factors: an account's second factors, one row per factor with a `kind`
  ("totp"; passkeys later add a table keyed by the factor's id). The TOTP
  secret is stored encrypted; last_used_step makes every code single-use.
- mfa_recovery_codes: SHA-256 digests of single-use recovery codes.
- mfa_pending_sign_ins: sign-ins whose password was right and whose second
  factor is owed, for at most five minutes.

New tables only: running code of the previous release ignores them.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mfa_factors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.String(length=512), nullable=True),
    sa.Column('last_used_step', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_factors_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_factors'))
    )
    with op.batch_alter_table('mfa_factors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_factors_user_id'), ['user_id'], unique=False)

    op.create_table('mfa_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_recovery_codes')),
    sa.UniqueConstraint('user_id', 'code_hash', name=op.f('uq_mfa_recovery_codes_user_id'))
    )
    op.create_table('mfa_pending_sign_ins',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credential_version', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('next_url', sa.String(length=2048), nullable=True),
    sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['trusted_devices.id'], name=op.f('fk_mfa_pending_sign_ins_device_id_trusted_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_pending_sign_ins_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_pending_sign_ins'))
    )
    with op.batch_alter_table('mfa_pending_sign_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_pending_sign_ins_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mfa_pending_sign_ins_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mfa_pending_sign_ins_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('mfa_pending_sign_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_pending_sign_ins_user_id'))
        batch_op.drop_index(batch_op.f('ix_mfa_pending_sign_ins_expires_at'))
        batch_op.drop_index(batch_op.f('ix_mfa_pending_sign_ins_device_id'))

    op.drop_table('mfa_pending_sign_ins')
    op.drop_table('mfa_recovery_codes')
    with op.batch_alter_table('mfa_factors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_factors_user_id'))

    op.drop_table('mfa_factors')
