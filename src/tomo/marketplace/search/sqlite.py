"""SQLite search: an FTS5 index that holds the filters as well as the text.

Besides the text columns (name, category, tags, description, author), each
app's row in `marketplace_apps_fts` carries facet tokens for its category, tags
and repo, so every filtered search is one FTS5 match whose count is cheap. Each
query word matches as a prefix, in its own form or its stem's (`blocking` finds
"blocks"). The page is then found the cheapest way:

* relevance, few matches: bm25 over all of them;
* relevance, very many matches (a word in most descriptions): bm25 must read
  the whole index of such words and rank every match, more than such a broad
  query is worth; apps whose name, category or tags match come first, then the
  others, each group most popular first;
* any other sort: walk that sort's index, keeping matches, when matches are
  dense; sort the matches themselves when they are few.

When no app matches the words at all, a trigram index over names, categories,
tags and descriptions offers apps with words *like* them (see fuzzy.py).

Statements are assembled from constants only (index names, column lists from
SORT_COLUMNS); every value, the FTS5 query included, is a bound parameter.
Everything here is synchronous over `Sql`, so the CLI can run it on Python's
own sqlite3 (see reader.py).
"""

from __future__ import annotations

from dataclasses import replace

from tomo.marketplace.search import fuzzy
from tomo.marketplace.search.query import (
    SORT_COLUMNS,
    SORT_INDEXES,
    Found,
    SearchQuery,
    SortKey,
    Visibility,
    match_expression,
    term_groups,
)
from tomo.marketplace.search.reader import Sql

# bm25 costs 1-2 µs per matching row: rank exhaustively up to this many. A
# broader query is ranked by tiers (name/category/tag hits first), see `_ranked`.
RANK_LIMIT = 2_500
# A sort-index walk may step over this many rows before sorting matches is cheaper.
WALK_LIMIT = 20_000
STRONG_COLUMNS = "{name category tags}"
# Column weights: name, category, tags, description, author, facets.
BM25 = "bm25(marketplace_apps_fts, 10.0, 5.0, 5.0, 1.0, 2.0, 0.0)"

# Facet tokens are a private-use character, a kind letter and the value in hex:
# any category, tag or repo id is one token, and no search word (\w+) can ever
# match one, so text needs no column filter. Filters always name the facets
# column, which only tomo writes, so catalog text cannot fake a facet. Category
# and tags are folded to lower case (SQL lower(): ASCII letters), so filters
# ignore case. `i31` marks an app tomo can install (installable = 1; `i30` one it
# cannot), and `p31` the one app that represents its family (families.py), so
# "only what tomo can install" and "one card per app" are facets of the same match.
FACET_MARK = "\ue000"
_FACETS_SQL = (
    "char(57344) || 'c' || lower(hex(lower({row}.category))) || ' ' || char(57344) || 'r' || "
    "lower(hex({row}.repo_id)) || ' ' || char(57344) || 'i' || lower(hex({row}.installable)) || "
    "' ' || char(57344) || 'p' || lower(hex({row}.represents)) || "
    "coalesce((SELECT ' ' || group_concat("
    "char(57344) || 't' || lower(hex(lower(value))), ' ') FROM json_each({row}.tags)), '')"
)
_WORDS_SQL = (
    "{row}.name || ' ' || {row}.category || ' ' || "
    "coalesce((SELECT group_concat(value, ' ') FROM json_each({row}.tags)), '') || ' ' || "
    "{row}.description"
)
_FTS_ROW = (
    "{pk}, {row}.name, {row}.category, {row}.tags, {row}.description, {row}.author, " + _FACETS_SQL
)
_INSERT = (
    "INSERT INTO marketplace_apps_fts(rowid, name, category, tags, description, author, facets) "
    "VALUES (" + _FTS_ROW.format(pk="new.pk", row="new") + "); "
    "INSERT INTO marketplace_apps_trigrams(rowid, words) VALUES (new.pk, "
    + _WORDS_SQL.format(row="new")
    + ");"
)
_DELETE = (
    "INSERT INTO marketplace_apps_fts"
    "(marketplace_apps_fts, rowid, name, category, tags, description, author, facets) "
    "VALUES ('delete', " + _FTS_ROW.format(pk="old.pk", row="old") + "); "
    "INSERT INTO marketplace_apps_trigrams(marketplace_apps_trigrams, rowid, words) "
    "VALUES ('delete', old.pk, " + _WORDS_SQL.format(row="old") + ");"
)
# The index these queries are written for. Migrations make it with SQL of their own
# (a change here needs a migration that makes it so; tests/test_db.py checks).
DDL = [
    "CREATE VIRTUAL TABLE marketplace_apps_fts USING fts5("
    "name, category, tags, description, author, facets, content='', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE VIRTUAL TABLE marketplace_apps_trigrams USING fts5("
    "words, content='', tokenize='trigram')",
    f"CREATE TRIGGER marketplace_apps_fts_insert AFTER INSERT ON marketplace_apps "
    f"BEGIN {_INSERT} END",
    f"CREATE TRIGGER marketplace_apps_fts_delete AFTER DELETE ON marketplace_apps "
    f"BEGIN {_DELETE} END",
    "CREATE TRIGGER marketplace_apps_fts_update AFTER UPDATE OF "
    "name, description, tags, author, category, installable, represents ON marketplace_apps "
    f"BEGIN {_DELETE} {_INSERT} END",
    # Apps already in the catalog (the index is made anew by a migration).
    "INSERT INTO marketplace_apps_fts(rowid, name, category, tags, description, author, facets) "
    "SELECT " + _FTS_ROW.format(pk="a.pk", row="a") + " FROM marketplace_apps a",
    "INSERT INTO marketplace_apps_trigrams(rowid, words) SELECT a.pk, "
    + _WORDS_SQL.format(row="a")
    + " FROM marketplace_apps a",
]
DROP = [
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_update",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_delete",
    "DROP TRIGGER IF EXISTS marketplace_apps_fts_insert",
    "DROP TABLE IF EXISTS marketplace_apps_trigrams",
    "DROP TABLE IF EXISTS marketplace_apps_fts",
]


