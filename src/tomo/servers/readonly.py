"""The servers' answers on the CLI's quick path (see tomo.readonly): what
ServerService answers, read with sqlite3 and made public by the same function."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tomo.readonly import LocalDatabase
    from tomo.servers.schemas import ServerPublic


def list_servers(db: LocalDatabase) -> list[ServerPublic]:
    from tomo.servers.schemas import public  # pydantic: `ps` needs only `server_id`

    return [public(server) for server in db.records("SELECT * FROM servers ORDER BY id")]


def server_id(db: LocalDatabase, ref: str) -> str | None:
    """A server's id from its id or its name; None when there is none."""
    found = db.rows(
        "SELECT id FROM servers WHERE id = :ref UNION ALL SELECT id FROM servers WHERE name = :ref",
        {"ref": ref},
    )
    return str(found[0][0]) if found else None
