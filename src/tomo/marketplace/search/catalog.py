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
    installable_only: bool = False,
    one_per_app: bool = False,
    sort: SortKey | None = None,
    limit: int = 20,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the catalog in SearchPage's shape: total, estimated, items."""
    repo_id = resolve_repo(sql, repo) if repo and repo.strip() else None
    query = SearchQuery(text, category, tuple(tags), repo_id, installable_only=installable_only,
                        one_per_app=one_per_app, sort=sort, limit=limit, offset=offset)  # fmt: skip
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


def run_category_counts(
    sql: Sql,
    dialect: str,
    *,
    text: str | None = None,
    tags: Sequence[str] = (),
    repo: str | None = None,
    installable_only: bool = False,
    one_per_app: bool = False,
) -> list[tuple[str, int]]:
    """(category, apps) among the apps a search with these words and filters finds."""
    repo_id = resolve_repo(sql, repo) if repo and repo.strip() else None
    query = SearchQuery(text, None, tuple(tags), repo_id, installable_only=installable_only,
                        one_per_app=one_per_app)  # fmt: skip
    visibility = read_visibility(sql)
    if dialect == "sqlite":
        return sqlite.category_counts(sql, query, visibility)
    from tomo.marketplace.search import postgres

    return postgres.category_counts(sql, query, visibility)
