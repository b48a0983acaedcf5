"""ProxyService: a server's front door as tomo's records describe it.

The config a front door runs is always made whole from the records: the server's
domain and TLS settings, and every installed app on it that has hostnames (a Route
to its main container, on a network it shares with the front door alone). Any
change (an install, an uninstall, new hostnames, new settings) makes it again and
applies it; Caddy runs the new one or keeps the old. Changes to one server's front
door wait for each other (a lock per server), so two installs never apply half of
each other.

It is also the deployment's RouteKeeper (ctx.hooks.routes): the install's
preflight asks it whether the names can be routed, a finished install has them
routed, an uninstall has them removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from tomo.deployment.app_spec import BRIDGE_MODES, container_names, network_name
from tomo.deployment.context import DeploymentContext
from tomo.deployment.models import Installation, runs_on_swarm
from tomo.deployment.statuses import InstallationStatus
from tomo.errors import (
    CommandFailed,
    FrontDoorFailed,
    InvalidInput,
    Refusal,
    ServerNotFound,
    TomoError,
)
from tomo.marketplace.definition import NAME_BUILTINS, AppDefinition, AppProxy, references
from tomo.proxy.door import (
    FrontDoor,
    FrontDoorStatus,
    HeldCertificate,
    certificates_said,
    front_door,
)
from tomo.proxy.lease import door_lease
from tomo.proxy.login import USER_HEADERS
from tomo.proxy.routes import ForwardAuth, FrontDoorConfig, Route, Upstream, hostname_problem
from tomo.proxy.schemas import (
    AUTO,
    LOGIN_WORDS,
    WHO_GETS_THROUGH,
    CertificateShown,
    DomainSettings,
    InstallationHostnames,
    Login,
    ProxyRoute,
    ProxyStatus,
    hostnames_under,
    login_word,
)
from tomo.servers.looks import Looks
from tomo.servers.models import Server
from tomo.servers.schemas import ServerPublic

# Installations whose containers may not be there yet: not routed until they are.
_NOT_YET = (InstallationStatus.PENDING, InstallationStatus.INSTALLING)


@dataclass(frozen=True)
class _DoorSeen:
    """A front door as read from its server."""

    door: FrontDoorStatus
    root_expires_at: datetime | None
    certificates: dict[str, HeldCertificate]
    at: datetime


class ProxyService:
    def __init__(self, ctx: DeploymentContext) -> None:
        self.ctx = ctx
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        within = ctx.settings.ssh_status_timeout
        # See servers/looks.py: why what is read of a front door is kept.
        self._seen: Looks[_DoorSeen] = Looks(within, what="its front door")
        self._roots: Looks[str] = Looks(within, what="its front door")

    # -- the server's settings ------------------------------------------------------

    async def set_domain(self, ref: str, settings: DomainSettings, /) -> ServerPublic:
        """Set a server's base domain, TLS mode and ports. When apps are routed there
        (or its front door runs) the new config is applied first: refused, nothing
        changes."""
        server = await self._server(ref)
        changed = _with_settings(server, settings, self._dns_credentials(server, settings))
        async with self._changing(server):
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

    def _dns_credentials(self, server: Server, settings: DomainSettings) -> str | None:
        """The DNS provider's credentials as the server will keep them, sealed: those
        given, else those it has for the same provider (a new one has none)."""
        if not settings.dns_provider:
            return None
        if settings.dns_credentials is not None:
            given = {key: value.get_secret_value()
                     for key, value in settings.dns_credentials.items()}  # fmt: skip
            return self.ctx.seal(given)
        same = settings.dns_provider == server.dns_provider
        return server.dns_credentials_enc if same else None

    async def status(self, ref: str, /) -> ProxyStatus:
        """The front door as it was last seen (at most LOOKS' KEEP_SECONDS ago, see
        servers/looks.py) and as tomo would make it now, with the DNS records."""
        server = await self._server(ref)
        config = await self._config(server)
        found = await self._seen.look(server.id, server.name, lambda: self._read_status(server))
        return ProxyStatus(
            server_id=server.id, domain=server.domain, tls_mode=server.tls_mode,
            acme_ca=server.acme_ca, acme_email=server.acme_email,
            dns_provider=server.dns_provider,
            http_port=server.proxy_http_port, https_port=server.proxy_https_port,
            image=self.ctx.settings.proxy_image, exists=found.door.exists,
            running=found.door.running, running_image=found.door.image,
            current=found.door.applies(config), routes=await self._routes_shown(server.id),
            root_expires_at=found.root_expires_at, checked_at=found.at,
            certificates=[CertificateShown(hostname=name, issuer=held.issuer,
                                           expires_at=held.expires_at)
                          for name, held in sorted(found.certificates.items())
                          if name in config.hostnames],
            dns_records=dns_records(server.host, server.domain, config.hostnames),
        )  # fmt: skip

    async def root_certificate(self, ref: str, /) -> str:
        """The PEM of the front door's internal root, which clients trust for tls
        internal (read at most once per KEEP_SECONDS, like the status)."""
        server = await self._server(ref)

        async def read() -> str:
            return await (await self._door(server.id)).root_certificate()

        return await self._roots.look(server.id, server.name, read)

    async def _read_status(self, server: Server) -> _DoorSeen:
        door = await self._door(server.id)
        found = await door.status()
        expires, held = None, {}
        if found.running and server.tls_mode == "internal":
            expires = await _root_expiry(door)
        if found.running and server.tls_mode != "off":
            held = await door.certificates_held()
        return _DoorSeen(found, expires, held, datetime.now(UTC))

    @contextlib.asynccontextmanager
    async def _changing(self, server: Server) -> AsyncIterator[None]:
        """Changes to one server's front door one at a time (in this process, then
        across processes: see lease.py); what was seen of it is forgotten once one
        is done (or failed half way)."""
        try:
            async with self._locks[server.id], door_lease(self.ctx.db, server.id, server.name):
                yield
        finally:
            self._seen.forget(server.id)
            self._roots.forget(server.id)

    async def apply(self, ref: str, /) -> FrontDoorConfig:
        """Make the server's config from the records and run it (the front door made
        or started first); FrontDoorFailed with Caddy's reason when refused."""
        server = await self._server(ref)
        async with self._changing(server):
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
        if hostnames and runs_on_swarm(row):
            raise InvalidInput([Refusal(
                f"{row.name} runs as Swarm services: the front door does not route names to "
                "apps on a Swarm yet", ("hostnames",))])  # fmt: skip
        host = await self._server(row.server_id)
        wanted = hostnames_under(hostnames, row.name, host.domain)
        changed = _copy(row, wanted)
        async with self._changing(host):  # checked under it: no other change can take a name
            problems = await self.check(changed)
            if problems:
                raise InvalidInput(problems)
            await self.ctx.set(row.id, hostnames=wanted)
            try:
                said = await self._route(host, changed)
            except BaseException:
                await self.ctx.set(row.id, hostnames=list(row.hostnames or []))
                raise
        if wanted[:1] != list(row.hostnames or [])[:1]:  # the built-ins follow the first name
            said += _environment_said(row)
        return _shown(changed, said)

    async def set_login(
        self, ref: str, login: Login | None, server: str | None, /
    ) -> InstallationHostnames:
        """Ask the front door for a tomo login of at least role `login` before any
        request reaches the installation by its names (None: no login). Applied at
        once when it has names; refused by the front door, the login stays as it was."""
        row = await self.ctx.find(ref, server)
        host = await self._server(row.server_id)
        if login is not None:
            self._check_door_url(row.name)
        async with self._changing(host):
            await self.ctx.set(row.id, door_login=login)
            changed = await self.ctx.load(row.id)
            try:
                said = await self._route(host, changed) if changed.hostnames else ""
            except BaseException:
                await self.ctx.set(row.id, door_login=row.door_login)
                raise
        return _shown(changed, _login_said(changed, said))

    async def login_for(self, url: str) -> Login | None:
        """The login the app routed at `url`'s host asks for (None: no app there asks
        for one, so tomo's door page sends nobody there)."""
        host = (urlsplit(url).hostname or "").lower()
        async with self.ctx.db.session() as session:
            rows = await session.scalars(
                select(Installation).where(Installation.door_login.is_not(None))
            )  # fmt: skip
            for row in rows:
                if host in (row.hostnames or []):
                    return row.door_login  # type: ignore[return-value]
        return None

    # -- RouteKeeper: the deployment's hooks ---------------------------------------------

    async def hostnames_wanted(self, server_id: str, name: str, given: list[str]) -> list[str]:
        """The names to record for an install that asked for `given`."""
        return hostnames_under(given, name, (await self._server(server_id)).domain)

    async def check(self, row: Installation) -> list[Refusal]:
        """Why the installation's hostnames cannot be routed ([] when they can)."""
        server = await self._server(row.server_id)
        problems = _unnamed_problems(row, server)
        if problems:
            return problems
        taken = await self._taken(row)
        for index, name in enumerate(row.hostnames or []):
            problem = _hostname_problem(name, server, taken)
            if problem:
                problems.append(Refusal(problem, (f"hostnames[{index}]",),
                                        "choose another with --hostname",
                                        page_hint="choose another hostname"))  # fmt: skip
        if row.hostnames and not problems:
            try:
                upstream_of(row)
            except InvalidInput as exc:
                problems += exc.problems
        return problems + self._login_problems(row)

    def _login_problems(self, row: Installation) -> list[Refusal]:
        """A login chosen at the install that cannot stand before the app."""
        if (row.config or {}).get("login") in (None, "off"):
            return []
        try:
            self._check_door_url(row.name)
        except InvalidInput as exc:
            return list(exc.problems)
        return []

    async def installed(self, row: Installation, *, new: bool = False) -> str:
        """Route the installation's hostnames; what was done, or why it was not. A new
        one first gets the login its definition asks for (an update keeps the one an
        admin chose)."""
        names = ", ".join(row.hostnames)
        unguarded = await self._login_as_asked(row) if new else ""
        try:
            server = await self._server(row.server_id)
            async with self._changing(server):
                said = await self._route(server, await self.ctx.load(row.id))
                if not new:  # the network shared with a container the update replaced
                    said += await self._forget_departed(server)
                return said + unguarded
        except InvalidInput as exc:
            # Names that cannot be routed (another install took one meanwhile) would
            # make every later config of the server refused: the record lets them go.
            await self.ctx.set(row.id, hostnames=[])
            return (f"the route for {names} was not made and its hostnames were dropped: "
                    f"{exc.message}; {row.name} still answers on its ports")  # fmt: skip
        except TomoError as exc:
            return (f"the route for {names} was not made: {exc.message}; {row.name} still "
                    "answers on its ports (`tomo hostname add` tries again)")  # fmt: skip

    async def _forget_departed(self, server: Server) -> str:
        """FrontDoor.forget_departed, said; one that fails leaves those networks,
        unused, for the next update (the routes stand either way)."""
        try:
            gone = await (await self._door(server.id)).forget_departed()
        except CommandFailed as exc:
            return (
                f"; the networks the front door shared with replaced containers stay: {exc.message}"
            )
        return f"; removed the network {', '.join(gone)}, which no container uses" if gone else ""

    async def _login_as_asked(self, row: Installation) -> str:
        """A new installation gets the login chosen at its install (`--login`), else
        the one its definition asks for (any signed-in tomo user); without tomo's
        address set it cannot, and what is returned says so (a login chosen was
        checked by the preflight)."""
        wanted = _login_wanted(row)
        if wanted is None or row.door_login is not None:
            return ""
        try:
            self._check_door_url(row.name)
        except InvalidInput as exc:
            return (f"; it asks for a login in front of it, which tomo could not put there "
                    f"({exc.message}), so anyone who reaches its names gets through")  # fmt: skip
        await self.ctx.set(row.id, door_login=wanted)
        return f"; only {WHO_GETS_THROUGH[wanted]} get through (tomo hostname login changes that)"

    async def removed(self, row: Installation) -> str:
        """The server's config applied without the installation's routes."""
        names = ", ".join(row.hostnames)
        try:
            server = await self._server(row.server_id)
            async with self._changing(server):
                door = await self._door(server.id)
                if not (await door.status()).exists:
                    return f"no front door routed {names}"
                await door.apply(await self._config(server))
                await door.disconnect(_routed_container(row), _own(row))
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
        routed = _routed_container(row)
        others = await door.connect(routed, routed, _own(row)) if row.hostnames else []
        began = time.monotonic()  # what Caddy logs from here on is about this config
        await door.apply(config)
        if not row.hostnames:
            await door.disconnect(routed, _own(row))
            return f"the front door routes no name to {row.name}"
        scheme = "http" if server.tls_mode == "off" else "https"
        names = ", ".join(f"{scheme}://{name}" for name in row.hostnames)
        said = f"routed {names} to {upstream_of(row).dial} through the front door"
        said += _also_on(row.name, others)
        missing = ""
        if server.tls_mode == "acme":
            found = await door.certificates(row.hostnames, began, server.acme_ca)
            missing = certificates_said(found)
        return f"{said}; {missing}; {row.name} still answers on its ports" if missing else said

    async def _run(self, server: Server, config: FrontDoorConfig) -> None:
        door = await self._door(server.id)
        await self._ensure(door, server)
        await door.apply(config)

    async def _ensure(self, door: FrontDoor, server: Server) -> None:
        """The front door made or started; one made anew reaches every routed app."""
        settings = self.ctx.settings
        made = await door.ensure(settings.proxy_image, settings.publish_address,
                                 server.proxy_http_port, server.proxy_https_port)  # fmt: skip
        if made:
            for row in await self._routed(server.id):
                with contextlib.suppress(CommandFailed, FrontDoorFailed):  # a 502 says so
                    await door.connect(_routed_container(row), _routed_container(row), _own(row))

    async def _door(self, server_id: str) -> FrontDoor:
        return await front_door(self.ctx, server_id)

    async def _config(self, server: Server, changed: Installation | None = None) -> FrontDoorConfig:
        """The whole config of the server's front door from the records (`changed` in
        place of its record); InvalidInput naming the field when it cannot be one."""
        rows = await self._routed(server.id)
        if changed is not None:
            rows = [row for row in rows if row.id != changed.id]
            rows += [changed] if changed.hostnames else []
        routes = tuple(Route(tuple(row.hostnames), upstream_of(row), self._door_check(row))
                       for row in sorted(rows, key=lambda row: row.name))  # fmt: skip
        try:
            return FrontDoorConfig(tls=server.tls_mode, base_domain=server.domain,  # type: ignore[arg-type]
                                   acme_ca=server.acme_ca, acme_email=server.acme_email,
                                   acme_ca_root=server.acme_ca_root,
                                   dns_provider=server.dns_provider,
                                   dns_credentials=self.ctx.open(server.dns_credentials_enc),
                                   routes=routes)  # fmt: skip
        except InvalidInput as exc:
            raise _as_settings(exc) from None

    def _door_check(self, row: Installation) -> ForwardAuth | None:
        """How the front door asks tomo about a request for the installation (None:
        it asks for no login); InvalidInput when tomo's address is not set, so that
        no config ever routes to the app without the login it asks for."""
        if row.door_login is None:
            return None
        base = self._check_door_url(row.name)
        open_paths, closed_paths = door_paths(AppDefinition.model_validate(row.definition))
        return ForwardAuth(f"{base}/door/check?role={row.door_login}", open_paths,
                           USER_HEADERS, closed_paths)  # fmt: skip

    def _check_door_url(self, name: str) -> str:
        """Where front doors reach tomo; InvalidInput naming the settings when unset."""
        settings = self.ctx.settings
        base = settings.door_url or settings.public_url
        if base is None or settings.public_url is None:
            raise InvalidInput([Refusal(
                f"a login in front of {name} needs tomo's address: set TOMO_PUBLIC_URL (how "
                "browsers reach tomo) and, when the servers reach it at another, TOMO_DOOR_URL",
                ("login",))])  # fmt: skip
        return base.rstrip("/")

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


