"""The backups tomo made (each one whole in its repository), and each
installation's backup schedule, retention and whether an update backs it up first.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("installation_id", sa.String(length=32), nullable=False),
        sa.Column("installation_name", sa.String(length=64), nullable=False),
        sa.Column("server_id", sa.String(length=64), nullable=False),
        sa.Column("app", sa.String(length=130), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("repository_id", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("bytes_added", sa.BigInteger(), nullable=False),
        sa.Column("downtime_seconds", sa.Float(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backups")),
    )
    op.create_index(op.f("ix_backups_installation_id"), "backups", ["installation_id"])
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("backup_schedule", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("backup_keep", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("backup_before_update", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        for column in ("backup_before_update", "backup_keep", "backup_schedule"):
            batch.drop_column(column)
    op.drop_index(op.f("ix_backups_installation_id"), table_name="backups")
    op.drop_table("backups")
