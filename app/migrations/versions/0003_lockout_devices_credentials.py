"""lockout window, trusted devices, credential versions, re-authentication failures

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

- users.failed_login_window_start: failures older than the lockout window
  no longer count.
- users.credential_version and user_sessions.credential_version: a session
  created before a password change (or racing it) is ended by the loader.
- user_sessions.reauth_failures: wrong current passwords typed in a session.
- trusted_devices: OWASP's device cookie, one row per browser that signed in,
  with its own failure count and lock.

Every new column is nullable or has a server default, so existing rows need
no rewrite and running code keeps working during a rolling upgrade.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_login_window_start', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('credential_version', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credential_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reauth_failures', sa.Integer(), server_default='0', nullable=False))

    op.create_table('trusted_devices',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_login_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('failed_login_window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_trusted_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trusted_devices'))
    )
    with op.batch_alter_table('trusted_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trusted_devices_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('trusted_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trusted_devices_user_id'))

    op.drop_table('trusted_devices')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('reauth_failures')
        batch_op.drop_column('credential_version')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('credential_version')
        batch_op.drop_column('failed_login_window_start')
