"""Managing an installation: start, stop, restart, status, logs, uninstall.

Each change runs as a job holding the installation's lease (see operation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from tomo.deployment.app_spec import (
    app_mounts,
    container_names,
    env_files,
    named_volumes,
    network_name,
)
from tomo.deployment.context import DeploymentContext, public
from tomo.deployment.dependencies import dependants_of
from tomo.deployment.install import FinishFailedInstall, wait_limits
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.journal import on_node
from tomo.deployment.log_resume import Place, Stamped, place_after, places_read, resumed
from tomo.deployment.models import Installation, runs_on_swarm
from tomo.deployment.operation import Operation, Outcome, Prepared, Recovery, done, prepare, said
from tomo.deployment.remote import STOP_LIMIT, ContainerState, Docker
from tomo.deployment.schemas import InstallationPublic, OperationDone
from tomo.deployment.spec import InstallConfig
from tomo.deployment.statuses import InstallationStatus
from tomo.deployment.swarm import services as swarm
from tomo.deployment.swarm.install import data_node, node_of
from tomo.errors import InvalidInput, NeededByOthers, RemoteError, TomoError
from tomo.marketplace.definition import AppDefinition
from tomo.servers.ssh import LOGS, SSHTarget, docker_argv

log = logging.getLogger("tomo.deployment")
_ANONYMOUS = re.compile(r"[0-9a-f]{64}")  # the name Docker gives a volume made without one


class DockerVerb(Operation):
    """`docker container start|stop|restart` of every container (started in
    dependency order, stopped the other way round), then the state Docker reports."""

    def __init__(self, ctx: DeploymentContext, verb: str) -> None:
        super().__init__(ctx)
        self.verb = self.kind = verb

    async def run(self, job: JobRecorder, row: Installation) -> None:
        docker = await self.ctx.docker(row.server_id)
        names = long_running(row)
        if runs_on_swarm(row):
            async with job.step(self.verb):
                limits = wait_limits(self.ctx)
                said = await swarm.change(docker, self.verb, names, limits.timeout, limits.stable)
                await job.note(said)
            await record_state(self.ctx, row, docker)
            return
        async with job.step(self.verb):
            if len(names) == 1:  # stop and restart wait out the container's grace period
                await docker.run(["container", self.verb, names[0]], time_limit=STOP_LIMIT)
            else:
                if self.verb in ("stop", "restart"):
                    for name in reversed(names):
                        await docker.stop(name)
                if self.verb in ("start", "restart"):
                    for name in names:
                        await docker.run(["container", "start", name])
        await record_state(self.ctx, row, docker)

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        try:
            await record_state(self.ctx, row, await self.ctx.docker(row.server_id))
        except RemoteError as exc:
            unknown = InstallationStatus.UNKNOWN
            await self.ctx.set(row.id, status=unknown, status_message=exc.message)
        return Recovery("")


class Journaled(Operation):
    """An operation whose journal holds every change it makes on the server (a
    backup's stopped containers, a restore's swapped folders): recovering it
    replays the journal, then reads the state Docker reports. On its own, it is
    what reconcile.py recovers such an operation with after tomo died."""

    def __init__(self, ctx: DeploymentContext, kind: str) -> None:
        super().__init__(ctx)
        self.kind = kind

    async def run(self, job: JobRecorder, row: Installation) -> None:
        raise InvalidInput(f"a {self.kind} cannot be run again after tomo stopped")

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        outcome = await self.replay_journal(job, row)
        try:
            await record_state(self.ctx, row, await self.ctx.docker(row.server_id))
        except RemoteError as exc:
            unknown = InstallationStatus.UNKNOWN
            await self.ctx.set(row.id, status=unknown, status_message=exc.message)
            return Recovery(said(outcome, ""), settled=False)
        return Recovery(said(outcome, ""), settled=outcome.complete)


def containers_of(row: Installation) -> dict[str, str]:
    """service -> container name, in start order."""
    return container_names(AppDefinition.model_validate(row.definition), row.name)


def long_running(row: Installation) -> list[str]:
    """The containers meant to keep running (not one-shot steps), in start order."""
    definition = AppDefinition.model_validate(row.definition)
    every = definition.all_services
    one_shot = {d for s in every.values() for d, c in s.depends_on.items() if c == "completed"}
    return [name for service, name in containers_of(row).items() if service not in one_shot]


def swarm_services(row: Installation) -> dict[str, str]:
    """service -> Swarm service name, of those meant to keep running."""
    keep = set(long_running(row))
    return {service: name for service, name in containers_of(row).items() if name in keep}


async def app_state(row: Installation, docker: Docker) -> tuple[InstallationStatus, str | None]:
    names = containers_of(row)
    if runs_on_swarm(row):
        services = swarm_services(row)
        found = await swarm.service_states(docker, [*services.values()], nodes=True)
        return swarm.status_of(services, found)
    if len(names) == 1:
        return status_from(await docker.state(row.name))
    keep = set(long_running(row))
    states = await asyncio.gather(*(docker.state(name) for name in names.values()))
    return combined_status({
        service: state for (service, name), state in zip(names.items(), states, strict=True)
        if name in keep
    })  # fmt: skip


async def app_states(
    rows: list[Installation], docker: Docker
) -> list[tuple[InstallationStatus, str | None]]:
    """Each installation's status: the Swarm services of all those on a Swarm read
    with one command, the others' containers each."""
    on_swarm = {row.id: swarm_services(row) for row in rows if runs_on_swarm(row)}
    names = [name for services in on_swarm.values() for name in services.values()]
    found = await swarm.service_states(docker, names, nodes=True) if names else {}

    async def state_of(row: Installation) -> tuple[InstallationStatus, str | None]:
        if row.id in on_swarm:
            return swarm.status_of(on_swarm[row.id], found)
        return await app_state(row, docker)

    return list(await asyncio.gather(*(state_of(row) for row in rows)))


