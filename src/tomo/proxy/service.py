"""ProxyService: a server's front door as tomo's records describe it.

The config a front door runs is always made whole from the records: the server's
domain and TLS settings, and every installed app on it that has hostnames (a
Route to its main container on the tomo-proxy network). Any change (an install,
an uninstall, new hostnames, new settings) makes it again and applies it; Caddy
runs the new one or keeps the old. Changes to one server's front door wait for
each other (a lock per server), so two installs never apply half of each other.

It is also the deployment's RouteKeeper (ctx.hooks.routes): the install's
preflight asks it whether the names can be routed, a finished install has them
routed, an uninstall has them removed.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from cryptography import x509
from sqlalchemy import select

from tomo.deployment.app_spec import container_names
from tomo.deployment.context import DeploymentContext
from tomo.deployment.models import Installation
from tomo.deployment.statuses import InstallationStatus
from tomo.errors import (
    FrontDoorFailed,
    InvalidInput,
    Refusal,
    ServerNotFound,
    TomoError,
)
from tomo.marketplace.definition import AppDefinition
from tomo.proxy.door import FrontDoor, front_door
from tomo.proxy.routes import FrontDoorConfig, Route, Upstream, hostname_problem
from tomo.proxy.schemas import (
    AUTO,
    DomainSettings,
    InstallationHostnames,
    ProxyRoute,
    ProxyStatus,
    hostnames_under,
)
from tomo.servers.models import Server
from tomo.servers.schemas import ServerPublic

# Installations whose containers may not be there yet: not routed until they are.
_NOT_YET = (InstallationStatus.PENDING, InstallationStatus.INSTALLING)


class ProxyService:
    def __init__(self, ctx: DeploymentContext) -> None:
        self.ctx = ctx
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- the server's settings ------------------------------------------------------

    async def set_domain(self, ref: str, settings: DomainSettings, /) -> ServerPublic:
        """Set a server's base domain, TLS mode and ports. When apps are routed there
        (or its front door runs) the new config is applied first: refused, nothing
        changes."""
        server = await self._server(ref)
        changed = _with_settings(server, settings)
        async with self._locks[server.id]:
            config = await self._config(changed)  # InvalidInput naming the field
            door = await self._door(server.id)
            if config.routes or (await door.status()).exists:
                await self._ensure(door, changed)
                await door.apply(config)
            async with self.ctx.db.session() as session, session.begin():
                row = await session.get(Server, server.id)
                if row is None:
                    raise ServerNotFound(f"no server '{server.id}'")
                for column in _SETTINGS:
                    setattr(row, column, getattr(changed, column))
        return await self.ctx.servers.get_server(server.id)

    async def status(self, ref: str, /) -> ProxyStatus:
        """The front door as it runs and as tomo would make it, with the DNS records."""
        server = await self._server(ref)
        config = await self._config(server)
        door = await self._door(server.id)
        found = await door.status()
        expires = None
        if found.running and server.tls_mode == "internal":
            expires = await _root_expiry(door)
        return ProxyStatus(
            server_id=server.id, domain=server.domain, tls_mode=server.tls_mode,
            acme_ca=server.acme_ca, acme_email=server.acme_email,
            http_port=server.proxy_http_port, https_port=server.proxy_https_port,
            image=self.ctx.settings.proxy_image, exists=found.exists, running=found.running,
            running_image=found.image, current=found.applies(config),
            routes=await self._routes_shown(server.id), root_expires_at=expires,
            dns_records=dns_records(server.host, server.domain, config.hostnames),
        )  # fmt: skip

    async def root_certificate(self, ref: str, /) -> str:
        """The PEM of the front door's internal root, which clients trust for tls
        internal."""
        server = await self._server(ref)
        return await (await self._door(server.id)).root_certificate()

    async def apply(self, ref: str, /) -> FrontDoorConfig:
        """Make the server's config from the records and run it (the front door made
        or started first); FrontDoorFailed with Caddy's reason when refused."""
        server = await self._server(ref)
        async with self._locks[server.id]:
            config = await self._config(server)
            await self._run(server, config)
            return config

    # -- an installation's hostnames ---------------------------------------------------

    async def get_hostnames(self, ref: str, server: str | None, /) -> InstallationHostnames:
        """The names the front door routes to an installation."""
        return _shown(await self.ctx.find(ref, server))

    async def set_hostnames(
        self, ref: str, hostnames: list[str], server: str | None, /
    ) -> InstallationHostnames:
        """Route exactly these names to the installation ([]: none). Refused (every
        problem, naming hostnames[i]) when one is invalid or another app's; when the
        front door refuses, the names it had stay."""
        row = await self.ctx.find(ref, server)
        host = await self._server(row.server_id)
        wanted = hostnames_under(hostnames, row.name, host.domain)
        changed = _copy(row, wanted)
        problems = await self.check(changed)
        if problems:
            raise InvalidInput(problems)
        async with self._locks[host.id]:
            await self.ctx.set(row.id, hostnames=wanted)
            try:
                said = await self._route(host, changed)
            except BaseException:
                await self.ctx.set(row.id, hostnames=list(row.hostnames or []))
                raise
        return _shown(changed, said)

    # -- RouteKeeper: the deployment's hooks ---------------------------------------------

    async def hostnames_wanted(self, server_id: str, name: str, given: list[str]) -> list[str]:
        """The names to record for an install that asked for `given`."""
        return hostnames_under(given, name, (await self._server(server_id)).domain)

    async def check(self, row: Installation) -> list[Refusal]:
        """Why the installation's hostnames cannot be routed ([] when they can)."""
        server = await self._server(row.server_id)
        taken = await self._taken(row)
        problems = []
        for index, name in enumerate(row.hostnames or []):
            problem = _hostname_problem(name, server, taken)
            if problem:
                problems.append(Refusal(problem, (f"hostnames[{index}]",),
                                        "choose another with --hostname",
                                        page_hint="choose another hostname"))  # fmt: skip
        if row.hostnames and not problems:
            try:
                _upstream(row)
            except InvalidInput as exc:
                problems += exc.problems
        return problems

    async def installed(self, row: Installation) -> str:
        """Route the installation's hostnames; what was done, or why it was not."""
        names = ", ".join(row.hostnames)
        try:
            server = await self._server(row.server_id)
            async with self._locks[server.id]:
                return await self._route(server, await self.ctx.load(row.id))
        except InvalidInput as exc:
            # Names that cannot be routed (another install took one meanwhile) would
            # make every later config of the server refused: the record lets them go.
            await self.ctx.set(row.id, hostnames=[])
            return (f"the route for {names} was not made and its hostnames were dropped: "
                    f"{exc.message}; {row.name} still answers on its ports")  # fmt: skip
        except TomoError as exc:
            return (f"the route for {names} was not made: {exc.message}; {row.name} still "
                    "answers on its ports (`tomo hostname add` tries again)")  # fmt: skip

    async def removed(self, row: Installation) -> str:
        """The server's config applied without the installation's routes."""
        names = ", ".join(row.hostnames)
        try:
            server = await self._server(row.server_id)
            async with self._locks[server.id]:
                door = await self._door(server.id)
                if not (await door.status()).exists:
                    return f"no front door routed {names}"
                await door.apply(await self._config(server))
        except TomoError as exc:
            return f"the front door still routes {names} (to nothing): {exc.message}"
        return f"removed the route for {names} from the front door"

    # -- below ----------------------------------------------------------------------

    async def _route(self, server: Server, row: Installation) -> str:
        """Apply the server's config with `row` as it is now (on the network, its
        names routed; with no names, off the network). The lock is held."""
        config = await self._config(server, row)
        door = await self._door(server.id)
        await self._ensure(door, server)
        container = container_names(AppDefinition.model_validate(row.definition), row.name)
        main = container[AppDefinition.model_validate(row.definition).main_service]
        if row.hostnames:
            await door.connect(main, main)
        await door.apply(config)
        if not row.hostnames:
            await door.disconnect(main)
            return f"the front door routes no name to {row.name}"
        scheme = "http" if server.tls_mode == "off" else "https"
        names = ", ".join(f"{scheme}://{name}" for name in row.hostnames)
        return f"routed {names} to {_upstream(row).dial} through the front door"

    async def _run(self, server: Server, config: FrontDoorConfig) -> None:
        door = await self._door(server.id)
        await self._ensure(door, server)
        await door.apply(config)

    async def _ensure(self, door: FrontDoor, server: Server) -> None:
        settings = self.ctx.settings
        await door.ensure(settings.proxy_image, settings.publish_address,
                          server.proxy_http_port, server.proxy_https_port)  # fmt: skip

    async def _door(self, server_id: str) -> FrontDoor:
        return await front_door(self.ctx, server_id)

    async def _config(self, server: Server, changed: Installation | None = None) -> FrontDoorConfig:
        """The whole config of the server's front door from the records (`changed` in
        place of its record); InvalidInput naming the field when it cannot be one."""
        rows = await self._routed(server.id)
        if changed is not None:
            rows = [row for row in rows if row.id != changed.id]
            rows += [changed] if changed.hostnames else []
        routes = tuple(Route(tuple(row.hostnames), _upstream(row))
                       for row in sorted(rows, key=lambda row: row.name))  # fmt: skip
        try:
            return FrontDoorConfig(tls=server.tls_mode, base_domain=server.domain,  # type: ignore[arg-type]
                                   acme_ca=server.acme_ca, acme_email=server.acme_email,
                                   routes=routes)  # fmt: skip
        except InvalidInput as exc:
            raise _as_settings(exc) from None

    async def _routed(self, server_id: str) -> list[Installation]:
        """The installations on the server whose names are routed."""
        async with self.ctx.db.session() as session:
            rows = await session.scalars(
                select(Installation).where(Installation.server_id == server_id,
                                           Installation.status.not_in(_NOT_YET))
            )  # fmt: skip
            return [row for row in rows if row.hostnames]

    async def _routes_shown(self, server_id: str) -> list[ProxyRoute]:
        rows = sorted(await self._routed(server_id), key=lambda row: row.name)
        return [_route_shown(row) for row in rows]

    async def _taken(self, row: Installation) -> dict[str, str]:
        """hostname -> the other installation on the same server that has it."""
        async with self.ctx.db.session() as session:
            others = await session.scalars(
                select(Installation).where(Installation.server_id == row.server_id,
                                           Installation.id != row.id)
            )  # fmt: skip
            return {name: other.name for other in others for name in other.hostnames or []}

    async def _server(self, ref: str) -> Server:
        found = await self.ctx.servers.get_server(ref)  # ServerNotFound naming `ref`
        async with self.ctx.db.session() as session:
            row = await session.get(Server, found.id)
        if row is None:
            raise ServerNotFound(f"no server with id or name '{ref}'")
        return row


