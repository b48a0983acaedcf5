"""Adopting a container tomo did not create (left by CasaOS, Portainer, Umbrel or
made by hand): it becomes an installation, recorded from its `docker container
inspect`, without being stopped, restarted or changed.

Its definition is the catalog app the user names (`--app`) with the container's
values as the config, or else the compose file that makes the container again,
put into the personal catalog (see marketplace/docker_inspect.py). Either way
the installation is then like any other: status, logs, stop/start, an update
(recreated with the same config, its volumes carried over, the old container
back if the new one fails) and an uninstall that keeps what the container
mounted. The container carries no tomo label, so the record names it by id
(`Installation.adopted`), and Docker (remote.py) counts it as the
installation's from that id.

Secrets among its environment are sealed like any other; an adoption refused
(a name taken, a value tomo cannot keep) changes nothing on the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tomo.deployment.app_spec import AppSpec, build_app_spec
from tomo.deployment.context import DeploymentContext, stored_config
from tomo.deployment.install import name_taken, refuse_taken_name
from tomo.deployment.jobs import new_id, now
from tomo.deployment.manage import app_state, volumes_said
from tomo.deployment.models import Installation, Job
from tomo.deployment.remote import Docker
from tomo.deployment.schemas import Adopted, AdoptRequest
from tomo.deployment.spec import INSTANCE_NAME, InstallConfig, PortOverride, VolumeOverride
from tomo.deployment.statuses import JobStatus
from tomo.errors import CommandFailed, Conflict, InvalidInput, NotFound, Refusal
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.docker_inspect import compose_of_inspect
from tomo.marketplace.personal import PERSONAL_REPO, add_personal_app, read_personal_app
from tomo.slugs import slugify

KIND = "adopt"


@dataclass(frozen=True)
class _Source:
    """What the installation is made of: the app, its config, and the notes."""

    app: str  # repo/app
    config: InstallConfig
    notes: list[str]


async def adopt(ctx: DeploymentContext, server: str, request: AdoptRequest) -> Adopted:
    target = await ctx.servers.get_server(server)
    docker = await ctx.docker(target.id)
    container = await _inspect(docker, request.container)
    _refuse_tomos(container, docker, request.container)
    name = request.name or str(container.get("Name", "")).lstrip("/")
    _check_name(name, given=request.name is not None)
    await _refuse_taken(ctx, target.id, name)
    image = await _image_config(docker, str(container.get("Image", "")))
    if request.app is not None:
        source = _from_catalog(request.app, container, image, name)
    else:
        source = await _from_container(ctx, container, image, name)
    entry = await ctx.marketplace.get_app(source.app)
    if entry.not_installable:
        raise InvalidInput(f"{source.app} cannot be managed by tomo: {entry.not_installable}")
    definition = AppDefinition.model_validate(entry.model_dump())
    if definition.is_multi_container:
        several = f"{source.app} is an app of several containers; one container is not all of it"
        raise InvalidInput([Refusal(several, ("app",))])
    installation_id = new_id()
    spec, config = _spec(ctx, definition, source.config, entry.repo_id, installation_id, target)
    row = await _renamed_and_recorded(
        ctx, docker, container, _Record(installation_id, target.id, entry.repo_id, definition,
                                        spec, config),
    )  # fmt: skip
    status, message = await app_state(row, await ctx.docker(target.id))
    await ctx.set(row.id, status=status, status_message=message)
    notes = [*source.notes, *(f"risk flag {flag}: it already runs with it" for flag in spec.risks)]
    job_id = await _record_job(ctx, row, container, notes)
    return Adopted(installation=await ctx.public(row.id), job_id=job_id, notes=notes)


async def _inspect(docker: Docker, container: str) -> dict[str, Any]:
    try:
        out = await docker.run(["container", "inspect", container])
    except CommandFailed as exc:
        if "no such" in exc.message.lower():
            raise NotFound(f"no container '{container}' on {docker.server}") from None
        raise
    found: list[dict[str, Any]] = json.loads(out)
    return found[0]


def _refuse_tomos(container: dict[str, Any], docker: Docker, asked: str) -> None:
    labels = (container.get("Config") or {}).get("Labels") or {}
    if labels.get("tomo.installation") or container.get("Id") in docker.adopted:
        raise Conflict(f"container '{asked}' on {docker.server} is already an installation "
                       "of tomo's")  # fmt: skip


def _check_name(name: str, *, given: bool) -> None:
    if not INSTANCE_NAME.fullmatch(name):
        hint = "" if given else "; give it one with --name"
        raise InvalidInput([Refusal(f"'{name}' is not a valid instance name (lowercase letters, "
                                    f"digits, '_', '.', '-'){hint}", ("name",))])  # fmt: skip


async def _refuse_taken(ctx: DeploymentContext, server_id: str, name: str) -> None:
    async with ctx.db.session() as session:
        await refuse_taken_name(session, server_id, name)


async def _image_config(docker: Docker, image_id: str) -> dict[str, Any]:
    """The image's own config (what the container inherits), {} when Docker lost it."""
    try:
        out = await docker.run(["image", "inspect", "--format", "{{json .Config}}", image_id])
    except CommandFailed:
        return {}
    return json.loads(out) or {}


