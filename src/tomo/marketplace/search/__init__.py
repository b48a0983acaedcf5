"""Catalog search: one entry point, two full-text backends.

`search_catalog` returns the total number of matches and one page of apps.
SQLite (`search.sqlite`) plans each query over an FTS5 index that also holds
the filters; PostgreSQL (`search.postgres`) uses a generated tsvector column
and a GIN index on tags. Both indexes are created by hand in migrations
(dialect-specific) and kept out of autogenerate.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.marketplace.models import MarketplaceAppRow
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
) -> tuple[int, list[MarketplaceAppRow]]:
    """The number of all matches and the requested page of them, in order."""
    backend = sqlite if dialect == "sqlite" else postgres
    total, pks = await backend.find_page(session, query, visibility)
    if not pks:
        return total, []
    rows = await session.scalars(select(MarketplaceAppRow).where(MarketplaceAppRow.pk.in_(pks)))
    by_pk = {row.pk: row for row in rows}
    return total, [by_pk[pk] for pk in pks if pk in by_pk]


def create_search_index(bind: Connection) -> None:
    for statement in (sqlite if bind.dialect.name == "sqlite" else postgres).DDL:
        bind.exec_driver_sql(statement)


def drop_search_index(bind: Connection) -> None:
    for statement in (sqlite if bind.dialect.name == "sqlite" else postgres).DROP:
        bind.exec_driver_sql(statement)
