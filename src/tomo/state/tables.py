"""Every table's rows as JSON values, read and written through SQLAlchemy: the same
rows load into SQLite or PostgreSQL, whichever wrote them.

Datetimes travel as ISO 8601 text, bytes as base64; on the way in each value is
read back by its column's type.
"""

from __future__ import annotations

import base64
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import JSON, Date, DateTime, LargeBinary, TypeDecorator

from tomo.config import Settings
from tomo.db import Base, Database, upgrade_schema
from tomo.errors import InvalidInput, StorageError

Rows = dict[str, list[dict[str, Any]]]  # table name -> its rows, JSON values


def tomo_tables() -> list[Table]:
    """Every table of tomo's schema, parents before children."""
    from tomo.auth import models as _auth  # noqa: F401  (each registers its tables)
    from tomo.backups import models as _backups  # noqa: F401
    from tomo.deployment import models as _deployment  # noqa: F401
    from tomo.events import models as _events  # noqa: F401
    from tomo.marketplace import models as _marketplace  # noqa: F401
    from tomo.servers import models as _servers  # noqa: F401

    return list(Base.metadata.sorted_tables)


async def read_rows(db: Database) -> Rows:
    """Every row of every table, read in one transaction (one consistent moment)."""
    rows: Rows = {}
    async with db.engine.connect() as connection, connection.begin():
        for table in tomo_tables():
            stored = [column for column in table.columns if column.computed is None]
            result = await connection.execute(select(*stored))
            rows[table.name] = [_encoded(dict(row._mapping)) for row in result]
    return rows


async def count_rows(db: Database, names: tuple[str, ...]) -> dict[str, int]:
    """How many rows these tables hold (the ones not there yet hold none)."""
    tables = {table.name: table for table in tomo_tables()}
    async with db.engine.connect() as connection:
        present = await connection.run_sync(lambda sync: [
            name for name in names if sync.dialect.has_table(sync, name)])  # fmt: skip
        return {name: await connection.scalar(select(func.count()).select_from(tables[name]))
                or 0 for name in present}  # fmt: skip


async def replace_rows(db: Database, rows: Rows) -> None:
    """Every table's rows replaced by `rows` (the schema is at this tomo's revision),
    in one transaction: all of them or none."""
    tables = tomo_tables()
    unknown = sorted(set(rows) - {table.name for table in tables})
    if unknown:
        raise InvalidInput(f"the archive has tables this tomo does not know: {', '.join(unknown)}")
    try:
        async with db.engine.begin() as connection:
            for table in reversed(tables):
                await connection.execute(table.delete())
            for table in tables:
                if rows.get(table.name):
                    await connection.execute(table.insert(), _decoded(table, rows[table.name]))
            if db.dialect == "postgresql":
                await connection.run_sync(_restart_sequences, tables)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StorageError(f"cannot load the archive's rows (none was loaded): {reason}") from exc


async def rows_at_head(rows: Rows, revision: str, secret_key: str | None) -> Rows:
    """Rows of an older schema revision as this tomo's schema holds them: loaded into
    a scratch SQLite database at their revision, then migrated as any database is."""
    with tempfile.TemporaryDirectory(prefix="tomo-state-") as folder:
        settings = Settings(data_dir=Path(folder), database_url=None, secret_key=secret_key,
                            builtin_catalog=False)  # fmt: skip
        scratch = Database(settings)
        try:
            async with scratch.engine.begin() as connection:
                await connection.run_sync(upgrade_schema, settings, revision)
                await connection.run_sync(_insert_reflected, rows)
                await connection.run_sync(upgrade_schema, settings)
            return await read_rows(scratch)
        finally:
            await scratch.dispose()


def _insert_reflected(connection: Connection, rows: Rows) -> None:
    """The rows into the tables as the database has them (an older schema's)."""
    metadata = MetaData()
    metadata.reflect(connection, only=[name for name in rows if rows[name]])
    for table in metadata.sorted_tables:
        connection.execute(table.insert(), _decoded(table, rows[table.name]))


def _restart_sequences(connection: Connection, tables: list[Table]) -> None:
    """PostgreSQL's serial columns go on after the highest id loaded."""
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, :column), "  # noqa: S608 - names from tomo's own schema
                 f'COALESCE(MAX("{column.name}"), 0) + 1, false) FROM "{table.name}"'),
            {"table": table.name, "column": column.name},
        )  # fmt: skip


def _encoded(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _decoded(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    columns = {column.name: column for column in table.columns}
    for name in {name for row in rows for name in row} - set(columns):
        raise InvalidInput(f"the archive's table {table.name} has a column {name} that "
                           "this tomo's schema does not")  # fmt: skip
    return [{name: _column_value(columns[name], value) for name, value in row.items()}
            for row in rows]  # fmt: skip


def _column_value(column: Column[Any], value: Any) -> Any:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance  # UTCDateTime: a DateTime
    if value is None or isinstance(kind, JSON):
        return value
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    return value
