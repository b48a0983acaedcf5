"""SSHService: run argv on a server over a pooled, pinned, time-limited connection.

Callers hand over an argv list; this module quotes it (`shlex.join`) for the
remote shell, so no caller ever builds a command string. One connection per
server is reused, with a cap on concurrent channels, keepalives, and one
transparent reconnect when a pooled connection turns out to be dead before a
command starts. Every asyncssh or socket failure becomes a domain error that
names the server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import shlex
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

from tomo.errors import (
    AuthenticationFailed,
    CommandFailed,
    DockerUnavailable,
    HostKeyChanged,
    HostKeyUnknown,
    InvalidInput,
    Refusal,
    RemoteError,
    ServerTimeout,
    ServerUnreachable,
)
from tomo.lazy import lazy_import
from tomo.servers.docker_access import daemon_problem

if TYPE_CHECKING:
    import asyncssh
else:  # loaded at the first connection: commands that reach no server never pay for it
    asyncssh = lazy_import("asyncssh")

# The ciphers for a server whose CPU has AES instructions (every x86-64 one for a
# decade): AES-GCM is done by OpenSSL in one call per packet, where asyncssh's
# default, ChaCha20-Poly1305, takes several: measured on loopback, 1 GiB through
# the pump costs 1.4 s with aes128-gcm against 3.1 s (benchmarks/bench_backup.py
# streams app data this way). Other servers (a Raspberry Pi 4 has no AES
# instructions, and ChaCha20 is several times faster for its sshd) keep asyncssh's
# order.
AES_FIRST = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
             "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr")  # fmt: skip
AES_SERVERS = ("amd64",)
KEEPALIVE_SECONDS = 15
KEEPALIVE_MISSES = 3
_COMMAND_SHOWN = 80  # characters of a failed command quoted in its error


@dataclass(frozen=True)
class SSHCredentials:
    """How tomo logs in to a server: a password, or a private key (and its
    passphrase); a repr never shows them."""

    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SSHTarget:
    """Everything needed to reach one server; built by ServerService."""

    key: str  # pool key: the server id
    name: str  # shown in errors
    host: str
    port: int
    username: str
    credentials: SSHCredentials = field(repr=False)
    host_key: str | None  # pinned OpenSSH public key line; None: not trusted yet
    use_sudo: bool = False
    pool: str = ""  # the connection it uses, when not the server's own (see LOGS)
    architecture: str | None = None  # as its last check found it (cipher choice)

    @property
    def pool_key(self) -> str:
        return self.pool or self.key


@dataclass(frozen=True)
class HostKey:
    fingerprint: str  # SHA256:…
    public_key: str  # OpenSSH public key line
    algorithm: str


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class SSHTimeouts:
    connect: float = 10.0
    login: float = 20.0
    command: float = 300.0


class _PinnedKeyClient:
    """Accepts only the pinned key (via known_hosts); remembers what was shown. An
    asyncssh.SSHClient (see `_client`), made a class only when asyncssh loads."""

    presented: asyncssh.SSHKey | None


def _client() -> _PinnedKeyClient:
    return _client_class()()


@functools.cache
def _client_class() -> type[_PinnedKeyClient]:
    class PinnedKeyClient(asyncssh.SSHClient, _PinnedKeyClient):
        def __init__(self) -> None:
            self.presented = None

        def validate_host_public_key(
            self, host: str, addr: str, port: int, key: asyncssh.SSHKey
        ) -> bool:
            self.presented = key
            return False

    return PinnedKeyClient


# Connections per server: one for commands (operations, status), one for log
# streams that may stay open for hours; each has its own channels, so no number of
# followed logs can leave an operation waiting for one.
COMMANDS = "commands"
LOGS = "logs"


def _on_lane(target: SSHTarget, lane: str) -> SSHTarget:
    return target if lane == COMMANDS else replace(target, pool=f"{target.key}#{lane}")


# Told of every login to a server (None) and every failure to reach it (the error),
# by the server's pool key: ServerService keeps the server's status with it.
ContactListener = Callable[[str, RemoteError | None], Awaitable[None]]


class SSHService:
    def __init__(self, timeouts: SSHTimeouts | None = None, max_channels: int = 8) -> None:
        self.timeouts = timeouts or SSHTimeouts()
        self.max_channels = max_channels
        self.on_contact: ContactListener | None = None
        self._connections: dict[str, asyncssh.SSHClientConnection] = {}
        self._connect_locks: dict[str, asyncio.Lock] = {}
        self._channels: dict[str, asyncio.Semaphore] = {}

    # -- commands -----------------------------------------------------------

    async def run(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        *,
        check: bool = True,
        time_limit: float | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run argv on the target; CommandFailed on a non-zero exit if `check`."""
        command = shlex.join(argv)
        limit = time_limit or self.timeouts.command
        async with self._channel(target):
            process = await self._start(target, command)
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a
                # cancellation (Ctrl-C) that arrives as the command ends, and the
                # operation would go on as if nobody had asked it to stop.
                async with asyncio.timeout(limit):
                    done = await process.communicate(stdin)
            except TimeoutError:
                process.close()
                raise _ran_past(target, command, limit) from None
            except (asyncssh.Error, OSError) as exc:
                self._forget(target.pool_key)
                raise _lost(target, exc) from None
        stdout, stderr = done
        exit_code = _exit_code(process)
        if exit_code is None:  # the channel closed without a status: the link died
            self._forget(target.pool_key)
            raise ServerUnreachable(target.name, "connection lost before the command finished")
        result = CommandResult(exit_code, _text(stdout), _text(stderr))
        if check and result.exit_code != 0:
            raise CommandFailed(target.name, _shown(command), result.exit_code, result.stderr)
        return result

    async def run_docker(
        self,
        target: SSHTarget,
        args: Sequence[str],
        *,
        check: bool = True,
        time_limit: float | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run `docker ARGS`, through `sudo -n` where the server needs it.

        A daemon that is down or refuses the user is DockerUnavailable, whether
        or not `check` is set: no caller can make sense of that output.
        """
        argv = docker_argv(target, args)
        result = await self.run(target, argv, check=False, time_limit=time_limit, stdin=stdin)
        if result.exit_code != 0:
            problem = daemon_problem(target.username, result.stderr)
            if problem:
                raise DockerUnavailable(target.name, problem)
            if check:
                raise CommandFailed(target.name, _shown(shlex.join(argv)), result.exit_code,
                                    result.stderr)  # fmt: skip
        return result

    async def stream(
        self, target: SSHTarget, argv: Sequence[str], *, time_limit: float | None = None,
        lane: str = COMMANDS,
    ) -> AsyncIterator[str]:  # fmt: skip
        """Yield output lines (stdout and stderr merged, in order) as they come.
        `lane=LOGS` runs it on a connection of its own (see LOGS)."""
        # Merged on the server, into one pipe, so the order is the order written.
        command = shlex.join(["sh", "-c", 'exec "$@" 2>&1', "tomo-stream", *argv])
        limit = time_limit or self.timeouts.command
        tail: collections.deque[str] = collections.deque(maxlen=5)
        target = _on_lane(target, lane)
        async with self._channel(target):
            process = await self._start(target, command)
            try:
                async with asyncio.timeout(limit):
                    async for line in process.stdout:
                        if not line:  # "" is end of output; an empty line is "\n"
                            break
                        tail.append(line.rstrip("\n"))
                        yield tail[-1]
                    await process.wait()
            except TimeoutError:
                raise _ran_past(target, command, limit) from None
            except (asyncssh.Error, OSError) as exc:
                self._forget(target.pool_key)
                raise _lost(target, exc) from None
            finally:
                process.close()
        exit_code = _exit_code(process)
        if exit_code is None:
            self._forget(target.pool_key)
            raise ServerUnreachable(target.name, "connection lost before the command finished")
        if exit_code != 0:  # the output's last lines say why (stderr is merged into it)
            raise CommandFailed(target.name, _shown(shlex.join(argv)), exit_code, "\n".join(tail))

    # -- host keys ----------------------------------------------------------

    async def fetch_host_key(self, name: str, host: str, port: int) -> HostKey:
        """The key the server presents now (no login; nothing runs there)."""
        try:
            async with asyncio.timeout(self.timeouts.connect):  # see run(): not wait_for
                key = await asyncssh.get_server_host_key(host, port, config=None)
        except TimeoutError:
            raise ServerTimeout(name, f"no SSH answer from {host}:{port} within "
                                      f"{self.timeouts.connect:g}s") from None  # fmt: skip
        except (OSError, asyncssh.Error) as exc:
            raise _connect_error(name, host, port, exc) from None
        if key is None:
            raise RemoteError(name, f"{host}:{port} presented no host key")
        return host_key_of(key)

    # -- connections --------------------------------------------------------

    async def forget(self, key: str) -> None:
        """Close and drop a server's pooled connections (after its key or credentials
        change): the commands' and every lane's."""
        for pool in [k for k in self._connections if k == key or k.startswith(f"{key}#")]:
            connection = self._connections.pop(pool)
            connection.close()
            with contextlib.suppress(Exception):
                await connection.wait_closed()

    async def close(self) -> None:
        for key in list(self._connections):
            await self.forget(key)

    @contextlib.asynccontextmanager
    async def binary_process(
        self, target: SSHTarget, argv: Sequence[str]
    ) -> AsyncIterator[asyncssh.SSHClientProcess[bytes]]:
        """argv running on the server with binary stdin and stdout (a stream of data,
        e.g. a backup's tar), on one of its pooled channels; closed (the remote command
        gets SIGHUP) when the body leaves. A connection lost is ServerUnreachable."""
        command = shlex.join(argv)
        async with self._channel(target):
            try:
                connection = await self._connection(target)
                process = await connection.create_process(command, encoding=None)
            except (asyncssh.Error, OSError) as exc:
                self._forget(target.pool_key)  # the next command connects again
                raise ServerUnreachable(target.name, f"connection lost: {exc}") from None
            try:
                yield process
            except (asyncssh.Error, OSError) as exc:
                self._forget(target.pool_key)
                lost = f"connection lost during a transfer: {exc}"
                raise ServerUnreachable(target.name, lost) from None
            finally:
                process.close()

    def _forget(self, key: str) -> None:
        connection = self._connections.pop(key, None)
        if connection is not None:
            connection.close()

    def _channel(self, target: SSHTarget) -> asyncio.Semaphore:
        return self._channels.setdefault(target.pool_key, asyncio.Semaphore(self.max_channels))

    async def _start(self, target: SSHTarget, command: str) -> asyncssh.SSHClientProcess[str]:
        """Open a channel and start the command, reconnecting once if the pooled
        connection is dead (the command has not started in that case)."""
        for attempt in (1, 2):
            connection = await self._connection(target)
            try:
                return await connection.create_process(command, encoding="utf-8", errors="replace")
            except (asyncssh.ChannelOpenError, asyncssh.ConnectionLost, asyncssh.DisconnectError,
                    BrokenPipeError, ConnectionResetError) as exc:  # fmt: skip
                self._forget(target.pool_key)
                if attempt == 2:
                    raise ServerUnreachable(target.name, f"connection lost: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connection(self, target: SSHTarget) -> asyncssh.SSHClientConnection:
        pooled = self._connections.get(target.pool_key)
        if pooled is not None and not pooled.is_closed():
            return pooled
        lock = self._connect_locks.setdefault(target.pool_key, asyncio.Lock())
        async with lock:
            pooled = self._connections.get(target.pool_key)
            if pooled is None or pooled.is_closed():
                try:
                    pooled = await self._connect(target)
                except (ServerUnreachable, ServerTimeout) as exc:
                    await self._tell(target, exc)
                    raise
                self._connections[target.pool_key] = pooled
                await self._tell(target, None)
            return pooled

    async def _tell(self, target: SSHTarget, error: RemoteError | None) -> None:
        if self.on_contact is not None:
            await self.on_contact(target.key, error)

    async def _connect(self, target: SSHTarget) -> asyncssh.SSHClientConnection:
        if target.host_key is None:
            raise HostKeyUnknown(
                target.name, "host key not trusted yet; nothing runs there until "
                "`tomo server trust` (or add it with --fingerprint)",
            )  # fmt: skip
        pinned = asyncssh.import_public_key(target.host_key)
        client = _client()
        limit = self.timeouts.connect + self.timeouts.login
        try:
            async with asyncio.timeout(limit):  # see run(): not wait_for
                connection, _ = await asyncssh.create_connection(
                    lambda: cast("asyncssh.SSHClient", client),
                    target.host,
                    target.port,
                    **_options(target, pinned, limit),
                )
        except TimeoutError:
            raise ServerTimeout(target.name, f"no SSH login at {target.host}:{target.port} "
                                             f"within {limit:g}s") from None  # fmt: skip
        except asyncssh.HostKeyNotVerifiable:
            presented = host_key_of(client.presented).fingerprint if client.presented else "?"
            raise HostKeyChanged(target.name, fingerprint_of(pinned), presented) from None
        except (OSError, asyncssh.Error) as exc:
            raise _connect_error(target.name, target.host, target.port, exc, target) from None
        return connection


def _ran_past(target: SSHTarget, command: str, limit: float) -> ServerTimeout:
    return ServerTimeout(target.name, f"`{_shown(command)}` ran past {limit:g}s")


def _lost(target: SSHTarget, exc: BaseException) -> ServerUnreachable:
    return ServerUnreachable(target.name, f"connection lost during a command: {exc}")


def docker_argv(target: SSHTarget, args: Sequence[str]) -> list[str]:
    return ["sudo", "-n", "docker", *args] if target.use_sudo else ["docker", *args]


def _options(target: SSHTarget, pinned: asyncssh.SSHKey, limit: float) -> dict[str, object]:
    credentials = target.credentials
    options: dict[str, object] = {
        "username": target.username,
        "known_hosts": ([pinned], [], []),
        "config": None,  # the user's ~/.ssh/config must not change what tomo does
        "agent_path": None,
        "connect_timeout": limit,
        "keepalive_interval": KEEPALIVE_SECONDS,
        "keepalive_count_max": KEEPALIVE_MISSES,
        "client_keys": None,
        "password": None,
        "kbdint_auth": False,
        "gss_auth": False,
        "host_based_auth": False,
    }
    if credentials.private_key is not None:
        options["client_keys"] = [_private_key(target)]
    if credentials.password is not None:
        options["password"] = credentials.password
    if target.architecture in AES_SERVERS:
        options["encryption_algs"] = AES_FIRST
    return options


def _private_key(target: SSHTarget) -> asyncssh.SSHKey:
    credentials = target.credentials
    assert credentials.private_key is not None
    try:
        return asyncssh.import_private_key(credentials.private_key, credentials.passphrase)
    except asyncssh.KeyEncryptionError:
        raise AuthenticationFailed(
            target.name, "cannot decrypt the private key: wrong or missing passphrase"
        ) from None
    except asyncssh.KeyImportError as exc:
        raise AuthenticationFailed(target.name, f"the private key cannot be read: {exc}") from None


def check_private_key(private_key: str, passphrase: str | None) -> None:
    """Fail early (at add time) on a key that will never load: InvalidInput naming
    the field to mend (the passphrase, or the key itself)."""
    try:
        asyncssh.import_private_key(private_key, passphrase)
    except asyncssh.KeyEncryptionError:
        raise InvalidInput([Refusal("cannot decrypt the private key: wrong or missing "
                                    "passphrase", ("passphrase",))]) from None  # fmt: skip
    except asyncssh.KeyImportError as exc:
        # asyncssh says so in words when an encrypted key came without its passphrase.
        wanted = passphrase is None and "passphrase" in str(exc).lower()
        field = "passphrase" if wanted else "private_key"
        raise InvalidInput([Refusal(f"the private key cannot be read: {exc}", (field,))]) from None


def _connect_error(
    name: str, host: str, port: int, exc: BaseException, target: SSHTarget | None = None
) -> RemoteError:
    where = f"{host}:{port}"
    if isinstance(exc, asyncssh.PermissionDenied):
        user = target.username if target else "?"
        method = "password" if target and target.credentials.password else "key"
        return AuthenticationFailed(name, f"{where} refused user '{user}' ({method} not accepted)")
    if isinstance(exc, ConnectionRefusedError):
        return ServerUnreachable(name, f"connection refused at {where} (is sshd listening?)")
    if isinstance(exc, socket.gaierror):
        return ServerUnreachable(name, f"host name '{host}' not found")
    if isinstance(exc, asyncssh.Error):
        return ServerUnreachable(name, f"SSH to {where} failed: {exc.reason}")
    return ServerUnreachable(name, f"cannot reach {where}: {exc}")


def host_key_of(key: asyncssh.SSHKey) -> HostKey:
    line = key.export_public_key("openssh").decode().strip()
    return HostKey(fingerprint_of(key), line, key.get_algorithm())


def fingerprint_of(key: asyncssh.SSHKey) -> str:
    return str(key.get_fingerprint("sha256"))


def _exit_code(process: asyncssh.SSHClientProcess[str]) -> int | None:
    """The remote exit code; 128+n style 255 for a signal; None if none arrived."""
    if process.exit_signal:
        return 255
    return None if process.exit_status is None else int(process.exit_status)


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _shown(command: str) -> str:
    return command if len(command) <= _COMMAND_SHOWN else command[: _COMMAND_SHOWN - 1] + "…"
