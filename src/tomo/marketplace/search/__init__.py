"""Catalog search: one entry point, two full-text backends.

`search_catalog` returns the total number of matches and one page of apps.
SQLite (`search.sqlite`) plans each query over an FTS5 index that also holds
the filters; PostgreSQL (`search.postgres`) uses a generated tsvector column
and a GIN index on tags. Both indexes are created by hand in migrations
(dialect-specific) and kept out of autogenerate.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.marketplace.search import postgres, sqlite
from tomo.marketplace.search.query import (
    SORT_KEYS,
    SearchQuery,
    SortKey,
    Visibility,
    search_terms,
)

__all__ = [
    "SEARCH_OBJECTS",
    "SORT_KEYS",
    "SearchQuery",
    "SortKey",
    "Visibility",
    "create_search_index",
    "drop_search_index",
    "search_catalog",
    "search_terms",
]

SEARCH_OBJECTS = frozenset(
    {
        "marketplace_apps_fts",
        "search_vector",
        "ix_marketplace_apps_search",
        "ix_marketplace_apps_tags",
    }
)


async def search_catalog(
    session: AsyncSession, query: SearchQuery, visibility: Visibility, dialect: str
) -> tuple[int, list[int]]:
    """The number of all matches and the primary keys of the requested page, in order."""
    if dialect == "sqlite":
        return await sqlite.find_page(session, query, visibility)
    return await postgres.find_page(session, query, visibility)


def create_search_index(bind: Connection) -> None:
    for statement in (sqlite if bind.dialect.name == "sqlite" else postgres).DDL:
        bind.exec_driver_sql(statement)


def drop_search_index(bind: Connection) -> None:
    for statement in (sqlite if bind.dialect.name == "sqlite" else postgres).DROP:
        bind.exec_driver_sql(statement)
