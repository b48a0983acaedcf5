"""What every deployment module works with: the services below, and the rows.

Installations are read and written here only, so the install, manage, update
and reconcile modules share one way of finding, changing and showing them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete, select, update

from tomo.config import Settings
from tomo.db import Database
from tomo.deployment.app_spec import (
    AppSpec,
    Exported,
    build_app_spec,
    container_names,
    named_on,
)
from tomo.deployment.jobs import now
from tomo.deployment.models import Installation, KeptSecrets
from tomo.deployment.remote import Docker
from tomo.deployment.schemas import InstallationPublic, InstalledContainer, WebLink
from tomo.deployment.spec import InstallConfig, publishes_ports
from tomo.deployment.streams import LogStreams
from tomo.errors import AmbiguousApp, InstallationNotFound, Refusal
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.service import MarketplaceService
from tomo.servers.schemas import ServerPublic
from tomo.servers.service import ServerService
from tomo.updates.policy import UpdatePolicy
from tomo.updates.schemas import UpdateSettings

if TYPE_CHECKING:
    from tomo.deployment.jobs import JobRecorder


@dataclass(frozen=True)
class OperationFailed:
    """An operation that failed (an install, an update, a backup…), as the event list
    hears of it."""

    kind: str
    server_id: str
    installation_id: str
    installation_name: str
    message: str
    automatic: bool = False  # started by tomo itself, which tells the outcome


class DataGuard(Protocol):
    """Keeps an installation's data through an update: a backup of it once the old
    containers are stopped, put back if the update fails (tomo.backups does it)."""

    async def save(self, job: JobRecorder, row: Installation, containers: dict[str, str]) -> str:
        """Back up the data of `containers` (service -> name, all stopped) within
        the job; the backup's id."""

    async def put_back(self, job: JobRecorder, row: Installation, backup_id: str) -> list[str]:
        """Restore the backup over the installation's containers; what was done."""


class RouteKeeper(Protocol):
    """Routes an installation's hostnames through its server's front door
    (tomo.proxy does it)."""

    async def hostnames_wanted(self, server_id: str, name: str, given: list[str]) -> list[str]:
        """The names to record for an install that asked for `given` (each "auto"
        or single label named under the server's domain)."""

    async def check(self, row: Installation) -> list[Refusal]:
        """Why the installation's hostnames cannot be routed ([] when they can)."""

    async def installed(self, row: Installation, *, new: bool = False) -> str:
        """Route its hostnames to its main container (`new`: a new installation, which
        gets the login its definition asks for); what was done, or why not
        (never raises: the app runs on its port either way)."""

    async def removed(self, row: Installation) -> str:
        """Its routes gone (the server's config applied without them); what was done."""


@dataclass
class Hooks:
    """Who else hears of what operations do, who keeps the data through an update
    and who routes hostnames (wired by tomo.runtime: the event list, the backups,
    the front door)."""

    failed: Callable[[OperationFailed], Awaitable[None]] | None = None
    data: DataGuard | None = None
    routes: RouteKeeper | None = None