def combined_status(
    states: dict[str, ContainerState | None],
) -> tuple[InstallationStatus, str | None]:
    """One status for an app of several containers: running only when all run;
    otherwise the worst of them, with the services that are not as they should be."""
    seen = {service: status_from(state) for service, state in states.items()}
    statuses = {status for status, _ in seen.values()}
    if statuses == {InstallationStatus.STOPPED}:
        return InstallationStatus.STOPPED, None
    notes = [f"{service}: {message or status}" for service, (status, message) in seen.items()
             if status != InstallationStatus.RUNNING or message]  # fmt: skip
    for worst in _WORST_FIRST:
        if worst in statuses:
            return worst, "; ".join(notes)
    if InstallationStatus.STOPPED in statuses:
        return InstallationStatus.ERROR, "; ".join(notes)
    return InstallationStatus.RUNNING, "; ".join(notes) or None


_WORST_FIRST = (InstallationStatus.MISSING, InstallationStatus.RESTARTING,
                InstallationStatus.UNHEALTHY, InstallationStatus.ERROR)  # fmt: skip


async def record_state(ctx: DeploymentContext, row: Installation, docker: Docker) -> None:
    status, message = await app_state(row, docker)
    await ctx.set(row.id, status=status, status_message=message)


async def refresh_status(
    ctx: DeploymentContext, ref: str, server: str | None = None
) -> InstallationPublic:
    """Reconcile the stored status with what Docker reports; `unknown`, with the
    reason, while the server or its Docker daemon cannot be asked."""
    row = await ctx.find(ref, server)
    # An install in flight has nothing to inspect yet.
    if row.operation is None and row.container_id is not None:
        try:
            await record_state(ctx, row, await ctx.docker(row.server_id))
        except RemoteError as exc:
            await ctx.set(row.id, status=InstallationStatus.UNKNOWN, status_message=exc.message)
    return await ctx.public(row.id)


