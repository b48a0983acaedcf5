"""Marketplace sources: a warning per stored file (keys that look misspelt).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("marketplace_sources", sa.Column("warning", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("marketplace_sources") as batch:
        batch.drop_column("warning")