def facet(kind: str, value: str) -> str:
    return f'"{FACET_MARK}{kind}{value.encode().hex()}"'


def _fts_match(required: list[str], excluded: list[str]) -> str:
    """FTS5 query text; `required` parts are ANDed, `excluded` parts removed."""
    expression = " AND ".join(f"({part})" for part in required)
    return expression + "".join(f" NOT ({part})" for part in excluded)


def _words(query: SearchQuery) -> str | None:
    """Every word must match, each in any of its forms, each as a prefix."""
    groups = term_groups(query)
    return match_expression(groups, '"{}"*', conjunction="AND", disjunction="OR") or None


class _Plan:
    """The FTS5 expressions one query needs."""

    def __init__(self, query: SearchQuery, visibility: Visibility) -> None:
        words = _words(query)
        self.text = f"({words})" if words else None
        self.strong_text = f"{STRONG_COLUMNS} : ({words})" if words else None
        filters = [f"facets : {facet('c', query.category)}"] if query.category else []
        filters += [f"facets : {facet('t', tag)}" for tag in query.tags]
        filters += [f"facets : {facet('r', query.repo_id)}"] if query.repo_id else []
        filters += [f"facets : {facet('i', '1')}"] if query.installable_only else []
        filters += [f"facets : {facet('p', '1')}"] if query.one_per_app else []
        self.filters = filters
        hidden = " OR ".join(facet("r", repo) for repo in visibility.hidden_repos)
        self.hidden = [f"facets : ({hidden})"] if hidden else []
        self.exact_name = query.exact_name if words else ""

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


def find_page(sql: Sql, query: SearchQuery, visibility: Visibility) -> Found:
    """The number of all matches and the primary keys of the requested page, in order."""
    plan = _Plan(query, visibility)
    match = plan.any
    sort = query.effective_sort
    if match is None:
        return Found(visibility.visible_apps,
                     _browse(sql, sort, visibility, query.limit, query.offset))  # fmt: skip
    total = _count(sql, match)
    if total == 0 and plan.text:
        return _alike(sql, query, plan)
    if query.offset >= total:
        return Found(total, [])
    if sort == "relevance":
        return Found(total, _ranked(sql, plan, visibility, total, query.limit, query.offset))
    walk = _worth_walking(visibility, total, query.limit, query.offset)
    return Found(total, _sorted(sql, match, sort, query.limit, query.offset, walk_index=walk))


def category_counts(sql: Sql, query: SearchQuery, visibility: Visibility) -> list[tuple[str, int]]:
    """(category, apps) among the apps the query finds, whatever its category filter."""
    match = _Plan(replace(query, category=None), visibility).any
    if match is None:
        where, hidden = _visible(visibility)
        statement = f"SELECT category, count(*) FROM marketplace_apps {where} GROUP BY category"
        return [(row[0], int(row[1])) for row in sql.rows(statement, hidden)]
    statement = (
        "SELECT category, count(*) FROM marketplace_apps WHERE pk IN (SELECT rowid FROM "
        "marketplace_apps_fts WHERE marketplace_apps_fts MATCH :m) GROUP BY category"
    )
    return [(row[0], int(row[1])) for row in sql.rows(statement, {"m": match})]


def _count(sql: Sql, match: str) -> int:
    statement = "SELECT count(*) FROM marketplace_apps_fts WHERE marketplace_apps_fts MATCH :m"
    return int(sql.rows(statement, {"m": match})[0][0] or 0)


def _order_by(sort: SortKey) -> str:
    return ", ".join(f"{column} DESC" if desc else column for column, desc in SORT_COLUMNS[sort])


def _browse(sql: Sql, sort: SortKey, visibility: Visibility, limit: int, offset: int) -> list[int]:
    """No text and no filter: walk the sort's index."""
    where, hidden = _visible(visibility)
    params = {"limit": limit, "offset": offset, **hidden}
    statement = (
        f"SELECT pk FROM marketplace_apps INDEXED BY {SORT_INDEXES[sort]} {where} "
        f"ORDER BY {_order_by(sort)} LIMIT :limit OFFSET :offset"
    )
    return [row[0] for row in sql.rows(statement, params)]


