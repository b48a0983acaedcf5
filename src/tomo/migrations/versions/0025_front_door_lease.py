"""One change at a time to a server's front door across tomo processes (issue 23):
who holds the change and its last heartbeat (see tomo/proxy/lease.py).

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("door_changing_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("door_changing_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("door_changing_at")
        batch.drop_column("door_changing_by")