async def _from_container(
    ctx: DeploymentContext, container: dict[str, Any], image: dict[str, Any], name: str
) -> _Source:
    """The container made again as a compose file, into the personal catalog."""
    app_id = slugify(name)
    try:
        made = compose_of_inspect(container, image, app_id)
    except ValueError as exc:
        raise InvalidInput(f"container '{name}' cannot be adopted: {exc}") from None
    parsed = read_personal_app(app_id, made.compose)
    if parsed.definition.not_installable:
        raise InvalidInput(f"container '{name}' cannot be adopted: tomo could not make it "
                           f"again ({parsed.definition.not_installable})")  # fmt: skip
    await _refuse_personal_in_use(ctx, app_id)
    added = await add_personal_app(ctx.marketplace, app_id, made.compose)
    notes = [f"not carried over: {what}" for what in made.left_out] + added.warnings
    if made.volumes:
        notes.append(f"its {volumes_said(made.volumes)} stay where they are, carried over by "
                     "every update and kept by an uninstall")  # fmt: skip
    config = InstallConfig(name=name, env=made.env)
    return _Source(added.app, config, notes)


async def _refuse_personal_in_use(ctx: DeploymentContext, app_id: str) -> None:
    """The personal app of that name may be replaced only when nothing runs it."""
    async with ctx.db.session() as session:
        users = list(await session.scalars(select(Installation.name).where(
            Installation.repo_id == PERSONAL_REPO, Installation.app_id == app_id)))  # fmt: skip
    if users:
        raise Conflict(f"the personal app '{app_id}' is installed as {', '.join(users)}; "
                       "adopt under another name (--name)", fields=("name",))  # fmt: skip


def _from_catalog(app: str, container: dict[str, Any], image: dict[str, Any], name: str) -> _Source:
    """The catalog app's definition is filled in later; here, the container's values
    for it: its environment, its published ports, its bind mounts by path."""
    config, host = container.get("Config") or {}, container.get("HostConfig") or {}
    inherited = set(image.get("Env") or [])
    env = dict(entry.partition("=")[::2] for entry in config.get("Env") or []
               if entry not in inherited)  # fmt: skip
    ports = [
        PortOverride(container=int(binding.split("/")[0]), host=int(published["HostPort"]),
                     protocol=binding.partition("/")[2] or "tcp")
        for binding, bound in (host.get("PortBindings") or {}).items()
        for published in (bound or [])[:1] if published.get("HostPort")
    ]  # fmt: skip
    volumes = [VolumeOverride(container_path=m["Destination"], host_path=m["Source"])
               for m in container.get("Mounts") or [] if m.get("Type") == "bind"]  # fmt: skip
    return _Source(app, InstallConfig(name=name, env=env, ports=ports, volumes=volumes), [])


