"""DeploymentService: install, track and manage apps on servers.

The one entry point the faces call. The work lives in feature modules:
install.py (validate, record, the install job), manage.py (start, stop,
restart, status, logs, uninstall), update.py, reconcile.py (after tomo died),
all carried out by operation.py, which holds the installation's lease and
makes every ending honest (see its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy import update as sa_update

from tomo.config import Settings
from tomo.db import Database
from tomo.deployment import (
    adopt,
    dependencies,
    foreign,
    install,
    manage,
    outdated,
    reconcile,
    update,
)
from tomo.deployment.app_spec import app_mounts, named_volumes
from tomo.deployment.context import (
    DeploymentContext,
    installed_containers,
    public,
    stored_config,
)
from tomo.deployment.jobs import JobRecorder, job_view, list_jobs
from tomo.deployment.log_resume import places_read
from tomo.deployment.models import Installation
from tomo.deployment.operation import Prepared
from tomo.deployment.remote import ISOLATED_NETWORK
from tomo.deployment.schemas import (
    MAX_JOBS,
    Adopted,
    AdoptRequest,
    ContainerPreview,
    ForeignContainer,
    InstallationPublic,
    InstallPreview,
    InstallStarted,
    JobPublic,
    OperationDone,
    PreflightProblem,
)
from tomo.deployment.spec import (
    ConfigChanges,
    ContainerSpec,
    InstallConfig,
    Mount,
    build_docker_run_command,
)
from tomo.deployment.statuses import InstallationStatus, JobStatus
from tomo.deployment.swarm.install import node_of
from tomo.deployment.swarm.services import how_it_runs, on_overlay, service_create_argv
from tomo.errors import InvalidInput, NotFound, Refusal, TomoError
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.service import MarketplaceService
from tomo.monitor.stats import ResourceCache, measure_all
from tomo.proxy.schemas import LoginWord, login_word
from tomo.servers.service import ServerService
from tomo.updates.images import ImageCheckReport, check_images
from tomo.updates.schemas import UpdateSettings, update_columns


def _mounted(source: str, target: str, readonly: bool) -> str:
    """A mount as `docker run --volume` writes it."""
    return f"{source}:{target}:ro" if readonly else f"{source}:{target}"


class DataFolders(NamedTuple):
    """Where an installation keeps its data on its server, read from its record."""

    instance_dir: str  # tomo's folder for it (removed by an uninstall once empty)
    mounts: list[Mount]  # each volume's host folder; `owned`: placed by tomo
    removable: list[str]  # what an uninstall with remove_data deletes, with its content
    volumes: list[str]  # the Docker volumes its services share: remove_data deletes them too


log = logging.getLogger("tomo.deployment")


class DeploymentService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        marketplace: MarketplaceService,
        servers: ServerService,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ctx = DeploymentContext(db, settings, marketplace, servers)
        # What installations use, as last measured (filled by the health monitor).
        self.resources = ResourceCache()
        # When the health monitor's last pass read every status (kept on the records).
        self.statuses_read_at: datetime | None = None
        servers.add_dependent(self)

    # -- install --------------------------------------------------------------

    async def preview_install(
        self, server: str, app: str, config: InstallConfig, *, check: bool = True
    ) -> InstallPreview:
        """What an install would create and run, and the risk flags it needs accepted
        (a preview needs none accepted: it says which); with `check` (the default),
        also whether the server can take it (the preflight's look, which changes
        nothing there)."""
        plan, to_accept = await self._plan_for_preview(server, app, config)
        spec = on_overlay(plan.spec) if plan.swarm else plan.spec
        problems = None
        placement = None
        if check:
            found = await install.check_server(self.ctx, plan.server_id, plan.definition, spec)
            found += await self._unroutable(plan, config)
            if plan.swarm and not found:
                placement, more = await install.preview_placement(self.ctx, plan, spec,
                                                                  config.swarm_node)  # fmt: skip
                found += more
            problems = [PreflightProblem.of(problem) for problem in found]
            to_accept += [flag for problem in found if "accept_risks" in problem.fields
                          for flag in problem.values if flag not in to_accept]  # fmt: skip
        node = None
        if plan.swarm:
            server_row = await self.ctx.servers.get_server(plan.server_id)
            node = placement.node.id if placement else config.swarm_node or node_of(server_row)
        containers = [self._preview(container, plan.swarm, node) for container in spec.containers]
        main = next(c for c, s in zip(containers, spec.containers, strict=True)
                    if s.name == spec.name)  # fmt: skip
        isolated = not plan.swarm and any(c.isolated for c in spec.containers)
        return InstallPreview(
            argv=main.argv, env_file=main.env_file, env=main.env, risks=spec.risks,
            risks_to_accept=to_accept, problems=problems, network=spec.network,
            containers=containers, volumes=spec.volumes, instance_dir=spec.instance_dir,
            isolated_network=ISOLATED_NETWORK if isolated else None,
            hostnames=plan.hostnames, login=_door_login(plan, config), swarm=plan.swarm,
            data_node=placement.said if placement else None,
        )  # fmt: skip

    async def _unroutable(self, plan: install.InstallPlan, config: InstallConfig) -> list[Refusal]:
        """Why the install's hostnames could not be routed, or the login chosen not put
        before them (as its preflight would say)."""
        if not plan.hostnames or self.ctx.hooks.routes is None:
            return []
        looked = Installation(
            id="preview", server_id=plan.server_id, name=plan.spec.name,
            definition=plan.definition.model_dump(mode="json"),
            config=stored_config(config, plan.spec),
            status=InstallationStatus.PENDING, hostnames=plan.hostnames,
        )  # fmt: skip
        return await self.ctx.hooks.routes.check(looked)

    async def _plan_for_preview(
        self, server: str, app: str, config: InstallConfig
    ) -> tuple[install.InstallPlan, list[str]]:
        """The install's plan, and the risk flags it needs that are not accepted: taken
        as accepted for this look only (the preview names them), so a person sees what
        they would consent to before they do. Any other refusal is raised."""
        try:
            return await install.plan_install(self.ctx, server, app, config, "preview"), []
        except InvalidInput as exc:
            unaccepted = [p for p in exc.problems if "accept_risks" in p.fields and p.values]
            if not unaccepted:
                raise
            if len(unaccepted) < len(exc.problems):
                raise InvalidInput([p for p in exc.problems if p not in unaccepted]) from None
        flags = [flag for problem in unaccepted for flag in problem.values]
        looked = config.model_copy(update={"accept_risks": [*config.accept_risks, *flags]})
        return await install.plan_install(self.ctx, server, app, looked, "preview"), flags

    def _preview(self, spec: ContainerSpec, swarm: bool, node: str | None) -> ContainerPreview:
        argv = (service_create_argv(spec, node) if swarm
                else build_docker_run_command(spec, self.settings.publish_address))  # fmt: skip
        return ContainerPreview(
            service=spec.service,
            argv=["docker", *argv],
            env_file=spec.env_file if spec.all_env else None,
            env={**spec.env, **dict.fromkeys(spec.secret_env, "<secret>")},
            name=spec.name, image=spec.image,
            ports=[f"{p.host}:{p.container}/{p.protocol}" for p in spec.ports],
            folders=[_mounted(m.host_path, m.container_path, m.readonly) for m in spec.mounts],
            volumes=[_mounted(v.volume, v.container_path, v.readonly)
                     for v in spec.named_volumes],
            swarm=how_it_runs(spec) if swarm else "",
        )  # fmt: skip

    async def install_app(self, server: str, app: str, config: InstallConfig) -> InstallStarted:
        """Validate and record; the returned job does the work (see run_job)."""
        return await install.install_app(self.ctx, server, app, config)

    async def install_with_dependencies(
        self, server: str, app: str, config: InstallConfig
    ) -> InstallStarted:
        """Record the installs of what `app` requires that the server lacks (in order,
        each with its defaults and the risk flags accepted for `app`) and of `app`,
        each with its pending job; run_chain carries them out. A refusal of any
        records none."""
        first: list[InstallStarted] = []
        given = InstallConfig(accept_risks=config.accept_risks)
        try:
            for needed in await self.install_order(server, app):
                first.append(await self.install_app(server, needed, given))
            started = await self.install_app(server, app, config)
        except TomoError:
            for made in first:
                await install.abandon(self.ctx, made.job_id, "not started: the install it "
                                      f"was for ({app}) was refused")  # fmt: skip
            raise
        return started.model_copy(update={"dependencies": first})

    async def run_chain(self, started: InstallStarted) -> JobPublic:
        """The jobs of install_with_dependencies, in order. One that fails: the ones
        after it never start, and the ones before it are taken back, data and all.
        The records waiting their turn are kept alive meanwhile (their leases' heart
        beats): a tomo started beside this one does not take them for abandoned."""
        steps = [*started.dependencies, started]
        async with contextlib.AsyncExitStack() as waiting:
            for step in steps[1:]:
                await waiting.enter_async_context(
                    JobRecorder(self.db, step.job_id, step.installation.id).heartbeat()
                )
            for at, step in enumerate(steps):
                view = await self.run_job(step.job_id)
                if view.status != JobStatus.DONE:
                    await self._take_back_chain(steps[:at], steps[at + 1 :], step)
                    return view
        return await self.get_job(started.job_id)

    async def _take_back_chain(
        self, done: list[InstallStarted], later: list[InstallStarted], failed: InstallStarted
    ) -> None:
        why = f"not started: {failed.installation.name}, which it needs, failed"
        for skipped in later:
            await install.abandon(self.ctx, skipped.job_id, why)
        for made in reversed(done):
            try:
                await (await self.prepare_uninstall(made.installation.id, remove_data=True)).run()
            except TomoError as exc:  # its own job says what is left, and why
                log.warning("could not take back %s: %s", made.installation.name, exc)

    async def prepare_uninstall_with_dependants(
        self, ref: str, server: str | None = None, *, remove_data: bool
    ) -> Prepared:
        """The uninstall of the first installation that requires this one, whose run
        goes on with the others, then this one (each its own job, in order: one that
        fails stops the rest). Without dependants, this one's own uninstall."""

        async def one(ref: str) -> Prepared:
            return await self.prepare_uninstall(ref, remove_data=remove_data)

        return await self._with_dependants(ref, server, one)

    async def prepare_stop_with_dependants(self, ref: str, server: str | None = None) -> Prepared:
        """The stop of the first installation that requires this one, whose run goes
        on with the others, then this one (as prepare_uninstall_with_dependants)."""

        async def one(ref: str) -> Prepared:
            return await self.prepare_verb("stop", ref)

        return await self._with_dependants(ref, server, one)

    async def _with_dependants(
        self, ref: str, server: str | None, prepare_one: Callable[[str], Awaitable[Prepared]]
    ) -> Prepared:
        """The operation on the dependants (the deepest first), then on `ref`, each
        prepared when its turn comes (so each is checked then); the first is returned
        prepared, its run carrying on with the rest. One that fails stops the rest."""
        row = await self.ctx.find(ref, server)
        order = [*await self.dependants(row.id), row.id]
        first = await prepare_one(order[0])
        if len(order) == 1:
            return first

        async def run_all() -> OperationDone:
            done = await first.run()
            for later in order[1:]:
                done = await (await prepare_one(later)).run()
            return done

        return dataclasses.replace(first, run=run_all)

    async def install_order(self, server: str, app: str) -> list[str]:
        """The apps (`repo/app`) not installed on the server yet that `app` requires,
        in the order to install them (what --with-dependencies installs first)."""
        target = await self.ctx.servers.get_server(server)
        return await dependencies.install_order(self.ctx, target.id, app)

    async def dependants(self, ref: str, server: str | None = None) -> list[str]:
        """The installations that require this one, directly or through others, in
        the order to stop or uninstall them before it (what --with-dependants does)."""
        row = await self.ctx.find(ref, server)
        order: list[str] = []
        seen = {row.id}

        async def visit(current: Installation) -> None:
            for other in await dependencies.dependants_of(self.ctx, current):
                if other.id not in seen:
                    seen.add(other.id)
                    await visit(other)
                    order.append(other.id)

        await visit(row)
        return order

    async def run_job(self, job_id: str) -> JobPublic:
        """Carry out a stored install job to its end; its outcome is in the returned
        view. OperationInterrupted if it was interrupted (after undoing it)."""
        return await install.run_job(self.ctx, job_id)

    # -- manage ---------------------------------------------------------------

    async def prepare_verb(self, verb: str, ref: str, server: str | None = None) -> Prepared:
        """start, stop or restart as a job: its lease taken, to be run (see Prepared)."""
        return await manage.prepare_verb(self.ctx, verb, ref, server)

    async def refresh_status(self, ref: str, server: str | None = None) -> InstallationPublic:
        """The stored status checked against Docker (`unknown` while it cannot be asked)."""
        return await self._with_offer(await manage.refresh_status(self.ctx, ref, server))

    async def prepare_uninstall(
        self, ref: str, server: str | None = None, *, remove_data: bool = False
    ) -> Prepared:
        """Remove the containers; data stays unless asked, and then only the folders
        tomo places under the instance folder and the containers' volumes go. The
        result says what was removed and what was kept."""
        return await manage.prepare_uninstall(self.ctx, ref, server, remove_data=remove_data)

    async def prepare_update(
        self,
        ref: str,
        server: str | None = None,
        *,
        tag: str | None = None,
        changes: ConfigChanges | None = None,
        automatic: bool = False,
    ) -> Prepared:
        """Move to the catalog's current definition (or another image tag) with the same
        config and data, changed by `changes`; the previous containers come back if the
        new ones do not stay up. A refusal is raised here, before anything starts."""
        return await update.prepare_update(
            self.ctx, ref, server, tag=tag, changes=changes or ConfigChanges(), automatic=automatic
        )

    def logs(
        self, ref: str, server: str | None = None, *, tail: int = 100, follow: bool = False,
        service: str | None = None, reader: str = "", after: Sequence[str] | None = None,
        timestamps: bool = False,
    ) -> AsyncIterator[str]:  # fmt: skip
        """The output of the app's container; of an app of several, one service's, or
        all merged in time order with each line led by its service's name. `after`
        (places, as `log_page` gives them) starts each container right after its
        place; `timestamps` leads each line with Docker's stamp. `reader` (a user id)
        is held to its share of log streams (TooManyStreams past it)."""
        return manage.logs(self.ctx, ref, server, tail=tail, follow=follow, service=service,
                           reader=reader, after=after, timestamps=timestamps)  # fmt: skip

    async def log_page(
        self, ref: str, *, tail: int, service: str | None = None, reader: str = ""
    ) -> manage.LogPage:
        """The last `tail` lines as `logs` shows them, and each container's place
        after them, from which following misses and repeats nothing."""
        return await manage.log_page(self.ctx, ref, tail=tail, service=service, reader=reader)

    async def check_service(
        self, ref: str, service: str | None, server: str | None = None, *,
        after: Sequence[str] | None = None,
    ) -> None:  # fmt: skip
        """NotFound for no such installation; InvalidInput for a service it lacks,
        or a place in `after` that is malformed or names none of its services."""
        row = await self.ctx.find(ref, server)
        manage.service_container(row, service)
        if after is not None:
            places_read(after, manage.containers_of(row))

    # -- reading --------------------------------------------------------------

    async def get_job(self, job_id: str) -> JobPublic:
        return await job_view(self.db, job_id)

    async def list_jobs(
        self, *, installation: str | None = None, limit: int = 20
    ) -> list[JobPublic]:
        """Newest first; an installation by id or instance name, even one that is gone."""
        if not 1 <= limit <= MAX_JOBS:
            raise InvalidInput(f"limit must be between 1 and {MAX_JOBS}")
        return await list_jobs(self.db, installation=installation, limit=limit)

    async def list_installations(self, server: str | None = None) -> list[InstallationPublic]:
        """Every installation (of one server), each with the update its catalog offers."""
        found = [public(row) for row in await self._rows(server)]
        offered = await outdated.offers(self.db, None if server is None else [i.id for i in found])
        return [i.model_copy(update={"update": offered.get(i.id),
                                     "resources": self.resources.of_installation(i.id)})
                for i in found]  # fmt: skip

    async def set_update_policy(
        self, ref: str, settings: UpdateSettings, server: str | None = None
    ) -> InstallationPublic:
        """How updates reach the installation from now on; the offer it has now is
        acted upon again under the new policy (told, or tried in the window)."""
        row = await self.ctx.find(ref, server)
        changed = sa_update(Installation).where(Installation.id == row.id)
        async with self.db.session() as session, session.begin():
            await session.execute(changed.values(update_announced=None, **update_columns(settings)))
        return await self.get_installation(row.id)

    async def list_outdated(self, server: str | None = None) -> list[InstallationPublic]:
        """The installations whose catalog offers a newer version (deployment/outdated.py)."""
        return [i for i in await self.list_installations(server) if i.update is not None]

    async def check_image_updates(self, server: str | None = None) -> ImageCheckReport:
        """Ask the registries whether the floating tags the installations (of one
        server) run name new images now, and record it (see tomo/updates/images.py):
        what is found new is offered as an update from then on."""
        ids = None if server is None else [row.id for row in await self._rows(server)]
        return await check_images(self, ids)

    async def count_updates_offered(self) -> int:
        """How many installations the catalog offers a newer version of (one query,
        no server asked): the navigation's figure on every page."""
        return len(await outdated.offers(self.db))

    async def update_changes(
        self, ref: str, server: str | None = None
    ) -> outdated.UpdateChanges | None:
        """What an update to the catalog's definition changes (images, ports, volumes,
        settings), to show before anything runs; None when the catalog lost the app."""
        row = await self.ctx.find(ref, server)
        try:
            entry = await self.ctx.marketplace.get_app(f"{row.repo_id}/{row.app_id}")
        except NotFound:
            return None
        installed = AppDefinition.model_validate(row.definition)
        images = {c.service: c.image for c in installed_containers(row, installed)}
        given = {*(row.config.get("env") or {}), *self.ctx.open(row.secret_env_enc)}
        offered = AppDefinition.model_validate(entry.model_dump())
        return outdated.update_changes(installed, offered, images=images, values=given)

    async def _with_offer(self, installation: InstallationPublic) -> InstallationPublic:
        offered = await outdated.offers(self.db, [installation.id])
        return installation.model_copy(update={
            "update": offered.get(installation.id),
            "resources": self.resources.of_installation(installation.id),
        })  # fmt: skip

    async def _rows(self, server: str | None) -> list[Installation]:
        query = select(Installation).order_by(Installation.server_id, Installation.name)
        if server is not None:
            server_id = (await self.ctx.servers.get_server(server)).id
            query = query.where(Installation.server_id == server_id)
        async with self.db.session() as session:
            return list(await session.scalars(query))

    def statuses_fresh(self) -> bool:
        """Whether the health monitor's last pass read every status lately (within two
        of its intervals): then the installed list needs no server asked."""
        read, every = self.statuses_read_at, self.settings.monitor_interval
        return (read is not None and every > 0
                and datetime.now(UTC) - read <= timedelta(seconds=2 * every))  # fmt: skip

    async def list_for_page(
        self, server: str | None = None, *, refresh: bool = False
    ) -> list[InstallationPublic]:
        """The installed list as a page shows it: statuses as the health monitor last
        read them while they are fresh, else (or when asked to `refresh`, or when a
        failed install waits for its server to be cleaned) asked of every server now."""
        if refresh or not self.statuses_fresh():
            return await self.list_with_status(server)
        listed = await self.list_installations(server)
        if any(i.status == InstallationStatus.FAILED for i in listed):
            return await self.list_with_status(server)
        return listed

    async def list_with_status(self, server: str | None = None) -> list[InstallationPublic]:
        """Installations with their status checked against Docker, every server asked
        at once; one that does not answer in TOMO_SSH_STATUS_TIMEOUT shows `unknown`."""
        rows = await self._rows(server)
        await manage.refresh_all(self.ctx, rows, self.settings.ssh_status_timeout)
        return await self.list_installations(server)

    async def list_with_resources(self, server: str | None = None) -> list[InstallationPublic]:
        """As list_with_status, with what each uses read from its server now (every
        server at once, each within TOMO_SSH_STATUS_TIMEOUT; one that does not answer
        keeps the figures last read, or none)."""
        rows = await self._rows(server)
        limit = self.settings.ssh_status_timeout
        await asyncio.gather(manage.refresh_all(self.ctx, rows, limit),
                             measure_all(self.resources, self.ctx, rows, limit))  # fmt: skip
        return await self.list_installations(server)

    async def foreign_containers(self, server: str) -> list[ForeignContainer]:
        """The server's containers tomo did not create, with the catalog apps that
        run their images (see foreign.py)."""
        return await foreign.foreign_containers(self.ctx, server)

    async def adopt(self, server: str, requests: list[AdoptRequest]) -> list[Adopted]:
        """Record containers tomo did not create as installations, as they run (see
        adopt.py); nothing on the server is stopped or restarted. All or none."""
        return await adopt.adopt(self.ctx, server, requests)

    async def get_installation(self, ref: str, server: str | None = None) -> InstallationPublic:
        return await self._with_offer(public(await self.ctx.find(ref, server)))

    async def data_folders(self, ref: str, server: str | None = None) -> DataFolders:
        """Where the installation's volumes live, and what an uninstall with
        `remove_data` would delete (the rule Uninstall follows), to show before it
        is asked for. The server is not asked."""
        row = await self.ctx.find(ref, server)
        data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
        instance_dir = posixpath.join(data_root, row.name)
        definition = AppDefinition.model_validate(row.definition)
        mounts = app_mounts(definition, InstallConfig.model_validate(row.config), instance_dir)
        return DataFolders(instance_dir, mounts, manage.owned_folders(row, data_root),
                           named_volumes(definition, row.name))  # fmt: skip

    # -- servers (see ServerService.add_dependent) ----------------------------

    async def uses_of_server(self, server_id: str) -> list[str]:
        """The installations that live on a server, by name."""
        async with self.db.session() as session:
            return list(await session.scalars(
                select(Installation.name).where(Installation.server_id == server_id)
                .order_by(Installation.name)
            ))  # fmt: skip

    async def forget_server(self, server_id: str) -> None:
        """Forget a removed server's installations (their jobs stay as history)."""
        async with self.db.session() as session, session.begin():
            await session.execute(delete(Installation).where(Installation.server_id == server_id))

    # -- restart --------------------------------------------------------------

    async def reconcile_interrupted(self) -> list[str]:
        """Settle what operations interrupted by tomo's death left; say what was done."""
        return await reconcile.reconcile_interrupted(self.ctx)


def _door_login(plan: install.InstallPlan, config: InstallConfig) -> LoginWord | None:
    """Who the front door lets through to the names an install would route."""
    if not plan.hostnames:
        return None
    return login_word(config.login, definition_asks=plan.definition.asks_login)