async def refresh_all(ctx: DeploymentContext, rows: list[Installation], time_limit: float) -> None:
    """Refresh every installation's status, each server asked in parallel; a server
    that does not answer within `time_limit` is `unknown` and holds up no other."""
    by_server: dict[str, list[Installation]] = {}
    for row in rows:
        failed = row.status == InstallationStatus.FAILED
        if row.operation is None and (row.container_id is not None or failed):
            by_server.setdefault(row.server_id, []).append(row)
    await asyncio.gather(*(_refresh_server(ctx, found, time_limit)
                           for found in by_server.values()))  # fmt: skip


async def _refresh_server(
    ctx: DeploymentContext, rows: list[Installation], time_limit: float
) -> None:
    """The installations' states; a server that answers also gets what failed
    installs left there removed (they could not, while it was away)."""
    server_id = rows[0].server_id
    failed = [row for row in rows if row.status == InstallationStatus.FAILED]
    rows = [row for row in rows if row.status != InstallationStatus.FAILED]
    try:
        async with asyncio.timeout(time_limit):
            docker = await ctx.docker(server_id)
            states = await app_states(rows, docker)
            if failed and not rows:
                await docker.ssh.run(docker.target, ["true"])  # is it back?
    except TimeoutError:
        reason = f"{server_id}: no answer within {time_limit:g}s"
    except RemoteError as exc:
        reason = exc.message
    else:
        for row, (status, message) in zip(rows, states, strict=True):
            await ctx.set(row.id, status=status, status_message=message)
        for row in failed:
            await finish_failed_install(ctx, row)
        return
    for row in rows:
        await ctx.set(row.id, status=InstallationStatus.UNKNOWN, status_message=reason)


def status_from(state: ContainerState | None) -> tuple[InstallationStatus, str | None]:
    """The installation's status from its container's state (Docker's words)."""
    if state is None:
        return InstallationStatus.MISSING, "the container is gone (removed outside tomo?)"
    if state.status == "running":
        if state.health == "unhealthy":
            return InstallationStatus.UNHEALTHY, "the container's health check fails"
        if state.restart_count:  # up now, but it crashed since it was last started
            crashed = f"crashed; Docker restarted it {_times(state.restart_count)}"
            return InstallationStatus.RUNNING, crashed
        return InstallationStatus.RUNNING, None
    if state.status == "restarting":
        keeps = f"{state.describe_exit()}; Docker keeps restarting it"
        return InstallationStatus.RESTARTING, keeps
    if state.status in ("exited", "dead", "created"):
        code = f"exit code {state.exit_code}" if state.exit_code else None
        return InstallationStatus.STOPPED, code
    return InstallationStatus.ERROR, f"container state: {state.status}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


async def logs(
    ctx: DeploymentContext, ref: str, server: str | None, *, tail: int, follow: bool,
    service: str | None = None, reader: str = "", after: Sequence[str] | None = None,
    timestamps: bool = False,
) -> AsyncIterator[str]:  # fmt: skip
    """One container's output; for an app of several, the chosen service's, or
    all of them merged in time order, each line led by its service's name. With
    `after` (places: see log_resume.py) each container's lines start right after
    its place, not at its last `tail`; `timestamps` leads each with Docker's stamp.
    Each container read holds one of the reader's and the server's log channels."""
    row = await ctx.find(ref, server)
    read = containers_read(row, service)
    places = None if after is None else places_read(after, containers_of(row))
    target = await ctx.servers.target(row.server_id)
    async with ctx.log_streams.held(reader, row.server_id, len(read)):
        lines = _lines(ctx, target, read, tail=tail, follow=follow, places=places,
                       swarm=runs_on_swarm(row))  # fmt: skip
        async with contextlib.aclosing(lines):
            async for of, line in lines:
                yield _shown(of, line, _width(read), timestamps=timestamps)


@dataclass(frozen=True)
class LogPage:
    """The last lines of an installation's containers, as a page shows them, and
    where reading on resumes."""

    lines: list[str]
    after: list[str]  # every container's place past `lines`, written (see log_resume.py)


