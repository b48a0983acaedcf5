"""Updating an installation: the catalog's current definition (or another tag),
with the same config and data, and changes the user gives (--env, --port, …).

The running container is set aside (renamed, stopped) before the new one is
created; until the new one has stayed up, the journal can put the old one back
exactly as it was. Config, secrets, data folders and the image's own volumes
carry over.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tomo.deployment import steps
from tomo.deployment.app_spec import AppSpec, container_names
from tomo.deployment.context import DeploymentContext, ports_of, stored_config
from tomo.deployment.dependencies import imports_for
from tomo.deployment.install import (
    claimed_ports,
    other_mounts,
    route_installed,
    run_hooks_of,
    wait_limits,
)
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.manage import record_state
from tomo.deployment.models import Installation
from tomo.deployment.operation import Operation, Outcome, Prepared, Recovery, done, prepare, said
from tomo.deployment.remote import ContainerState, Docker
from tomo.deployment.schemas import OperationDone
from tomo.deployment.spec import ConfigChanges, ContainerSpec, InstallConfig
from tomo.deployment.statuses import InstallationStatus
from tomo.deployment.swarm import install as swarm_install
from tomo.deployment.swarm import update as swarm_update
from tomo.deployment.swarm.install import data_node, refuse_unswarmable
from tomo.deployment.swarm.secrets import SwarmSecret, as_files, file_variables
from tomo.deployment.swarm.services import on_overlay
from tomo.errors import (
    AppNotFound,
    InvalidInput,
    NotFound,
    PreflightFailed,
    Refusal,
    RemoteError,
    RepoNotFound,
    TomoError,
)
from tomo.marketplace.definition import IMAGE_REFERENCE, AppDefinition


@dataclass(frozen=True)
class UpdatePlan:
    """An update checked before anything starts (so a refusal is the request's answer)."""

    definition: AppDefinition
    data_root: str
    config: InstallConfig
    spec: AppSpec


async def plan_update(
    ctx: DeploymentContext, row: Installation, *, tag: str | None, changes: ConfigChanges
) -> UpdatePlan:
    # Settings changed or another tag: the installed definition is enough to do that.
    moving_on = tag is not None or bool(changes.env or changes.ports or changes.volumes)
    definition = await current_definition(ctx, row, snapshot_will_do=moving_on)
    image = retag(definition.docker.image, tag) if tag else definition.docker.image
    server = await ctx.servers.get_server(row.server_id)
    config = InstallConfig.model_validate(row.config).changed_by(changes)
    imports = await imports_for(ctx, server, definition, row.repo_id)
    spec = ctx.spec_of(row, definition, server, config=config,
                       images={definition.main_service: image}, imports=imports)  # fmt: skip
    if config.swarm:
        refuse_unswarmable(spec, row.hostnames or [])
        spec = on_overlay(spec)
    return UpdatePlan(definition, server.data_root, config, spec)


class Update(Operation):
    """Every container of the app set aside (stopped, last first), the new ones
    created in order; until they have stayed up, the journal can put the old
    ones back exactly as they were."""

    kind = "update"

    def __init__(
        self, ctx: DeploymentContext, plan: UpdatePlan | None = None, *, automatic: bool = False
    ) -> None:
        super().__init__(ctx)
        self.plan = plan  # None: recovering only (see reconcile.py)
        self.automatic = automatic

    async def run(self, job: JobRecorder, row: Installation) -> None:
        try:
            await self._update(job, row)
        except TomoError as exc:
            raise exc.with_message(f"update failed: {exc.message}") from exc

    async def _update(self, job: JobRecorder, row: Installation) -> None:
        ctx = self.ctx
        assert self.plan is not None
        definition, data_root, config, spec = (self.plan.definition, self.plan.data_root,
                                               self.plan.config, self.plan.spec)  # fmt: skip
        secrets: list[SwarmSecret] = []
        if config.swarm:  # the record keeps the plan's spec: these values stay sealed there
            spec, secrets = as_files(spec, file_variables(definition))
        images = ", ".join(spec.images)
        docker = await ctx.docker(row.server_id)
        async with job.step("validate", images):
            pass  # checked when the update was asked for (plan_update)
        async with job.step("preflight"):
            await self._preflight(docker, row, spec, data_root)
            current = await swarm_update.preflight(docker, spec) if config.swarm else {}
        node = data_node(row.config, await ctx.servers.get_server(row.server_id))
        async with job.step("pull", images):  # the env files are rewritten meanwhile: the
            # running containers read theirs when they were created
            if config.swarm:  # new folders on the data's node
                await swarm_install.pull_and_prepare(docker, spec, job, node,
                                                     ctx.settings.helper_image,
                                                     env_file_is_new=False)  # fmt: skip
            else:
                await steps.pull_and_prepare(docker, spec, job, env_file_is_new=False)
        await ctx.set(row.id, status=InstallationStatus.UPDATING,
                      status_message=f"updating to {spec.main.image}")  # fmt: skip
        limits = wait_limits(ctx)
        if config.swarm:
            async with job.step("replace", "a rolling update of its Swarm services"):
                service, retired = await swarm_update.update_services(
                    docker, spec, job, current, node, limits, secrets)  # fmt: skip
            await self._commit(job, row, definition, self.plan.spec, config, service, {},
                               [{"remove_secret": name} for name in retired])  # fmt: skip
            return
        async with job.step("set aside"):
            spec, previous = await self._set_aside(docker, job, row, spec)
        await self._back_up_data(job, row, previous)
        async with job.step("replace"):
            # The store's scripts, once the old containers are stopped (their data still).
            before = spec.hooks_at("before-update", "before-start")
            await steps.run_hooks(docker, spec, before, job, definition.id)
            container = await self._create(docker, job, spec, limits)
        async with job.step("wait"):
            await job.note(await steps.wait_until_app_up(docker, spec, limits))
        await run_hooks_of(job, docker, spec, definition.id, "after-update", "after-start")
        await self._commit(job, row, definition, spec, config, container, previous)
        # Its new main container joins the front door's network again, under its name.
        await route_installed(ctx, job, await ctx.load(row.id), self.summary)

    async def _back_up_data(
        self, job: JobRecorder, row: Installation, previous: dict[str, str]
    ) -> None:
        """Back the data up while nothing runs (the old containers set aside, the new
        ones not made): what a failed update puts back (see recover)."""
        guard = self.ctx.hooks.data
        if guard is None or not row.backup_before_update or not previous:
            return
        in_start_order = dict(reversed(previous.items()))  # set aside last first
        job.journal.backup = await guard.save(job, row, in_start_order)
        await job.save_journal()
        self.summary.append(f"backed the data up first (backup {job.journal.backup})")

    async def _create(
        self, docker: Docker, job: JobRecorder, spec: AppSpec, limits: steps.WaitLimits
    ) -> str:
        """The app's network (kept from before, or made), its volumes, its containers."""
        if spec.network and await docker.network_owner(spec.network) is None:
            await steps.create_network(docker, spec, job)
        await steps.ensure_isolated_network(docker, spec)
        for volume in spec.volumes:
            await steps.create_volume(docker, spec, volume, job)
        created = {}
        for container in spec.containers:
            await steps.wait_for_dependencies(docker, spec, container, limits)
            created[container.name] = await steps.create(
                docker, container, self.ctx.settings.publish_address, job
            )
        return created[spec.name]

    async def _preflight(
        self, docker: Docker, row: Installation, spec: AppSpec, data_root: str
    ) -> None:
        """What changed must fit the server: new host ports free, host paths safe."""
        own = ports_of(row)
        seen = await docker.survey(data_root, steps.survey_paths(spec), steps.devices_of(spec),
                                   runtimes=steps.uses_gpus(spec))  # fmt: skip
        problems = steps.device_problems(spec, seen)
        others = await other_mounts(self.ctx, row.server_id, row.id)
        problems += steps.mount_problems(spec, seen, data_root, others)
        new_ports = {c.name: [p for p in c.ports if (p.host, p.protocol) not in own]
                     for c in spec.containers}  # fmt: skip
        if any(new_ports.values()):
            fresh = dataclasses.replace(spec, containers=[
                dataclasses.replace(c, ports=new_ports[c.name]) for c in spec.containers
            ])  # fmt: skip
            check = steps.Preflight(
                AppDefinition.model_validate(row.definition), fresh, data_root,
                await claimed_ports(self.ctx, row.server_id, row.id),
            )  # fmt: skip
            problems += steps.port_problems(check, seen.used_ports)
        if problems:
            raise PreflightFailed(docker.server, problems)

    async def _set_aside(
        self, docker: Docker, job: JobRecorder, row: Installation, spec: AppSpec
    ) -> tuple[AppSpec, dict[str, str]]:
        """Rename and stop each current container, the last started first (journaled
        first), carrying its volumes over to its successor; a container removed
        behind tomo's back is simply made again."""
        old = AppDefinition.model_validate(row.definition)
        current = container_names(old, row.name)
        previous, carried = {}, {}
        for service, name in reversed(current.items()):
            state = await docker.state(name)
            if state is None or state.installation != row.id:
                continue
            aside = f"{name}-tomo-previous"
            job.journal.undo.append({"restore_container": {
                "name": name, "previous": aside, "start": _was_running(state),
            }})  # fmt: skip
            await job.save_journal()
            await docker.run(["container", "rename", name, aside])
            await docker.stop(aside)
            previous[service] = aside
            carried[name] = state.volumes
        containers = [_carry(c, carried.get(c.name, [])) for c in spec.containers]
        return dataclasses.replace(spec, containers=containers), previous

    async def _commit(
        self, job: JobRecorder, row: Installation, definition: AppDefinition,
        spec: AppSpec, config: InstallConfig, container: str, previous: dict[str, str],
        retired: list[dict[str, object]] | None = None,
    ) -> None:  # fmt: skip
        """Past this point the update is finished, never undone: `retired` is what of
        the previous version goes then, beside the containers set aside."""
        job.journal.committed = True
        kept = [c.env_file for c in spec.containers if c.all_env]  # see steps.prepare
        job.journal.cleanup = [*({"retire_container": name} for name in previous.values()),
                               *([{"forget_previous_files": kept}] if kept else []),
                               *(retired or [])]  # fmt: skip
        await job.save_journal()
        await self.ctx.set(
            row.id, status=InstallationStatus.RUNNING, status_message=None, container_id=container,
            image=spec.main.image, version=definition.version,
            definition=definition.model_dump(mode="json"), config=stored_config(config, spec),
            secret_env_enc=self.ctx.seal(spec.secret_env),
            image_updates=None, images_checked_at=None,  # the tags were pulled again just now
        )  # fmt: skip
        outcome = await self.replay_journal(job, row)
        self.summary += outcome.done + outcome.failed

    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        """Put the previous containers back as they were (or, past the commit point,
        finish); the status is what Docker then reports."""
        backup = None if job.journal.committed else job.journal.backup
        outcome = await self.replay_journal(job, row)
        words = said(outcome, "nothing had been changed on the server")
        if backup is not None and outcome.complete and self.ctx.hooks.data is not None:
            # The new version may have changed the data (a migration) before it failed.
            job.journal.backup = None
            words = "; ".join([words, *await self.ctx.hooks.data.put_back(job, row, backup)])
        try:
            await record_state(self.ctx, row, await self.ctx.docker(row.server_id))
        except RemoteError as exc:
            unknown = InstallationStatus.UNKNOWN
            await self.ctx.set(row.id, status=unknown, status_message=exc.message)
            return Recovery(words, settled=False)
        if not job.journal.committed:
            await self.ctx.set(row.id, status_message=f"{cause}; {words}")
        return Recovery(words, settled=outcome.complete)


def _carry(spec: ContainerSpec, volumes: list[tuple[str, str]]) -> ContainerSpec:
    """Its predecessor's volumes, mounted again by name unless the new one mounts
    something else there."""
    mounted = {m.container_path for m in spec.mounts} | {
        m.container_path for m in spec.named_volumes
    }
    return dataclasses.replace(spec, carried_volumes=[v for v in volumes if v[1] not in mounted])


def _was_running(state: ContainerState) -> bool:
    return state.status in ("running", "restarting")


async def prepare_update(
    ctx: DeploymentContext,
    ref: str,
    server: str | None,
    *,
    tag: str | None,
    changes: ConfigChanges,
    automatic: bool = False,
) -> Prepared:
    """Check the update (a refusal answers the request; nothing starts), then take the
    lease and record the job. `automatic`: asked by the update policy, which tells its
    outcome itself."""
    plan = await plan_update(ctx, await ctx.find(ref, server), tag=tag, changes=changes)

    async def finish(row: Installation, outcome: Outcome) -> OperationDone:
        result = await done(ctx, row, outcome)
        return result.model_copy(update={"generated_secrets": plan.spec.generated})

    prepared = await prepare(ctx, ref, server, Update(ctx, plan, automatic=automatic), finish)
    return dataclasses.replace(prepared, generated_secrets=plan.spec.generated)


async def current_definition(
    ctx: DeploymentContext, row: Installation, *, snapshot_will_do: bool = True
) -> AppDefinition:
    """The catalog's definition now, or the installed snapshot if the catalog lost it
    and the update changes something else (a tag, a setting); an update that asks
    only for what the catalog has now is refused, saying why there is none."""
    try:
        entry = await ctx.marketplace.get_app(f"{row.repo_id}/{row.app_id}")
    except NotFound as lost:
        if not snapshot_will_do:
            gone = isinstance(lost, RepoNotFound)
            raise AppNotFound(_catalog_lost(row, repo_gone=gone)) from None
        return AppDefinition.model_validate(row.definition)
    return AppDefinition.model_validate(entry.model_dump())


def _catalog_lost(row: Installation, *, repo_gone: bool) -> str:
    why = "was removed" if repo_gone else "no longer lists it"
    return (
        f"the catalog no longer has '{row.app_id}' (repository '{row.repo_id}' {why}): "
        f"there is no newer version of {row.name}, which keeps running as installed"
    )


def retag(image: str, tag: str) -> str:
    """The same image name with another tag (any digest dropped)."""
    match = IMAGE_REFERENCE.fullmatch(image)
    candidate = f"{match.group('name') if match else image}:{tag}"
    if not IMAGE_REFERENCE.fullmatch(candidate) or "@" in tag:
        raise InvalidInput([Refusal(f"'{tag}' is not a valid image tag", ("tag",))])
    return candidate
