"""SQLite search: an FTS5 index that holds the filters as well as the text.

Besides the text columns, each app's row in `marketplace_apps_fts` carries
facet tokens for its category, tags and repo, so every filtered search is one
FTS5 match whose count is cheap. The page is then found the cheapest way:

* relevance, few matches: bm25 over all of them;
* relevance, very many matches (a word in most descriptions): bm25 must read
  the whole index of such words and rank every match, more than such a broad
  query is worth; apps whose name or tags match come first, then the others,
  each group most popular first;
* any other sort: walk that sort's index, keeping matches, when matches are
  dense; sort the matches themselves when they are few.

Statements are assembled from constants only (index names, column lists from
SORT_COLUMNS); every value, the FTS5 query included, is a bound parameter.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.marketplace.search.query import (
    SORT_COLUMNS,
    SORT_INDEXES,
    SearchQuery,
    SortKey,
    Visibility,
    fts_terms,
)

# bm25 costs 1-2 µs per matching row: rank exhaustively up to this many. A
# broader query is ranked by tiers (name/tag hits first), see `_ranked`.
RANK_LIMIT = 2_500
# A sort-index walk may step over this many rows before sorting matches is cheaper.
WALK_LIMIT = 20_000
STRONG_COLUMNS = "{name tags}"
BM25 = "bm25(marketplace_apps_fts, 10.0, 1.0, 5.0, 2.0, 0.0)"

# Facet tokens are a private-use character, a kind letter and the value in hex:
# any category, tag or repo id is one token, and no search word (\w+) can ever
# match one, so text needs no column filter. Filters always name the facets
# column, which only tomo writes, so catalog text cannot fake a facet.
FACET_MARK = "\ue000"
_FACETS_SQL = (
    "char(57344) || 'c' || lower(hex({row}.category)) || ' ' || char(57344) || 'r' || "
    "lower(hex({row}.repo_id)) || coalesce((SELECT ' ' || group_concat("
    "char(57344) || 't' || lower(hex(value)), ' ') FROM json_each({row}.tags)), '')"
)
_INSERT = (
    "INSERT INTO marketplace_apps_fts(rowid, name, description, tags, author, facets) "
    "VALUES (new.pk, new.name, new.description, new.tags, new.author, "
    + _FACETS_SQL.format(row="new")
    + ");"
)
_DELETE = (
    "INSERT INTO marketplace_apps_fts"
    "(marketplace_apps_fts, rowid, name, description, tags, author, facets) "
    "VALUES ('delete', old.pk, old.name, old.description, old.tags, old.author, "
    + _FACETS_SQL.format(row="old")
    + ");"
)
DDL = [
    "CREATE VIRTUAL TABLE marketplace_apps_fts USING fts5("
    "name, description, tags, author, facets, content='', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    f"CREATE TRIGGER marketplace_apps_fts_insert AFTER INSERT ON marketplace_apps "
    f"BEGIN {_INSERT} END",
    f"CREATE TRIGGER marketplace_apps_fts_delete AFTER DELETE ON marketplace_apps "
    f"BEGIN {_DELETE} END",
    "CREATE TRIGGER marketplace_apps_fts_update AFTER UPDATE OF "
    f"name, description, tags, author, category ON marketplace_apps BEGIN {_DELETE} {_INSERT} END",
]
DROP = [
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_update",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_delete",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_insert",
    "DROP TABLE IF EXISTS marketplace_apps_fts",
]


def facet(kind: str, value: str) -> str:
    return f'"{FACET_MARK}{kind}{value.encode().hex()}"'


def _fts_match(required: list[str], excluded: list[str]) -> str:
    """FTS5 query text; `required` parts are ANDed, `excluded` parts removed."""
    expression = " AND ".join(f"({part})" for part in required)
    return expression + "".join(f" NOT ({part})" for part in excluded)


class _Plan:
    """The FTS5 expressions one query needs."""

    def __init__(self, query: SearchQuery, visibility: Visibility) -> None:
        phrase = " ".join(
            f'"{term}"*' if prefix else f'"{term}"' for term, prefix in fts_terms(query)
        )
        self.text = f"({phrase})" if phrase else None
        self.strong_text = f"{STRONG_COLUMNS} : ({phrase})" if phrase else None
        filters = [f"facets : {facet('c', query.category)}"] if query.category else []
        filters += [f"facets : {facet('t', tag)}" for tag in query.tags]
        filters += [f"facets : {facet('r', query.repo_id)}"] if query.repo_id else []
        self.filters = filters
        hidden = " OR ".join(facet("r", repo) for repo in visibility.hidden_repos)
        self.hidden = [f"facets : ({hidden})"] if hidden else []

    @property
    def any(self) -> str | None:
        required = ([self.text] if self.text else []) + self.filters
        return _fts_match(required, self.hidden) if required else None

    @property
    def strong(self) -> str:
        assert self.strong_text is not None
        return _fts_match([self.strong_text, *self.filters], self.hidden)

    @property
    def weak(self) -> str:
        assert self.text is not None
        assert self.strong_text is not None
        return _fts_match([self.text, *self.filters], [self.strong_text, *self.hidden])


async def find_page(
    session: AsyncSession, query: SearchQuery, visibility: Visibility
) -> tuple[int, list[int]]:
    plan = _Plan(query, visibility)
    match = plan.any
    sort = query.effective_sort
    if match is None:
        pks = await _browse(session, sort, visibility, query.limit, query.offset)
        return visibility.visible_apps, pks
    total = await _count(session, match)
    if query.offset >= total:
        return total, []
    if sort == "relevance":
        return total, await _ranked(session, plan, visibility, total, query.limit, query.offset)
    walk = _worth_walking(visibility, total, query.limit, query.offset)
    return total, await _sorted(session, match, sort, query.limit, query.offset, walk_index=walk)


async def _count(session: AsyncSession, match: str) -> int:
    statement = "SELECT count(*) FROM marketplace_apps_fts WHERE marketplace_apps_fts MATCH :m"
    return int(await session.scalar(text(statement), {"m": match}) or 0)


def _order_by(sort: SortKey) -> str:
    return ", ".join(f"{column} DESC" if desc else column for column, desc in SORT_COLUMNS[sort])


async def _browse(
    session: AsyncSession, sort: SortKey, visibility: Visibility, limit: int, offset: int
) -> list[int]:
    """No text and no filter: walk the sort's index."""
    hidden = {f"hidden{n}": repo for n, repo in enumerate(visibility.hidden_repos)}
    where = f"WHERE repo_id NOT IN ({', '.join(':' + name for name in hidden)})" if hidden else ""
    params = {"limit": limit, "offset": offset, **hidden}
    statement = (
        f"SELECT pk FROM marketplace_apps INDEXED BY {SORT_INDEXES[sort]} {where} "
        f"ORDER BY {_order_by(sort)} LIMIT :limit OFFSET :offset"
    )
    return list(await session.scalars(text(statement), params))