@dataclass(frozen=True)
class DeploymentContext:
    db: Database
    settings: Settings
    marketplace: MarketplaceService
    servers: ServerService
    log_streams: LogStreams = field(init=False)
    hooks: Hooks = field(default_factory=Hooks)

    def __post_init__(self) -> None:
        budget = LogStreams(self.settings.log_streams_per_user, self.settings.ssh_max_channels)
        object.__setattr__(self, "log_streams", budget)

    async def docker(self, server_id: str) -> Docker:
        return Docker(self.servers.ssh, await self.servers.target(server_id),
                      await self.adopted_containers(server_id))  # fmt: skip

    async def adopted_containers(self, server_id: str) -> dict[str, str]:
        """container id -> installation, of the containers adopted on a server."""
        async with self.db.session() as session:
            # JSON null and SQL NULL both mean "made by tomo": filtered here.
            rows = await session.execute(select(Installation.id, Installation.adopted)
                                         .where(Installation.server_id == server_id))  # fmt: skip
        return {adopted["container"]: row_id for row_id, adopted in rows if adopted}

    # -- rows -----------------------------------------------------------------

    async def find(self, ref: str, server: str | None = None) -> Installation:
        """By id, or by instance name (on `server` when several servers have it)."""
        async with self.db.session() as session:
            found = await session.get(Installation, ref)
            if found is not None:
                return found
            query = select(Installation).where(Installation.name == ref)
            if server is not None:
                server_id = (await self.servers.get_server(server)).id
                query = query.where(Installation.server_id == server_id)
            rows = list(await session.scalars(query))
        if not rows:
            raise InstallationNotFound(f"no installation with id or name '{ref}'")
        if len(rows) > 1:
            raise AmbiguousApp(ref, [f"{row.name} on {row.server_id} ({row.id})" for row in rows])
        return rows[0]

    async def load(self, installation_id: str) -> Installation:
        async with self.db.session() as session:
            found = await session.get(Installation, installation_id)
        if found is None:
            raise InstallationNotFound(f"no installation '{installation_id}'")
        return found

    async def set(self, installation_id: str, **values: object) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Installation).where(Installation.id == installation_id)
                .values(updated_at=now(), **values)
            )  # fmt: skip

    async def delete(self, installation_id: str) -> None:
        async with self.db.session() as session, session.begin():
            row = await session.get(Installation, installation_id)
            if row is not None:
                await session.delete(row)

    async def public(self, installation_id: str) -> InstallationPublic:
        return public(await self.load(installation_id))

    # -- specs and secrets ----------------------------------------------------

    def spec_of(
        self,
        row: Installation,
        definition: AppDefinition,
        server: ServerPublic,
        *,
        config: InstallConfig | None = None,
        images: dict[str, str] | None = None,
        imports: dict[str, Exported] | None = None,
    ) -> AppSpec:
        """The containers an installation's record describes (or would, with another
        definition, config or images: an update); `imports`: what the installations
        it requires give it (dependencies.imports_for)."""
        return build_app_spec(
            definition, config or InstallConfig.model_validate(row.config), repo_id=row.repo_id,
            installation_id=row.id, data_root=server.data_root, server_host=server.host,
            images=images if images is not None else installed_images(row, definition),
            generated=self.open(row.secret_env_enc), owner=self.settings.owner_label,
            imports=imports, named=named_on(server, row.hostnames or []),
        )  # fmt: skip

    # -- secrets kept with kept data --------------------------------------------

    async def keep_secrets(self, row: Installation) -> None:
        """Leave the installation's sealed secrets for the next one over its data."""
        if not row.secret_env_enc:
            return
        kept = KeptSecrets(
            server_id=row.server_id, name=row.name, repo_id=row.repo_id, app_id=row.app_id,
            secret_env_enc=row.secret_env_enc, kept_at=now(),
        )  # fmt: skip
        async with self.db.session() as session, session.begin():
            await session.merge(kept)

    async def kept_secrets(
        self, server_id: str, name: str, repo_id: str, app_id: str
    ) -> dict[str, str]:
        """The secrets kept with the data of an earlier `name` of the same app ({} if none)."""
        async with self.db.session() as session:
            kept = await session.get(KeptSecrets, (server_id, name))
        if kept is None or (kept.repo_id, kept.app_id) != (repo_id, app_id):
            return {}
        return self.open(kept.secret_env_enc)

    async def forget_kept_secrets(self, server_id: str, name: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(delete(KeptSecrets).where(
                KeptSecrets.server_id == server_id, KeptSecrets.name == name))  # fmt: skip

    def seal(self, values: dict[str, str]) -> str | None:
        return self.servers.secrets.encrypt(json.dumps(values)) if values else None

    def open(self, token: str | None) -> dict[str, str]:
        if not token:
            return {}
        opened: dict[str, str] = json.loads(self.servers.secrets.decrypt(token))
        return opened


def installed_images(row: Installation, definition: AppDefinition) -> dict[str, str]:
    """The image each service runs: the record keeps the main one's (an update may
    have chosen another tag); the others are the definition's own."""
    return {definition.main_service: row.image}


def stored_config(config: InstallConfig, app: AppSpec) -> dict[str, object]:
    """The config as kept on the installation: secret values only in the sealed store."""
    return config.model_dump(mode="json", exclude={"env", "updates", "hostnames"}) | {
        "env": app.env
    }


def ports_of(
    installation: Installation, definition: AppDefinition | None = None
) -> set[tuple[int, str]]:
    """The host ports an installation publishes (or will), of every service."""
    definition = definition or AppDefinition.model_validate(installation.definition)
    config = InstallConfig.model_validate(installation.config)
    found: set[tuple[int, str]] = set()
    for name, service in definition.all_services.items():
        if not publishes_ports(service.network_mode):
            continue
        main = name == definition.main_service
        overrides = {(p.container, p.protocol): p.host for p in config.ports} if main else {}
        found |= {
            (overrides.get((p.container, p.protocol), p.host or p.container), p.protocol)
            for p in service.ports
        }
    return found


def web_link(installation: Installation, definition: AppDefinition) -> WebLink | None:
    """The main service's first TCP port as published (the store's web port comes
    first), HTTPS when that port speaks it (`proxy.tls`), and the app's page."""
    main = definition.docker
    web = next((p for p in main.ports if p.protocol == "tcp"), None)
    if web is None or not publishes_ports(main.network_mode):
        return None
    config = InstallConfig.model_validate(installation.config)
    chosen = {(p.container, p.protocol): p.host for p in config.ports}
    port = chosen.get((web.container, "tcp"), web.host or web.container)
    proxy = definition.proxy
    tls = (proxy is not None and proxy.tls and proxy.service in (None, definition.main_service)
           and proxy.port in (None, web.container))  # fmt: skip
    return WebLink(port=port, scheme="https" if tls else "http", path=definition.web_path)


def public(row: Installation) -> InstallationPublic:
    definition = AppDefinition.model_validate(row.definition)
    return InstallationPublic(
        id=row.id, server_id=row.server_id, name=row.name, repo_id=row.repo_id,
        app_id=row.app_id, version=row.version, image=row.image, status=row.status,
        status_message=row.status_message, container_id=row.container_id,
        ports=[f"{host}/{proto}" for host, proto in sorted(ports_of(row, definition))],
        web=web_link(row, definition), hostnames=list(row.hostnames or []),
        containers=installed_containers(row, definition), config=row.config,
        operation=row.operation, created_at=row.created_at, updated_at=row.updated_at,
        adopted=bool(row.adopted), updates=UpdateSettings(
            policy=row.update_policy or UpdatePolicy.MANUAL, window=row.update_window,
            major=bool(row.update_major),
        ),
    )  # fmt: skip


def installed_containers(row: Installation, definition: AppDefinition) -> list[InstalledContainer]:
    images = {service: spec.image for service, spec in definition.all_services.items()}
    images |= installed_images(row, definition)
    return [
        InstalledContainer(service=service, name=name, image=images[service])
        for service, name in container_names(definition, row.name).items()
    ]
