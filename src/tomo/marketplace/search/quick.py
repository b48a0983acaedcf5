"""`tomo app search` without opening all of tomo: Python's sqlite3 on the data
directory's database, when opening tomo would change nothing there (see
tomo.readonly; it steps aside, returning None, whenever the full runtime has
something to do first).

Opening tomo (settings, SQLAlchemy, migrations check, the built-in catalog)
costs most of a second before a search; the search itself costs milliseconds.
This path answers the same `run_search` over the same SQL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tomo.marketplace.search.catalog import run_search
from tomo.marketplace.search.query import SortKey
from tomo.readonly import open_settled

# How pydantic reads a boolean setting (TOMO_BUILTIN_CATALOG), as Settings does.
_FALSE = {"0", "off", "f", "false", "n", "no"}


def quick_search(
    data_dir: Path,
    *,
    text: str | None,
    category: str | None,
    tags: Sequence[str],
    repo: str | None,
    installable_only: bool = False,
    sort: SortKey | None,
    limit: int,
    offset: int,
) -> dict[str, Any] | None:
    """A page in SearchPage's shape, or None when the full runtime must answer."""
    builtin_catalog = os.environ.get("TOMO_BUILTIN_CATALOG", "true").strip().lower() not in _FALSE
    database_url = os.environ.get("TOMO_DATABASE_URL")
    with open_settled(data_dir, database_url=database_url, builtin_catalog=builtin_catalog) as sql:
        if sql is None:
            return None
        return run_search(sql, "sqlite", text=text, category=category, tags=tags, repo=repo,
                          installable_only=installable_only, sort=sort, limit=limit,
                          offset=offset)  # fmt: skip
