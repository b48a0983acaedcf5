"""Kept secrets: an installation uninstalled with its data kept leaves its sealed
secrets behind, for the next installation over that data.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kept_secrets",
        sa.Column("server_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("repo_id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("secret_env_enc", sa.Text(), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["servers.id"],
            name="fk_kept_secrets_server_id_servers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("server_id", "name", name="pk_kept_secrets"),
    )


def downgrade() -> None:
    op.drop_table("kept_secrets")
