"""Marketplace repos: the catalog format, when its owner set one (else detected).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("marketplace_repos", sa.Column("format", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("marketplace_repos") as batch:
        batch.drop_column("format")