async def log_page(
    ctx: DeploymentContext, ref: str, *, tail: int, service: str | None, reader: str
) -> LogPage:
    """Each container's last `tail` lines, shown as `logs` shows them, with each
    one's place after them: following from there misses and repeats nothing."""
    row = await ctx.find(ref, None)
    read = containers_read(row, service)
    target = await ctx.servers.target(row.server_id)
    async with ctx.log_streams.held(reader, row.server_id, len(read)):
        got = [item async for item in _lines(ctx, target, read, tail=tail, follow=False,
                                             places=None, swarm=runs_on_swarm(row))]  # fmt: skip
        places = {s: await _place_past(ctx, target, name, [line for of, line in got if of == s],
                                       tail, swarm=runs_on_swarm(row))
                  for s, name in read.items()}  # fmt: skip
    shown = [_shown(of, line, _width(read), timestamps=False) for of, line in got]
    return LogPage(shown, [place.written(s) for s, place in places.items()])


async def _place_past(
    ctx: DeploymentContext, target: SSHTarget, name: str, shown: list[Stamped], tail: int,
    *, swarm: bool,
) -> Place:  # fmt: skip
    """The place past a container's last `tail` lines. When one stamp fills them
    all, earlier lines may share it, which a count from the page alone would miss:
    Docker counts them (`--until` keeps equal stamps, as `--since` does)."""
    place = place_after(shown)
    if not place.stamp or len(shown) < tail or any(line.stamp != place.stamp for line in shown):
        return place
    if swarm:  # `docker service logs` has no --until: as shown
        return place
    args = ["container", "logs", "--timestamps", "--since", place.stamp, "--until", place.stamp,
            name]  # fmt: skip
    lines = ctx.servers.ssh.stream(target, docker_argv(target, args), lane=LOGS)
    counted = place_after([Stamped.parse(line) async for line in lines])
    return counted if counted.stamp == place.stamp else place  # gone meanwhile: as shown


def containers_read(row: Installation, service: str | None) -> dict[str, str]:
    """service -> container of those whose logs to show (InvalidInput: no such service)."""
    chosen = service_container(row, service)
    return {s: name for s, name in containers_of(row).items() if chosen in (None, name)}


def service_container(row: Installation, service: str | None) -> str | None:
    """The container whose logs to show; None: all of an app's, merged."""
    names = containers_of(row)
    if service is not None and service not in names:
        raise InvalidInput(f"{row.name} has no service '{service}' "
                           f"(it has: {', '.join(names)})")  # fmt: skip
    if service is not None:
        return names[service]
    return row.name if len(names) == 1 else None


async def _lines(
    ctx: DeploymentContext, target: SSHTarget, read: dict[str, str], *, tail: int,
    follow: bool, places: dict[str, Place] | None, swarm: bool = False,
) -> AsyncGenerator[tuple[str, Stamped]]:  # fmt: skip
    """(service, line) of every container read: in time order, or following, each
    line as it comes (each container's in its own order)."""
    streams = {s: _container_lines(ctx, target, name, tail=tail, follow=follow,
                                   place=None if places is None else places.get(s, Place()),
                                   swarm=swarm)
               for s, name in read.items()}  # fmt: skip
    if len(streams) == 1:
        [(service, lines)] = streams.items()
        async with contextlib.aclosing(lines):
            async for line in lines:
                yield service, line
    elif follow:
        async for item in _as_they_come(streams):
            yield item
    else:
        for item in sorted(await _all_of(streams), key=lambda item: item[1].stamp):
            yield item


