"""One change at a time to a server's front door, across tomo processes.

Each change applies a whole config made from the records. Two processes changing
one server at once (a `tomo hostname add` beside `tomo serve`) would each apply
their own, and the last applied would win until the next change: a route the
other had just added gone. So a change holds the server's front-door lease: two
columns of its row (`door_changing_by`, `door_changing_at`), taken with one
conditional UPDATE (the same on SQLite and PostgreSQL), refreshed while held.
A lease whose heartbeat is older than STALE_AFTER belongs to a process that is
gone (killed mid-change) and is taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update

from tomo.db import Database
from tomo.errors import FrontDoorFailed
from tomo.servers.models import Server

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=30)
POLL_SECONDS = 0.2
# A change may pull the front door's image first: minutes on a slow line.
WAIT_SECONDS = 660.0


@contextlib.asynccontextmanager
async def door_lease(
    db: Database, server_id: str, server_name: str, *, wait: float = WAIT_SECONDS
) -> AsyncIterator[None]:
    """Hold the server's front-door lease for the block, waiting up to `wait`
    seconds for another process's change to end (FrontDoorFailed after that)."""
    holder = uuid.uuid4().hex
    await _take(db, server_id, server_name, holder, wait)
    beat = asyncio.create_task(_beat(db, server_id, holder))
    try:
        yield
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        # Shielded: a cancelled change must still give the lease back.
        await asyncio.shield(_release(db, server_id, holder))


async def _take(db: Database, server_id: str, server_name: str, holder: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while not await _try_take(db, server_id, holder):
        if time.monotonic() > deadline:
            raise FrontDoorFailed(server_name, "another tomo process has been changing this "
                                  f"server's front door for over {wait:g} s: try again when "
                                  "it is done")  # fmt: skip
        await asyncio.sleep(POLL_SECONDS)


async def _try_take(db: Database, server_id: str, holder: str) -> bool:
    moment = datetime.now(UTC)
    stale = moment - STALE_AFTER
    async with db.session() as session, session.begin():
        result = await session.execute(
            update(Server)
            .where(Server.id == server_id)
            .where(or_(Server.door_changing_by.is_(None), Server.door_changing_at < stale))
            .values(door_changing_by=holder, door_changing_at=moment)
        )
    return getattr(result, "rowcount", 0) == 1


async def _beat(db: Database, server_id: str, holder: str) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        async with db.session() as session, session.begin():
            await session.execute(
                update(Server)
                .where(Server.id == server_id, Server.door_changing_by == holder)
                .values(door_changing_at=datetime.now(UTC))
            )


async def _release(db: Database, server_id: str, holder: str) -> None:
    async with db.session() as session, session.begin():
        await session.execute(
            update(Server)
            .where(Server.id == server_id, Server.door_changing_by == holder)
            .values(door_changing_by=None, door_changing_at=None)
        )
