"""PostgreSQL search: a generated tsvector column, GIN indexes, plain SQL.

The same rules as SQLite's FTS5 search: every word matches as a prefix in its
own form or its stem's; name, category and tags weigh most; filters ignore
case; with nothing matching, pg_trgm offers apps with words like the query's.
Exact totals cost a count of every match, so a match the planner expects to be
broad is not counted: its total is the planner's estimate (`SearchPage.estimated`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tomo.marketplace.search import fuzzy
from tomo.marketplace.search.query import (
    ACCENTED,
    SORT_COLUMNS,
    UNACCENTED,
    Found,
    SearchQuery,
    Visibility,
    match_expression,
    term_groups,
)
from tomo.marketplace.search.reader import Sql

# translate() folds accents (café → cafe) with the table queries are folded with;
# unaccent would need an extension and is not immutable.
_FOLDED = "translate(coalesce({}, ''), '" + ACCENTED + "', '" + UNACCENTED + "')"
# The index these queries are written for. Migrations make it with SQL of their own
# (a change here needs a migration that makes it so; tests/test_db.py checks).
DDL = [
    f"""ALTER TABLE marketplace_apps ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', {_FOLDED.format("name")}), 'A') ||
        setweight(to_tsvector('simple', {_FOLDED.format("category")}), 'B') ||
        setweight(to_tsvector('simple', {_FOLDED.format("tags::text")}), 'B') ||
        setweight(to_tsvector('simple', {_FOLDED.format("author")}), 'C') ||
        setweight(to_tsvector('simple', {_FOLDED.format("description")}), 'D')) STORED""",
    "ALTER TABLE marketplace_apps ADD COLUMN search_words text GENERATED ALWAYS AS ("
    "lower(name || ' ' || category || ' ' || tags::text || ' ' || description)) STORED",
    "CREATE INDEX ix_marketplace_apps_search ON marketplace_apps USING gin (search_vector)",
    "CREATE INDEX ix_marketplace_apps_tags ON marketplace_apps USING gin (tags jsonb_path_ops)",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_marketplace_apps_words ON marketplace_apps "
    "USING gin (search_words gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS ix_marketplace_apps_words",
    "DROP INDEX IF EXISTS ix_marketplace_apps_tags",
    "DROP INDEX IF EXISTS ix_marketplace_apps_search",
    "ALTER TABLE marketplace_apps DROP COLUMN IF EXISTS search_words",
    "ALTER TABLE marketplace_apps DROP COLUMN IF EXISTS search_vector",
]

# Ranking reads every match's row (its tsvector) from the table; past this many
# matches, relevance falls back to popularity, which an index serves.
RANK_LIMIT = 1_000
# Counting reads the matches too: when the planner expects more than this many,
# its estimate is told and nothing is counted; else the matches are counted (up
# to this many: a planner that was far off is caught, and estimated anew).
COUNT_LIMIT = 1_000
_VECTOR = "marketplace_apps.search_vector"


class _Where:
    """The WHERE clause of one query and its parameters."""

    def __init__(self, query: SearchQuery, visibility: Visibility) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}
        for n, repo in enumerate(visibility.hidden_repos):
            self._add(f"repo_id <> :hidden{n}", {f"hidden{n}": repo})
        # Stored categories and tags are lower-case slugs (the definition checks),
        # and the query's are folded: plain comparisons, which the indexes serve.
        if query.category:
            self._add("category = :category", {"category": query.category})
        if query.repo_id:
            self._add("repo_id = :repo", {"repo": query.repo_id})
        if query.tags:
            self._add("tags @> cast(:tags AS jsonb)", {"tags": json.dumps(list(query.tags))})
        if query.installable_only:
            self._add("installable", {})
        if query.one_per_app:
            self._add("represents", {})
        self.text = _tsquery(query)
        if self.text:
            self._add(f"{_VECTOR} @@ to_tsquery('simple', :words)", {"words": self.text})

    def _add(self, condition: str, params: dict[str, Any]) -> None:
        self.parts.append(condition)
        self.params.update(params)

    @property
    def sql(self) -> str:
        return "WHERE " + " AND ".join(self.parts) if self.parts else ""


def _tsquery(query: SearchQuery) -> str | None:
    groups = term_groups(query)
    return match_expression(groups, "{}:*", conjunction="&", disjunction="|") or None


def find_page(sql: Sql, query: SearchQuery, visibility: Visibility) -> Found:
    where = _Where(query, visibility)
    filtered = bool(where.text or query.category or query.repo_id or query.tags
                    or query.installable_only or query.one_per_app)  # fmt: skip
    total, estimated = _total(sql, where) if filtered else (visibility.visible_apps, False)
    if total == 0 and where.text:
        return _alike(sql, query, visibility)
    rank = where.text is not None and not estimated and total <= RANK_LIMIT
    statement = (
        f"SELECT pk FROM marketplace_apps {where.sql} ORDER BY {_order(query, rank)} "
        "LIMIT :limit OFFSET :offset"
    )
    params = {**where.params, "limit": query.limit, "offset": query.offset,
              "exact": query.exact_name}  # fmt: skip
    return Found(total, [row[0] for row in sql.rows(statement, params)], estimated)


def category_counts(sql: Sql, query: SearchQuery, visibility: Visibility) -> list[tuple[str, int]]:
    """(category, apps) among the apps the query finds, whatever its category filter."""
    where = _Where(replace(query, category=None), visibility)
    statement = f"SELECT category, count(*) FROM marketplace_apps {where.sql} GROUP BY category"
    return [(row[0], int(row[1])) for row in sql.rows(statement, where.params)]


def _total(sql: Sql, where: _Where) -> tuple[int, bool]:
    """The planner's estimate when it expects a broad match (planning costs a
    millisecond, counting thousands of matches costs many); else the matches
    counted, up to COUNT_LIMIT."""
    expected = _estimate(sql, where)
    if expected > COUNT_LIMIT:
        return expected, True
    counted = sql.rows(
        f"SELECT count(*) FROM (SELECT 1 FROM marketplace_apps {where.sql} LIMIT :cap) AS matches",
        {**where.params, "cap": COUNT_LIMIT + 1},
    )[0][0]
    if counted <= COUNT_LIMIT:
        return int(counted), False
    return max(expected, COUNT_LIMIT + 1), True


def _estimate(sql: Sql, where: _Where) -> int:
    plan = sql.rows(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM marketplace_apps {where.sql}",
                    where.params)[0][0]  # fmt: skip
    document = json.loads(plan) if isinstance(plan, str) else plan
    return int(document[0]["Plan"]["Plan Rows"])


def _order(query: SearchQuery, rank: bool) -> str:
    sort = query.effective_sort
    if sort == "relevance":
        if rank:  # an app named exactly what was asked first: "Jellyfin" before "Jellyfin (GPU)"
            return (f"sort_name = :exact DESC, ts_rank({_VECTOR}, to_tsquery('simple', :words)) "
                    "DESC, " + _columns("name"))  # fmt: skip
        return _columns("popularity")
    return _columns(sort)


def _columns(sort: str) -> str:
    return ", ".join(
        f"{name} DESC" if descending else name
        for name, descending in SORT_COLUMNS[sort]  # type: ignore[index]
    )


def _alike(sql: Sql, query: SearchQuery, visibility: Visibility) -> Found:
    """No app matches the words: apps whose name, category or tags hold words like
    them (pg_trgm finds candidates; fuzzy.py scores them as on SQLite)."""
    terms = fuzzy.fuzzy_terms(query.terms)
    if not terms:
        return Found(0, [])
    filters = _Where(replace(query, text=None), visibility)
    likeness = " OR ".join(f":t{n} <% search_words" for n in range(len(terms)))
    conditions = [f"({likeness})", *filters.parts]
    params = {**filters.params, **{f"t{n}": term for n, term in enumerate(terms)}}
    sql.rows("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)",
             {"t": str(fuzzy.THRESHOLD)})  # fmt: skip
    rows = sql.rows(
        "SELECT pk, search_words, install_count FROM marketplace_apps "
        f"WHERE {' AND '.join(conditions)} LIMIT :n",
        {**params, "n": fuzzy.CANDIDATES},
    )
    return fuzzy.best(terms, rows, query.offset, query.limit)
