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

# The index as this revision made it: the SQL tomo's search engine ran then,
# copied here so that later changes to search never change this migration. Each
# drop list removes what any earlier revision made too.
SQLITE_INDEX = [
    "CREATE VIRTUAL TABLE marketplace_apps_fts USING fts5(name, category, tags, description, "
    "author, facets, content='', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE VIRTUAL TABLE marketplace_apps_trigrams USING fts5(words, content='', "
    "tokenize='trigram')",
    "CREATE TRIGGER marketplace_apps_fts_insert AFTER INSERT ON marketplace_apps BEGIN INSERT "
    "INTO marketplace_apps_fts(rowid, name, category, tags, description, author, facets) VALUES "
    "(new.pk, new.name, new.category, new.tags, new.description, new.author, char(57344) || 'c' "
    "|| lower(hex(lower(new.category))) || ' ' || char(57344) || 'r' || lower(hex(new.repo_id)) "
    "|| coalesce((SELECT ' ' || group_concat(char(57344) || 't' || lower(hex(lower(value))), "
    "' ') FROM json_each(new.tags)), '')); INSERT INTO marketplace_apps_trigrams(rowid, words) "
    "VALUES (new.pk, new.name || ' ' || new.category || ' ' || coalesce((SELECT "
    "group_concat(value, ' ') FROM json_each(new.tags)), '') || ' ' || new.description); END",
    "CREATE TRIGGER marketplace_apps_fts_delete AFTER DELETE ON marketplace_apps BEGIN INSERT "
    "INTO marketplace_apps_fts(marketplace_apps_fts, rowid, name, category, tags, description, "
    "author, facets) VALUES ('delete', old.pk, old.name, old.category, old.tags, "
    "old.description, old.author, char(57344) || 'c' || lower(hex(lower(old.category))) || ' ' "
    "|| char(57344) || 'r' || lower(hex(old.repo_id)) || coalesce((SELECT ' ' || "
    "group_concat(char(57344) || 't' || lower(hex(lower(value))), ' ') FROM "
    "json_each(old.tags)), '')); INSERT INTO "
    "marketplace_apps_trigrams(marketplace_apps_trigrams, rowid, words) VALUES ('delete', "
    "old.pk, old.name || ' ' || old.category || ' ' || coalesce((SELECT group_concat(value, ' ') "
    "FROM json_each(old.tags)), '') || ' ' || old.description); END",
    "CREATE TRIGGER marketplace_apps_fts_update AFTER UPDATE OF name, description, tags, author, "
    "category ON marketplace_apps BEGIN INSERT INTO marketplace_apps_fts(marketplace_apps_fts, "
    "rowid, name, category, tags, description, author, facets) VALUES ('delete', old.pk, "
    "old.name, old.category, old.tags, old.description, old.author, char(57344) || 'c' || "
    "lower(hex(lower(old.category))) || ' ' || char(57344) || 'r' || lower(hex(old.repo_id)) || "
    "coalesce((SELECT ' ' || group_concat(char(57344) || 't' || lower(hex(lower(value))), ' ') "
    "FROM json_each(old.tags)), '')); INSERT INTO "
    "marketplace_apps_trigrams(marketplace_apps_trigrams, rowid, words) VALUES ('delete', "
    "old.pk, old.name || ' ' || old.category || ' ' || coalesce((SELECT group_concat(value, ' ') "
    "FROM json_each(old.tags)), '') || ' ' || old.description); INSERT INTO "
    "marketplace_apps_fts(rowid, name, category, tags, description, author, facets) VALUES "
    "(new.pk, new.name, new.category, new.tags, new.description, new.author, char(57344) || 'c' "
    "|| lower(hex(lower(new.category))) || ' ' || char(57344) || 'r' || lower(hex(new.repo_id)) "
    "|| coalesce((SELECT ' ' || group_concat(char(57344) || 't' || lower(hex(lower(value))), "
    "' ') FROM json_each(new.tags)), '')); INSERT INTO marketplace_apps_trigrams(rowid, words) "
    "VALUES (new.pk, new.name || ' ' || new.category || ' ' || coalesce((SELECT "
    "group_concat(value, ' ') FROM json_each(new.tags)), '') || ' ' || new.description); END",
    "INSERT INTO marketplace_apps_fts(rowid, name, category, tags, description, author, facets) "
    "SELECT a.pk, a.name, a.category, a.tags, a.description, a.author, char(57344) || 'c' || "
    "lower(hex(lower(a.category))) || ' ' || char(57344) || 'r' || lower(hex(a.repo_id)) || "
    "coalesce((SELECT ' ' || group_concat(char(57344) || 't' || lower(hex(lower(value))), ' ') "
    "FROM json_each(a.tags)), '') FROM marketplace_apps a",
    "INSERT INTO marketplace_apps_trigrams(rowid, words) SELECT a.pk, a.name || ' ' || "
    "a.category || ' ' || coalesce((SELECT group_concat(value, ' ') FROM json_each(a.tags)), '') "
    "|| ' ' || a.description FROM marketplace_apps a",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_update",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_delete",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_insert",
    "DROP TABLE IF EXISTS marketplace_apps_trigrams",
    "DROP TABLE IF EXISTS marketplace_apps_fts",
]


