"""PostgreSQL search: a generated tsvector column, a GIN index on tags, plain SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Select, func, literal_column, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from tomo.marketplace.models import MarketplaceAppRow
from tomo.marketplace.search.query import (
    ACCENTED,
    SORT_COLUMNS,
    UNACCENTED,
    SearchQuery,
    Visibility,
    fts_terms,
)

# translate() folds accents (café → cafe) with the table queries are folded with;
# unaccent would need an extension and is not immutable.
_FOLDED = "translate(coalesce({}, ''), '" + ACCENTED + "', '" + UNACCENTED + "')"
DDL = [
    f"""ALTER TABLE marketplace_apps ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', {_FOLDED.format("name")}), 'A') ||
        setweight(to_tsvector('simple', {_FOLDED.format("tags::text")}), 'B') ||
        setweight(to_tsvector('simple', {_FOLDED.format("author")}), 'C') ||
        setweight(to_tsvector('simple', {_FOLDED.format("description")}), 'D')) STORED""",
    "CREATE INDEX ix_marketplace_apps_search ON marketplace_apps USING gin (search_vector)",
    "CREATE INDEX ix_marketplace_apps_tags ON marketplace_apps USING gin (tags jsonb_path_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS ix_marketplace_apps_tags",
    "DROP INDEX IF EXISTS ix_marketplace_apps_search",
    "ALTER TABLE marketplace_apps DROP COLUMN IF EXISTS search_vector",
]


# Ranking reads every match's tsvector; past this many matches, relevance falls
# back to popularity, which an index serves (as the SQLite backend does).
RANK_LIMIT = 2_500


async def find_page(
    session: AsyncSession, query: SearchQuery, visibility: Visibility
) -> tuple[int, list[int]]:
    apps = MarketplaceAppRow
    conditions = _conditions(query, visibility)
    filtered = bool(query.terms or query.category or query.repo_id or query.tags)
    rank: ColumnElement[float] | None = None
    if query.terms:
        tsquery = func.to_tsquery(
            literal_column("'simple'::regconfig"),
            " & ".join(f"{term}:*" if prefix else term for term, prefix in fts_terms(query)),
        )
        vector: ColumnElement[Any] = literal_column("marketplace_apps.search_vector")
        conditions.append(vector.op("@@")(tsquery))
        rank = func.ts_rank(vector, tsquery, type_=Float)
    if filtered:
        total = await session.scalar(select(func.count()).select_from(apps).where(*conditions))
    else:  # the whole visible catalog: the repos' app counts say how big it is
        total = visibility.visible_apps
    if rank is not None and (total or 0) > RANK_LIMIT:
        rank = None
    page: Select[int] = select(apps.pk).where(*conditions)
    page = page.order_by(*_ordering(query, rank)).limit(query.limit).offset(query.offset)
    return total or 0, list(await session.scalars(page))


def _conditions(query: SearchQuery, visibility: Visibility) -> list[ColumnElement[bool]]:
    apps = MarketplaceAppRow
    conditions: list[ColumnElement[bool]] = []
    if visibility.hidden_repos:
        conditions.append(apps.repo_id.not_in(visibility.hidden_repos))
    if query.category:
        conditions.append(apps.category == query.category)
    if query.repo_id:
        conditions.append(apps.repo_id == query.repo_id)
    if query.tags:
        conditions.append(type_coerce(apps.tags, JSONB).contains(list(query.tags)))
    return conditions


def _ordering(query: SearchQuery, rank: ColumnElement[float] | None) -> list[Any]:
    sort = query.effective_sort
    if sort == "relevance":
        return [rank.desc(), *_columns("name")] if rank is not None else _columns("popularity")
    return _columns(sort)


def _columns(sort: str) -> list[Any]:
    columns = MarketplaceAppRow.__table__.c
    return [
        columns[name].desc() if descending else columns[name].asc()
        for name, descending in SORT_COLUMNS[sort]  # type: ignore[index]
    ]
