"""PostgreSQL's tag index is on the tags themselves, as tag filters now compare them.

Stored tags are lower-case slugs and a query's are folded, so a tag filter is a
plain `tags @> …` that an index on `tags` serves; the index 0007 made, on the
lower-cased tags, served the filter the search engine used then and no longer
does. SQLite's index is unchanged.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

DROP_TAGS = "DROP INDEX IF EXISTS ix_marketplace_apps_tags"
PLAIN_TAGS = (
    "CREATE INDEX ix_marketplace_apps_tags ON marketplace_apps USING gin (tags jsonb_path_ops)"
)
FOLDED_TAGS = (  # as 0007 made it
    "CREATE INDEX ix_marketplace_apps_tags ON marketplace_apps "
    "USING gin ((lower(tags::text)::jsonb) jsonb_path_ops)"
)


def _tags_index(create: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(DROP_TAGS)
        bind.exec_driver_sql(create)


def upgrade() -> None:
    _tags_index(PLAIN_TAGS)


def downgrade() -> None:
    _tags_index(FOLDED_TAGS)
