"""PostgreSQL search folds accents (café finds cafe and back), as SQLite's FTS5 does.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from tomo.marketplace.search.engine import create_search_index, drop_search_index

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # SQLite's tokenizer folds already
        drop_search_index(bind)
        create_search_index(bind)


def downgrade() -> None:
    pass  # the folded index serves the previous revision's queries as well
