"""ServerService: the servers registry, host-key trust and health checks.

Nothing runs on a server until its host key is pinned: adding a server reads
the key it presents, and logs in only once that key is confirmed (by the
fingerprint the user expects, or by the user's consent). That first login
proves the credentials and gathers the facts; a server whose login fails is
not stored, and a key whose login fails is not pinned. Credentials are
encrypted before they are stored and decrypted only to build an SSHTarget for
a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.db import Database, find_by_id_or_name
from tomo.errors import (
    HostKeyChanged,
    InvalidInput,
    Refusal,
    RemoteError,
    ServerExists,
    ServerInUse,
    ServerNotFound,
    ServerTimeout,
    ServerUnreachable,
)
from tomo.servers.facts import ServerFacts, gather_facts
from tomo.servers.models import Server
from tomo.servers.schemas import (
    HostKeyScan,
    ServerAdded,
    ServerCreate,
    ServerPublic,
    ServerUpdate,
    check_fingerprint,
    public,
)
from tomo.servers.ssh import HostKey, SSHCredentials, SSHService, SSHTarget, check_private_key
from tomo.slugs import allocate_id


class ServerDependent(Protocol):
    """Something that keeps records on servers (deployment's installations): asked
    before a server goes, so this package needs to know nothing of it."""

    async def uses_of_server(self, server_id: str) -> list[str]: ...

    async def forget_server(self, server_id: str) -> None: ...


class ServerService:
    def __init__(self, db: Database, settings: Settings, ssh: SSHService, secrets: Secrets) -> None:
        self.db = db
        self.settings = settings
        self.ssh = ssh
        self.secrets = secrets
        self._dependents: list[ServerDependent] = []
        ssh.on_contact = self._record_contact

    async def _record_contact(self, server_id: str, error: RemoteError | None) -> None:
        """Any login makes a server online again (last seen now); a server that cannot
        be reached is offline, with the reason. Only a change is written."""
        status = "online" if error is None else "offline"
        values: dict[str, object] = {"status": status, "last_error": error and error.reason}
        if error is None:
            values["last_seen"] = datetime.now(UTC)
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Server).where(Server.id == server_id, Server.status != status)
                .values(**values)
            )  # fmt: skip

    def add_dependent(self, dependent: ServerDependent) -> None:
        self._dependents.append(dependent)

    # -- registry -------------------------------------------------------------

    async def add_server(
        self, request: ServerCreate, *, confirm: Callable[[str], bool] | None = None
    ) -> ServerAdded:
        """Register a server and read its host key. The key is pinned when it has
        the fingerprint the user expects, or when `confirm(fingerprint)` consents;
        then tomo logs in once, and stores the server only if that login works."""
        _check_private_key(request)
        key = await self.ssh.fetch_host_key(request.name, request.host, request.port)
        if request.fingerprint is not None and request.fingerprint != key.fingerprint:
            raise HostKeyChanged(request.name, request.fingerprint, key.fingerprint, expected=True)
        async with self.db.session() as session:  # a name already taken is told before asking
            server = self._new_row(request, await self._new_id(session, request.id, request.name))
        if request.fingerprint is not None or (confirm is not None and confirm(key.fingerprint)):
            facts = await self._first_login(server, key, unless="the server was not added")
            _pin(server, key)
            _checked(server, status="online", error=None, facts=facts)
        async with self.db.session() as session:
            session.add(server)
            try:
                await session.commit()
            except IntegrityError:
                await self.ssh.forget(server.id)
                raise ServerExists(f"a server named '{request.name}' already exists") from None
            return ServerAdded(server=public(server), host_key=_scan(server, key))

    def _new_row(self, request: ServerCreate, server_id: str) -> Server:
        return Server(
            id=server_id, name=request.name.strip(), host=request.host, port=request.port,
            username=request.username, auth_type=request.auth_type,
            data_root=request.data_root, use_sudo=request.use_sudo, status="unknown",
            created_at=datetime.now(UTC), **self._encrypted(request),
        )  # fmt: skip

    def _encrypted(self, request: ServerCreate) -> dict[str, str | None]:
        def seal(secret: object) -> str | None:
            value = getattr(secret, "get_secret_value", None)
            return self.secrets.encrypt(value()) if value else None

        return {
            "password_enc": seal(request.password),
            "private_key_enc": seal(request.private_key),
            "passphrase_enc": seal(request.passphrase),
        }

    async def _new_id(self, session: AsyncSession, wanted: str | None, name: str) -> str:
        if await session.scalar(select(Server.id).where(Server.name == name.strip())):
            raise ServerExists(f"a server named '{name}' already exists")
        return await allocate_id(session, Server.id, wanted=wanted, name=name, what="server",
                                 taken_error=ServerExists)  # fmt: skip

    async def list_servers(self) -> list[ServerPublic]:
        async with self.db.session() as session:
            return [public(s) for s in await session.scalars(select(Server).order_by(Server.id))]

    async def get_server(self, ref: str) -> ServerPublic:
        async with self.db.session() as session:
            return public(await self._find(session, ref))

    async def update_server(self, ref: str, changes: ServerUpdate) -> ServerPublic:
        """Change where or how to reach a server; a new address needs a new trust."""
        async with self.db.session() as session:
            server = await self._find(session, ref)
            for field, value in changes.model_dump(exclude_none=True).items():
                setattr(server, field, value.strip() if field == "name" else value)
            if changes.host is not None or changes.port is not None:
                _unpin(server)  # another address is another machine until proven otherwise
            try:
                await session.commit()
            except IntegrityError:
                raise ServerExists(f"a server named '{changes.name}' already exists") from None
            await self.ssh.forget(server.id)
            return public(server)

    async def remove_server(self, ref: str, *, force: bool = False) -> ServerPublic:
        """Forget a server; refused while installations live there unless forced.

        Nothing on the host is touched either way: a forced removal forgets the
        installations too, and their containers keep running.
        """
        removed = await self.get_server(ref)
        names = [name for d in self._dependents for name in await d.uses_of_server(removed.id)]
        if names and not force:
            raise ServerInUse(
                f"server '{removed.name}' still has {len(names)} installation(s) "
                f"({', '.join(names)}); uninstall them first, or remove with --force "
                "(tomo then forgets them; their containers stay on the host)"
            )
        for dependent in self._dependents:
            await dependent.forget_server(removed.id)
        async with self.db.session() as session, session.begin():
            await session.delete(await self._find(session, removed.id))
        await self.ssh.forget(removed.id)
        return removed

    async def _find(self, session: AsyncSession, ref: str) -> Server:
        missing = ServerNotFound(f"no server with id or name '{ref}'")
        return await find_by_id_or_name(session, Server, ref, missing)

    # -- host keys ------------------------------------------------------------

    async def scan_host_key(self, ref: str) -> HostKeyScan:
        """The key the server presents now, next to the pinned one."""
        server = await self.get_server(ref)
        key = await self.ssh.fetch_host_key(server.name, server.host, server.port)
        async with self.db.session() as session:
            return _scan(await self._find(session, ref), key)

    async def trust_server(self, ref: str, fingerprint: str) -> ServerPublic:
        """Pin the key the server presents, only if it has this fingerprint and
        tomo can log in with it (the login gathers the facts)."""
        try:
            expected = check_fingerprint(fingerprint)
        except ValueError as error:
            raise InvalidInput([Refusal(f"fingerprint: {error}", ("fingerprint",))]) from None
        async with self.db.session() as session:
            server = await self._find(session, ref)
        key = await self.ssh.fetch_host_key(server.name, server.host, server.port)
        if key.fingerprint != expected:
            raise HostKeyChanged(server.name, expected, key.fingerprint, expected=True)
        await self.ssh.forget(server.id)  # a connection made under the old key ends here
        facts = await self._first_login(server, key, unless="its host key was not trusted")
        async with self.db.session() as session:
            row = await self._find(session, server.id)
            _pin(row, key)
            _checked(row, status="online", error=None, facts=facts)
            await session.commit()
            return public(row)

    async def _first_login(self, server: Server, key: HostKey, *, unless: str) -> ServerFacts:
        """Log in with the key just confirmed and learn what the server is; on
        failure nothing of it is kept, not even the connection, and the error
        says what did not happen (`unless`)."""
        target = replace(self._target_of(server), host_key=key.public_key)
        try:
            return await gather_facts(self.ssh, target, server.data_root)
        except RemoteError as exc:
            await self.ssh.forget(server.id)
            raise exc.with_message(f"{exc.message}; {unless}") from None

    # -- checks ---------------------------------------------------------------

    async def test_server(self, ref: str) -> ServerPublic:
        """Log in, refresh the facts and the status; a failure is recorded and raised."""
        async with self.db.session() as session:
            server = await self._find(session, ref)
        try:
            facts = await gather_facts(self.ssh, self._target_of(server), server.data_root)
        except RemoteError as exc:
            await self._record(ref, status=_status_for(exc), error=exc.reason)
            raise
        return await self._record(ref, status="online", error=None, facts=facts)

    async def target(self, ref: str) -> SSHTarget:
        """How to reach a server, with its credentials decrypted for this use."""
        async with self.db.session() as session:
            return self._target_of(await self._find(session, ref))

    def _target_of(self, server: Server) -> SSHTarget:
        open_ = self.secrets.decrypt
        credentials = SSHCredentials(
            password=open_(server.password_enc) if server.password_enc else None,
            private_key=open_(server.private_key_enc) if server.private_key_enc else None,
            passphrase=open_(server.passphrase_enc) if server.passphrase_enc else None,
        )
        return SSHTarget(
            key=server.id, name=server.name, host=server.host, port=server.port,
            username=server.username, credentials=credentials, host_key=server.host_key,
            use_sudo=server.use_sudo,
        )  # fmt: skip

    async def _record(
        self, ref: str, *, status: str, error: str | None, facts: ServerFacts | None = None
    ) -> ServerPublic:
        async with self.db.session() as session:
            server = await self._find(session, ref)
            _checked(server, status=status, error=error, facts=facts)
            await session.commit()
            return public(server)


def _check_private_key(request: ServerCreate) -> None:
    """A key that can never load is bad input, found before anything is asked."""
    if request.private_key is None:
        return
    passphrase = request.passphrase.get_secret_value() if request.passphrase else None
    check_private_key(request.private_key.get_secret_value(), passphrase)


def _checked(server: Server, *, status: str, error: str | None, facts: ServerFacts | None) -> None:
    """What a check found, written onto the server's row."""
    server.status, server.last_error = status, error
    now = datetime.now(UTC)
    if status == "online":
        server.last_seen = now
    if facts is not None:
        server.facts, server.facts_at = facts.model_dump(mode="json"), now


def _status_for(exc: RemoteError) -> str:
    if isinstance(exc, ServerUnreachable | ServerTimeout):
        return "offline"
    return "error"


def _pin(server: Server, key: HostKey) -> None:
    server.host_key, server.host_key_fingerprint = key.public_key, key.fingerprint


def _unpin(server: Server) -> None:
    server.host_key = server.host_key_fingerprint = None
    server.status = "unknown"


def _scan(server: Server, key: HostKey) -> HostKeyScan:
    return HostKeyScan(
        server_id=server.id, fingerprint=key.fingerprint, algorithm=key.algorithm,
        pinned_fingerprint=server.host_key_fingerprint,
        matches_pinned=server.host_key_fingerprint == key.fingerprint,
    )  # fmt: skip