_SETTINGS = ("domain", "tls_mode", "acme_ca", "acme_email", "proxy_http_port", "proxy_https_port")


def _with_settings(server: Server, settings: DomainSettings) -> Server:
    """A detached copy of the server's row with the new settings (the ports kept
    when not given); InvalidInput when the ports are one."""
    http_port = settings.http_port or server.proxy_http_port
    https_port = settings.https_port or server.proxy_https_port
    if http_port == https_port:
        raise InvalidInput([Refusal(f"HTTP and HTTPS cannot share port {http_port}",
                                    ("https_port",))])  # fmt: skip
    copy = Server(**{column: getattr(server, column) for column in ("id", "name", "host")})
    values = (settings.domain or None, settings.tls, settings.acme_ca, settings.acme_email,
              http_port, https_port)  # fmt: skip
    for column, value in zip(_SETTINGS, values, strict=True):
        setattr(copy, column, value)
    return copy


def _as_settings(exc: InvalidInput) -> InvalidInput:
    """The engine's refusals in the request's words (`domain`, not `base_domain`)."""
    renamed = {"base_domain": "domain", "tls": "tls"}
    return InvalidInput([
        replace(problem, fields=tuple(renamed.get(f, f) for f in problem.fields))
        for problem in exc.problems
    ])  # fmt: skip


