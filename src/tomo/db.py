"""Database engine, ORM base and migrations.

SQLite (WAL) in the data directory by default, PostgreSQL when
`TOMO_DATABASE_URL` names one. Alembic migrations are applied on start.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, String, Table, create_engine, event, select, text
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from tomo.config import Settings
from tomo.errors import StorageError, TomoError
from tomo.migrations import SCHEMA_REVISION

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns an aware UTC datetime (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


EnumT = TypeVar("EnumT", bound=StrEnum)


class StrEnumText(TypeDecorator[EnumT]):
    """A StrEnum stored as its value in a VARCHAR, read back as the enum's member
    (a value outside the enum is refused on the way in)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[EnumT], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> EnumT | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


ModelT = TypeVar("ModelT", bound=Base)


async def find_by_id_or_name(
    session: AsyncSession, model: type[ModelT], ref: str, not_found: TomoError
) -> ModelT:
    """A row by its id, else by its unique name; `not_found` when neither matches."""
    row = await session.get(model, ref)
    if row is None:
        row = await session.scalar(select(model).where(model.name == ref))  # type: ignore[attr-defined,arg-type]
    if row is None:
        raise not_found
    return row


def table_of(model: type[Base]) -> Table:
    """The Core table behind a mapped class, for bulk statements."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (search) run while a sync writes; NORMAL is durable in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _private_file(path: Path) -> None:
    """Create the data directory (owner only) and the file (owner only, 0600) before
    SQLite opens it; SQLite gives its -wal and -shm files the same permissions."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # made by an older tomo, readable by others


class Database:
    """The engine and a session factory, built from settings on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = make_url(settings.resolved_database_url)
        self.dialect = url.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        if self.is_sqlite:
            _private_file(settings.data_dir / "tomo.db")
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (alembic loads only if needed)."""
        try:
            async with self.engine.begin() as connection:
                if await connection.run_sync(_current_revision) == SCHEMA_REVISION:
                    return
                if not self.is_sqlite:
                    await connection.run_sync(upgrade_schema, self.settings)
                    return
            await asyncio.to_thread(self._upgrade_sqlite)
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot open or migrate the database: {exc}") from exc

    def _upgrade_sqlite(self) -> None:
        """The migrations on SQLite's own driver, in one thread: through aiosqlite a new
        database's migrations make a thousand round trips to its thread (measured:
        0.34 s to migrate a new database that way, 0.20 s this way). A new database
        after the first one this process migrated from nothing gets that one's schema
        (NewSchema), in the same transaction."""
        engine = create_engine(self.engine.url.set(drivername="sqlite"), poolclass=NullPool)
        event.listen(engine, "connect", _sqlite_pragmas)
        try:
            with engine.begin() as connection:
                if _current_revision(connection) == SCHEMA_REVISION:  # another start did
                    return
                new = _is_empty(connection)
                if new and NEW_SCHEMA.copy_into(connection):
                    return
                upgrade_schema(connection, self.settings)
                if new:
                    NEW_SCHEMA.take_from(connection)
        finally:
            engine.dispose()

    async def dispose(self) -> None:
        await self.engine.dispose()


class NewSchema:
    """The newest schema of an SQLite database, as the statements that make it.

    Migrating a new database runs every migration (0.2 s); a process that makes
    many databases (a test suite's, the CLI commands its zygote forks) copies the
    first one's: the statements of its tables, indexes, triggers and virtual
    tables in the order they were made (SQLite makes a virtual table's own shadow
    tables itself), and its one row of data, the revision. A migration that writes
    rows into a new database would have to be copied too: tests/test_db.py holds a
    copy to a migrated database, schema and every row of every table."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.revision: str | None = None

    def take_from(self, connection: Connection) -> None:
        """The schema of a database just migrated from nothing."""
        shadows = {
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'"
            )
        }
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
        )
        self.statements = [sql for name, sql in rows
                           if name not in shadows and not name.startswith("sqlite_")]  # fmt: skip
        self.revision = _current_revision(connection)

    def copy_into(self, connection: Connection) -> bool:
        """Whether the schema was made in `connection`'s new database (only once one
        of the newest revision was taken)."""
        if self.revision != SCHEMA_REVISION:
            return False
        for statement in self.statements:
            connection.exec_driver_sql(statement)
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:revision)"),
                           {"revision": self.revision})  # fmt: skip
        return True


NEW_SCHEMA = NewSchema()


def _is_empty(connection: Connection) -> bool:
    return not connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()


def _current_revision(connection: Connection) -> str | None:
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_schema(connection: Connection, settings: Settings, revision: str = "head") -> None:
    """Run the migrations up to `revision` (`tomo state import` loads an older
    archive at its own revision first)."""
    from alembic import command  # imported here: most starts find the schema current
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "tomo:migrations")
    config.attributes["connection"] = connection
    config.attributes["settings"] = settings  # a data migration may need the secret key
    command.upgrade(config, revision)
