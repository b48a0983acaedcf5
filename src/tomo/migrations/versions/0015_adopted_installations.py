"""Installations remember the container they were adopted from.

An adopted container was made outside tomo and carries none of tomo's labels;
`adopted` names it (its id) and the Docker volumes it mounted then, so that
tomo counts it as the installation's and an uninstall keeps what tomo did not
create. NULL for every installation tomo made itself.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("installations") as table:
        table.add_column(sa.Column("adopted", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("installations") as table:
        table.drop_column("adopted")
