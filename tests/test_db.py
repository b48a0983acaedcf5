"""Schema and migrations on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

import tomo.runtime  # noqa: F401  (registers every table on Base.metadata)
from tomo.config import Settings
from tomo.db import Base, Database, NewSchema
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


async def test_a_new_database_copied_from_the_first_is_the_migrated_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second new database of a process gets the first one's schema without a
    migration: the same tables, indexes, triggers, virtual tables and shadow tables,
    the same rows in each (a migration writing rows into a new database shows here)."""
    monkeypatch.setattr("tomo.db.NEW_SCHEMA", NewSchema())
    await _new_database(tmp_path / "migrated")

    def no_migration(*args: object) -> None:
        raise AssertionError("a new database after the first is migrated again")

    monkeypatch.setattr("tomo.db.upgrade_schema", no_migration)
    await _new_database(tmp_path / "copied")
    migrated, copied = (_everything(tmp_path / name / "tomo.db") for name in ("migrated", "copied"))
    assert copied == migrated
    assert ("marketplace_apps_fts_config", [("version", 4)]) in migrated[1]  # shadows compared


async def test_a_database_with_tables_of_its_own_is_never_given_the_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tomo.db.NEW_SCHEMA", NewSchema())
    await _new_database(tmp_path / "first")
    (tmp_path / "other").mkdir(mode=0o700)
    with sqlite3.connect(tmp_path / "other" / "tomo.db") as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    await _new_database(tmp_path / "other")  # migrated: the copy would fail on it
    tables = {name for _, name, _, _ in _everything(tmp_path / "other" / "tomo.db")[0]}
    assert {"notes", "marketplace_apps", "alembic_version"} <= tables


async def _new_database(data_dir: Path) -> None:
    db = Database(Settings(data_dir=data_dir, builtin_catalog=False))
    try:
        await db.migrate()
    finally:
        await db.dispose()


def _everything(
    path: Path,
) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, list[tuple[object, ...]]]]]:
    """An SQLite database's schema and the rows of each of its tables, sorted."""
    with sqlite3.connect(path) as connection:
        schema = sorted(connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        tables = [name for type_, name, _, _ in schema if type_ == "table"]
        # the table names are the database's own, read from sqlite_master just above
        rows = [(t, sorted(connection.execute(f'SELECT * FROM "{t}"'))) for t in tables]  # noqa: S608
    return schema, rows


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


async def test_apps_stored_before_0016_are_marked_as_they_were_judged(settings: Settings) -> None:
    """0016 reads each stored app's verdict (details.not_installable) into the new
    column, and its facet, so the filter is right before the next sync; going back
    to 0015 leaves a search index that 0015's queries use."""
    db = Database(settings)
    insert_app = (
        "INSERT INTO marketplace_apps (repo_id, id, name, description, version, category, tags, "
        "author, featured, docker_config, requirements, details, risks, source_path, "
        "source_blob, avg_rating, rating_sum, rating_count, install_count, created_at, "
        "updated_at) VALUES (:repo, :id, :name, 'd', '1', 'tools', '[]', 'a', false, '{}', "
        "'{}', :details, '[]', 'p', 'b', 0, 0, 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda c: command.upgrade(_alembic(c), "0015"))
            await connection.execute(text(
                "INSERT INTO marketplace_repos (id, name, url, branch, repo_type, enabled, "
                "status, app_count, created_at) VALUES ('r', 'R', 'https://x/y', "
                "'main', 'community', true, 'active', 2, CURRENT_TIMESTAMP)"
            ))  # fmt: skip
            await connection.execute(text(
                "INSERT INTO marketplace_repos (id, name, url, branch, repo_type, enabled, "
                "status, app_count, created_at) VALUES ('o', 'O', 'https://x/o', "
                "'main', 'official', true, 'active', 1, CURRENT_TIMESTAMP)"
            ))  # fmt: skip
            apps = (("r", "ok", "OK", "{}"), ("r", "blocked", "Blocked", '{"not_installable": "Tor"}'),
                    ("o", "ok-too", "O.K.", "{}"))  # fmt: skip
            for repo, app, name, details in apps:
                await connection.execute(text(insert_app), {
                    "repo": repo, "id": app, "name": name, "details": details})  # fmt: skip
        await db.migrate()
        async with db.engine.connect() as connection:
            marked = (await connection.execute(text(
                "SELECT id, installable FROM marketplace_apps WHERE repo_id = 'r' ORDER BY id"
            ))).all()  # fmt: skip
            families = (await connection.execute(text(
                "SELECT id, family, represents FROM marketplace_apps ORDER BY id"
            ))).all()  # fmt: skip
            if db.is_sqlite:
                installable = (await connection.execute(text(
                    "SELECT count(*) FROM marketplace_apps_fts WHERE marketplace_apps_fts "
                    "MATCH :m"), {"m": f"facets : {sqlite.facet('i', '1')}"})).scalar()  # fmt: skip
                assert installable == 2
        assert [(app, bool(flag)) for app, flag in marked] == [("blocked", False), ("ok", True)]
        # "OK" and "O.K." are one app: the official repository's represents it.
        assert [(app, family, bool(shown)) for app, family, shown in families] == [
            ("blocked", "blocked", True), ("ok", "ok", False), ("ok-too", "ok", True)]  # fmt: skip
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda c: command.downgrade(_alembic(c), "0015"))
            columns = await connection.run_sync(
                lambda c: {column["name"] for column in inspect(c).get_columns("marketplace_apps")}
            )
            if db.is_sqlite:
                found = (await connection.execute(text(
                    "SELECT count(*) FROM marketplace_apps_fts WHERE marketplace_apps_fts "
                    "MATCH 'blocked'"))).scalar()  # fmt: skip
                assert found == 1
        assert "installable" not in columns
    finally:
        await db.dispose()