_SETTINGS = ("domain", "tls_mode", "acme_ca", "acme_email", "acme_ca_root", "dns_provider",
             "dns_credentials_enc", "proxy_http_port", "proxy_https_port")  # fmt: skip


def _with_settings(server: Server, settings: DomainSettings, dns_sealed: str | None) -> Server:
    """A detached copy of the server's row with the new settings (the ports kept
    when not given, the DNS provider's credentials as sealed); InvalidInput when the
    ports are one."""
    http_port = settings.http_port or server.proxy_http_port
    https_port = settings.https_port or server.proxy_https_port
    if http_port == https_port:
        raise InvalidInput([Refusal(f"HTTP and HTTPS cannot share port {http_port}",
                                    ("https_port",))])  # fmt: skip
    copy = Server(**{column: getattr(server, column) for column in ("id", "name", "host")})
    values = (settings.domain or None, settings.tls, settings.acme_ca, settings.acme_email,
              settings.acme_ca_root, settings.dns_provider or None, dns_sealed, http_port,
              https_port)  # fmt: skip
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


def _unnamed_problems(row: Installation, server: Server) -> list[Refusal]:
    """An app served by its name only, left without one, or given `auto` on a server
    with no base domain to name it under."""
    if not AppDefinition.model_validate(row.definition).needs_hostname:
        return []
    if not row.hostnames:
        return [Refusal(f"{row.name} is served by its name only (its catalog says so): keep "
                        "at least one hostname", ("hostnames",))]  # fmt: skip
    if row.hostnames == [AUTO] and server.domain is None:
        return [Refusal(f"{row.name} is served by its name only (its catalog says so) and "
                        f"server '{server.name}' has no base domain to name it under: set one "
                        f"(tomo server update {server.name} --domain DOMAIN) or give it a "
                        "whole hostname", ("hostnames[0]",), "choose one with --hostname",
                        page_hint="give a whole hostname")]  # fmt: skip
    return []


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


