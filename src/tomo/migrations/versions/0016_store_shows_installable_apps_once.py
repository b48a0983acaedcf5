"""The store shows what tomo can install, and the same app from several repositories once.

- marketplace_apps.installable: false when the definition says why tomo cannot
  install the app (details.not_installable), filled in from what is stored.
- marketplace_apps.family (the name folded: case, spaces and punctuation left
  out) and .represents (the one app of a family the store shows), see
  tomo/marketplace/families.py; filled in from what is stored.
- SQLite's search index is made anew with two more facet tokens per app (`i31`
  installable, `p31` represents its family), so both are facets of the same
  full-text match; PostgreSQL filters on the columns.

Revision ID: 0016
Revises: 0015
"""

import importlib
import re

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The index as this revision makes it: the SQL tomo's search engine ran then,
# copied here so that later changes to search never change this migration.
SQLITE_INDEX = [
    "CREATE VIRTUAL TABLE marketplace_apps_fts USING fts5(name, category, tags, description, "
    "author, facets, content='', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE VIRTUAL TABLE marketplace_apps_trigrams USING fts5(words, content='', "
    "tokenize='trigram')",
    "CREATE TRIGGER marketplace_apps_fts_insert AFTER INSERT ON marketplace_apps BEGIN INSERT"
    " INTO marketplace_apps_fts(rowid, name, category, tags, description, author, facets) "
    "VALUES (new.pk, new.name, new.category, new.tags, new.description, new.author, "
    "char(57344) || 'c' || lower(hex(lower(new.category))) || ' ' || char(57344) || 'r' || "
    "lower(hex(new.repo_id)) || ' ' || char(57344) || 'i' || lower(hex(new.installable)) || '"
    " ' || char(57344) || 'p' || lower(hex(new.represents)) || coalesce((SELECT ' ' || "
    "group_concat(char(57344) || 't' || lower(hex(lower(value))), ' ') FROM "
    "json_each(new.tags)), '')); INSERT INTO marketplace_apps_trigrams(rowid, words) VALUES "
    "(new.pk, new.name || ' ' || new.category || ' ' || coalesce((SELECT group_concat(value, "
    "' ') FROM json_each(new.tags)), '') || ' ' || new.description); END",
    "CREATE TRIGGER marketplace_apps_fts_delete AFTER DELETE ON marketplace_apps BEGIN INSERT"
    " INTO marketplace_apps_fts(marketplace_apps_fts, rowid, name, category, tags, "
    "description, author, facets) VALUES ('delete', old.pk, old.name, old.category, old.tags,"
    " old.description, old.author, char(57344) || 'c' || lower(hex(lower(old.category))) || '"
    " ' || char(57344) || 'r' || lower(hex(old.repo_id)) || ' ' || char(57344) || 'i' || "
    "lower(hex(old.installable)) || ' ' || char(57344) || 'p' || lower(hex(old.represents)) "
    "|| coalesce((SELECT ' ' || group_concat(char(57344) || 't' || lower(hex(lower(value))), "
    "' ') FROM json_each(old.tags)), '')); INSERT INTO "
    "marketplace_apps_trigrams(marketplace_apps_trigrams, rowid, words) VALUES ('delete', "
    "old.pk, old.name || ' ' || old.category || ' ' || coalesce((SELECT group_concat(value, '"
    " ') FROM json_each(old.tags)), '') || ' ' || old.description); END",
    "CREATE TRIGGER marketplace_apps_fts_update AFTER UPDATE OF name, description, tags, "
    "author, category, installable, represents ON marketplace_apps BEGIN INSERT INTO "
    "marketplace_apps_fts(marketplace_apps_fts, rowid, name, category, tags, description, "
    "author, facets) VALUES ('delete', old.pk, old.name, old.category, old.tags, "
    "old.description, old.author, char(57344) || 'c' || lower(hex(lower(old.category))) || ' "
    "' || char(57344) || 'r' || lower(hex(old.repo_id)) || ' ' || char(57344) || 'i' || "
    "lower(hex(old.installable)) || ' ' || char(57344) || 'p' || lower(hex(old.represents)) "
    "|| coalesce((SELECT ' ' || group_concat(char(57344) || 't' || lower(hex(lower(value))), "
    "' ') FROM json_each(old.tags)), '')); INSERT INTO "
    "marketplace_apps_trigrams(marketplace_apps_trigrams, rowid, words) VALUES ('delete', "
    "old.pk, old.name || ' ' || old.category || ' ' || coalesce((SELECT group_concat(value, '"
    " ') FROM json_each(old.tags)), '') || ' ' || old.description); INSERT INTO "
    "marketplace_apps_fts(rowid, name, category, tags, description, author, facets) VALUES "
    "(new.pk, new.name, new.category, new.tags, new.description, new.author, char(57344) || "
    "'c' || lower(hex(lower(new.category))) || ' ' || char(57344) || 'r' || "
    "lower(hex(new.repo_id)) || ' ' || char(57344) || 'i' || lower(hex(new.installable)) || '"
    " ' || char(57344) || 'p' || lower(hex(new.represents)) || coalesce((SELECT ' ' || "
    "group_concat(char(57344) || 't' || lower(hex(lower(value))), ' ') FROM "
    "json_each(new.tags)), '')); INSERT INTO marketplace_apps_trigrams(rowid, words) VALUES "
    "(new.pk, new.name || ' ' || new.category || ' ' || coalesce((SELECT group_concat(value, "
    "' ') FROM json_each(new.tags)), '') || ' ' || new.description); END",
    "INSERT INTO marketplace_apps_fts(rowid, name, category, tags, description, author, "
    "facets) SELECT a.pk, a.name, a.category, a.tags, a.description, a.author, char(57344) ||"
    " 'c' || lower(hex(lower(a.category))) || ' ' || char(57344) || 'r' || "
    "lower(hex(a.repo_id)) || ' ' || char(57344) || 'i' || lower(hex(a.installable)) || ' ' "
    "|| char(57344) || 'p' || lower(hex(a.represents)) || coalesce((SELECT ' ' || "
    "group_concat(char(57344) || 't' || lower(hex(lower(value))), ' ') FROM "
    "json_each(a.tags)), '') FROM marketplace_apps a",
    "INSERT INTO marketplace_apps_trigrams(rowid, words) SELECT a.pk, a.name || ' ' || "
    "a.category || ' ' || coalesce((SELECT group_concat(value, ' ') FROM json_each(a.tags)), "
    "'') || ' ' || a.description FROM marketplace_apps a",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_update",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_delete",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_insert",
    "DROP TABLE IF EXISTS marketplace_apps_trigrams",
    "DROP TABLE IF EXISTS marketplace_apps_fts",
]
FILL_SQLITE = ("UPDATE marketplace_apps SET installable = "
               "json_extract(details, '$.not_installable') IS NULL")  # fmt: skip
