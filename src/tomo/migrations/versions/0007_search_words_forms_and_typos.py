"""Search finds categories, word forms and typos; filters and name sorts ignore case.

- marketplace_apps.sort_name: lower(name), generated; the sort indexes use it.
- The search index is made anew: on SQLite an FTS5 table with a category column
  and case-folded facets, plus a trigram table for typo tolerance; on
  PostgreSQL the tsvector gains the category, a `search_words` column with a
  pg_trgm index serves typo tolerance, and tags are matched case-folded.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from tomo.marketplace.search.engine import create_search_index, drop_search_index

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SORTS = {
    "ix_marketplace_apps_sort_name": [],
    "ix_marketplace_apps_sort_rating": [sa.text("avg_rating DESC"), sa.text("rating_count DESC")],
    "ix_marketplace_apps_sort_popularity": [sa.text("install_count DESC")],
    "ix_marketplace_apps_sort_updated": [sa.text("updated_at DESC")],
}


def upgrade() -> None:
    bind = op.get_bind()
    drop_search_index(bind)
    for name in SORTS:
        op.drop_index(name, table_name="marketplace_apps")
    # Virtual on SQLite (ALTER TABLE cannot add a stored one), stored on PostgreSQL.
    stored = True if bind.dialect.name == "postgresql" else None
    op.add_column(
        "marketplace_apps",
        sa.Column("sort_name", sa.String(length=128),
                  sa.Computed("lower(name)", persisted=stored), nullable=True),
    )  # fmt: skip
    for name, leading in SORTS.items():
        op.create_index(name, "marketplace_apps", [*leading, "sort_name", "repo_id", "id"])
    create_search_index(bind)


def downgrade() -> None:
    bind = op.get_bind()
    drop_search_index(bind)
    for name in SORTS:
        op.drop_index(name, table_name="marketplace_apps")
    with op.batch_alter_table("marketplace_apps") as batch:
        batch.drop_column("sort_name")
    for name, leading in SORTS.items():
        op.create_index(name, "marketplace_apps", [*leading, "name", "repo_id", "id"])
    create_search_index(bind)