def upstream_of(row: Installation) -> Upstream:
    """The container and port the definition's `proxy` names (by default the main
    one and its first TCP port), as the front door dials it; InvalidInput when it
    has no such port, or is not on a network of its own."""
    definition = AppDefinition.model_validate(row.definition)
    service, port = definition.routed
    routed = definition.all_services[service]
    name = container_names(definition, row.name)[service]
    if routed.network_mode not in (None, *BRIDGE_MODES):  # those are tomo's networks
        raise InvalidInput([Refusal(f"{row.name} runs with network_mode {routed.network_mode}: "
                                    "the front door cannot reach it by name",
                                    ("hostnames",))])  # fmt: skip
    if port is None:
        raise InvalidInput([Refusal(f"{row.name} listens on no TCP port for the front door "
                                    "to send requests to", ("hostnames",))])  # fmt: skip
    return Upstream(name, port, tls=(definition.proxy or AppProxy()).tls)


def _also_on(name: str, networks: list[str]) -> str:
    """What else reaches the app without the front door (its login included)."""
    if not networks:
        return ""
    shown = ", ".join("Docker's default bridge" if n == "bridge" else f"network {n}"
                      for n in networks)  # fmt: skip
    said = f"; {name} is also on {shown}, where other containers reach it without the front door"
    if "bridge" in networks:
        said += f" (until its next update, tomo update {name}, puts it on a network of its own)"
    return said


