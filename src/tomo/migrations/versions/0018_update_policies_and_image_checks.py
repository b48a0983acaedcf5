"""Each installation's update policy (manual, notify, auto, pinned) with its
maintenance window, what the last check of its images' tags found, and the
update last announced (so an offer is told once).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("update_policy", sa.String(length=8), nullable=False,
                                   server_default="manual"))  # fmt: skip
        batch.add_column(sa.Column("update_window", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("update_major", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))  # fmt: skip
        batch.add_column(sa.Column("image_updates", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("images_checked_at", sa.DateTime(timezone=True),
                                   nullable=True))  # fmt: skip
        batch.add_column(sa.Column("update_announced", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        for column in ("update_announced", "images_checked_at", "image_updates",
                       "update_major", "update_window", "update_policy"):  # fmt: skip
            batch.drop_column(column)
