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
from tomo.deployment.context import DeploymentContext, public, stored_config
from tomo.deployment.install import refuse_taken_name
from tomo.deployment.jobs import new_id, now
from tomo.deployment.manage import status_from, volumes_said
from tomo.deployment.models import Installation, Job
from tomo.deployment.remote import Docker, state_of_inspected
from tomo.deployment.schemas import Adopted, AdoptRequest
from tomo.deployment.spec import INSTANCE_NAME, InstallConfig, PortOverride, VolumeOverride
from tomo.deployment.statuses import JobStatus
from tomo.errors import CommandFailed, Conflict, InvalidInput, NotFound, Refusal
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.docker_inspect import Recreated, compose_of_inspect
from tomo.marketplace.personal import PERSONAL_REPO, add_personal_apps, read_personal_app
from tomo.marketplace.schemas import MarketplaceApp, PersonalApp
from tomo.servers.schemas import ServerPublic
from tomo.slugs import slugify

KIND = "adopt"


@dataclass(frozen=True)
class _Source:
    """What the installation is made of: the app, its config, and the notes."""

    app: str  # repo/app
    config: InstallConfig
    notes: list[str]


@dataclass(frozen=True)
class _Found:
    """One container asked for, as Docker describes it, and the name it will have."""

    request: AdoptRequest
    container: dict[str, Any]
    name: str


async def adopt(ctx: DeploymentContext, server: str, requests: list[AdoptRequest]) -> list[Adopted]:
    """Adopt each container asked for; every one is checked before any is touched
    (one refused: none adopted). Docker is asked twice for all of them (the
    containers, their images) and the personal catalog gets one commit."""
    target = await ctx.servers.get_server(server)
    docker = await ctx.docker(target.id)
    found = await _found(ctx, docker, target.id, requests)
    images = await _image_configs(docker, {str(f.container.get("Image", "")) for f in found})
    sources = await _sources(ctx, found, images)
    entries = await ctx.marketplace.get_apps([source.app for source in sources])
    records = [
        _planned(ctx, target, entry, source) for entry, source in zip(entries, sources, strict=True)
    ]
    renamed = await _renamed(docker, found, records)
    try:
        rows = await _recorded(ctx, found, sources, records)
    except BaseException:
        await _named_back(docker, renamed)
        raise
    return [Adopted(installation=public(row), job_id=job_id, notes=notes)
            for row, job_id, notes in rows]  # fmt: skip


def _planned(
    ctx: DeploymentContext, target: ServerPublic, entry: MarketplaceApp, source: _Source
) -> _Record:
    """The record of one adoption, checked as an install's would be."""
    if entry.not_installable:
        raise InvalidInput(f"{source.app} cannot be managed by tomo: {entry.not_installable}")
    definition = AppDefinition.model_validate(entry.model_dump())
    if definition.is_multi_container:
        several = f"{source.app} is an app of several containers; one container is not all of it"
        raise InvalidInput([Refusal(several, ("app",))])
    installation_id = new_id()
    spec, config = _spec(ctx, definition, source.config, entry.repo_id, installation_id, target)
    return _Record(installation_id, target.id, entry.repo_id, definition, spec, config)