def _own(row: Installation) -> str | None:
    """The installation's own network, the one the front door joins when the app is
    on it (an app named after its install is not, until its next update)."""
    definition = AppDefinition.model_validate(row.definition)
    return network_name(definition, row.name, named=True)


def _environment_said(row: Installation) -> str:
    """What the app's containers still have of its old names: values made of the
    name built-ins are worked out at an install or an update, not while it runs."""
    used = sorted(NAME_BUILTINS.intersection(references(json.dumps(row.definition))))
    if not used:
        return ""
    return (
        f"; {row.name}'s environment ({', '.join(used)}) keeps what it was until "
        f"its next update (tomo update {row.name})"
    )


def _routed_container(row: Installation) -> str:
    """The container the front door sends the installation's requests to (the one
    its definition's `proxy` names; by default the main one)."""
    definition = AppDefinition.model_validate(row.definition)
    return container_names(definition, row.name)[definition.routed[0]]


def _route_shown(row: Installation) -> ProxyRoute:
    return ProxyRoute(installation_id=row.id, installation=row.name,
                      hostnames=list(row.hostnames), upstream=upstream_of(row).dial,
                      login=row.door_login)  # fmt: skip


def _copy(row: Installation, hostnames: list[str]) -> Installation:
    """A detached copy of the installation's row with other hostnames."""
    columns = ("id", "server_id", "name", "definition", "status", "door_login")
    copy = Installation(**{column: getattr(row, column) for column in columns})
    copy.hostnames = hostnames
    return copy


