"""HealthMonitor: one pass per interval over every server at once, each bounded by a
short time limit, recording each change it sees as one event (but one event for all
the changes of an installation that flaps, and one when it is steady again).

What each pass saw is kept in memory: the first pass after tomo starts only takes
note (what was down before was not seen going down), and so does the pass after a
tomo operation on an installation (an operation's own stop is not an outage).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select

from tomo.background import PassLoop
from tomo.deployment.manage import long_running
from tomo.deployment.models import Installation, Job, runs_on_swarm
from tomo.deployment.remote import Docker
from tomo.deployment.service import DeploymentService
from tomo.deployment.statuses import InstallationStatus
from tomo.deployment.swarm.services import service_states
from tomo.errors import RemoteError
from tomo.events.kinds import EventKind
from tomo.events.service import EventService
from tomo.monitor.health import (
    FLAPPING,
    Container,
    FlapRule,
    Flaps,
    Seen,
    Telling,
    change_to_tell,
    count_flap,
    judge,
    told_as,
)
from tomo.monitor.probe import as_container, inspect_all
from tomo.monitor.stats import measure_server
from tomo.monitor.statuses import keep_statuses, keep_unknown

log = logging.getLogger("tomo.monitor")
OUTPUT_LINES = 5  # of a container's last output, in a "down" or "crash loop" event


class HealthMonitor(PassLoop):
    name = "tomo-health-monitor"
    log = log  # where a failed pass is told

    def __init__(self, deployment: DeploymentService, events: EventService, *,
                 interval: float, time_limit: float,
                 flapping: FlapRule = FLAPPING) -> None:  # fmt: skip
        super().__init__()
        self.deployment = deployment
        self.events = events
        self.interval = interval
        self.time_limit = time_limit  # per server and pass
        self._seen: dict[str, Seen] = {}  # installation id -> what the last pass saw
        self._reachable: dict[str, bool] = {}  # server id -> whether it last answered
        self._last_pass: datetime | None = None
        # server id -> the reading of its resource figures (stats.py) a pass began
        self._measuring: dict[str, asyncio.Task[bool]] = {}
        self.flapping = flapping
        self._flaps: dict[str, Flaps] = {}  # installation id -> its changes of late

    @property
    def last_pass(self) -> datetime | None:
        """When the last pass began (None before the first)."""
        return self._last_pass

    async def stop(self) -> None:
        await super().stop()
        for measuring in self._measuring.values():
            measuring.cancel()
        await self.figures_read()

    async def figures_read(self) -> None:
        """Once the resource figures the passes began reading are in (or given up)."""
        await asyncio.gather(*self._measuring.values(), return_exceptions=True)

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
        self.deployment.resources.keep_servers(by_server)  # none watched there: no figures
        self._last_pass = started
        # Statuses this fresh need no server asked for the installed list (see statuses.py).
        self.deployment.statuses_read_at = started

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
        """Its health; beside it, what its installations use (stats.py), read in the
        background: `docker stats` samples for about two seconds, which the health
        check does not wait for, and a server whose figures cannot be read (or are
        still being read since the last pass) is judged all the same."""
        await self._check_health(server, rows, started)
        # Begun after the probe, so that reading the figures never slows it down.
        measuring = self._measuring.get(server)
        if measuring is None or measuring.done():
            self._measuring[server] = asyncio.create_task(measure_server(
                self.deployment.resources, self.deployment.ctx, server, rows, self.time_limit,
            ), name=f"tomo-figures-{server}")  # fmt: skip

    async def _check_health(self, server: str, rows: list[Installation], started: datetime) -> None:
        """One Docker call for all the server's containers; a server that does not
        answer in time keeps its installations' last known states."""
        names = [name for row in rows if not runs_on_swarm(row) for name in long_running(row)]
        services = [name for row in rows if runs_on_swarm(row) for name in long_running(row)]
        try:
            async with asyncio.timeout(self.time_limit):
                docker = await self.deployment.ctx.docker(server)
                containers = await inspect_all(docker, names)
                swarm = await service_states(docker, services, nodes=True) if services else {}
        except TimeoutError:
            await self._server_silent(server, f"{server}: no answer within {self.time_limit:g}s")
            await keep_unknown(self.deployment.ctx, rows, f"{server}: no answer within "
                               f"{self.time_limit:g}s")  # fmt: skip
        except RemoteError as exc:
            await self._server_silent(server, exc.message)
            await keep_unknown(self.deployment.ctx, rows, exc.message)
        else:
            await self._server_answered(server)
            await keep_statuses(self.deployment.ctx, rows, containers, swarm)
            containers |= {name: as_container(state) for name, state in swarm.items()}
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
        now = datetime.now(UTC)
        previous = self._seen.get(row.id)
        current = judge(containers, previous, now)
        self._seen[row.id] = current
        kind = change_to_tell(previous, current)
        if kind is not None and row.id in await self._operated_since(started):
            self._seen.pop(row.id, None)  # began while Docker was asked: tomo's own change
            return
        before = self._flaps.pop(row.id, Flaps())
        flaps, telling = count_flap(self.flapping, before, current.health if kind else None, now)
        if flaps != Flaps():  # kept only for installations that changed lately
            self._flaps[row.id] = flaps
        if telling is Telling.CHANGE and kind is not None:
            await self._tell(kind, _TITLES[kind], row, docker, containers)
        elif telling is Telling.FLAPPING and kind is not None:
            await self._tell_flapping(kind, flaps, row, docker, containers)
        elif telling is Telling.STEADY:
            await self._tell_steady(told_as(current.health), before, row, docker, containers)

    async def _tell(self, kind: EventKind, said: str, row: Installation, docker: Docker,
                    containers: Sequence[Container | None], *, state: EventKind | None = None,
                    more: str = "") -> None:  # fmt: skip
        """Record one event of the installation; its detail says what Docker says of the
        containers now (as an event of `state` would), then `more`."""
        detail = await self._detail(state or kind, row, docker, containers)
        await self.events.record(
            kind, title=f"{row.name} on {row.server_id} {said}", detail=detail + more,
            server=row.server_id, installation=row.id, installation_name=row.name,
        )  # fmt: skip

    async def _tell_flapping(
        self, kind: EventKind, flaps: Flaps, row: Installation, docker: Docker,
        containers: Sequence[Container | None],
    ) -> None:  # fmt: skip
        window = _duration(self.flapping.window)
        changes = ", ".join(f"{health.value} at {at:%H:%M:%S}" for at, health in flaps.changes)
        more = (f". Its changes (UTC): {changes}. Further changes are not told one by one: "
                f"one event will say how it is once it has been steady for {window}")  # fmt: skip
        said = f"is flapping: down {_times(flaps.downs)} in {flaps.minutes} min"
        await self._tell(EventKind.APP_FLAPPING, said, row, docker, containers, state=kind,
                         more=more)  # fmt: skip

    async def _tell_steady(
        self, kind: EventKind, flapped: Flaps, row: Installation, docker: Docker,
        containers: Sequence[Container | None],
    ) -> None:  # fmt: skip
        said = ("is steady again: running" if kind is EventKind.APP_RECOVERED
                else f"stopped flapping and {_TITLES[kind]}")  # fmt: skip
        more = (f". No change for {_duration(self.flapping.window)}, after flapping for "
                f"{flapped.minutes} min (down {_times(flapped.downs)})")  # fmt: skip
        await self._tell(kind, said, row, docker, containers, more=more)

    async def _detail(self, kind: EventKind, row: Installation, docker: Docker,
                      containers: Sequence[Container | None]) -> str:  # fmt: skip
        names = long_running(row)
        missing = [name for name, c in zip(names, containers, strict=True) if c is None]
        if missing:
            what = "Swarm service" if runs_on_swarm(row) else "container"
            return f"{what} {missing[0]} is gone (removed outside tomo?)"
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


def _duration(span: timedelta) -> str:
    seconds = round(span.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


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