def _container_lines(
    ctx: DeploymentContext, target: SSHTarget, name: str, *, tail: int, follow: bool,
    place: Place | None, swarm: bool = False,
) -> AsyncGenerator[Stamped]:  # fmt: skip
    """One container's lines (a Swarm service's: all its tasks'): its last `tail`,
    or all of those past `place`."""
    if place is None:
        window = ["--tail", str(tail)]
    else:  # "all": a tail of 0 would keep none of the lines since the place
        window = ["--tail", "all", *(["--since", place.stamp] if place.stamp else [])]
    # `--raw`: a service's lines as a container's, without its task's name before each.
    source = ["service", "logs", "--raw"] if swarm else ["container", "logs"]
    args = [*source, *window, *(["--follow"] if follow else []), "--timestamps", name]
    time_limit = 24 * 3600.0 if follow else None
    lines = ctx.servers.ssh.stream(target, docker_argv(target, args), time_limit=time_limit,
                                   lane=LOGS)  # fmt: skip
    return resumed(lines, place or Place())


async def _all_of(streams: Mapping[str, AsyncIterator[Stamped]]) -> list[tuple[str, Stamped]]:
    async def read(service: str, lines: AsyncIterator[Stamped]) -> list[tuple[str, Stamped]]:
        return [(service, line) async for line in lines]

    found = await asyncio.gather(*(read(s, lines) for s, lines in streams.items()))
    return [item for items in found for item in items]


async def _as_they_come(
    streams: Mapping[str, AsyncIterator[Stamped]],
) -> AsyncIterator[tuple[str, Stamped]]:
    """Every stream's lines passed on as they come, until all have ended. One that
    fails ends them all with its error: a reader resumes every container from its
    place, where one gone quiet among the others would never be noticed."""
    queue: asyncio.Queue[tuple[str, Stamped] | Exception | None] = asyncio.Queue()

    async def read(service: str, lines: AsyncIterator[Stamped]) -> None:
        try:
            async for line in lines:
                await queue.put((service, line))
        except Exception as exc:  # handed to the reader, raised there
            await queue.put(exc)
        finally:
            await queue.put(None)

    readers = [asyncio.create_task(read(s, lines)) for s, lines in streams.items()]
    try:
        open_readers = len(readers)
        while open_readers:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            if item is None:
                open_readers -= 1
            else:
                yield item
    finally:
        for reader in readers:
            reader.cancel()


def _width(read: dict[str, str]) -> int:
    """How wide the service names leading merged lines are (0: one container, unled)."""
    return max(map(len, read)) if len(read) > 1 else 0


def _shown(service: str, line: Stamped, width: int, *, timestamps: bool) -> str:
    """A line as read: `text`, led by `service | ` when merged and by Docker's
    stamp with `timestamps` (`STAMP service | text`)."""
    text = f"{service.ljust(width)} | {line.text}" if width else line.text
    return f"{line.stamp} {text}" if timestamps and line.stamp else text


