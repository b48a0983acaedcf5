"""Catalog search: one entry point, two full-text backends.

`run_search` (catalog.py) answers one search over any `Sql` (reader.py): the
service runs it in an SQLAlchemy session, the CLI's quick path on Python's own
sqlite3. SQLite (`sqlite.py`) plans each query over an FTS5 index that also
holds the filters; PostgreSQL (`postgres.py`) uses a generated tsvector column
and GIN indexes. Each module's DDL is the index its queries are written for; the
migrations make it with SQL of their own, dialect by dialect, kept out of
autogenerate (tests/test_db.py checks that the two agree).

This package's modules import nothing heavy (no SQLAlchemy at load time).
"""

from __future__ import annotations

from tomo.marketplace.search.query import SORT_KEYS, SearchQuery, SortKey, Visibility

__all__ = ["SEARCH_OBJECTS", "SORT_KEYS", "SearchQuery", "SortKey", "Visibility"]

SEARCH_OBJECTS = frozenset(
    {
        "marketplace_apps_fts",
        "marketplace_apps_trigrams",
        "search_vector",
        "search_words",
        "ix_marketplace_apps_search",
        "ix_marketplace_apps_tags",
        "ix_marketplace_apps_words",
    }
)
