"""The audit log: how many requests a row stands for (a tally of refused writes
without a login is one row an hour, not one row each).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "audit_events", sa.Column("count", sa.Integer(), server_default="1", nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("count")
