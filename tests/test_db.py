"""Schema and migrations on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

import tomo.runtime  # noqa: F401  (registers every table on Base.metadata)
from tomo.config import Settings
from tomo.db import Base, Database
from tomo.marketplace.search import postgres, sqlite
from tomo.migrations import SCHEMA_REVISION
from tomo.migrations.filters import include_object


def test_schema_revision_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", "tomo:migrations")
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_REVISION]


async def test_migrations_create_tables_and_search_index(settings: Settings) -> None:
    db = Database(settings)
    try:
        await db.migrate()
        await db.migrate()  # a second start finds the schema current
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
        assert {"marketplace_repos", "marketplace_apps",
                "marketplace_sources", "marketplace_ratings", "tomo_state"} <= tables  # fmt: skip
        assert version == SCHEMA_REVISION
        if db.is_sqlite:
            assert "marketplace_apps_fts" in tables
    finally:
        await db.dispose()


async def test_embedded_default_is_sqlite_in_wal_mode(tmp_path: Path) -> None:
    db = Database(Settings(data_dir=tmp_path / "fresh"))
    try:
        await db.migrate()
        async with db.engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
        assert (db.is_sqlite, mode) == (True, "wal")
        assert (tmp_path / "fresh" / "tomo.db").is_file()
    finally:
        await db.dispose()


async def test_the_migrations_make_the_search_index_the_queries_expect(
    settings: Settings,
) -> None:
    """The search index is out of autogenerate: what the migrations leave must be
    what each backend's DDL declares, so a change to search comes with a migration."""
    db = Database(settings)
    try:
        await db.migrate()
        async with db.engine.begin() as connection:
            migrated = await connection.run_sync(_search_index)
            await connection.run_sync(_make_index_anew)
            declared = await connection.run_sync(_search_index)
        assert migrated == declared
    finally:
        await db.dispose()


def _make_index_anew(connection: Connection) -> None:
    backend = sqlite if connection.dialect.name == "sqlite" else postgres
    for statement in [*backend.DROP, *backend.DDL]:
        connection.exec_driver_sql(statement)


def _search_index(connection: Connection) -> list[tuple[object, ...]]:
    """The index as the database describes it (PostgreSQL renders expressions its way)."""
    if connection.dialect.name == "sqlite":
        query = "SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'marketplace_apps%'"
    else:
        query = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'marketplace_apps' "
            "UNION ALL SELECT column_name, generation_expression FROM information_schema.columns "
            "WHERE table_name = 'marketplace_apps' AND is_generated = 'ALWAYS' "
            "UNION ALL SELECT extname, '' FROM pg_extension"
        )
    return sorted(tuple(row) for row in connection.exec_driver_sql(query))


def _alembic(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "tomo:migrations")
    config.attributes["connection"] = connection
    return config


async def test_the_models_and_the_migrations_agree(settings: Settings) -> None:
    """A column or table added to a model without a migration shows here."""
    db = Database(settings)
    try:
        await db.migrate()
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"include_object": include_object}),
                    Base.metadata,
                )
            )
        assert differences == []
    finally:
        await db.dispose()


async def test_upgrading_from_the_previous_revision_keeps_the_data(settings: Settings) -> None:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda c: command.upgrade(_alembic(c), "0003"))
            await connection.execute(text(
                "INSERT INTO marketplace_repos (id, name, url, branch, repo_type, enabled, "
                "status, app_count, created_at) VALUES ('r', 'R', 'https://x/y', "
                "'main', 'community', true, 'active', 0, CURRENT_TIMESTAMP)"
            ))  # fmt: skip
            await connection.execute(text(
                "INSERT INTO marketplace_sources (repo_id, path, blob, app_id, error) "
                "VALUES ('r', 'apps/a.yaml', 'b1', 'a', NULL)"
            ))  # fmt: skip
        await db.migrate()
        async with db.engine.connect() as connection:
            rows = (await connection.execute(text(
                "SELECT path, app_id, warning FROM marketplace_sources"
            ))).all()  # fmt: skip
        assert [tuple(row) for row in rows] == [("apps/a.yaml", "a", None)]
    finally:
        await db.dispose()
