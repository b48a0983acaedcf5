"""Schema and migrations on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tomo.config import Settings
from tomo.db import SCHEMA_REVISION, Database


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
