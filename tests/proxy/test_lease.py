"""One change at a time to a server's front door across processes: two runtimes on
one database (as a `tomo hostname add` beside `tomo serve`), on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tomo.config import Settings
from tomo.errors import FrontDoorFailed
from tomo.proxy.lease import STALE_AFTER, door_lease
from tomo.runtime import Runtime, open_runtime
from tomo.servers.models import Server


async def add_server(runtime: Runtime) -> None:
    async with runtime.db.session() as session, session.begin():
        session.add(Server(id="nas", name="nas", host="192.0.2.10", port=22, username="tomo",
                           auth_type="password", data_root="/opt/tomo/apps", use_sudo=False,
                           status="unknown", created_at=datetime.now(UTC)))  # fmt: skip


async def test_a_second_process_waits_for_the_change_under_way(
    runtime: Runtime, settings: Settings
) -> None:
    await add_server(runtime)
    order: list[str] = []
    async with open_runtime(settings) as other:
        async with door_lease(runtime.db, "nas", "nas"):
            order.append("first began")

            async def second() -> None:
                async with door_lease(other.db, "nas", "nas"):
                    order.append("second began")

            waiting = asyncio.create_task(second())
            await asyncio.sleep(1.0)  # five of the second's tries
            order.append("first ended")
        await asyncio.wait_for(waiting, 10)
        async with door_lease(runtime.db, "nas", "nas"):  # given back: taken at once
            order.append("third")

    assert order == ["first began", "first ended", "second began", "third"]


async def test_a_change_that_never_ends_is_refused_naming_the_server(
    runtime: Runtime, settings: Settings
) -> None:
    await add_server(runtime)
    async with open_runtime(settings) as other, door_lease(runtime.db, "nas", "nas"):
        with pytest.raises(FrontDoorFailed) as caught:
            async with door_lease(other.db, "nas", "nas", wait=0.5):
                pytest.fail("taken while held")

    assert caught.value.message == (
        "nas: another tomo process has been changing this server's front door for over "
        "0.5 s: try again when it is done"
    )


async def test_the_lease_of_a_process_that_died_is_taken_over(runtime: Runtime) -> None:
    """A process killed mid-change never gives its lease back; its heartbeat stops."""
    await add_server(runtime)
    long_ago = datetime.now(UTC) - STALE_AFTER - timedelta(seconds=1)
    async with runtime.db.session() as session, session.begin():
        await session.execute(update(Server).where(Server.id == "nas").values(
            door_changing_by="a-process-gone", door_changing_at=long_ago))  # fmt: skip

    async with door_lease(runtime.db, "nas", "nas", wait=1.0), runtime.db.session() as session:
        held = await session.get(Server, "nas")
        assert held is not None and held.door_changing_by != "a-process-gone"
    async with runtime.db.session() as session:
        freed = await session.get(Server, "nas")
        assert freed is not None
        assert (freed.door_changing_by, freed.door_changing_at) == (None, None)


async def test_a_cancelled_change_gives_the_lease_back(runtime: Runtime) -> None:
    await add_server(runtime)
    entered = asyncio.Event()

    async def change() -> None:
        async with door_lease(runtime.db, "nas", "nas"):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(change())
    await asyncio.wait_for(entered.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with door_lease(runtime.db, "nas", "nas", wait=0.5):
        pass  # free again