# translate() folds accents (café → cafe) with the table queries were folded with.
ACCENTED = (
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆ"
    "ćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĲĳĴĵĶķĹĺĻļĽľĿŀŃńŅņŇňŌō"
    "ŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƠơƯưǄǅǆǇǈǉǊǋǌǍ"
    "ǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǱǲǳǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖ"
    "ȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳøØđĐłŁıħĦ"
)
UNACCENTED = (
    "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaC"
    "cCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIIiJjKkLlLlLlLlNnNnNnOo"
    "OoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzsOoUuDDdLLlNNnA"
    "aIiOoUuUuUuUuUuAaAaGgKkOoOojDDdGgNnAaAaAaEeEeIiIiOoOoRrRrUuU"
    "uSsTtHhAaEeOoOoOoOoYyoOdDlLihH"
)
_FOLDED = "translate(coalesce({}, ''), '" + ACCENTED + "', '" + UNACCENTED + "')"
POSTGRES_INDEX = [
    f"""ALTER TABLE marketplace_apps ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', {_FOLDED.format("name")}), 'A') ||
        setweight(to_tsvector('simple', {_FOLDED.format("category")}), 'B') ||
        setweight(to_tsvector('simple', {_FOLDED.format("tags::text")}), 'B') ||
        setweight(to_tsvector('simple', {_FOLDED.format("author")}), 'C') ||
        setweight(to_tsvector('simple', {_FOLDED.format("description")}), 'D')) STORED""",
    "ALTER TABLE marketplace_apps ADD COLUMN search_words text GENERATED ALWAYS AS (lower(name "
    "|| ' ' || category || ' ' || tags::text || ' ' || description)) STORED",
    "CREATE INDEX ix_marketplace_apps_search ON marketplace_apps USING gin (search_vector)",
    "CREATE INDEX ix_marketplace_apps_tags ON marketplace_apps USING gin "
    "((lower(tags::text)::jsonb) jsonb_path_ops)",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_marketplace_apps_words ON marketplace_apps USING gin (search_words "
    "gin_trgm_ops)",
]

POSTGRES_DROP = [
    "DROP INDEX IF EXISTS ix_marketplace_apps_words",
    "DROP INDEX IF EXISTS ix_marketplace_apps_tags",
    "DROP INDEX IF EXISTS ix_marketplace_apps_search",
    "ALTER TABLE marketplace_apps DROP COLUMN IF EXISTS search_words",
    "ALTER TABLE marketplace_apps DROP COLUMN IF EXISTS search_vector",
]


def _execute(sqlite: list[str], postgres: list[str]) -> None:
    bind = op.get_bind()
    for statement in sqlite if bind.dialect.name == "sqlite" else postgres:
        bind.exec_driver_sql(statement)


def upgrade() -> None:
    bind = op.get_bind()
    _execute(SQLITE_DROP, POSTGRES_DROP)
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
    _execute(SQLITE_INDEX, POSTGRES_INDEX)


def downgrade() -> None:
    _execute(SQLITE_DROP, POSTGRES_DROP)
    for name in SORTS:
        op.drop_index(name, table_name="marketplace_apps")
    with op.batch_alter_table("marketplace_apps") as batch:
        batch.drop_column("sort_name")
    for name, leading in SORTS.items():
        op.create_index(name, "marketplace_apps", [*leading, "name", "repo_id", "id"])
    _execute(SQLITE_INDEX, POSTGRES_INDEX)
