"""users.email_verified_at: when the address was confirmed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Nullable with no default: existing accounts start unconfirmed, and nothing
is rewritten, so the column is added without a table rewrite on PostgreSQL.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')
