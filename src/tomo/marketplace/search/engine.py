"""The search index's life in the database (created and dropped by migrations)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from tomo.marketplace.search import postgres, sqlite


def create_search_index(bind: Connection) -> None:
    for statement in sqlite.DDL if bind.dialect.name == "sqlite" else postgres.DDL:
        bind.exec_driver_sql(statement)


def drop_search_index(bind: Connection) -> None:
    for statement in sqlite.DROP if bind.dialect.name == "sqlite" else postgres.DROP:
        bind.exec_driver_sql(statement)