def _hostname_problem(name: str, server: Server, taken: dict[str, str]) -> str:
    """Why `name` cannot be routed to an installation on `server` ("" when it can)."""
    if (name == AUTO or (name and "." not in name)) and server.domain is None:
        return (f"hostname '{name}' needs server '{server.name}' to have a base domain "
                f"(tomo server update {server.name} --domain DOMAIN), or give a whole "
                "name")  # fmt: skip
    problem = hostname_problem(name)
    if problem:
        return f"hostname '{name}' {problem}"
    if name in taken:
        return f"hostname '{name}' is routed to installation '{taken[name]}' already"
    return ""


def _upstream(row: Installation) -> Upstream:
    """The installation's main container and its first TCP port, as the front door
    dials it; InvalidInput when it has no such port, or is not on a network of its own."""
    definition = AppDefinition.model_validate(row.definition)
    main = definition.all_services[definition.main_service]
    name = container_names(definition, row.name)[definition.main_service]
    if main.network_mode is not None:
        raise InvalidInput([Refusal(f"{row.name} runs with network_mode {main.network_mode}: "
                                    "the front door cannot reach it by name",
                                    ("hostnames",))])  # fmt: skip
    ports = [port.container for port in main.ports if port.protocol == "tcp"]
    if not ports:
        raise InvalidInput([Refusal(f"{row.name} listens on no TCP port for the front door "
                                    "to send requests to", ("hostnames",))])  # fmt: skip
    return Upstream(name, ports[0])


def _route_shown(row: Installation) -> ProxyRoute:
    return ProxyRoute(installation_id=row.id, installation=row.name,
                      hostnames=list(row.hostnames), upstream=_upstream(row).dial)  # fmt: skip


def _copy(row: Installation, hostnames: list[str]) -> Installation:
    """A detached copy of the installation's row with other hostnames."""
    columns = ("id", "server_id", "name", "definition", "status")
    copy = Installation(**{column: getattr(row, column) for column in columns})
    copy.hostnames = hostnames
    return copy


def _shown(row: Installation, said: str = "") -> InstallationHostnames:
    return InstallationHostnames(installation_id=row.id, installation=row.name,
                                 server_id=row.server_id, hostnames=list(row.hostnames or []),
                                 said=said)  # fmt: skip


def dns_records(host: str, domain: str | None, hostnames: list[str]) -> list[str]:
    """The records that send the names to the server: one wildcard for the base
    domain (and one per name outside it), as a zone file says them."""
    try:
        kind = "AAAA" if ipaddress.ip_address(host).version == 6 else "A"
    except ValueError:
        kind = "CNAME"  # a host given by name: the records point at that name
    target = f"{host}." if kind == "CNAME" else host
    names = [f"*.{domain}"] if domain else []
    names += [name for name in hostnames if not (domain and name.endswith(f".{domain}"))]
    return [f"{name} {kind} {target}" for name in dict.fromkeys(names)]


async def _root_expiry(door: FrontDoor) -> datetime | None:
    """When the internal root expires (None: Caddy has not made one yet)."""
    try:
        pem = await door.root_certificate()
    except FrontDoorFailed:
        return None
    return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
