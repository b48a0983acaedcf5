"""DeploymentService: install, track and manage apps on servers.

`install_app` validates, stores a pending installation and returns at once;
`run_job` carries out the stored job step by step (in-process for the API, or
in a detached `tomo job run` for `tomo install --detach`). Every operation
holds the installation's lease, so there is one at a time per installation
while different servers work in parallel.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.config import Settings
from tomo.db import Database
from tomo.deployment import install as steps
from tomo.deployment.jobs import (
    JobRecorder,
    create_job,
    interrupted,
    job_view,
    new_id,
    now,
    release_lease,
    take_lease,
)
from tomo.deployment.models import Installation, Job
from tomo.deployment.remote import ContainerState, Docker
from tomo.deployment.schemas import InstallationPublic, InstallStarted, JobPublic
from tomo.deployment.spec import (
    ENV_FILE_NAME,
    ContainerSpec,
    InstallConfig,
    build_docker_run_command,
    build_spec,
)
from tomo.errors import (
    AmbiguousApp,
    InstallationNotFound,
    InstallFailed,
    InvalidInput,
    NotFound,
    RemoteError,
    TomoError,
)
from tomo.marketplace.definition import IMAGE_REFERENCE, AppDefinition
from tomo.marketplace.models import MarketplaceAppRow
from tomo.marketplace.service import MarketplaceService
from tomo.servers.service import ServerService
from tomo.servers.ssh import docker_argv

FINAL_JOB_STATES = ("done", "failed")


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
        self.marketplace = marketplace
        self.servers = servers

    # -- install --------------------------------------------------------------

    async def preview_install(self, server: str, app: str, config: InstallConfig) -> list[str]:
        """The `docker` argv an install would run (nothing happens on the server)."""
        spec, _, _ = await self._plan_install(server, app, config, "preview")
        return ["docker", *build_docker_run_command(spec, self.settings.publish_address)]

    async def install_app(self, server: str, app: str, config: InstallConfig) -> InstallStarted:
        """Validate and record; the returned job does the work (see run_job)."""
        installation_id = new_id()
        spec, entry, server_id = await self._plan_install(server, app, config, installation_id)
        generated = {k: v for k, v in spec.secret_env.items() if k not in config.env}
        try:
            async with self.db.session() as session, session.begin():
                await self._refuse_taken_name(session, server_id, spec.name)
                session.add(Installation(
                    id=installation_id, server_id=server_id, name=spec.name, repo_id=entry[0],
                    app_id=entry[1].id, version=entry[1].version, image=spec.image,
                    definition=entry[1].model_dump(mode="json"),
                    config=config.model_dump(mode="json", exclude={"env"}) | {"env": spec.env},
                    secret_env_enc=self._seal(spec.secret_env), created_paths=[], status="pending",
                    operation="install", heartbeat_at=now(), created_at=now(), updated_at=now(),
                ))  # fmt: skip
        except IntegrityError:  # another install took the name after our check
            raise _name_taken(spec.name) from None
        job_id = await create_job(self.db, installation_id, "install")
        await self._set(installation_id, operation_job=job_id)
        return InstallStarted(
            installation=await self.get_installation(installation_id), job_id=job_id,
            generated_secrets=generated,
        )  # fmt: skip

    async def _plan_install(
        self, server: str, app: str, config: InstallConfig, installation_id: str
    ) -> tuple[ContainerSpec, tuple[str, AppDefinition], str]:
        entry = await self.marketplace.get_app(app)
        target = await self.servers.get_server(server)
        definition = AppDefinition.model_validate(entry.model_dump())
        spec = build_spec(
            definition, config, repo_id=entry.repo_id, installation_id=installation_id,
            data_root=target.data_root,
        )  # fmt: skip
        return spec, (entry.repo_id, definition), target.id

    async def _refuse_taken_name(self, session: AsyncSession, server_id: str, name: str) -> None:
        """The name must be free, or held by an install that failed and left nothing on
        the server: that record gives way, so fixing the cause and retrying just works."""
        taken = await session.scalar(
            select(Installation).where(
                Installation.server_id == server_id, Installation.name == name
            )
        )
        if taken is None:
            return
        if _failed_without_traces(taken):
            await session.delete(taken)
            await session.flush()
            return
        raise _name_taken(name)

    async def run_job(self, job_id: str) -> JobPublic:
        """Carry out a stored job to its end; its outcome is in the returned view."""
        async with self.db.session() as session:
            job = await session.get(Job, job_id)
            if job is None:
                raise InvalidInput(f"no job '{job_id}'")
            installation_id, kind = job.installation_id, job.kind
        recorder = JobRecorder(self.db, job_id, installation_id)
        await recorder.begin()
        error: str | None = None
        try:
            async with recorder.heartbeat():
                if kind == "install":
                    await self._install(recorder, installation_id)
        except TomoError as exc:
            error = exc.message
        finally:
            await recorder.finish(error)
            await release_lease(self.db, installation_id)
        view = await job_view(self.db, job_id)
        assert view is not None
        return view

    async def _install(self, recorder: JobRecorder, installation_id: str) -> None:
        installation = await self._load(installation_id)
        definition = AppDefinition.model_validate(installation.definition)
        server = await self.servers.get_server(installation.server_id)
        docker = Docker(self.servers.ssh, await self.servers.target(installation.server_id))
        await self._set(installation_id, status="installing", status_message=None)
        async with recorder.step("validate"):
            spec = self._spec_of(installation, definition, server.data_root)
        created = steps.Created()
        try:
            async with recorder.step("preflight"):
                claimed = await self._claimed_ports(installation.server_id, installation_id)
                await steps.preflight(
                    docker, steps.Preflight(definition, spec, server.data_root, claimed)
                )
            async with recorder.step("pull", spec.image):
                await steps.pull(docker, recorder, spec.image)
            async with recorder.step("create"):
                container = await self._create(docker, spec, created, installation_id)
            async with recorder.step("wait"):
                state = await steps.wait_until_up(
                    docker, spec, definition, self.settings.install_wait_timeout
                )
                await recorder.note(state)
        except (TomoError, OSError) as exc:
            await self._undo(docker, created, installation_id)
            message = exc.message if isinstance(exc, TomoError) else str(exc)
            await self._set(installation_id, status="error", status_message=message)
            raise InstallFailed(message) from exc
        await self._set(
            installation_id, status="running", container_id=container, status_message=None
        )
        await self._count_install(installation.repo_id, installation.app_id)

    async def _create(
        self, docker: Docker, spec: ContainerSpec, created: steps.Created, installation_id: str
    ) -> str:
        try:
            return await steps.create(docker, spec, self.settings.publish_address, created)
        finally:  # recorded at once, so a restart after a crash can take them back
            await self._set(installation_id, created_paths=created.dirs)

    async def _undo(self, docker: Docker, created: steps.Created, installation_id: str) -> None:
        try:
            await steps.roll_back(docker, created)
        except RemoteError:
            return  # the server went away; the created paths stay recorded
        await self._set(installation_id, created_paths=[], container_id=None)

    def _spec_of(
        self, installation: Installation, definition: AppDefinition, data_root: str
    ) -> ContainerSpec:
        config = InstallConfig.model_validate(installation.config)
        secrets = self._open(installation.secret_env_enc)
        return build_spec(
            definition, config, repo_id=installation.repo_id, installation_id=installation.id,
            data_root=data_root, image=installation.image, generated=secrets,
        )  # fmt: skip

    async def _claimed_ports(self, server_id: str, installation_id: str) -> set[tuple[int, str]]:
        async with self.db.session() as session:
            others = await session.scalars(
                select(Installation).where(Installation.server_id == server_id,
                                           Installation.id != installation_id)
            )  # fmt: skip
            claimed: set[tuple[int, str]] = set()
            for other in others:
                if not _failed_without_traces(other):
                    claimed.update(_ports_of(other))
            return claimed

    async def _count_install(self, repo_id: str, app_id: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(MarketplaceAppRow)
                .where(MarketplaceAppRow.repo_id == repo_id, MarketplaceAppRow.id == app_id)
                .values(install_count=MarketplaceAppRow.install_count + 1)
            )

    # -- manage ---------------------------------------------------------------

    async def start_app(self, ref: str, server: str | None = None) -> InstallationPublic:
        return await self._operate(ref, server, "start", self._docker_verb("start"))

    async def stop_app(self, ref: str, server: str | None = None) -> InstallationPublic:
        return await self._operate(ref, server, "stop", self._docker_verb("stop"))

    async def restart_app(self, ref: str, server: str | None = None) -> InstallationPublic:
        return await self._operate(ref, server, "restart", self._docker_verb("restart"))

    async def refresh_status(self, ref: str, server: str | None = None) -> InstallationPublic:
        """Reconcile the stored status with what `docker inspect` reports; `unknown`,
        with the reason, while the server or its Docker daemon cannot be asked."""
        installation = await self._find(ref, server)
        # An install that never made its container has nothing to inspect.
        if installation.operation is None and installation.container_id is not None:
            docker = await self._docker(installation)
            try:
                await self._record_state(installation, docker)
            except RemoteError as exc:
                await self._set(installation.id, status="unknown", status_message=exc.message)
        return await self.get_installation(installation.id)

    async def uninstall_app(
        self, ref: str, server: str | None = None, *, remove_data: bool = False
    ) -> InstallationPublic:
        """Remove the container; data stays unless asked, and then only what tomo created
        under the server's data root goes."""
        installation = await self._find(ref, server)
        gone = _public(installation)

        async def remove(recorder: JobRecorder, row: Installation) -> None:
            docker = await self._docker(row)
            async with recorder.step("remove container"):
                # Volumes carried over from an update are mounted by name, which
                # `docker rm --volumes` leaves alone; they are this app's data too.
                state = await docker.state(row.name) if remove_data else None
                volumes = [name for name, _ in state.volumes] if state else []
                await docker.remove_container(row.name, with_volumes=remove_data)
            data_root = (await self.servers.get_server(row.server_id)).data_root
            async with recorder.step("remove data" if remove_data else "keep data"):
                await docker.remove_paths(self._removable(row, data_root, remove_data))
                await docker.remove_volumes(volumes)

        await self._operate(ref, server, "uninstall", remove, delete_after=True)
        return gone.model_copy(update={"status": "removing", "operation": None})

    def _removable(self, row: Installation, data_root: str, remove_data: bool) -> list[str]:
        """The env file always; with remove_data, the directories this installation
        created under the data root (checked again here, never the root itself)."""
        paths = [posixpath.join(data_root, row.name, ENV_FILE_NAME)] if row.secret_env_enc else []
        if remove_data:
            paths += [p for p in row.created_paths if _strictly_under(p, data_root)]
        return paths

    async def logs(
        self, ref: str, server: str | None = None, *, tail: int = 100, follow: bool = False
    ) -> AsyncIterator[str]:
        installation = await self._find(ref, server)
        target = await self.servers.target(installation.server_id)
        args = ["logs", "--tail", str(tail), *(["--follow"] if follow else []), installation.name]
        time_limit = 24 * 3600.0 if follow else None
        async for line in self.servers.ssh.stream(target, docker_argv(target, args),
                                                  time_limit=time_limit):  # fmt: skip
            yield line

    async def update_app(
        self, ref: str, server: str | None = None, *, tag: str | None = None
    ) -> InstallationPublic:
        """Move to the catalog's current definition (or another image tag) with the same
        config and data; the previous container comes back if the new one does not."""

        async def update(recorder: JobRecorder, row: Installation) -> None:
            await self._update(recorder, row, tag)

        return await self._operate(ref, server, "update", update)

    async def _update(self, recorder: JobRecorder, row: Installation, tag: str | None) -> None:
        definition = await self._current_definition(row)
        image = retag(definition.docker.image, tag) if tag else definition.docker.image
        data_root = (await self.servers.get_server(row.server_id)).data_root
        docker = await self._docker(row)
        async with recorder.step("validate"):
            spec = build_spec(
                definition, InstallConfig.model_validate(row.config), repo_id=row.repo_id,
                installation_id=row.id, data_root=data_root, image=image,
                generated=self._open(row.secret_env_enc),
            )  # fmt: skip
        async with recorder.step("pull", image):
            await steps.pull(docker, recorder, image)
        await self._set(row.id, status="updating", status_message=f"updating to {image}")
        async with recorder.step("replace"):
            try:
                container, created = await self._replace(docker, spec, definition, row)
            except InstallFailed as exc:
                await self._record_state(row, docker)  # as the restored container is
                await self._set(row.id, status_message=exc.message)
                raise
        await self._set(
            row.id, status="running", status_message=None, container_id=container, image=image,
            version=definition.version, definition=definition.model_dump(mode="json"),
            created_paths=[*row.created_paths, *created],
        )  # fmt: skip

    async def _replace(
        self, docker: Docker, spec: ContainerSpec, definition: AppDefinition, row: Installation
    ) -> tuple[str, list[str]]:
        """Swap the container for one built from `spec`; on failure the previous one is
        back as it was (running or stopped). A container removed behind tomo's back is
        simply created again."""
        state = await docker.state(row.name)
        previous = f"{row.name}-tomo-previous"
        if state is not None:
            mounted = {m.container_path for m in spec.mounts}
            carried = [v for v in state.volumes if v[1] not in mounted]
            spec = dataclasses.replace(spec, carried_volumes=carried)
            await docker.run(["rename", row.name, previous])
            await docker.run(["stop", previous])
        created = steps.Created()
        try:
            container = await steps.create(docker, spec, self.settings.publish_address, created)
            await steps.wait_until_up(
                docker, spec, definition, self.settings.install_wait_timeout,
                self.settings.install_settle_seconds,
            )  # fmt: skip
        except TomoError as exc:
            # Put the previous container back; keep the env file it reads.
            await docker.remove_container(spec.name, with_volumes=True)
            await docker.remove_empty_dirs(created.dirs)
            if state is None:
                raise InstallFailed(f"update failed: {exc.message}") from exc
            await docker.run(["rename", previous, row.name])
            if state.status in ("running", "restarting"):
                await docker.run(["start", row.name])
            raise InstallFailed(f"update failed, previous version restored: {exc.message}") from exc
        if state is not None:
            await docker.remove_container(previous, with_volumes=False)
        return container, created.dirs

    async def _current_definition(self, row: Installation) -> AppDefinition:
        """The catalog's definition now, or the installed snapshot if the catalog lost it."""
        try:
            entry = await self.marketplace.get_app(f"{row.repo_id}/{row.app_id}")
        except NotFound:
            return AppDefinition.model_validate(row.definition)
        return AppDefinition.model_validate(entry.model_dump())

    async def _operate(
        self,
        ref: str,
        server: str | None,
        kind: str,
        action: Callable[[JobRecorder, Installation], Awaitable[None]],
        *,
        delete_after: bool = False,
    ) -> InstallationPublic:
        installation = await self._find(ref, server)
        job_id = new_id()
        await take_lease(self.db, installation.id, kind, job_id)
        await create_job(self.db, installation.id, kind, job_id)
        recorder = JobRecorder(self.db, job_id, installation.id)
        await recorder.begin()
        error: str | None = None
        try:
            async with recorder.heartbeat():
                await action(recorder, await self._load(installation.id))
        except TomoError as exc:
            error = exc.message
            raise
        finally:
            await recorder.finish(error)
            await release_lease(self.db, installation.id)
        if delete_after:
            await self._delete(installation.id)
            return _public(installation)
        return await self.get_installation(installation.id)

    def _docker_verb(self, verb: str) -> Callable[[JobRecorder, Installation], Awaitable[None]]:
        """An operation that is one `docker start|stop|restart`, then the new state."""

        async def act(recorder: JobRecorder, row: Installation) -> None:
            docker = await self._docker(row)
            async with recorder.step(verb):
                await docker.run([verb, row.name])
            await self._record_state(row, docker)

        return act

    async def _record_state(self, row: Installation, docker: Docker) -> None:
        state = await docker.state(row.name)
        status, message = _status_from(state)
        await self._set(row.id, status=status, status_message=message)

    async def _docker(self, row: Installation) -> Docker:
        return Docker(self.servers.ssh, await self.servers.target(row.server_id))

    async def _delete(self, installation_id: str) -> None:
        async with self.db.session() as session, session.begin():
            row = await session.get(Installation, installation_id)
            if row is not None:
                await session.delete(row)

    # -- following ------------------------------------------------------------

    async def get_job(self, job_id: str) -> JobPublic:
        view = await job_view(self.db, job_id)
        if view is None:
            raise InvalidInput(f"no job '{job_id}'")
        return view

    # -- reading --------------------------------------------------------------

    async def list_installations(self, server: str | None = None) -> list[InstallationPublic]:
        async with self.db.session() as session:
            query = select(Installation).order_by(Installation.server_id, Installation.name)
            if server is not None:
                server_id = (await self.servers.get_server(server)).id
                query = query.where(Installation.server_id == server_id)
            return [_public(row) for row in await session.scalars(query)]

    async def get_installation(self, ref: str, server: str | None = None) -> InstallationPublic:
        return _public(await self._find(ref, server))

    async def _find(self, ref: str, server: str | None = None) -> Installation:
        async with self.db.session() as session:
            found = await session.get(Installation, ref)
            if found is not None:
                return found
            query = select(Installation).where(Installation.name == ref)
            if server is not None:
                query = query.where(
                    Installation.server_id == (await self.servers.get_server(server)).id
                )
            rows = list(await session.scalars(query))
        if not rows:
            raise InstallationNotFound(f"no installation with id or name '{ref}'")
        if len(rows) > 1:
            raise AmbiguousApp(ref, [f"{row.name} on {row.server_id} ({row.id})" for row in rows])
        return rows[0]

    async def _load(self, installation_id: str) -> Installation:
        async with self.db.session() as session:
            found = await session.get(Installation, installation_id)
        if found is None:
            raise InstallationNotFound(f"no installation '{installation_id}'")
        return found

    async def _set(self, installation_id: str, **values: object) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Installation).where(Installation.id == installation_id)
                .values(updated_at=now(), **values)
            )  # fmt: skip

    # -- secrets --------------------------------------------------------------

    def _seal(self, values: dict[str, str]) -> str | None:
        return self.servers.secrets.encrypt(json.dumps(values)) if values else None

    def _open(self, token: str | None) -> dict[str, str]:
        if not token:
            return {}
        opened: dict[str, str] = json.loads(self.servers.secrets.decrypt(token))
        return opened

    # -- restart --------------------------------------------------------------

    async def reconcile_interrupted(self) -> list[str]:
        """Take back what interrupted operations left; return the installations touched."""
        touched = []
        for installation, job in await interrupted(self.db):
            step = await self._last_step(job)
            message = f"interrupted during {installation.operation}" + (
                f" ({step})" if step else ""
            )
            if installation.operation == "install":
                message += await self._clean_interrupted_install(installation)
            async with self.db.session() as session, session.begin():
                if job is not None and job.status not in FINAL_JOB_STATES:
                    await session.execute(update(Job).where(Job.id == job.id).values(
                        status="failed", error=message, ended_at=now()))  # fmt: skip
            status = "error" if installation.operation == "install" else installation.status
            await self._set(installation.id, status=status, status_message=message,
                            operation=None, operation_job=None, heartbeat_at=None)  # fmt: skip
            touched.append(installation.id)
        return touched

    async def _last_step(self, job: Job | None) -> str | None:
        view = await job_view(self.db, job.id) if job else None
        return view.steps[-1].name if view and view.steps else None

    async def _clean_interrupted_install(self, installation: Installation) -> str:
        try:
            server = await self.servers.get_server(installation.server_id)
            docker = Docker(self.servers.ssh, await self.servers.target(installation.server_id))
            created = steps.Created(dirs=list(installation.created_paths))
            if await _labelled(docker, installation.name, installation.id):
                created.container = installation.name
            if installation.secret_env_enc:
                created.env_file = posixpath.join(
                    server.data_root, installation.name, ENV_FILE_NAME
                )
            await steps.roll_back(docker, created)
        except TomoError as exc:
            return f"; cleanup failed, run uninstall later: {exc.message}"
        await self._set(installation.id, created_paths=[], container_id=None)
        return "; what it had created was removed"


