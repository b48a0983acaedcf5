"""One search, answered over any `Sql`: the service's and the CLI's quick path's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tomo.marketplace.search import sqlite
from tomo.marketplace.search.query import SearchQuery, SortKey
from tomo.marketplace.search.reader import Sql, read_summaries, read_visibility, resolve_repo


def run_search(
    sql: Sql,
    dialect: str,
    *,
    text: str | None = None,
    category: str | None = None,
    tags: Sequence[str] = (),
    repo: str | None = None,
    sort: SortKey | None = None,
    limit: int = 20,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the catalog in SearchPage's shape: total, estimated, items."""
    repo_id = resolve_repo(sql, repo) if repo and repo.strip() else None
    query = SearchQuery(text, category, tuple(tags), repo_id, sort, limit, offset)
    visibility = read_visibility(sql)
    if dialect == "sqlite":
        found = sqlite.find_page(sql, query, visibility)
    else:
        from tomo.marketplace.search import postgres

        found = postgres.find_page(sql, query, visibility)
    return {
        "total": found.total,
        "estimated": found.estimated,
        "items": read_summaries(sql, found.pks),
    }
