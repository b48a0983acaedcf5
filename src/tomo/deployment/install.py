"""Installing an app: validate and record (`prepare_install`), then the job that does it.

The record is made first, holding the installation's lease, so one name is
one installation from the start. Its job then runs as every operation's does (a
Prepared, see operation.py): in the API's background, or in the CLI that asked
(`tomo job run` for --detach). An install that fails or is interrupted takes
back what it made (from its journal); if nothing is left on the server, the
installation record goes too and only the job tells what happened.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.deployment import steps
from tomo.deployment.app_spec import AppSpec, app_mounts, build_app_spec, named_on
from tomo.deployment.context import DeploymentContext, ports_of, stored_config
from tomo.deployment.dependencies import imports_for, spec_with_imports
from tomo.deployment.jobs import JobRecorder, create_job, job_view, new_id, now
from tomo.deployment.models import Installation, runs_on_swarm
from tomo.deployment.operation import (
    Operation,
    Outcome,
    Prepared,
    Recovery,
    done,
    prepared,
    said,
)
from tomo.deployment.remote import Docker
from tomo.deployment.schemas import InstallStarted, JobPublic, OperationDone
from tomo.deployment.spec import InstallConfig
from tomo.deployment.statuses import InstallationStatus, JobStatus
from tomo.deployment.suggestions import free_name, name_in_use
from tomo.deployment.swarm import install as swarm_install
from tomo.deployment.swarm.install import data_node, on_swarm, refuse_unswarmable
from tomo.deployment.swarm.nodes import Placement
from tomo.deployment.swarm.secrets import SwarmSecret, as_files, file_variables
from tomo.deployment.swarm.services import on_overlay
from tomo.errors import (
    InvalidInput,
    OperationInterrupted,
    PreflightFailed,
    Refusal,
    RemoteError,
    TomoError,
)
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.risk import HostMount
from tomo.servers.schemas import ServerPublic
from tomo.updates.schemas import UpdateSettings, update_columns


@dataclass(frozen=True)
class InstallPlan:
    """An install checked without the server: what it would create, and from what."""

    spec: AppSpec
    repo_id: str
    definition: AppDefinition
    server_id: str
    # Secrets kept with the data of an earlier installation of the same name: used
    # again (the data was initialised with them), so not shown as new ones.
    kept: dict[str, str]
    hostnames: list[str]  # as recorded: "auto" and single labels named under the domain
    swarm: bool = False  # as Swarm services (see deployment/swarm)


async def plan_install(
    ctx: DeploymentContext, server: str, app: str, config: InstallConfig, installation_id: str
) -> InstallPlan:
    """Validate everything that can be checked without the server."""
    entry = await ctx.marketplace.get_app(app)
    target = await ctx.servers.get_server(server)
    if entry.not_installable:
        raise InvalidInput(f"{entry.repo_id}/{entry.id} cannot be installed by tomo: "
                           f"{entry.not_installable}")  # fmt: skip
    definition = AppDefinition.model_validate(entry.model_dump())
    name = config.name or definition.id
    kept = await ctx.kept_secrets(target.id, name, entry.repo_id, definition.id)
    imports = await imports_for(ctx, target, definition, entry.repo_id)
    hostnames = await hostnames_wanted(ctx, target.id, name, definition, config.hostnames)
    if config.login in ("users", "admins") and not hostnames:
        raise InvalidInput([Refusal(f"a login in front of {name} guards its names, and it is "
                                    "given none", ("login",), "give it one with --hostname",
                                    page_hint="give it a hostname")])  # fmt: skip
    spec = build_app_spec(
        definition, config, repo_id=entry.repo_id, installation_id=installation_id,
        data_root=target.data_root, server_host=target.host, owner=ctx.settings.owner_label,
        generated=kept, imports=imports, named=named_on(target, hostnames),
    )  # fmt: skip
    swarm = on_swarm(target, config.swarm)
    if swarm:
        refuse_unswarmable(spec, hostnames)
    return InstallPlan(spec, entry.repo_id, definition, target.id, kept, hostnames, swarm)


async def hostnames_wanted(
    ctx: DeploymentContext, server_id: str, name: str, definition: AppDefinition,
    given: list[str],
) -> list[str]:  # fmt: skip
    """The names to record for an install that asked for `given`; an app served by
    name only gets `auto` when it asked for none (the preflight refuses it on a
    server with no base domain to name it under)."""
    hostnames = list(given) or (["auto"] if definition.needs_hostname else [])
    if hostnames and ctx.hooks.routes is not None:
        hostnames = await ctx.hooks.routes.hostnames_wanted(server_id, name, hostnames)
    return hostnames


async def install_app(
    ctx: DeploymentContext, server: str, app: str, config: InstallConfig
) -> InstallStarted:
    """Validate and record; the returned job does the work (see run_job)."""
    ready = await prepare_install(ctx, server, app, config)
    return InstallStarted(installation=ready.installation, job_id=ready.job_id,
                          generated_secrets=ready.generated_secrets)  # fmt: skip


async def run_job(ctx: DeploymentContext, job_id: str) -> JobPublic:
    """Carry out a stored install job to its end; its outcome is in the returned
    view. OperationInterrupted if it was interrupted (after undoing it)."""
    view = await job_view(ctx.db, job_id)
    runnable = view.kind == InstallOperation.kind and view.status == JobStatus.PENDING
    if not runnable or view.installation_id is None:
        return view
    ready = prepared_install(ctx, await ctx.load(view.installation_id), job_id)
    try:
        await ready.run()
    except OperationInterrupted:
        raise
    except TomoError:
        pass  # the job tells how it failed, and what was undone
    return await job_view(ctx.db, job_id)


async def abandon(ctx: DeploymentContext, job_id: str, reason: str) -> None:
    """A recorded install whose job never started (the chain it was part of broke):
    its job fails with `reason` and its record, made by nothing on a server, goes."""
    view = await job_view(ctx.db, job_id)
    if view.status != JobStatus.PENDING or view.installation_id is None:
        return
    await JobRecorder(ctx.db, job_id, view.installation_id).finish(JobStatus.FAILED, reason)
    row = await ctx.load(view.installation_id)
    if row.operation_job == job_id:
        await ctx.delete(row.id)


async def prepare_install(
    ctx: DeploymentContext, server: str, app: str, config: InstallConfig
) -> Prepared:
    """Validate, then record the installation with its lease held by its install job;
    `run` installs it (the generated secrets are shown once, from here)."""
    installation_id = new_id()
    plan = await plan_install(ctx, server, app, config, installation_id)
    return await record_install(ctx, plan, config, installation_id)


async def plan_restored_install(
    ctx: DeploymentContext, server: str, definition: AppDefinition, repo_id: str,
    config: InstallConfig, secrets: dict[str, str], images: dict[str, str],
) -> tuple[InstallPlan, str]:  # fmt: skip
    """An install of what a backup recorded (its definition, settings, secrets and
    images, not the catalog's: the data fits that version): the plan and the new
    installation's id."""
    installation_id = new_id()
    target = await ctx.servers.get_server(server)
    imports = await imports_for(ctx, target, definition, repo_id)
    name = config.name or definition.id
    hostnames = await hostnames_wanted(ctx, target.id, name, definition, config.hostnames)
    spec = build_app_spec(
        definition, config, repo_id=repo_id, installation_id=installation_id,
        data_root=target.data_root, server_host=target.host, owner=ctx.settings.owner_label,
        generated=secrets, imports=imports, images=images, named=named_on(target, hostnames),
    )  # fmt: skip
    swarm = on_swarm(target, config.swarm)
    if swarm:
        refuse_unswarmable(spec, hostnames)
    plan = InstallPlan(spec, repo_id, definition, target.id, secrets, hostnames, swarm)
    return plan, installation_id


async def record_install(
    ctx: DeploymentContext, plan: InstallPlan, config: InstallConfig, installation_id: str
) -> Prepared:
    """The installation recorded (its name checked) with its lease held by its job."""
    spec, repo_id, definition, server_id = plan.spec, plan.repo_id, plan.definition, plan.server_id
    config = config.model_copy(update={"swarm": plan.swarm})  # kept decided
    job_id = new_id()
    hostnames = plan.hostnames
    row = Installation(
        id=installation_id, server_id=server_id, name=spec.name, repo_id=repo_id,
        app_id=definition.id, version=definition.version, image=spec.main.image,
        definition=definition.model_dump(mode="json"), config=stored_config(config, spec),
        secret_env_enc=ctx.seal(spec.secret_env), status=InstallationStatus.PENDING,
        operation=InstallOperation.kind, operation_job=job_id, heartbeat_at=now(),
        created_at=now(), updated_at=now(), **update_columns(config.updates or UpdateSettings()),
        backup_before_update=ctx.settings.backup_before_update, hostnames=hostnames,
    )  # fmt: skip
    try:
        async with ctx.db.session() as session, session.begin():
            await refuse_taken_name(session, server_id, spec.name)
            session.add(row)
    except IntegrityError:  # another install took the name after our check
        raise name_taken(spec.name) from None
    await create_job(ctx.db, row, InstallOperation.kind, job_id)
    return prepared_install(ctx, await ctx.load(installation_id), job_id, spec.generated)


def prepared_install(
    ctx: DeploymentContext,
    row: Installation,
    job_id: str,
    generated_secrets: dict[str, str] | None = None,
) -> Prepared:
    """The recorded install job of `row`, ready to run wherever it runs."""

    async def finish(row: Installation, outcome: Outcome) -> OperationDone:
        return await done(ctx, row, outcome)

    return prepared(ctx, row, job_id, InstallOperation(ctx), finish,
                    generated_secrets=generated_secrets)  # fmt: skip


async def refuse_taken_name(session: AsyncSession, server_id: str, name: str) -> None:
    taken = set(await session.scalars(
        select(Installation.name).where(Installation.server_id == server_id)
    ))  # fmt: skip
    if name in taken:
        raise name_taken(name, free_name(name, taken.__contains__))


def name_taken(name: str, suggestion: str | None = None) -> InvalidInput:
    return InvalidInput(
        [name_in_use(name, suggestion, "choose --name", page_hint="choose another Instance name")]
    )


class InstallOperation(Operation):
    kind = "install"

    async def run(self, job: JobRecorder, row: Installation) -> None:
        ctx = self.ctx
        definition = AppDefinition.model_validate(row.definition)
        server = await ctx.servers.get_server(row.server_id)
        docker = await ctx.docker(row.server_id)
        await ctx.set(row.id, status=InstallationStatus.INSTALLING, status_message=None)
        swarm = InstallConfig.model_validate(row.config).swarm
        secrets: list[SwarmSecret] = []
        async with job.step("validate"):
            spec = await spec_with_imports(ctx, row, server)
            if swarm:
                files = file_variables(definition)
                spec, secrets = as_files(on_overlay(spec), files)
        async with job.step("preflight"):
            claimed = await claimed_ports(ctx, row.server_id, row.id)
            others = await other_mounts(ctx, row.server_id, row.id)
            names = await installation_names(ctx, row.server_id, row.id)
            await refuse_unroutable(ctx, row, docker.server)
            await steps.preflight(docker, steps.Preflight(definition, spec, server.data_root,
                                                          claimed, others, names))  # fmt: skip
            if swarm:
                placement = await _place(ctx, job, row, docker, server, spec, definition)
        async with job.step("pull", ", ".join(spec.images)):
            if swarm:  # the data's folders on its node
                await _prepare_on_swarm(ctx, job, docker, spec, placement)
            else:
                await steps.pull_and_prepare(docker, spec, job)  # the files meanwhile
        if swarm:
            container = await _create_services(ctx, job, docker, spec, placement, secrets)
        else:
            container = await _create_containers(ctx, job, docker, spec, definition.id)
        job.journal.committed = True
        await ctx.set(row.id, status=InstallationStatus.RUNNING, container_id=container,
                      status_message=None)  # fmt: skip
        await ctx.forget_kept_secrets(row.server_id, row.name)  # the record holds them now
        await ctx.marketplace.count_install(row.repo_id, row.app_id)
        await route_installed(ctx, job, row, self.summary, new=True)

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        """Take back what this attempt made; with nothing left, the record goes too."""
        outcome = await self.replay_journal(job, row)
        if outcome.complete:
            await self.ctx.delete(row.id)
            return Recovery(said(outcome, f"nothing had been created on {row.server_id}"))
        # The fact and the way out in no face's syntax: the job page offers an
        # Uninstall button, the command line has `tomo uninstall`.
        message = (
            f"{said(outcome, '')}; tomo removes the rest the next time it reaches "
            f"{row.server_id}, or when {row.name} is uninstalled"
        )
        await self.ctx.set(row.id, status=InstallationStatus.FAILED,
                           status_message=f"{cause}; {message}")  # fmt: skip
        return Recovery(message, settled=False)


async def _create_containers(
    ctx: DeploymentContext, job: JobRecorder, docker: Docker, spec: AppSpec, app_id: str
) -> str:
    """Hooks, containers, the wait until they are up, hooks: the main container's id."""
    await run_hooks_of(job, docker, spec, app_id, "before-install", "before-start")
    async with job.step("create"):
        container = await steps.create_containers(
            docker, spec, ctx.settings.publish_address, job, wait_limits(ctx)
        )
    async with job.step("wait"):
        await job.note(await steps.wait_until_app_up(docker, spec, wait_limits(ctx)))
    await run_hooks_of(job, docker, spec, app_id, "after-install", "after-start")
    return container


async def _place(
    ctx: DeploymentContext, job: JobRecorder, row: Installation, docker: Docker,
    server: ServerPublic, spec: AppSpec, definition: AppDefinition,
) -> Placement | None:  # fmt: skip
    """The Swarm's preflight and the node its data goes on (see swarm/nodes.py), kept
    with its config as the node's id; None when it has no data."""
    asked = InstallConfig.model_validate(row.config).swarm_node
    placement = await swarm_install.place(docker, server, spec, definition, asked,
                                          await data_nodes(ctx, server, row.id))  # fmt: skip
    if placement is not None:
        await ctx.set(row.id, config={**row.config, "swarm_node": placement.node.id})
        await job.note(f"data on node {placement.said}")
    return placement


async def data_nodes(
    ctx: DeploymentContext, server: ServerPublic, installation_id: str
) -> dict[str, int]:
    """node id -> how many of the server's other Swarm installations have their data there."""
    counted: dict[str, int] = {}
    async with ctx.db.session() as session:
        rows = await session.scalars(select(Installation).where(
            Installation.server_id == server.id, Installation.id != installation_id))  # fmt: skip
        for row in rows:
            node = data_node(row.config or {}, server) if runs_on_swarm(row) else None
            if node:
                counted[node] = counted.get(node, 0) + 1
    return counted


async def _prepare_on_swarm(
    ctx: DeploymentContext, job: JobRecorder, docker: Docker, spec: AppSpec,
    placement: Placement | None,
) -> None:  # fmt: skip
    node, reached = (placement.node.id, placement.reached) if placement else (None, None)
    await swarm_install.pull_and_prepare(docker, spec, job, node, ctx.settings.helper_image,
                                         reached=reached)  # fmt: skip


async def _create_services(
    ctx: DeploymentContext, job: JobRecorder, docker: Docker, spec: AppSpec,
    placement: Placement | None, secrets: list[SwarmSecret],
) -> str:  # fmt: skip
    """The app's Swarm services and the wait until their tasks run: the main one's id."""
    node = placement.node.id if placement else None
    elsewhere = placement is not None and placement.elsewhere
    async with job.step("create", "as Swarm services"):
        service = await swarm_install.create_services(docker, spec, job, node, wait_limits(ctx),
                                                      secrets, elsewhere=elsewhere)  # fmt: skip
    async with job.step("wait"):
        await job.note(await swarm_install.wait_until_running(docker, spec, wait_limits(ctx)))
    return service


async def refuse_unroutable(ctx: DeploymentContext, row: Installation, server: str) -> None:
    """PreflightFailed when its hostnames cannot be routed (before anything is made)."""
    if row.hostnames and ctx.hooks.routes is not None:
        problems = await ctx.hooks.routes.check(row)
        if problems:
            raise PreflightFailed(server, problems)


async def route_installed(
    ctx: DeploymentContext, job: JobRecorder, row: Installation, summary: list[str],
    *, new: bool = False,
) -> None:  # fmt: skip
    """Its hostnames routed, as a step of their own that never fails the install: the
    app runs on its port either way, and the summary says whether the route was made."""
    if not row.hostnames or ctx.hooks.routes is None:
        return
    async with job.step("route", ", ".join(row.hostnames)):
        said = await ctx.hooks.routes.installed(row, new=new)
        summary.append(said)
        await job.note(said)


async def run_hooks_of(
    job: JobRecorder, docker: Docker, spec: AppSpec, app_id: str, *moments: str
) -> None:
    """The store's hook scripts of these moments, as a step of their own."""
    hooks = spec.hooks_at(*moments)
    if hooks:
        async with job.step("hooks", ", ".join(hook.name for hook in hooks)):
            await steps.run_hooks(docker, spec, hooks, job, app_id)


class FinishFailedInstall(Operation):
    """A failed install whose server went away left things there (see recover): the
    lease's settling step (operation.settle_unsettled) removes them, then the record
    goes, as after any failed install."""

    kind = "cleanup"

    async def run(self, job: JobRecorder, row: Installation) -> None:
        await self.ctx.delete(row.id)
        self.summary.append(f"removed what the failed install of '{row.name}' had left")

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        return Recovery("it stays until tomo reaches the server again", settled=True)


async def check_server(
    ctx: DeploymentContext, server_id: str, definition: AppDefinition, spec: AppSpec
) -> list[Refusal]:
    """Every reason the server cannot take this container now ([] when it can); a
    port or name taken comes with a free one (Refusal.suggestion)."""
    data_root = (await ctx.servers.get_server(server_id)).data_root
    claimed = await claimed_ports(ctx, server_id, "preview")
    others = await other_mounts(ctx, server_id, "preview")
    names = await installation_names(ctx, server_id, "preview")
    try:
        docker = await ctx.docker(server_id)
        check = steps.Preflight(definition, spec, data_root, claimed, others, names)
        await steps.preflight(docker, check)
    except PreflightFailed as exc:
        return list(exc.problems)
    except RemoteError as exc:
        return [Refusal(exc.message)]
    return []


async def preview_placement(
    ctx: DeploymentContext, plan: InstallPlan, spec: AppSpec, asked: str | None
) -> tuple[Placement | None, list[Refusal]]:
    """Where an install on a Swarm would put the app's data, and what keeps the
    Swarm's nodes from running it (as its preflight would say)."""
    server = await ctx.servers.get_server(plan.server_id)
    try:
        docker = await ctx.docker(plan.server_id)
        placement = await swarm_install.place(docker, server, spec, plan.definition, asked,
                                              await data_nodes(ctx, server, "preview"))  # fmt: skip
    except PreflightFailed as exc:
        return None, list(exc.problems)
    except RemoteError:
        return None, []  # check_server says why the server cannot be asked
    return placement, []


async def installation_names(
    ctx: DeploymentContext, server_id: str, installation_id: str
) -> set[str]:
    """The names of the other installations on the server."""
    async with ctx.db.session() as session:
        return set(await session.scalars(
            select(Installation.name).where(Installation.server_id == server_id,
                                            Installation.id != installation_id)
        ))  # fmt: skip


def wait_limits(ctx: DeploymentContext) -> steps.WaitLimits:
    return steps.WaitLimits(
        timeout=ctx.settings.install_wait_timeout, stable=ctx.settings.install_stable_seconds
    )


async def claimed_ports(
    ctx: DeploymentContext, server_id: str, installation_id: str
) -> set[tuple[int, str]]:
    """Host ports the other installations on the server publish (or will)."""
    async with ctx.db.session() as session:
        others = await session.scalars(
            select(Installation).where(Installation.server_id == server_id,
                                       Installation.id != installation_id)
        )  # fmt: skip
        return {port for other in others for port in ports_of(other)}


async def other_mounts(
    ctx: DeploymentContext, server_id: str, installation_id: str
) -> list[HostMount]:
    """The folders the other installations on the server mount, by their paths."""
    data_root = (await ctx.servers.get_server(server_id)).data_root
    async with ctx.db.session() as session:
        others = list(await session.scalars(
            select(Installation).where(Installation.server_id == server_id,
                                       Installation.id != installation_id)
        ))  # fmt: skip
    found = []
    for other in others:
        instance_dir = posixpath.join(data_root, other.name)
        mounts = app_mounts(AppDefinition.model_validate(other.definition),
                            InstallConfig.model_validate(other.config), instance_dir)  # fmt: skip
        found += [HostMount(m.host_path, posixpath.normpath(m.host_path), m.readonly)
                  for m in mounts]  # fmt: skip
    return found