async def _labelled(docker: Docker, name: str, installation_id: str) -> bool:
    """Whether the container called `name` is this installation's (by its label)."""
    result = await docker.ssh.run_docker(
        docker.target,
        ["inspect", "--format", '{{index .Config.Labels "tomo.installation"}}', name],
        check=False,
    )
    return result.exit_code == 0 and result.stdout.strip() == installation_id


def retag(image: str, tag: str) -> str:
    """The same image name with another tag (any digest dropped)."""
    match = IMAGE_REFERENCE.fullmatch(image)
    candidate = f"{match.group('name') if match else image}:{tag}"
    if not IMAGE_REFERENCE.fullmatch(candidate) or "@" in tag:
        raise InvalidInput(f"'{tag}' is not a valid image tag")
    return candidate


def _name_taken(name: str) -> InvalidInput:
    return InvalidInput(
        f"an installation named '{name}' already exists on this server; choose --name"
    )


def _failed_without_traces(row: Installation) -> bool:
    """An install that failed and took back everything it made: no container, no paths."""
    return (
        row.status == "error"
        and row.operation is None
        and row.container_id is None
        and not row.created_paths
    )


def _status_from(state: ContainerState | None) -> tuple[str, str | None]:
    if state is None:
        return "missing", "the container is gone (removed outside tomo?)"
    if state.status == "running":
        if state.health == "unhealthy":
            return "unhealthy", "the container's health check fails"
        return "running", None
    if state.status == "restarting":
        return "restarting", f"restarted {state.restart_count} times"
    if state.status in ("exited", "dead", "created"):
        return "stopped", f"exit code {state.exit_code}" if state.exit_code else None
    return "error", f"container state: {state.status}"


def _strictly_under(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path != root and posixpath.commonpath([path, root]) == root


def _ports_of(installation: Installation) -> set[tuple[int, str]]:
    definition = AppDefinition.model_validate(installation.definition)
    config = InstallConfig.model_validate(installation.config)
    overrides = {(p.container, p.protocol): p.host for p in config.ports}
    if definition.docker.network_mode == "host":
        return set()
    return {
        (overrides.get((p.container, p.protocol), p.host or p.container), p.protocol)
        for p in definition.docker.ports
    }


def _public(row: Installation) -> InstallationPublic:
    return InstallationPublic(
        id=row.id, server_id=row.server_id, name=row.name, repo_id=row.repo_id,
        app_id=row.app_id, version=row.version, image=row.image,
        status=row.status,
        status_message=row.status_message, container_id=row.container_id,
        ports=[f"{host}/{proto}" for host, proto in sorted(_ports_of(row))],
        config=row.config, operation=row.operation, created_at=row.created_at,
        updated_at=row.updated_at,
    )  # fmt: skip
