"""Managing an installation: start, stop, restart, status, logs, uninstall.

Each change runs as a job holding the installation's lease (see operation.py).
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
from collections.abc import AsyncIterator

from tomo.deployment.app_spec import (
    app_mounts,
    container_names,
    env_files,
    named_volumes,
    network_name,
)
from tomo.deployment.context import DeploymentContext, public
from tomo.deployment.dependencies import dependants_of
from tomo.deployment.install import FinishFailedInstall
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.models import Installation
from tomo.deployment.operation import Operation, Outcome, Prepared, Recovery, done, prepare, said
from tomo.deployment.remote import STOP_LIMIT, ContainerState, Docker
from tomo.deployment.schemas import InstallationPublic, OperationDone
from tomo.deployment.spec import InstallConfig
from tomo.deployment.statuses import InstallationStatus
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


def containers_of(row: Installation) -> dict[str, str]:
    """service -> container name, in start order."""
    return container_names(AppDefinition.model_validate(row.definition), row.name)


def long_running(row: Installation) -> list[str]:
    """The containers meant to keep running (not one-shot steps), in start order."""
    definition = AppDefinition.model_validate(row.definition)
    every = definition.all_services
    one_shot = {d for s in every.values() for d, c in s.depends_on.items() if c == "completed"}
    return [name for service, name in containers_of(row).items() if service not in one_shot]


async def app_state(row: Installation, docker: Docker) -> tuple[InstallationStatus, str | None]:
    names = containers_of(row)
    if len(names) == 1:
        return status_from(await docker.state(row.name))
    keep = set(long_running(row))
    states = await asyncio.gather(*(docker.state(name) for name in names.values()))
    return combined_status({
        service: state for (service, name), state in zip(names.items(), states, strict=True)
        if name in keep
    })  # fmt: skip


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
            states = await asyncio.gather(*(app_state(row, docker) for row in rows))
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
    service: str | None = None, reader: str = "",
) -> AsyncIterator[str]:  # fmt: skip
    """One container's output; for an app of several, the chosen service's, or
    all of them merged in time order, each line led by its service's name. Each
    container read holds one of the reader's and the server's log channels."""
    row = await ctx.find(ref, server)
    names = containers_of(row)
    name = service_container(row, service)
    target = await ctx.servers.target(row.server_id)
    async with ctx.log_streams.held(reader, row.server_id, 1 if name else len(names)):
        if name is not None:
            async for line in _container_logs(ctx, target, name, tail, follow, stamped=False):
                yield line
            return
        async for line in _merged_logs(ctx, target, names, tail, follow):
            yield line


def service_container(row: Installation, service: str | None) -> str | None:
    """The container whose logs to show; None: all of an app's, merged."""
    names = containers_of(row)
    if service is not None and service not in names:
        raise InvalidInput(f"{row.name} has no service '{service}' "
                           f"(it has: {', '.join(names)})")  # fmt: skip
    if service is not None:
        return names[service]
    return row.name if len(names) == 1 else None


def _container_logs(
    ctx: DeploymentContext, target: SSHTarget, name: str, tail: int, follow: bool, *,
    stamped: bool,
) -> AsyncIterator[str]:  # fmt: skip
    args = ["container", "logs", "--tail", str(tail), *(["--follow"] if follow else []),
            *(["--timestamps"] if stamped else []), name]  # fmt: skip
    time_limit = 24 * 3600.0 if follow else None
    return ctx.servers.ssh.stream(target, docker_argv(target, args), time_limit=time_limit,
                                  lane=LOGS)  # fmt: skip


async def _merged_logs(
    ctx: DeploymentContext, target: SSHTarget, names: dict[str, str], tail: int, follow: bool
) -> AsyncIterator[str]:
    """Every service's lines, stamped by Docker, put in time order (and, following,
    passed on as they come)."""
    width = max(map(len, names))
    queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()

    async def read(service: str, name: str) -> None:
        try:
            async for line in _container_logs(ctx, target, name, tail, follow, stamped=True):
                await queue.put((service, line))
        finally:
            await queue.put(None)

    readers = [asyncio.create_task(read(s, n)) for s, n in names.items()]
    try:
        if not follow:
            await asyncio.gather(*readers)
            lines = []
            while not queue.empty():
                item = queue.get_nowait()
                if item is not None:
                    lines.append(item)
            for service, line in sorted(lines, key=lambda item: item[1].split(" ", 1)[0]):
                yield _led(service, line, width)
            return
        open_readers = len(readers)
        while open_readers:
            item = await queue.get()
            if item is None:
                open_readers -= 1
            else:
                yield _led(*item, width)
    finally:
        for reader in readers:
            reader.cancel()


def _led(service: str, stamped: str, width: int) -> str:
    """`2026-…Z text` → `service | text`."""
    stamp, _, text = stamped.partition(" ")
    return f"{service.ljust(width)} | {text if stamp.endswith('Z') else stamped}"


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

    async def run(self, job: JobRecorder, row: Installation) -> None:
        docker = await self.ctx.docker(row.server_id)
        data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
        self.instance_dir = posixpath.join(data_root, row.name)
        names = list(containers_of(row).values())
        states = {name: await docker.state(name) for name in names}
        job.journal.cleanup = self._cleanup(row, data_root, states)
        await job.save_journal()
        async with job.step("remove container" if len(names) == 1 else "remove containers"):
            for name in reversed(names):
                await self._remove_container(docker, row, name, states[name], job)
        await self._finish(job, row)

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        """Past its commit point (the containers are gone) an uninstall is finished;
        before it, nothing was removed — or, for an app of several containers that
        lost some already, the rest are removed too (half an app is no app)."""
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

    def _kept_data(self, row: Installation) -> str:
        if not row.adopted:
            return f"kept the data under {self.instance_dir}"
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
        network = network_name(definition, row.name)
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
