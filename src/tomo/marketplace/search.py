"""Catalog search: one query builder, two full-text backends.

SQLite uses an FTS5 table kept in step with `marketplace_apps` by triggers;
PostgreSQL a generated `tsvector` column with a GIN index. Both are created
by hand in migrations (dialect-specific) and kept out of autogenerate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Float, Integer, Select, func, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from tomo.marketplace.models import MarketplaceAppRow, MarketplaceAppTag, MarketplaceRepo

SEARCH_OBJECTS = frozenset({"marketplace_apps_fts", "search_vector", "ix_marketplace_apps_search"})
SortKey = Literal["relevance", "name", "rating", "popularity", "updated"]
SORT_KEYS: tuple[SortKey, ...] = ("relevance", "name", "rating", "popularity", "updated")
MAX_TERMS = 12

# Column weights: a hit in the name counts most, then tags, author, description.
_SQLITE_DDL = [
    """CREATE VIRTUAL TABLE marketplace_apps_fts USING fts5(
        name, description, tags, author,
        content='marketplace_apps', content_rowid='pk',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER marketplace_apps_fts_insert AFTER INSERT ON marketplace_apps BEGIN
        INSERT INTO marketplace_apps_fts(rowid, name, description, tags, author)
        VALUES (new.pk, new.name, new.description, new.tags, new.author);
    END""",
    """CREATE TRIGGER marketplace_apps_fts_delete AFTER DELETE ON marketplace_apps BEGIN
        INSERT INTO marketplace_apps_fts(
            marketplace_apps_fts, rowid, name, description, tags, author)
        VALUES ('delete', old.pk, old.name, old.description, old.tags, old.author);
    END""",
    """CREATE TRIGGER marketplace_apps_fts_update
    AFTER UPDATE OF name, description, tags, author ON marketplace_apps BEGIN
        INSERT INTO marketplace_apps_fts(
            marketplace_apps_fts, rowid, name, description, tags, author)
        VALUES ('delete', old.pk, old.name, old.description, old.tags, old.author);
        INSERT INTO marketplace_apps_fts(rowid, name, description, tags, author)
        VALUES (new.pk, new.name, new.description, new.tags, new.author);
    END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_update",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_delete",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_insert",
    "DROP TABLE IF EXISTS marketplace_apps_fts",
]
_POSTGRES_DDL = [
    """ALTER TABLE marketplace_apps ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(name, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(tags::text, '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(author, '')), 'C') ||
        setweight(to_tsvector('simple', coalesce(description, '')), 'D')) STORED""",
    "CREATE INDEX ix_marketplace_apps_search ON marketplace_apps USING gin (search_vector)",
]
_POSTGRES_DROP = [
    "DROP INDEX IF EXISTS ix_marketplace_apps_search",
    "ALTER TABLE marketplace_apps DROP COLUMN IF EXISTS search_vector",
]


def create_search_index(bind: Connection) -> None:
    for statement in _SQLITE_DDL if bind.dialect.name == "sqlite" else _POSTGRES_DDL:
        bind.execute(text(statement))


def drop_search_index(bind: Connection) -> None:
    for statement in _SQLITE_DROP if bind.dialect.name == "sqlite" else _POSTGRES_DROP:
        bind.execute(text(statement))


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    repo_id: str | None = None
    sort: SortKey | None = None  # None: relevance when there is text, else name
    limit: int = 20
    offset: int = 0


def search_terms(text_: str | None) -> list[str]:
    """Words of the query; punctuation and operators never reach the engine."""
    return re.findall(r"\w+", (text_ or "").lower())[:MAX_TERMS]


def build_search(query: SearchQuery, dialect: str) -> tuple[Select[MarketplaceAppRow], Select[int]]:
    """The page query and the total-count query for one search."""
    apps = MarketplaceAppRow
    page = select(apps)
    count = select(func.count()).select_from(apps)
    terms = search_terms(query.text)
    rank: ColumnElement[float] | None = None
    if terms:
        page, count, rank = _with_text(page, count, terms, dialect)
    for condition in _filters(query):
        page, count = page.where(condition), count.where(condition)
    sort = query.sort or ("relevance" if terms else "name")
    page = page.order_by(*_ordering(sort, rank)).limit(query.limit).offset(query.offset)
    return page, count


def _with_text(
    page: Select[MarketplaceAppRow],
    count: Select[int],
    terms: list[str],
    dialect: str,
) -> tuple[Select[MarketplaceAppRow], Select[int], ColumnElement[float]]:
    if dialect == "sqlite":
        expression = " ".join(f'"{term}"*' for term in terms)
        matches = (
            text(
                "SELECT rowid AS pk, bm25(marketplace_apps_fts, 10.0, 1.0, 5.0, 2.0) AS score "
                "FROM marketplace_apps_fts WHERE marketplace_apps_fts MATCH :fts_query"
            )
            .bindparams(fts_query=expression)
            .columns(pk=Integer, score=Float)
            .subquery("matches")
        )
        joined = MarketplaceAppRow.pk == matches.c.pk
        # bm25 is lower for better matches; negate so that larger is better everywhere.
        return page.join(matches, joined), count.join(matches, joined), -matches.c.score
    expression = " & ".join(f"{term}:*" for term in terms)
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), expression)
    vector: ColumnElement[object] = literal_column("marketplace_apps.search_vector")
    condition = vector.op("@@")(tsquery)
    rank = func.ts_rank(vector, tsquery, type_=Float)
    return page.where(condition), count.where(condition), rank


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    apps = MarketplaceAppRow
    enabled = select(MarketplaceRepo.id).where(MarketplaceRepo.enabled.is_(True))
    conditions: list[ColumnElement[bool]] = [apps.repo_id.in_(enabled.scalar_subquery())]
    if query.category:
        conditions.append(apps.category == query.category)
    if query.repo_id:
        conditions.append(apps.repo_id == query.repo_id)
    for tag in query.tags:
        tagged = select(MarketplaceAppTag.app_pk).where(MarketplaceAppTag.tag == tag)
        conditions.append(apps.pk.in_(tagged.scalar_subquery()))
    return conditions


def _ordering(sort: SortKey, rank: ColumnElement[float] | None) -> list[Any]:
    apps = MarketplaceAppRow
    tiebreak = [apps.name.asc(), apps.repo_id.asc(), apps.id.asc()]
    if sort == "relevance" and rank is not None:
        return [rank.desc(), *tiebreak]
    if sort == "rating":
        return [apps.avg_rating.desc(), apps.rating_count.desc(), *tiebreak]
    if sort == "popularity":
        return [apps.install_count.desc(), *tiebreak]
    if sort == "updated":
        return [apps.updated_at.desc(), *tiebreak]
    return tiebreak