async def _found(
    ctx: DeploymentContext, docker: Docker, server_id: str, requests: list[AdoptRequest]
) -> list[_Found]:
    """The containers, read in one `docker container inspect`; refused (naming the
    container) when missing, already tomo's, or without a name an installation can
    have; and when two would get the same name, or one taken on the server."""
    asked = [r.container for r in requests]
    result = await docker.ssh.run_docker(docker.target, ["container", "inspect", *asked],
                                         check=False)  # fmt: skip
    inspected: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    # Docker answers the ones it found in the order asked (by name, id or any unique
    # prefix of it) and names each one it did not find.
    said = result.stderr.lower()
    missing = [ref for ref in asked if f"no such container: {ref}".lower() in said
               or f"no such object: {ref}".lower() in said]  # fmt: skip
    present = [ref for ref in asked if ref not in missing]
    if len(present) != len(inspected):
        raise CommandFailed(docker.server, "docker container inspect", result.exit_code,
                            result.stderr)  # fmt: skip
    if missing:
        raise NotFound(f"no container {', '.join(map(repr, missing))} on {docker.server}")
    by_ref = dict(zip(present, inspected, strict=True))
    found = []
    for request in requests:
        container = by_ref[request.container]
        _refuse_tomos(container, docker, request.container)
        name = request.name or str(container.get("Name", "")).lstrip("/")
        _check_name(name, given=request.name is not None)
        found.append(_Found(request, container, name))
    names = [f.name for f in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput([Refusal(f"two containers would be named {', '.join(twice)}",
                                    ("name",))])  # fmt: skip
    async with ctx.db.session() as session:
        for name in names:
            await refuse_taken_name(session, server_id, name)
    return found


def _refuse_tomos(container: dict[str, Any], docker: Docker, asked: str) -> None:
    labels = (container.get("Config") or {}).get("Labels") or {}
    if labels.get("tomo.installation") or container.get("Id") in docker.adopted:
        raise Conflict(f"container '{asked}' on {docker.server} is already an installation "
                       "of tomo's")  # fmt: skip


def _check_name(name: str, *, given: bool) -> None:
    if not INSTANCE_NAME.fullmatch(name):
        text = f"'{name}' is not a valid instance name (lowercase letters, digits, '_', '.', '-')"
        if given:
            raise InvalidInput([Refusal(text, ("name",))])
        raise InvalidInput([Refusal(text, ("name",), "give it one with --name",
                                    page_hint="give it one as its Installation name")])  # fmt: skip


async def _image_configs(docker: Docker, image_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Each image's own config (what its containers inherit), by id, in one command;
    an image Docker lost has none ({})."""
    ids = sorted(i for i in image_ids if i)
    if not ids:
        return {}
    args = ["image", "inspect", "--format", "{{json .Id}} {{json .Config}}", *ids]
    result = await docker.ssh.run_docker(docker.target, args, check=False)
    configs = {}
    for line in result.stdout.splitlines():
        image_id, _, config = line.partition(" ")
        configs[json.loads(image_id)] = json.loads(config) or {}
    return configs


async def _sources(
    ctx: DeploymentContext, found: list[_Found], images: dict[str, dict[str, Any]]
) -> list[_Source]:
    """The app and config of each: the catalog app asked for, or a compose file made
    of the container (all of those put into the personal catalog together)."""
    made: dict[str, Recreated] = {}
    for item in found:
        if item.request.app is None:
            image = images.get(str(item.container.get("Image", "")), {})
            made[item.name] = _recreated(item, image)
    added = await _into_personal_catalog(ctx, made)
    sources = []
    for item in found:
        image = images.get(str(item.container.get("Image", "")), {})
        if item.request.app is not None:
            sources.append(_from_catalog(item.request.app, item.container, image, item.name))
        else:
            sources.append(_from_recreated(item.name, made[item.name], added[item.name]))
    return sources


def _recreated(item: _Found, image: dict[str, Any]) -> Recreated:
    """The compose file that makes the container again; refused when there is none
    or tomo could not install it."""
    try:
        made = compose_of_inspect(item.container, image, slugify(item.name))
    except ValueError as exc:
        raise InvalidInput(f"container '{item.name}' cannot be adopted: {exc}") from None
    definition = read_personal_app(slugify(item.name), made.compose).definition
    if definition.not_installable:
        raise InvalidInput(f"container '{item.name}' cannot be adopted: tomo could not make "
                           f"it again ({definition.not_installable})")  # fmt: skip
    return made


async def _into_personal_catalog(
    ctx: DeploymentContext, made: dict[str, Recreated]
) -> dict[str, PersonalApp]:
    if not made:
        return {}
    await _refuse_personal_in_use(ctx, [slugify(name) for name in made])
    added = await add_personal_apps(
        ctx.marketplace, {slugify(name): m.compose for name, m in made.items()}
    )
    return dict(zip(made, added, strict=True))


def _from_recreated(name: str, made: Recreated, added: PersonalApp) -> _Source:
    notes = [f"not carried over: {what}" for what in made.left_out] + added.warnings
    if made.volumes:
        notes.append(f"its {volumes_said(made.volumes)} stay where they are, carried over by "
                     "every update and kept by an uninstall")  # fmt: skip
    return _Source(added.app, InstallConfig(name=name, env=made.env), notes)


async def _refuse_personal_in_use(ctx: DeploymentContext, app_ids: list[str]) -> None:
    """A personal app may be replaced only when nothing runs it."""
    async with ctx.db.session() as session:
        users = list(await session.execute(select(Installation.app_id, Installation.name).where(
            Installation.repo_id == PERSONAL_REPO, Installation.app_id.in_(app_ids))))  # fmt: skip
    if users:
        app_id, name = users[0]
        raise Conflict(f"the personal app '{app_id}' is installed as {name}; adopt it under "
                       "another name", fields=("name",))  # fmt: skip


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
    installation_id: str, target: ServerPublic,
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


async def _renamed(
    docker: Docker, found: list[_Found], records: list[_Record]
) -> list[tuple[str, str]]:
    """tomo finds an app's container by the installation's name: one adopted under
    another name is renamed (Docker renames a running container in place). The
    (id, former name) of each renamed, to give the names back if the records fail."""
    renamed = []
    for item, record in zip(found, records, strict=True):
        was = str(item.container.get("Name", "")).lstrip("/")
        if was != record.spec.name:
            await docker.run(["container", "rename", str(item.container["Id"]), record.spec.name])
            renamed.append((str(item.container["Id"]), was))
    return renamed


async def _named_back(docker: Docker, renamed: list[tuple[str, str]]) -> None:
    for container_id, was in renamed:
        await docker.run(["container", "rename", container_id, was])


async def _recorded(
    ctx: DeploymentContext, found: list[_Found], sources: list[_Source], records: list[_Record]
) -> list[tuple[Installation, str, list[str]]]:
    """Every installation and its adoption job, in one transaction: all or none.
    Each status is the state Docker gave when asked above (no new question)."""
    made = []
    try:
        async with ctx.db.session() as session, session.begin():
            for item, source, record in zip(found, sources, records, strict=True):
                await refuse_taken_name(session, record.server_id, record.spec.name)
                row = _row(ctx, item.container, record)
                notes = [*source.notes, *(f"risk flag {flag}: it already runs with it"
                                          for flag in record.spec.risks)]  # fmt: skip
                job = _job(row, item.container, notes)
                session.add_all([row, job])
                made.append((row, job.id, notes))
    except IntegrityError:  # another install took a name after the check
        raise InvalidInput("an installation of one of these names was made meanwhile; "
                           "nothing was adopted") from None  # fmt: skip
    return made


def _row(ctx: DeploymentContext, container: dict[str, Any], record: _Record) -> Installation:
    spec, definition = record.spec, record.definition
    volumes = [str(m["Name"]) for m in container.get("Mounts") or []
               if m.get("Type") == "volume" and m.get("Name")]  # fmt: skip
    status, message = status_from(state_of_inspected(container))
    return Installation(
        id=record.installation_id, server_id=record.server_id, name=spec.name,
        repo_id=record.repo_id, app_id=definition.id, version=definition.version,
        image=str((container.get("Config") or {}).get("Image") or spec.main.image),
        definition=definition.model_dump(mode="json"), config=stored_config(record.config, spec),
        secret_env_enc=ctx.seal(spec.secret_env), container_id=str(container["Id"]),
        adopted={"container": str(container["Id"]), "volumes": volumes},
        status=status, status_message=message, created_at=now(), updated_at=now(),
        backup_before_update=ctx.settings.backup_before_update,
    )  # fmt: skip


def _job(row: Installation, container: dict[str, Any], notes: list[str]) -> Job:
    """The adoption in the installation's history: what was recorded, nothing run."""
    summary = [f"adopted container '{row.name}' ({str(container['Id'])[:12]}) as it runs: "
               "nothing was stopped, restarted or changed", *notes]  # fmt: skip
    return Job(
        id=new_id(), installation_id=row.id, server_id=row.server_id,
        installation_name=row.name, app=f"{row.repo_id}/{row.app_id}", kind=KIND,
        status=JobStatus.DONE, created_at=now(), started_at=now(), ended_at=now(),
        summary=summary,
    )  # fmt: skip