def _spec(
    ctx: DeploymentContext, definition: AppDefinition, config: InstallConfig, repo_id: str,
    installation_id: str, target: Any,
) -> tuple[AppSpec, InstallConfig]:  # fmt: skip
    """The containers the record describes, and its config: the risk flags the
    container already runs with are accepted (the adoption's notes show them), and
    so are kept for its updates; nothing else is."""

    def build(accepted: InstallConfig) -> AppSpec:
        return build_app_spec(
            definition, accepted, repo_id=repo_id, installation_id=installation_id,
            data_root=target.data_root, server_host=target.host, owner=ctx.settings.owner_label,
        )  # fmt: skip

    config = _known_values(definition, config)
    try:
        return build(config), config
    except InvalidInput as exc:
        flags = [flag for p in exc.problems if p.fields == ("accept_risks",) for flag in p.values]
        if not flags or len(exc.problems) > 1:
            raise
    accepted = config.model_copy(update={"accept_risks": flags})
    return build(accepted), accepted


def _known_values(definition: AppDefinition, config: InstallConfig) -> InstallConfig:
    """Of the container's values, those the definition has a place for."""
    main = definition.all_services[definition.main_service]
    known = {s.name for s in definition.settings} | {e.name for e in main.environment}
    declared = {v.container_path for v in main.volumes}
    ports = {(p.container, p.protocol) for p in main.ports}
    return config.model_copy(update={
        "env": {k: v for k, v in config.env.items() if k in known},
        "ports": [p for p in config.ports if (p.container, p.protocol) in ports],
        "volumes": [v for v in config.volumes if v.container_path in declared],
    })  # fmt: skip


@dataclass(frozen=True)
class _Record:
    installation_id: str
    server_id: str
    repo_id: str
    definition: AppDefinition
    spec: AppSpec
    config: InstallConfig


async def _renamed_and_recorded(
    ctx: DeploymentContext, docker: Docker, container: dict[str, Any], record: _Record
) -> Installation:
    """tomo finds an app's container by the installation's name: one adopted under
    another name is renamed (Docker renames a running container in place), and
    given its name back if the record cannot be made."""
    was = str(container.get("Name", "")).lstrip("/")
    name = record.spec.name
    if was != name:
        await docker.run(["container", "rename", str(container["Id"]), name])
    try:
        return await _record(ctx, container, record)
    except BaseException:
        if was != name:
            await docker.run(["container", "rename", str(container["Id"]), was])
        raise


async def _record(
    ctx: DeploymentContext, container: dict[str, Any], record: _Record
) -> Installation:
    spec, definition = record.spec, record.definition
    volumes = [str(m["Name"]) for m in container.get("Mounts") or []
               if m.get("Type") == "volume" and m.get("Name")]  # fmt: skip
    row = Installation(
        id=record.installation_id, server_id=record.server_id, name=spec.name,
        repo_id=record.repo_id, app_id=definition.id, version=definition.version,
        image=str((container.get("Config") or {}).get("Image") or spec.main.image),
        definition=definition.model_dump(mode="json"), config=stored_config(record.config, spec),
        secret_env_enc=ctx.seal(spec.secret_env), container_id=str(container["Id"]),
        adopted={"container": str(container["Id"]), "volumes": volumes},
        created_at=now(), updated_at=now(),
    )  # fmt: skip
    try:
        async with ctx.db.session() as session, session.begin():
            await refuse_taken_name(session, record.server_id, spec.name)
            session.add(row)
    except IntegrityError:  # another install took the name after our check
        raise name_taken(spec.name) from None
    return await ctx.load(record.installation_id)


async def _record_job(
    ctx: DeploymentContext, row: Installation, container: dict[str, Any], notes: list[str]
) -> str:
    """The adoption in the installation's history: what was recorded, nothing run."""
    job_id = new_id()
    summary = [f"adopted container '{row.name}' ({str(container['Id'])[:12]}) as it runs: "
               "nothing was stopped, restarted or changed", *notes]  # fmt: skip
    async with ctx.db.session() as session, session.begin():
        session.add(Job(
            id=job_id, installation_id=row.id, server_id=row.server_id,
            installation_name=row.name, app=f"{row.repo_id}/{row.app_id}", kind=KIND,
            status=JobStatus.DONE, created_at=now(), started_at=now(), ended_at=now(),
            summary=summary,
        ))  # fmt: skip
    return job_id