FILL_POSTGRES = ("UPDATE marketplace_apps SET installable = "
                 "(details ->> 'not_installable') IS NULL")  # fmt: skip
MEMBERS = (
    "SELECT a.pk, a.name, a.id, r.enabled, a.installable, r.repo_type, a.repo_id "
    "FROM marketplace_apps a JOIN marketplace_repos r ON r.id = a.repo_id"
)


def _previous_index() -> list[str]:
    """The index 0007 made (unchanged until this revision)."""
    module = importlib.import_module("tomo.migrations.versions.0007_search_words_forms_and_typos")
    return list(module.SQLITE_INDEX)


def _fill_families(bind: sa.Connection) -> None:
    """Each app's family, and the one app that represents each family (as
    families.py chose them when this revision was written)."""
    rows = bind.exec_driver_sql(MEMBERS).all()
    family = {pk: re.sub(r"[\W_]+", "", name.casefold())[:128] or app_id
              for pk, name, app_id, *_ in rows}  # fmt: skip
    best: dict[str, tuple[object, ...]] = {}
    for pk, _name, app_id, enabled, installable, repo_type, repo_id in rows:
        rank = (not enabled, not installable, repo_type != "official", repo_id, app_id, pk)
        if family[pk] not in best or rank < best[family[pk]]:
            best[family[pk]] = rank
    chosen = {rank[-1] for rank in best.values()}
    apps = sa.table("marketplace_apps", sa.column("pk"), sa.column("family"),
                    sa.column("represents"))  # fmt: skip
    for pk in family:
        bind.execute(apps.update().where(apps.c.pk == pk)
                     .values(family=family[pk], represents=pk in chosen))  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for statement in SQLITE_DROP if sqlite else []:  # rows are rewritten: no re-indexing
        bind.exec_driver_sql(statement)
    op.add_column("marketplace_apps", sa.Column("installable", sa.Boolean(), nullable=False,
                                                server_default=sa.true()))  # fmt: skip
    op.add_column("marketplace_apps", sa.Column("family", sa.String(length=128), nullable=False,
                                                server_default=""))  # fmt: skip
    op.add_column("marketplace_apps", sa.Column("represents", sa.Boolean(), nullable=False,
                                                server_default=sa.true()))  # fmt: skip
    op.create_index("ix_marketplace_apps_family", "marketplace_apps", ["family"])
    bind.exec_driver_sql(FILL_SQLITE if sqlite else FILL_POSTGRES)
    _fill_families(bind)
    for statement in SQLITE_INDEX if sqlite else []:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for statement in SQLITE_DROP if sqlite else []:
        bind.exec_driver_sql(statement)
    op.drop_index("ix_marketplace_apps_family", table_name="marketplace_apps")
    # Plain DROP COLUMNs (SQLite 3.35+): a batch copy of the table would lose its triggers.
    for column in ("represents", "family", "installable"):
        bind.exec_driver_sql(f"ALTER TABLE marketplace_apps DROP COLUMN {column}")
    for statement in _previous_index() if sqlite else []:
        bind.exec_driver_sql(statement)
