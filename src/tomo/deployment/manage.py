"""Managing an installation: start, stop, restart, status, logs, uninstall.

Each change runs as a job holding the installation's lease (see operation.py).
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterator

from tomo.deployment.context import DeploymentContext, public
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.models import Installation
from tomo.deployment.operation import Operation, Outcome, Prepared, Recovery, done, prepare, said
from tomo.deployment.remote import ContainerState, Docker
from tomo.deployment.schemas import InstallationPublic, OperationDone
from tomo.deployment.spec import ENV_FILE_NAME, InstallConfig, mounts_for
from tomo.errors import RemoteError
from tomo.marketplace.definition import AppDefinition
from tomo.servers.ssh import docker_argv


class DockerVerb(Operation):
    """`docker container start|stop|restart`, then the state Docker reports."""

    def __init__(self, ctx: DeploymentContext, verb: str) -> None:
        super().__init__(ctx)
        self.verb = self.kind = verb

    async def run(self, job: JobRecorder, row: Installation) -> None:
        docker = await self.ctx.docker(row.server_id)
        async with job.step(self.verb):
            await docker.run(["container", self.verb, row.name])
        await record_state(self.ctx, row, docker)

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        try:
            await record_state(self.ctx, row, await self.ctx.docker(row.server_id))
        except RemoteError as exc:
            await self.ctx.set(row.id, status="unknown", status_message=exc.message)
        return Recovery("")


async def record_state(ctx: DeploymentContext, row: Installation, docker: Docker) -> None:
    status, message = status_from(await docker.state(row.name))
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
            await ctx.set(row.id, status="unknown", status_message=exc.message)
    return await ctx.public(row.id)


async def refresh_all(ctx: DeploymentContext, rows: list[Installation], time_limit: float) -> None:
    """Refresh every installation's status, each server asked in parallel; a server
    that does not answer within `time_limit` is `unknown` and holds up no other."""
    by_server: dict[str, list[Installation]] = {}
    for row in rows:
        if row.operation is None and row.container_id is not None:
            by_server.setdefault(row.server_id, []).append(row)
    await asyncio.gather(*(_refresh_server(ctx, found, time_limit)
                           for found in by_server.values()))  # fmt: skip


async def _refresh_server(
    ctx: DeploymentContext, rows: list[Installation], time_limit: float
) -> None:
    server_id = rows[0].server_id
    try:
        async with asyncio.timeout(time_limit):
            docker = await ctx.docker(server_id)
            states = await asyncio.gather(*(docker.state(row.name) for row in rows))
    except TimeoutError:
        reason = f"{server_id}: no answer within {time_limit:g}s"
    except RemoteError as exc:
        reason = exc.message
    else:
        for row, state in zip(rows, states, strict=True):
            status, message = status_from(state)
            await ctx.set(row.id, status=status, status_message=message)
        return
    for row in rows:
        await ctx.set(row.id, status="unknown", status_message=reason)


def status_from(state: ContainerState | None) -> tuple[str, str | None]:
    if state is None:
        return "missing", "the container is gone (removed outside tomo?)"
    if state.status == "running":
        if state.health == "unhealthy":
            return "unhealthy", "the container's health check fails"
        if state.restart_count:  # up now, but it crashed since it was last started
            return "running", f"crashed; Docker restarted it {_times(state.restart_count)}"
        return "running", None
    if state.status == "restarting":
        return "restarting", f"{state.describe_exit()}; Docker keeps restarting it"
    if state.status in ("exited", "dead", "created"):
        return "stopped", f"exit code {state.exit_code}" if state.exit_code else None
    return "error", f"container state: {state.status}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


async def logs(
    ctx: DeploymentContext, ref: str, server: str | None, *, tail: int, follow: bool
) -> AsyncIterator[str]:
    row = await ctx.find(ref, server)
    target = await ctx.servers.target(row.server_id)
    args = ["container", "logs", "--tail", str(tail), *(["--follow"] if follow else []), row.name]
    time_limit = 24 * 3600.0 if follow else None
    async for line in ctx.servers.ssh.stream(target, docker_argv(target, args),
                                             time_limit=time_limit):  # fmt: skip
        yield line


class Uninstall(Operation):
    """Remove the container (the commit point), then the env file, and with
    `remove_data` every folder tomo places under the instance folder and the
    container's volumes. Never a path the user gave, never outside that folder."""

    kind = "uninstall"

    def __init__(self, ctx: DeploymentContext, *, remove_data: bool) -> None:
        super().__init__(ctx)
        self.remove_data = remove_data
        self.instance_dir = ""

    async def run(self, job: JobRecorder, row: Installation) -> None:
        docker = await self.ctx.docker(row.server_id)
        data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
        self.instance_dir = posixpath.join(data_root, row.name)
        state = await docker.state(row.name)
        job.journal.cleanup = self._cleanup(row, data_root, state)
        await job.save_journal()
        async with job.step("remove container"):
            await self._remove_container(docker, row, state)
        await self._finish(job, row)

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        """Past its commit point (the container is gone) an uninstall is finished;
        before it, nothing was removed."""
        try:
            docker = await self.ctx.docker(row.server_id)
            data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
            self.instance_dir = posixpath.join(data_root, row.name)
            gone = job.journal.committed or await docker.state(row.name) is None
        except RemoteError as exc:
            return Recovery(f"nothing more could be done ({exc.message})", settled=False)
        if not gone:
            await record_state(self.ctx, row, docker)
            await self.ctx.set(row.id, status_message=f"{cause}; nothing was removed")
            return Recovery("nothing was removed")
        job.journal.committed = True
        await self._finish(job, row)
        return Recovery(said_kept(self.summary))

    async def _remove_container(
        self, docker: Docker, row: Installation, state: ContainerState | None
    ) -> None:
        if state is not None and state.installation != row.id:  # a namesake, not ours
            self.summary.append(f"kept container '{row.name}' (it is not this installation's)")
        elif state is not None:
            await docker.remove_container(row.name, with_volumes=self.remove_data)
            volumes = " and its volumes" if self.remove_data else ""
            self.summary.append(f"removed container '{row.name}'{volumes}")

    async def _finish(self, job: JobRecorder, row: Installation) -> None:
        job.journal.committed = True
        await job.save_journal()
        async with job.step("remove data" if self.remove_data else "keep data"):
            outcome = await self.replay_journal(job, row)
            self.summary += outcome.done
            if not outcome.complete:
                raise RemoteError(row.server_id, said(outcome, ""))
            if not self.remove_data:
                self.summary.append(f"kept the data under {self.instance_dir}")
            await job.note("; ".join(self.summary))
        await self.ctx.delete(row.id)

    def _cleanup(
        self, row: Installation, data_root: str, state: ContainerState | None
    ) -> list[dict[str, object]]:
        instance_dir = posixpath.join(data_root, row.name)
        actions: list[dict[str, object]] = [
            {"remove_files": [posixpath.join(instance_dir, ENV_FILE_NAME)]}
        ]
        if self.remove_data:
            owned = owned_folders(row, data_root)
            actions.append({"remove_owned": {"data_root": data_root, "instance_dir": instance_dir,
                                             "dirs": owned}})  # fmt: skip
            if state is not None:  # volumes mounted by name (carried over by updates) too
                actions.append({"remove_volumes": [name for name, _ in state.volumes]})
        return actions