def _visible(visibility: Visibility) -> tuple[str, dict[str, str]]:
    """A WHERE clause leaving out the apps of disabled repositories, and its values."""
    hidden = {f"hidden{n}": repo for n, repo in enumerate(visibility.hidden_repos)}
    where = f"WHERE repo_id NOT IN ({', '.join(':' + name for name in hidden)})" if hidden else ""
    return where, hidden


def _sorted(
    sql: Sql, match: str, sort: SortKey, limit: int, offset: int, *, walk_index: bool
) -> list[int]:
    """Matches in a column order: walk the index if matches are dense, else sort them."""
    hint = f"INDEXED BY {SORT_INDEXES[sort]}" if walk_index else ""
    statement = (
        f"SELECT pk FROM marketplace_apps {hint} WHERE pk IN ("
        "SELECT rowid FROM marketplace_apps_fts WHERE marketplace_apps_fts MATCH :m) "
        f"ORDER BY {_order_by(sort)} LIMIT :limit OFFSET :offset"
    )
    params = {"m": match, "limit": limit, "offset": offset}
    return [row[0] for row in sql.rows(statement, params)]


def _ranked(
    sql: Sql, plan: _Plan, visibility: Visibility, total: int, limit: int, offset: int
) -> list[int]:
    assert plan.any is not None
    if total <= RANK_LIMIT:
        return _fts_page(sql, plan.any, _named_exactly(sql, plan.exact_name), limit, offset)
    # Too broad to rank by text: apps whose name, category or tags match come
    # first, then the others; each group most popular first.
    strong_total = _count(sql, plan.strong)
    pks: list[int] = []
    if offset < strong_total:
        take = min(limit, strong_total - offset)
        pks += _popular(sql, plan.strong, strong_total, visibility, take, offset)
    if len(pks) < limit:
        weak_offset = max(0, offset - strong_total)
        weak_total = total - strong_total
        pks += _popular(sql, plan.weak, weak_total, visibility, limit - len(pks), weak_offset)
    return pks


def _popular(
    sql: Sql, match: str, total: int, visibility: Visibility, limit: int, offset: int
) -> list[int]:
    walk = _worth_walking(visibility, total, limit, offset)
    return _sorted(sql, match, "popularity", limit, offset, walk_index=walk)


def _worth_walking(visibility: Visibility, total: int, limit: int, offset: int) -> bool:
    """Walk a sort index (stepping over non-matches) unless matches are sparse."""
    steps = (offset + limit) * max(visibility.visible_apps, 1) / max(total, 1)
    return steps <= WALK_LIMIT


def _named_exactly(sql: Sql, name: str) -> list[int]:
    """Apps named exactly `name` (any repository; the match then picks the visible)."""
    statement = "SELECT pk FROM marketplace_apps WHERE sort_name = :name LIMIT 64"
    return [row[0] for row in sql.rows(statement, {"name": name})] if name else []


def _fts_page(sql: Sql, match: str, first: list[int], limit: int, offset: int) -> list[int]:
    """Ranked by bm25, the apps in `first` (named exactly as asked) before the rest."""
    lead = f"rowid IN ({', '.join(map(str, first))}) DESC, " if first else ""
    statement = (
        "SELECT rowid FROM marketplace_apps_fts WHERE marketplace_apps_fts MATCH :m "
        f"ORDER BY {lead}{BM25}, rowid LIMIT :limit OFFSET :offset"
    )
    return [row[0] for row in sql.rows(statement, {"m": match, "limit": limit, "offset": offset})]


def _alike(sql: Sql, query: SearchQuery, plan: _Plan) -> Found:
    """No app matches the words: apps whose name, category or tags hold words like
    them, best first (then most popular), within the same filters."""
    terms = fuzzy.fuzzy_terms(query.terms)
    grams = fuzzy.inner_trigrams(terms)
    if not grams:
        return Found(0, [])
    params: dict[str, object] = {
        "m": " OR ".join(f'"{gram}"' for gram in grams), "n": fuzzy.CANDIDATES,
    }  # fmt: skip
    within = ""
    if plan.filters:
        within = (" AND rowid IN (SELECT rowid FROM marketplace_apps_fts "
                  "WHERE marketplace_apps_fts MATCH :f)")  # fmt: skip
        params["f"] = _fts_match(plan.filters, plan.hidden)
    elif plan.hidden:
        within = (" AND rowid NOT IN (SELECT rowid FROM marketplace_apps_fts "
                  "WHERE marketplace_apps_fts MATCH :f)")  # fmt: skip
        params["f"] = plan.hidden[0]
    statement = (
        "SELECT a.pk, a.name || ' ' || a.category || ' ' || a.tags || ' ' || a.description, "
        "a.install_count "
        "FROM marketplace_apps a WHERE a.pk IN (SELECT rowid FROM marketplace_apps_trigrams "
        f"WHERE marketplace_apps_trigrams MATCH :m{within} "
        "ORDER BY bm25(marketplace_apps_trigrams) LIMIT :n)"
    )
    return fuzzy.best(terms, sql.rows(statement, params), query.offset, query.limit)