class Uninstall(Operation):
    """Remove the containers, the last started first (the commit point), then the
    env files and the app's network, and with `remove_data` every folder tomo
    places under the instance folder, the app's named volumes and the containers'
    volumes. Never a path the user gave, never outside that folder."""

    kind = "uninstall"

    def __init__(self, ctx: DeploymentContext, *, remove_data: bool) -> None:
        super().__init__(ctx)
        self.remove_data = remove_data
        self.instance_dir = ""
        self.node = ""  # where the data is, said, when not on the server tomo reaches

    async def run(self, job: JobRecorder, row: Installation) -> None:
        docker = await self.ctx.docker(row.server_id)
        data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
        self.instance_dir = posixpath.join(data_root, row.name)
        names = list(containers_of(row).values())
        if runs_on_swarm(row):
            await self._remove_services(job, row, docker, data_root)
            return
        states = {name: await docker.state(name) for name in names}
        job.journal.cleanup = self._cleanup(row, data_root, states)
        await job.save_journal()
        async with job.step("remove container" if len(names) == 1 else "remove containers"):
            for name in reversed(names):
                await self._remove_container(docker, row, name, states[name], job)
        await self._finish(job, row)

    async def _remove_services(
        self, job: JobRecorder, row: Installation, docker: Docker, data_root: str
    ) -> None:
        """Its Swarm services (each task stopped with its grace period), the last
        started first; then as for containers. The volumes of their tasks' containers
        are read first: removing the data takes those too."""
        names = list(containers_of(row).values())
        tasks = [task for name in names for task in await swarm.task_containers(docker, name)]
        states = {task: await docker.state(task) for task in tasks}
        secrets = {"remove_swarm_secrets": row.id}  # once the services no longer use them
        server = await self.ctx.servers.get_server(row.server_id)
        node = data_node(row.config or {}, server)
        cleanup = self._cleanup(row, data_root, states)
        if node and node != node_of(server):
            cleanup = self._elsewhere(cleanup, node, row.id)
            self.node = f" on node {node[:12]}"
        job.journal.cleanup = [*cleanup, secrets]
        await job.save_journal()
        async with job.step("remove Swarm services"):
            for name in reversed(names):
                self.summary += await swarm.remove_service(docker, name, row.id)
        await self._finish(job, row)

    def _elsewhere(
        self, actions: list[dict[str, object]], node: str, installation: str
    ) -> list[dict[str, object]]:
        """The cleanup of an app whose data is on another node of the Swarm than the
        one tomo reaches (see swarm/nodes.py): its folders removed there; its env
        files where tomo reaches, and their folder once empty. Volumes there are
        Docker's on that node, out of tomo's reach: said, not removed."""
        image = self.ctx.settings.helper_image
        moved: list[dict[str, object]] = []
        for action in actions:
            kind, value = next(iter(action.items()))
            if kind == "remove_owned":
                moved.append(on_node(node, image, action))
            elif kind == "remove_named_volumes" and isinstance(value, list):
                self.summary.append(f"kept volumes {', '.join(value)} on node {node[:12]} "
                                    "(remove them there with `docker volume rm`)")  # fmt: skip
            else:
                moved.append(action)
        return [*moved, {"remove_empty_dirs": [self.instance_dir]},
                {"remove_helper_jobs": installation}]  # fmt: skip

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        """Past its commit point (the containers are gone) an uninstall is finished;
        before it, nothing was removed — or, for an app of several containers that
        lost some already, the rest are removed too (half an app is no app). A
        Swarm app's services are all removed in either case."""
        if runs_on_swarm(row):
            try:
                data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
                self.instance_dir = posixpath.join(data_root, row.name)
                await self._remove_services(job, row, await self.ctx.docker(row.server_id),
                                            data_root)  # fmt: skip
            except RemoteError as exc:
                return Recovery(f"nothing more could be done ({exc.message})", settled=False)
            return Recovery(said_kept(self.summary))
        try:
            docker = await self.ctx.docker(row.server_id)
            data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
            self.instance_dir = posixpath.join(data_root, row.name)
            names = list(containers_of(row).values())
            states = {name: await docker.state(name) for name in names}
            left = [name for name, state in states.items() if state is not None]
            if not job.journal.committed and 0 < len(left) < len(names):
                for name in reversed(left):
                    await self._remove_container(docker, row, name, states[name], job)
                left = []
        except RemoteError as exc:
            return Recovery(f"nothing more could be done ({exc.message})", settled=False)
        if not job.journal.committed and left:
            outcome = await self.replay_journal(job, row)  # start what it had stopped
            await record_state(self.ctx, row, docker)
            words = "; ".join(["nothing was removed", *outcome.done, *outcome.failed])
            await self.ctx.set(row.id, status_message=f"{cause}; {words}")
            return Recovery(words, settled=outcome.complete)
        job.journal.committed = True
        await self._finish(job, row)
        return Recovery(said_kept(self.summary))

    async def _remove_container(
        self, docker: Docker, row: Installation, name: str, state: ContainerState | None,
        job: JobRecorder,
    ) -> None:  # fmt: skip
        if state is not None and state.installation != row.id:  # a namesake, not ours
            self.summary.append(f"kept container '{name}' (it is not this installation's)")
        elif state is not None:
            if state.status in ("running", "restarting", "paused"):
                # As `tomo stop` does: the app's own signal and grace period (Docker's
                # SIGTERM and 10 s by default), so a database whose data is kept has
                # shut down cleanly; only then is the container removed. Journaled: an
                # uninstall ended before the removal starts it again.
                job.journal.undo.append({"start_container": name})
                await job.save_journal()
                await docker.stop(name)
            # An adopted container's anonymous volumes were not made by tomo: kept.
            with_volumes = self.remove_data and state.id != adopted_container(row)
            await docker.remove_container(name, with_volumes=with_volumes)
            volumes = " and its volumes" if with_volumes else ""
            self.summary.append(f"removed container '{name}'{volumes}")

    async def _finish(self, job: JobRecorder, row: Installation) -> None:
        job.journal.committed = True
        await job.save_journal()
        async with job.step("remove data" if self.remove_data else "keep data"):
            outcome = await self.replay_journal(job, row)
            self.summary += outcome.done
            if not outcome.complete:
                raise RemoteError(row.server_id, said(outcome, ""))
            if self.remove_data:
                await self.ctx.forget_kept_secrets(row.server_id, row.name)
            elif row.status != InstallationStatus.FAILED:  # its secrets never met the data
                await self.ctx.keep_secrets(row)
                self.summary.append(self._kept_data(row))
                if row.secret_env_enc:
                    self.summary.append(
                        "kept its secrets, sealed, for the next installation of the same app "
                        f"named '{row.name}' on this server"
                    )
                volumes = named_volumes(AppDefinition.model_validate(row.definition), row.name)
                if volumes:
                    self.summary.append(f"kept volumes {', '.join(volumes)}")
            await job.note("; ".join(self.summary))
        await self.ctx.delete(row.id)
        if row.hostnames and self.ctx.hooks.routes is not None:  # applied without its routes
            self.summary.append(await self.ctx.hooks.routes.removed(row))

    def _kept_data(self, row: Installation) -> str:
        if not row.adopted:
            return f"kept the data under {self.instance_dir}{self.node}"
        definition = AppDefinition.model_validate(row.definition)
        mounts = app_mounts(definition, InstallConfig.model_validate(row.config),
                            self.instance_dir)  # fmt: skip
        held = [m.host_path for m in mounts] + [f"volume {v}" for v in adopted_volumes(row)]
        return f"kept the data it mounted: {', '.join(held)}" if held else "it mounted no data"

    def _cleanup(
        self, row: Installation, data_root: str, states: dict[str, ContainerState | None]
    ) -> list[dict[str, object]]:
        definition = AppDefinition.model_validate(row.definition)
        instance_dir = posixpath.join(data_root, row.name)
        actions: list[dict[str, object]] = [{"remove_files": env_files(definition, instance_dir)}]
        # Named: it may have had a name (and so a network) once; only its own goes.
        network = network_name(definition, row.name, named=True)
        if network:
            actions.append({"remove_network": network})
        if self.remove_data:
            owned = owned_folders(row, data_root)
            actions.append({"remove_owned": {"data_root": data_root, "instance_dir": instance_dir,
                                             "dirs": owned}})  # fmt: skip
            shared = named_volumes(definition, row.name)
            before = adopted_volumes(row)
            volumes = list(dict.fromkeys(
                name for state in states.values() if state is not None
                for name, _ in state.volumes if name not in shared and name not in before
            ))  # fmt: skip
            if before:
                self.summary.append(f"kept {volumes_said(before)} (there before tomo adopted "
                                    "the container)")  # fmt: skip
            if volumes:  # volumes mounted by name (carried over by updates) too
                actions.append({"remove_volumes": volumes})
            if shared:
                actions.append({"remove_named_volumes": shared})
        return actions


