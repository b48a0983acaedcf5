"""`tomo app search` without opening all of tomo: Python's sqlite3 on the data
directory's database, when that database is tomo's default SQLite and current.

Opening tomo (settings, SQLAlchemy, migrations check, the built-in catalog)
costs most of a second before a search; the search itself costs milliseconds.
This path answers the same `run_search` over the same SQL, and steps aside
(returns None) whenever the full runtime has something to do first: no
database yet, another backend, a schema to migrate, a built-in catalog to
commit.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tomo.marketplace.packaged import DIGEST_KEY, REGISTERED_KEY, catalog_digest
from tomo.marketplace.search.catalog import run_search
from tomo.marketplace.search.query import SortKey
from tomo.marketplace.search.reader import Sql, StdlibSql
from tomo.migrations import SCHEMA_REVISION

# How pydantic reads a boolean setting (TOMO_BUILTIN_CATALOG), as Settings does.
_FALSE = {"0", "off", "f", "false", "n", "no"}


def quick_search(
    data_dir: Path,
    *,
    text: str | None,
    category: str | None,
    tags: Sequence[str],
    repo: str | None,
    sort: SortKey | None,
    limit: int,
    offset: int,
) -> dict[str, Any] | None:
    """A page in SearchPage's shape, or None when the full runtime must answer."""
    path = data_dir / "tomo.db"
    if os.environ.get("TOMO_DATABASE_URL") or not path.is_file():
        return None
    connection = sqlite3.connect(path, timeout=10)
    try:
        sql = StdlibSql(connection)
        if not _current(sql, data_dir):
            return None
        return run_search(sql, "sqlite", text=text, category=category, tags=tags, repo=repo,
                          sort=sort, limit=limit, offset=offset)  # fmt: skip
    finally:
        connection.close()


def _current(sql: Sql, data_dir: Path) -> bool:
    """The schema is the newest, and the built-in catalog (if on) is committed as packaged."""
    try:
        revision = sql.rows("SELECT version_num FROM alembic_version")
        state = {key: value for key, value in sql.rows("SELECT key, value FROM tomo_state")}
    except sqlite3.Error:
        return False
    if [tuple(row) for row in revision] != [(SCHEMA_REVISION,)]:
        return False
    if os.environ.get("TOMO_BUILTIN_CATALOG", "true").strip().lower() in _FALSE:
        return True
    return (
        REGISTERED_KEY in state
        and state.get(DIGEST_KEY) == catalog_digest()
        and (data_dir / "builtin-catalog" / ".git").is_dir()
    )
