"""Backup repositories elsewhere than tomo's host: a folder on a managed server
(over SFTP) or S3-compatible storage, their access keys sealed; which one is the
default, and which one each installation backs up into.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backup_repositories") as batch:
        batch.add_column(sa.Column("server_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("credentials_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("options", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("is_default", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))  # fmt: skip
    op.execute("UPDATE backup_repositories SET is_default = true WHERE name = 'default'")
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("backup_repository", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.drop_column("backup_repository")
    with op.batch_alter_table("backup_repositories") as batch:
        for column in ("is_default", "options", "credentials_enc", "server_id"):
            batch.drop_column(column)
