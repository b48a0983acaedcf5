"""PostgreSQL search folds accents (café finds cafe and back), as SQLite's FTS5 does.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The index as this revision made it: the SQL tomo's search engine ran then,
# copied here so that later changes to search never change this migration.
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
        setweight(to_tsvector('simple', {_FOLDED.format("tags::text")}), 'B') ||
        setweight(to_tsvector('simple', {_FOLDED.format("author")}), 'C') ||
        setweight(to_tsvector('simple', {_FOLDED.format("description")}), 'D')) STORED""",
    "CREATE INDEX ix_marketplace_apps_search ON marketplace_apps USING gin (search_vector)",
    "CREATE INDEX ix_marketplace_apps_tags ON marketplace_apps USING gin (tags jsonb_path_ops)",
]

# What 0001 made.
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS ix_marketplace_apps_tags",
    "DROP INDEX IF EXISTS ix_marketplace_apps_search",
    "ALTER TABLE marketplace_apps DROP COLUMN IF EXISTS search_vector",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # SQLite's tokenizer folds already
        for statement in [*POSTGRES_DROP, *POSTGRES_INDEX]:
            bind.exec_driver_sql(statement)


def downgrade() -> None:
    pass  # the folded index serves the previous revision's queries as well
