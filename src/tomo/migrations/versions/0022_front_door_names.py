"""Apps by name over HTTPS (issue 23): a server's base domain, TLS mode, ACME CA and
email, and the host ports its front door publishes; an installation's hostnames.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("domain", sa.String(length=253), nullable=True))
        batch.add_column(sa.Column("tls_mode", sa.String(length=16), nullable=False,
                                   server_default="internal"))  # fmt: skip
        batch.add_column(sa.Column("acme_ca", sa.Text(), nullable=True))
        batch.add_column(sa.Column("acme_email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("proxy_http_port", sa.Integer(), nullable=False,
                                   server_default="80"))  # fmt: skip
        batch.add_column(sa.Column("proxy_https_port", sa.Integer(), nullable=False,
                                   server_default="443"))  # fmt: skip
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("hostnames", sa.JSON(), nullable=False,
                                   server_default="[]"))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.drop_column("hostnames")
    with op.batch_alter_table("servers") as batch:
        for column in ("proxy_https_port", "proxy_http_port", "acme_email", "acme_ca",
                       "tls_mode", "domain"):  # fmt: skip
            batch.drop_column(column)