def owned_folders(row: Installation, data_root: str) -> list[str]:
    """The folders tomo places under the instance folder for this installation's
    volumes and the store's files (whichever attempt created them), minus any that
    holds a path the user gave: that path is the user's, and so is what contains it."""
    definition = AppDefinition.model_validate(row.definition)
    instance_dir = posixpath.join(data_root, row.name)
    mounts = app_mounts(definition, InstallConfig.model_validate(row.config), instance_dir)
    users = [m.host_path for m in mounts if not m.owned]
    shipped = [posixpath.join(instance_dir, f.path[2:].split("/")[0]) for f in definition.files]
    return list(dict.fromkeys(
        path for path in [*(m.host_path for m in mounts if m.owned), *shipped]
        if _strictly_under(path, instance_dir)
        and not any(_strictly_under(u, path) or u == path for u in users)
    ))  # fmt: skip


async def refuse_if_needed(ctx: DeploymentContext, row: Installation, verb: str) -> None:
    """An app others require is not removed while they are installed, nor stopped
    while they run: they would lose it. NeededByOthers names them."""
    needing = await dependants_of(ctx, row)
    if verb == "stop":
        needing = [other for other in needing if other.status not in AT_REST]
    if needing:
        raise NeededByOthers(row.name, verb, [other.name for other in needing])