def _shown(row: Installation, said: str = "") -> InstallationHostnames:
    return InstallationHostnames(installation_id=row.id, installation=row.name,
                                 server_id=row.server_id, hostnames=list(row.hostnames or []),
                                 login=row.door_login, said=said)  # fmt: skip


def _login_wanted(row: Installation) -> Login | None:
    """The role a new installation's login asks for: as chosen at its install,
    else as its definition asks (None: no login)."""
    asks = AppDefinition.model_validate(row.definition).asks_login
    return LOGIN_WORDS[login_word((row.config or {}).get("login"), definition_asks=asks)]


def _login_said(row: Installation, routed: str) -> str:
    who = WHO_GETS_THROUGH.get(row.door_login or "")
    asks = f"only {who} get through to {row.name}" if who else f"{row.name} asks for no login"
    if not row.hostnames:
        return f"{asks} once it has a name (tomo hostname add)"
    return f"{asks} by {', '.join(row.hostnames)}"


def door_paths(definition: AppDefinition) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The paths the definition leaves open behind a login, and those closed anyway."""
    proxy = definition.proxy
    if proxy is None:
        return (), ()
    return tuple(proxy.open_paths), tuple(proxy.closed_paths)


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
    from cryptography import x509  # here: most commands never read a certificate

    return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
