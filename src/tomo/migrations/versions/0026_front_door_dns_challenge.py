"""ACME's DNS-01 challenge for a server's front door (issue 23): the DNS provider
(a Caddy module `dns.providers.<name>`) and its credentials, sealed with tomo's key.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("dns_provider", sa.String(64), nullable=True))
        batch.add_column(sa.Column("dns_credentials_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("dns_credentials_enc")
        batch.drop_column("dns_provider")
