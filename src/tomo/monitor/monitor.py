"""HealthMonitor: one pass per interval over every server at once, each bounded by a
short time limit, recording each change it sees as one event.

What each pass saw is kept in memory: the first pass after tomo starts only takes
note (what was down before was not seen going down), and so does the pass after a
tomo operation on an installation (an operation's own stop is not an outage).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import or_, select

from tomo.deployment.manage import long_running
from tomo.deployment.models import Installation, Job
from tomo.deployment.remote import Docker
from tomo.deployment.service import DeploymentService
from tomo.deployment.statuses import InstallationStatus
from tomo.errors import RemoteError
from tomo.events.kinds import EventKind
from tomo.events.service import EventService
from tomo.monitor.health import Container, Seen, change_to_tell, judge
from tomo.monitor.probe import inspect_all

log = logging.getLogger("tomo.monitor")
OUTPUT_LINES = 5  # of a container's last output, in a "down" or "crash loop" event


class HealthMonitor:
    def __init__(self, deployment: DeploymentService, events: EventService, *,
                 interval: float, time_limit: float) -> None:  # fmt: skip
        self.deployment = deployment
        self.events = events
        self.interval = interval
        self.time_limit = time_limit  # per server and pass
        self._seen: dict[str, Seen] = {}  # installation id -> what the last pass saw
        self._reachable: dict[str, bool] = {}  # server id -> whether it last answered
        self._last_pass: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def last_pass(self) -> datetime | None:
        """When the last pass began (None before the first)."""
        return self._last_pass

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="tomo-health-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        # The first pass one interval after the start: a tomo that starts and stops at
        # once (a test, a quick restart) asks no server.
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_pass()
            except Exception:  # e.g. the database is gone for a while: try next pass
                log.exception("health pass failed")

    async def run_pass(self) -> None:
        """Look at every installation once, every server at once."""
        started = datetime.now(UTC)
        rows = await self._watched()
        for installation in await self._operated_since(self._last_pass):
            self._seen.pop(installation, None)  # taken note of afresh, not compared
        watched = {row.id for row in rows}
        self._seen = {key: seen for key, seen in self._seen.items() if key in watched}
        by_server: dict[str, list[Installation]] = {}
        for row in rows:
            by_server.setdefault(row.server_id, []).append(row)
        await asyncio.gather(*(self._check_server(server, found, started)
                               for server, found in by_server.items()))  # fmt: skip
        self._last_pass = started

    async def _watched(self) -> list[Installation]:
        """The installations that have containers and no tomo operation under way."""
        query = select(Installation).where(
            Installation.operation.is_(None), Installation.container_id.is_not(None),
            Installation.status != InstallationStatus.FAILED,
        )  # fmt: skip
        async with self.deployment.db.session() as session:
            return list(await session.scalars(query))

    async def _operated_since(self, moment: datetime | None) -> set[str]:
        """The installations a tomo operation ran on since `moment` (or runs on now)."""
        busy = select(Installation.id).where(Installation.operation.is_not(None))
        async with self.deployment.db.session() as session:
            ids = set(await session.scalars(busy))
            if moment is not None:
                ids |= set(await session.scalars(select(Job.installation_id).where(
                    or_(Job.created_at >= moment, Job.ended_at >= moment),
                    Job.installation_id.is_not(None),
                )))  # fmt: skip
        return {installation for installation in ids if installation is not None}

    async def _check_server(self, server: str, rows: list[Installation], started: datetime) -> None:
        """One Docker call for all the server's containers; a server that does not
        answer in time keeps its installations' last known states."""
        names = [name for row in rows for name in long_running(row)]
        try:
            async with asyncio.timeout(self.time_limit):
                docker = await self.deployment.ctx.docker(server)
                containers = await inspect_all(docker, names)
        except TimeoutError:
            await self._server_silent(server, f"{server}: no answer within {self.time_limit:g}s")
        except RemoteError as exc:
            await self._server_silent(server, exc.message)
        else:
            await self._server_answered(server)
            for row in rows:
                found = [containers.get(name) for name in long_running(row)]
                await self._check(row, docker, found, started)

    async def _server_silent(self, server: str, reason: str) -> None:
        if self._reachable.get(server, False) is True:
            await self.events.record(EventKind.SERVER_UNREACHABLE, title=f"Server {server} is "
                                     "unreachable", detail=reason, server=server)  # fmt: skip
        self._reachable[server] = False

    async def _server_answered(self, server: str) -> None:
        if self._reachable.get(server, True) is False:
            await self.events.record(EventKind.SERVER_BACK, title=f"Server {server} is back",
                                     detail="it answers again", server=server)  # fmt: skip
        self._reachable[server] = True

    async def _check(
        self, row: Installation, docker: Docker, containers: Sequence[Container | None],
        started: datetime,
    ) -> None:  # fmt: skip
        previous = self._seen.get(row.id)
        current = judge(containers, previous, datetime.now(UTC))
        self._seen[row.id] = current
        kind = change_to_tell(previous, current)
        if kind is None:
            return
        if row.id in await self._operated_since(started):  # began while Docker was asked
            self._seen.pop(row.id, None)
            return
        detail = await self._detail(kind, row, docker, containers)
        await self.events.record(
            kind, title=f"{row.name} on {row.server_id} {_TITLES[kind]}", detail=detail,
            server=row.server_id, installation=row.id, installation_name=row.name,
        )  # fmt: skip

    async def _detail(self, kind: EventKind, row: Installation, docker: Docker,
                      containers: Sequence[Container | None]) -> str:  # fmt: skip
        names = long_running(row)
        missing = [name for name, c in zip(names, containers, strict=True) if c is None]
        if missing:
            return f"container {missing[0]} is gone (removed outside tomo?)"
        culprit = _culprit([c for c in containers if c is not None])
        said = describe(kind, culprit)
        if kind in (EventKind.APP_DOWN, EventKind.APP_CRASH_LOOPING):
            said += await self._last_output(docker, culprit.name)
        return said

    async def _last_output(self, docker: Docker, container: str) -> str:
        """The container's last lines, when the server gives them in time."""
        try:
            async with asyncio.timeout(self.time_limit):
                lines = await docker.output_tail(container, OUTPUT_LINES)
        except (TimeoutError, RemoteError):
            return ""
        return "; last output: " + " | ".join(lines) if lines else ""


_TITLES = {
    EventKind.APP_DOWN: "is down",
    EventKind.APP_UNHEALTHY: "is unhealthy",
    EventKind.APP_CRASH_LOOPING: "is in a crash loop",
    EventKind.APP_RECOVERED: "recovered",
}


def _culprit(containers: list[Container]) -> Container:
    """The container that best explains the change: one not running, else unhealthy,
    else the one restarted most."""
    for container in containers:
        if container.status != "running":
            return container
    for container in containers:
        if container.health == "unhealthy":
            return container
    return max(containers, key=lambda c: c.restarts)


def describe(kind: EventKind, container: Container) -> str:
    """What Docker says of the container, as the event's detail."""
    if kind is EventKind.APP_DOWN:
        return f"container {container.name} is {container.status} (exit code {container.exit_code})"
    if kind is EventKind.APP_CRASH_LOOPING:
        return (f"Docker keeps restarting container {container.name}: restarted "
                f"{container.restarts} times, last exit code {container.exit_code}")  # fmt: skip
    if kind is EventKind.APP_UNHEALTHY:
        return f"the health check of container {container.name} fails"
    return f"container {container.name} is running again"
