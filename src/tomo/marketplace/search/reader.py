"""Reading the catalog with plain SQL through a small `Sql` interface.

The same functions serve the service (an SQLAlchemy session, through
`session.run_sync`) and the CLI's quick path (Python's own sqlite3, which
starts in a few milliseconds where SQLAlchemy takes a third of a second).
Every value is a bound parameter (`:name`, which both understand).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tomo.errors import RepoNotFound
from tomo.marketplace.search.query import Visibility

SUMMARY_COLUMNS = (
    "id", "repo_id", "name", "version", "category", "tags", "avg_rating", "install_count",
    "risks", "installable",
)  # fmt: skip
_JSON_COLUMNS = {"tags", "risks"}


class Sql(Protocol):
    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]:
        """Every row a statement returns."""
        ...


class StdlibSql:
    """Python's sqlite3 connection as `Sql`."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]:
        rows: list[Sequence[Any]] = self.connection.execute(statement, params or {}).fetchall()
        return rows


class SessionSql:
    """A synchronous SQLAlchemy session (inside `AsyncSession.run_sync`) as `Sql`."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]:
        from sqlalchemy import text

        return list(self.session.execute(text(statement), params or {}).all())


def read_visibility(sql: Sql) -> Visibility:
    """Apps of disabled repos are hidden; the repos' counts say how many are shown."""
    hidden, visible = [], 0
    for repo_id, enabled, app_count in sql.rows(
        "SELECT id, enabled, app_count FROM marketplace_repos"
    ):
        if enabled:
            visible += app_count
        else:
            hidden.append(repo_id)
    return Visibility(hidden_repos=tuple(hidden), visible_apps=visible)


def resolve_repo(sql: Sql, ref: str) -> str:
    """A repo's id from its id or its name."""
    found = sql.rows(
        "SELECT id FROM marketplace_repos WHERE id = :ref "
        "UNION ALL SELECT id FROM marketplace_repos WHERE name = :ref",
        {"ref": ref},
    )
    if not found:
        raise RepoNotFound(f"no repo with id or name '{ref}'")
    return str(found[0][0])


def read_summaries(sql: Sql, pks: list[int]) -> list[dict[str, Any]]:
    """Search hits in the order found, reading only the columns a hit shows."""
    if not pks:
        return []
    marks = ", ".join(f":pk{n}" for n in range(len(pks)))
    statement = (
        f"SELECT pk, {', '.join(SUMMARY_COLUMNS)} FROM marketplace_apps WHERE pk IN ({marks})"
    )
    rows = sql.rows(statement, {f"pk{n}": pk for n, pk in enumerate(pks)})
    by_pk = {row[0]: _summary(row[1:]) for row in rows}
    return [by_pk[pk] for pk in pks if pk in by_pk]


def _summary(row: Sequence[Any]) -> dict[str, Any]:
    summary = dict(zip(SUMMARY_COLUMNS, row, strict=True))
    for column in _JSON_COLUMNS:  # JSON text on SQLite, decoded already on PostgreSQL
        if isinstance(summary[column], str):
            summary[column] = json.loads(summary[column])
    summary["avg_rating"] = float(summary["avg_rating"])
    summary["installable"] = bool(summary["installable"])  # 0/1 on SQLite
    return summary
