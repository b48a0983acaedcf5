"""ServerService: the servers registry, host-key trust and health checks.

Nothing runs on a server until its host key is pinned: adding a server reads
the key it presents, and logs in only once that key is confirmed (by the
fingerprint the user expects, or by the user's consent). That first login
proves the credentials and gathers the facts; a server whose login fails is
not stored, and a key whose login fails is not pinned. Credentials are
encrypted before they are stored and decrypted only to build an SSHTarget for
a connection.

A login changes the same way: the new one is tried (where tomo may log in: a
trusted server at the same address) before it replaces the old one, which stays
if the server refuses it. A key pair tomo generates for a server already in use
waits for that try in memory, sealed: a restart drops it, and a key on no server
yet is cheap to make again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.db import Database, find_by_id_or_name
from tomo.errors import (
    AuthenticationFailed,
    Conflict,
    HostKeyChanged,
    InvalidInput,
    NotFound,
    Refusal,
    RemoteError,
    ServerExists,
    ServerInUse,
    ServerNotFound,
    ServerTimeout,
    ServerUnreachable,
)
from tomo.servers.facts import ServerFacts, gather_facts
from tomo.servers.keys import KeyPair, PublicHalf, generate_key_pair, public_half
from tomo.servers.looks import Looks
from tomo.servers.models import Server
from tomo.servers.schemas import (
    HostKeyScan,
    PublicKey,
    ServerAdded,
    ServerCreate,
    ServerPublic,
    ServerUpdate,
    check_fingerprint,
    public,
)
from tomo.servers.ssh import HostKey, SSHCredentials, SSHService, SSHTarget, check_private_key
from tomo.servers.swarm import SwarmNode, read_nodes, swarm_summary
from tomo.slugs import allocate_id

if TYPE_CHECKING:
    from pydantic import SecretStr

# What update_server sets as given; the login (credentials) has a way of its own.
SETTINGS = frozenset({"name", "host", "port", "username", "data_root", "use_sudo"})


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
        self._waiting_keys: dict[str, str] = {}  # server id -> a generated key, sealed
        # A Swarm's nodes as last read from its manager (see looks.py: why kept).
        self._nodes: Looks[list[SwarmNode]] = Looks(
            settings.ssh_status_timeout, what="its Swarm's nodes"
        )
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
        then tomo logs in once, and stores the server only if that login works.

        With `generate_key`, tomo makes the key pair and answers its public key; no
        login is tried (that key is on no server yet): trust the host key once the
        public key is there."""
        _check_private_key(request.private_key, request.passphrase)
        key = await self.ssh.fetch_host_key(request.name, request.host, request.port)
        if request.fingerprint is not None and request.fingerprint != key.fingerprint:
            raise HostKeyChanged(request.name, request.fingerprint, key.fingerprint, expected=True)
        async with self.db.session() as session:  # a name already taken is told before asking
            server_id = await self._new_id(session, request.id, request.name)
        made = generate_key_pair(f"tomo@{server_id}") if request.generate_key else None
        server = self._new_row(request, server_id, made)
        if made is None and (
            request.fingerprint is not None or (confirm is not None and confirm(key.fingerprint))
        ):
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
            shown = _public_key(server, made.public, pending=False) if made else None
            return ServerAdded(server=public(server), host_key=_scan(server, key), public_key=shown)

    def _new_row(self, request: ServerCreate, server_id: str, made: KeyPair | None) -> Server:
        login = SSHCredentials(private_key=made.private_key) if made else _given(
            request.private_key, request.passphrase, request.password
        )  # fmt: skip
        return Server(
            id=server_id, name=request.name.strip(), host=request.host, port=request.port,
            username=request.username, auth_type=_auth_type(login),
            data_root=request.data_root, use_sudo=request.use_sudo, status="unknown",
            created_at=datetime.now(UTC), **self._sealed(login),
        )  # fmt: skip

    def _sealed(self, login: SSHCredentials) -> dict[str, str | None]:
        """A login as the row keeps it: each secret encrypted, a way not taken cleared."""

        def seal(secret: str | None) -> str | None:
            return self.secrets.encrypt(secret) if secret is not None else None

        return {
            "password_enc": seal(login.password),
            "private_key_enc": seal(login.private_key),
            "passphrase_enc": seal(login.passphrase),
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
        """Change where or how to reach a server. A new address needs a new trust; a
        new login is tried first where tomo may log in (trusted, same address), and
        if the server refuses it nothing changes."""
        async with self.db.session() as session:
            server = await self._find(session, ref)
        login = self._new_login(server, changes)
        facts = None
        if login is not None and server.host_key is not None and not changes.moves:
            facts = await self._try_login(server, changes, login)
        async with self.db.session() as session:
            row = await self._find(session, server.id)
            self._apply(row, changes, login, facts)
            try:
                await session.commit()
            except IntegrityError:
                raise ServerExists(f"a server named '{changes.name}' already exists") from None
            if login is not None:
                self._waiting_keys.pop(row.id, None)
            await self.ssh.forget(row.id)  # connections made as before end here
            return public(row)

    def _new_login(self, server: Server, changes: ServerUpdate) -> SSHCredentials | None:
        """The login a change asks for, in clear for the try; None: it stays."""
        if changes.generated_key:
            return SSHCredentials(private_key=self._waiting_key(server))
        if not changes.changes_login:
            return None
        _check_private_key(changes.private_key, changes.passphrase)
        return _given(changes.private_key, changes.passphrase, changes.password)

    async def _try_login(
        self, server: Server, changes: ServerUpdate, login: SSHCredentials
    ) -> ServerFacts:
        """Log in as the change asks (on a connection of its own: the server's keep
        working meanwhile) and learn the facts, as a test does."""
        target = replace(self._target_of(server, login), pool=f"{server.id}#new-login",
                         username=changes.username or server.username)  # fmt: skip
        try:
            return await gather_facts(self.ssh, target, changes.data_root or server.data_root)
        except RemoteError as exc:
            kept = exc.with_message(f"{exc.message}; the old login is kept")
            if isinstance(exc, AuthenticationFailed):
                raise kept.concerning(_login_field(changes)) from None
            raise kept from None
        finally:
            await self.ssh.forget(target.pool_key)

    def _apply(
        self, server: Server, changes: ServerUpdate, login: SSHCredentials | None,
        facts: ServerFacts | None,
    ) -> None:  # fmt: skip
        for field, value in changes.model_dump(exclude_none=True, include=set(SETTINGS)).items():
            setattr(server, field, value.strip() if field == "name" else value)
        if changes.moves:
            _unpin(server)  # another address is another machine until proven otherwise
        if login is not None:
            server.auth_type = _auth_type(login)
            for column, sealed in self._sealed(login).items():
                setattr(server, column, sealed)
        if facts is not None:
            _checked(server, status="online", error=None, facts=facts)

    # -- key pairs ------------------------------------------------------------

    async def generate_key(self, ref: str) -> PublicKey:
        """Make a key pair to replace a server's login: it waits (see the module's
        note) until update_server with `generated_key` tries it and keeps it."""
        async with self.db.session() as session:
            server = await self._find(session, ref)
        made = generate_key_pair(f"tomo@{server.id}")
        self._waiting_keys[server.id] = self.secrets.encrypt(made.private_key)
        return _public_key(server, made.public, pending=True)

    async def public_key(self, ref: str) -> PublicKey:
        """The public half of tomo's key for a server: the one waiting to be tried,
        else the one it logs in with."""
        async with self.db.session() as session:
            server = await self._find(session, ref)
        waiting = self._waiting_keys.get(server.id)
        if waiting is not None:
            return _public_key(server, public_half(self.secrets.decrypt(waiting)), pending=True)
        login = self._credentials_of(server)
        if login.private_key is None:
            raise NotFound(f"server '{server.name}' logs in with a password: it has no key yet "
                           "(generate one)")  # fmt: skip
        own = public_half(login.private_key, login.passphrase)
        return _public_key(server, own, pending=False)

    def _waiting_key(self, server: Server) -> str:
        sealed = self._waiting_keys.get(server.id)
        if sealed is None:
            raise InvalidInput([Refusal(
                f"no generated key waits for server '{server.name}' (tomo keeps one only until "
                "it restarts): generate one again", ("generated_key",),
            )])  # fmt: skip
        return self.secrets.decrypt(sealed)

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
        self._waiting_keys.pop(removed.id, None)
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
        self._nodes.forget(server.id)  # a test reads everything afresh
        return await self._record(ref, status="online", error=None, facts=facts)

    async def swarm_nodes(self, ref: str, *, fresh: bool = False) -> list[SwarmNode]:
        """The nodes of the Swarm a server manages, read from it at most once every
        30 s (`fresh`: now); refused on a server whose last check found no manager."""
        async with self.db.session() as session:
            server = await self._find(session, ref)
        _check_manager(server)
        target = self._target_of(server)
        if fresh:
            self._nodes.forget(server.id)
        return await self._nodes.look(server.id, server.name, lambda: read_nodes(self.ssh, target))

    async def target(self, ref: str) -> SSHTarget:
        """How to reach a server, with its credentials decrypted for this use."""
        async with self.db.session() as session:
            return self._target_of(await self._find(session, ref))

    def _target_of(self, server: Server, login: SSHCredentials | None = None) -> SSHTarget:
        """How to reach a server: with its own login, or with `login` (being tried)."""
        return SSHTarget(
            key=server.id, name=server.name, host=server.host, port=server.port,
            username=server.username, credentials=login or self._credentials_of(server),
            host_key=server.host_key, use_sudo=server.use_sudo,
            architecture=(server.facts or {}).get("architecture"),
        )  # fmt: skip

    def _credentials_of(self, server: Server) -> SSHCredentials:
        open_ = self.secrets.decrypt
        return SSHCredentials(
            password=open_(server.password_enc) if server.password_enc else None,
            private_key=open_(server.private_key_enc) if server.private_key_enc else None,
            passphrase=open_(server.passphrase_enc) if server.passphrase_enc else None,
        )

    async def _record(
        self, ref: str, *, status: str, error: str | None, facts: ServerFacts | None = None
    ) -> ServerPublic:
        async with self.db.session() as session:
            server = await self._find(session, ref)
            _checked(server, status=status, error=error, facts=facts)
            await session.commit()
            return public(server)


def _check_private_key(private_key: SecretStr | None, passphrase: SecretStr | None) -> None:
    """A key that can never load is bad input, found before anything is asked."""
    if private_key is None:
        return
    check_private_key(private_key.get_secret_value(), _revealed(passphrase))


def _given(
    private_key: SecretStr | None, passphrase: SecretStr | None, password: SecretStr | None
) -> SSHCredentials:
    """A login as a request gives it."""
    return SSHCredentials(password=_revealed(password), private_key=_revealed(private_key),
                          passphrase=_revealed(passphrase))  # fmt: skip


def _revealed(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _auth_type(login: SSHCredentials) -> str:
    return "password" if login.password is not None else "key"


def _login_field(changes: ServerUpdate) -> str:
    """The field of a refused new login, as its request named it."""
    if changes.password is not None:
        return "password"
    return "private_key" if changes.private_key is not None else "generated_key"


def _public_key(server: Server, half: PublicHalf, *, pending: bool) -> PublicKey:
    return PublicKey(server_id=server.id, username=server.username, public_key=half.line,
                     fingerprint=half.fingerprint, pending=pending)  # fmt: skip


def _checked(server: Server, *, status: str, error: str | None, facts: ServerFacts | None) -> None:
    """What a check found, written onto the server's row."""
    server.status, server.last_error = status, error
    now = datetime.now(UTC)
    if status == "online":
        server.last_seen = now
    if facts is not None:
        server.facts, server.facts_at = facts.model_dump(mode="json"), now


def _check_manager(server: Server) -> None:
    """A Swarm's nodes are asked of a manager: say what else the server is."""
    swarm = ServerFacts.model_validate(server.facts).swarm if server.facts else None
    if swarm is not None and swarm.role == "manager":
        return
    found = (
        "no check has found what it is yet" if server.facts is None
        else swarm_summary(swarm) if swarm is not None
        else "its last check found an engine in no Swarm"
    )  # fmt: skip
    raise Conflict(f"server '{server.name}' is no Docker Swarm manager ({found}): if it is one "
                   f"now, run `tomo server test {server.id}` first")  # fmt: skip


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
