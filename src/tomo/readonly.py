"""tomo's SQLite database read with Python's own sqlite3, for commands that only read.

Opening tomo (runtime.open_runtime) loads SQLAlchemy and every service, brings
the schema to the newest revision, commits the built-in catalog and settles
what a tomo that died left: over half a second before a command reads a row.
When opening would change nothing, a command that only reads may read the file
itself, in milliseconds: `open_settled` yields it then, and None whenever the
full runtime has something to do first (another database, no file yet, a file
others may read, a schema to migrate or one newer than this tomo, a built-in
catalog to commit, an installation held by an operation). A command given None
opens tomo as always, so every refusal (an old schema among them) is the
runtime's own.

Values are typed as the ORM reads them (db.py): sqlite3 converts each column by
its declared type, so datetimes come back in UTC, JSON decoded, booleans as such.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tomo.marketplace.packaged import DIGEST_KEY, REGISTERED_KEY, catalog_digest
from tomo.marketplace.search.reader import Sql, StdlibSql
from tomo.migrations import SCHEMA_REVISION


class LocalDatabase(StdlibSql):
    """The database file as `Sql` (rows), and as records: one object per row, its
    columns as attributes (what the services' row-to-model functions read)."""

    def records(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        cursor = self.connection.execute(statement, params or {})
        names = [column[0] for column in cursor.description]
        return [SimpleNamespace(**dict(zip(names, row, strict=True))) for row in cursor]


@contextmanager
def open_settled(
    data_dir: Path, *, database_url: str | None, builtin_catalog: bool
) -> Iterator[LocalDatabase | None]:
    """The data directory's database, or None when opening tomo would change something."""
    path = data_dir / "tomo.db"
    if database_url or not path.is_file() or path.stat().st_mode & 0o077:
        yield None  # another database; none yet; one the runtime makes private first
        return
    _declare_types()
    connection = sqlite3.connect(path, timeout=10, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        connection.execute("BEGIN")  # one snapshot: what is read is what was checked
        database = LocalDatabase(connection)
        yield database if settled(database, data_dir, builtin_catalog=builtin_catalog) else None
    finally:
        connection.close()


def settled(sql: Sql, data_dir: Path, *, builtin_catalog: bool) -> bool:
    """Opening tomo would change nothing: the schema is the newest, the built-in
    catalog (if on) is committed as packaged, and no installation is held by an
    operation (one whose runner died is settled on opening; see reconcile.py)."""
    try:
        revision = sql.rows("SELECT version_num FROM alembic_version")
        state = {key: value for key, value in sql.rows("SELECT key, value FROM tomo_state")}
        held = sql.rows("SELECT 1 FROM installations WHERE operation IS NOT NULL LIMIT 1")
    except sqlite3.Error:
        return False
    if [tuple(row) for row in revision] != [(SCHEMA_REVISION,)] or held:
        return False
    if not builtin_catalog:
        return True
    return (
        REGISTERED_KEY in state
        and state.get(DIGEST_KEY) == catalog_digest()
        and (data_dir / "builtin-catalog" / ".git").is_dir()
    )


def _declare_types() -> None:
    """sqlite3's converters for the declared types of tomo's columns (process-wide,
    used only by connections opened with detect_types, as here)."""
    sqlite3.register_converter("DATETIME", _utc_datetime)
    sqlite3.register_converter("JSON", json.loads)
    sqlite3.register_converter("BOOLEAN", lambda value: bool(int(value)))


def _utc_datetime(value: bytes) -> datetime:
    """As db.UTCDateTime reads it: SQLite keeps UTC without its zone."""
    moment = datetime.fromisoformat(value.decode())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