# What a stop need not wait for: installations that do not run.
AT_REST = (InstallationStatus.STOPPED, InstallationStatus.FAILED, InstallationStatus.MISSING)


def adopted_container(row: Installation) -> str | None:
    """The id of the container the installation was adopted from (None: tomo made it)."""
    return str(row.adopted["container"]) if row.adopted else None


def adopted_volumes(row: Installation) -> list[str]:
    """The Docker volumes an adopted container mounted: the user's, never removed."""
    return [str(name) for name in row.adopted.get("volumes", [])] if row.adopted else []


def volumes_said(volumes: list[str]) -> str:
    """ "volume data and 1 anonymous volume": Docker's own names (64 hex digits) say nothing."""
    anonymous = [v for v in volumes if _ANONYMOUS.fullmatch(v)]
    named = [v for v in volumes if v not in anonymous]
    parts = [f"volume{'s' if len(named) > 1 else ''} {', '.join(named)}"] if named else []
    if anonymous:
        count = len(anonymous)
        parts.append(f"{count} anonymous volume{'s' if count > 1 else ''}")
    return " and ".join(parts)


def said_kept(summary: list[str]) -> str:
    return "; ".join(summary) or "nothing was left to remove"


def _strictly_under(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path != root and posixpath.commonpath([path, root]) == root


async def prepare_uninstall(
    ctx: DeploymentContext, ref: str, server: str | None, *, remove_data: bool
) -> Prepared:
    await refuse_if_needed(ctx, await ctx.find(ref, server), "uninstall")

    async def finish(row: Installation, outcome: Outcome) -> OperationDone:
        gone = public(row).model_copy(
            update={"status": InstallationStatus.REMOVED, "operation": None}
        )
        return OperationDone(installation=gone, job_id=outcome.job_id, summary=outcome.summary)

    return await prepare(ctx, ref, server, Uninstall(ctx, remove_data=remove_data), finish)


async def prepare_verb(ctx: DeploymentContext, verb: str, ref: str, server: str | None) -> Prepared:
    """`docker container start|stop|restart` as a job."""
    if verb == "stop":
        await refuse_if_needed(ctx, await ctx.find(ref, server), "stop")

    async def finish(row: Installation, outcome: Outcome) -> OperationDone:
        return await done(ctx, row, outcome)

    return await prepare(ctx, ref, server, DockerVerb(ctx, verb), finish)


async def finish_failed_install(ctx: DeploymentContext, row: Installation) -> None:
    """Remove what a failed install left on its server, and then its record; on a
    new failure it stays `failed`, and its job says why."""

    async def finish(row: Installation, outcome: Outcome) -> OperationDone:
        return await done(ctx, row, outcome)

    try:
        prepared = await prepare(ctx, row.id, None, FinishFailedInstall(ctx), finish)
        await prepared.run()
    except TomoError as exc:
        log.warning("could not remove what the install of %s left: %s", row.name, exc.message)