async def _sorted(
    session: AsyncSession, match: str, sort: SortKey, limit: int, offset: int, *, walk_index: bool
) -> list[int]:
    """Matches in a column order: walk the index if matches are dense, else sort them."""
    hint = f"INDEXED BY {SORT_INDEXES[sort]}" if walk_index else ""
    statement = (
        f"SELECT pk FROM marketplace_apps {hint} WHERE pk IN ("
        "SELECT rowid FROM marketplace_apps_fts WHERE marketplace_apps_fts MATCH :m) "
        f"ORDER BY {_order_by(sort)} LIMIT :limit OFFSET :offset"
    )
    params = {"m": match, "limit": limit, "offset": offset}
    return list(await session.scalars(text(statement), params))


async def _ranked(
    session: AsyncSession, plan: _Plan, visibility: Visibility, total: int, limit: int, offset: int
) -> list[int]:
    assert plan.any is not None
    if total <= RANK_LIMIT:
        return await _fts_page(session, plan.any, limit, offset)
    # Too broad to rank by text: apps whose name or tags match come first, then
    # the others; each group most popular first.
    strong_total = await _count(session, plan.strong)
    pks: list[int] = []
    if offset < strong_total:
        take = min(limit, strong_total - offset)
        pks += await _popular(session, plan.strong, strong_total, visibility, take, offset)
    if len(pks) < limit:
        weak_offset = max(0, offset - strong_total)
        weak_total = total - strong_total
        pks += await _popular(
            session, plan.weak, weak_total, visibility, limit - len(pks), weak_offset
        )
    return pks


async def _popular(
    session: AsyncSession, match: str, total: int, visibility: Visibility, limit: int, offset: int
) -> list[int]:
    walk = _worth_walking(visibility, total, limit, offset)
    return await _sorted(session, match, "popularity", limit, offset, walk_index=walk)


def _worth_walking(visibility: Visibility, total: int, limit: int, offset: int) -> bool:
    """Walk a sort index (stepping over non-matches) unless matches are sparse."""
    steps = (offset + limit) * max(visibility.visible_apps, 1) / max(total, 1)
    return steps <= WALK_LIMIT


async def _fts_page(session: AsyncSession, match: str, limit: int, offset: int) -> list[int]:
    statement = (
        "SELECT rowid FROM marketplace_apps_fts WHERE marketplace_apps_fts MATCH :m "
        f"ORDER BY {BM25}, rowid LIMIT :limit OFFSET :offset"
    )
    params = {"m": match, "limit": limit, "offset": offset}
    return list(await session.scalars(text(statement), params))