def owned_folders(row: Installation, data_root: str) -> list[str]:
    """The folders tomo places under the instance folder for this installation's
    volumes (whichever attempt created them), minus any that holds a path the user
    gave: that path is the user's, and so is what contains it."""
    definition = AppDefinition.model_validate(row.definition)
    instance_dir = posixpath.join(data_root, row.name)
    mounts = mounts_for(definition, InstallConfig.model_validate(row.config), instance_dir)
    users = [m.host_path for m in mounts if not m.owned]
    return [
        m.host_path for m in mounts
        if m.owned and _strictly_under(m.host_path, instance_dir)
        and not any(_strictly_under(u, m.host_path) or u == m.host_path for u in users)
    ]  # fmt: skip


def said_kept(summary: list[str]) -> str:
    return "; ".join(summary) or "nothing was left to remove"


def _strictly_under(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path != root and posixpath.commonpath([path, root]) == root


async def prepare_uninstall(
    ctx: DeploymentContext, ref: str, server: str | None, *, remove_data: bool
) -> Prepared:
    async def finish(row: Installation, outcome: Outcome) -> OperationDone:
        gone = public(row).model_copy(update={"status": "removed", "operation": None})
        return OperationDone(installation=gone, job_id=outcome.job_id, summary=outcome.summary)

    return await prepare(ctx, ref, server, Uninstall(ctx, remove_data=remove_data), finish)


async def prepare_verb(ctx: DeploymentContext, verb: str, ref: str, server: str | None) -> Prepared:
    """`docker container start|stop|restart` as a job."""

    async def finish(row: Installation, outcome: Outcome) -> OperationDone:
        return await done(ctx, row, outcome)

    return await prepare(ctx, ref, server, DockerVerb(ctx, verb), finish)
