"""Bytes between a server and restic, over tomo's SSH connection, never on a disk.

A backup runs `docker container cp --archive CONTAINER:PATH -` on the server: the
Docker daemon reads the path (a bind-mounted folder or a named volume alike, as
root, from a stopped container too) and writes a tar of it to stdout, which comes
over the pooled SSH connection in binary and goes into `restic backup --stdin`.
A restore is the other way: `restic dump` into `docker container cp --archive -
CONTAINER:PARENT` (owners, modes, symlinks as they were).

The pump is ours, not asyncssh's `redirect()` (which would also drain into an
asyncio StreamWriter): it counts the bytes (a job's progress), and the end of the
server's output is not taken as the end of the stream until the command's exit
status is known, so a `docker cp` that fails half-way never becomes a snapshot.
Back-pressure holds both ways: a chunk is read only once the previous one is
drained, and asyncssh stops opening the SSH window while nobody reads.

The command runs on one of the server's pooled channels (SSHService.binary_process),
or, for an app's data (`bulk`), through the system's OpenSSH client with tomo's key
login to the server (servers/openssh.py): its ciphers in C cost a fraction of a
Python pump's CPU (on loopback, 1 GiB took tomo's process 2-4 CPU-seconds through
asyncssh), and the pump then only copies between two pipes. A server that logs in
with a password, or a tomo host without `ssh`, keeps the pooled channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import shlex
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tomo.errors import CommandFailed, ServerUnreachable
from tomo.lazy import lazy_import
from tomo.servers.openssh import NoOpenSshLogin, OpenSshLogin, openssh_installed, ssh_argv
from tomo.servers.ssh import SSHService, SSHTarget, docker_argv

if TYPE_CHECKING:
    import asyncssh
else:
    asyncssh = lazy_import("asyncssh")

CHUNK = 1 << 20
AHEAD = 8 << 20  # what OpenSSH's side may run ahead of the other (see restic.AHEAD)
OPENSSH_FAILED = 255  # ssh's own exit status: it could not connect, or lost the server

Sink = Callable[[bytes], Awaitable[None]]


def copy_out_argv(target: SSHTarget, container: str, path: str) -> list[str]:
    """A tar of the container's path on stdout (its top entry: the path's last name)."""
    return docker_argv(target, ["container", "cp", "--archive", f"{container}:{path}", "-"])


def copy_in_argv(target: SSHTarget, container: str, path: str) -> list[str]:
    """A tar made by copy_out_argv from stdin, unpacked where the path was taken from."""
    parent = posixpath.dirname(path.rstrip("/")) or "/"
    return docker_argv(target, ["container", "cp", "--archive", "-", f"{container}:{parent}"])


def copy_into_argv(target: SSHTarget, container: str, folder: str) -> list[str]:
    """A tar from stdin, unpacked into `folder` (its top entry becomes a child of it)."""
    return docker_argv(target, ["container", "cp", "--archive", "-", f"{container}:{folder}"])


async def stream_out(
    ssh: SSHService, target: SSHTarget, argv: Sequence[str], sink: Sink, *, bulk: bool = False
) -> int:
    """Run argv on the server and hand its stdout to `sink` chunk by chunk; the
    byte count once it has exited 0, else CommandFailed with its stderr (after
    the sink had what came: the caller then throws that away)."""
    login = _openssh_login(target) if bulk else None
    if login is not None:
        return await _openssh_out(login, target, argv, sink)
    async with ssh.binary_process(target, argv) as process:
        process.stdin.write_eof()
        errors = asyncio.ensure_future(process.stderr.read())
        try:
            total = await _drain(process.stdout, sink)
            await process.wait_closed()
        except BaseException:
            errors.cancel()
            raise
        _check(target, argv, process, await errors)
    return total


async def stream_in(
    ssh: SSHService, target: SSHTarget, argv: Sequence[str], source: asyncio.StreamReader,
    progress: Callable[[bytes], Awaitable[None]] | None = None, *, bulk: bool = False,
) -> int:  # fmt: skip
    """Run argv on the server with `source` (read to its end) as its stdin;
    `progress` hears of each chunk once it is sent."""
    login = _openssh_login(target) if bulk else None
    if login is not None:
        return await _openssh_in(login, target, argv, source, progress)
    async with ssh.binary_process(target, argv) as process:
        errors = asyncio.ensure_future(process.stderr.read())
        try:
            total = await _pour(source, process.stdin, progress)
            process.stdin.write_eof()
            await process.wait_closed()
        except BaseException:
            errors.cancel()
            raise
        _check(target, argv, process, await errors)
    return total


class _Reader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class _Writer(Protocol):
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...


async def _drain(reader: _Reader, sink: Sink) -> int:
    """Every chunk of `reader` handed to `sink` in turn; how many bytes."""
    total = 0
    while chunk := await reader.read(CHUNK):
        await sink(chunk)
        total += len(chunk)
    return total


async def _pour(
    source: asyncio.StreamReader, into: _Writer, progress: Callable[[bytes], Awaitable[None]] | None
) -> int:
    """`source` written into `into` to its end, a chunk once the previous one is
    drained (back-pressure); `progress` hears of each; how many bytes."""
    total = 0
    while chunk := await source.read(CHUNK):
        into.write(chunk)
        await into.drain()
        total += len(chunk)
        if progress is not None:
            await progress(chunk)
    return total


def _check(
    target: SSHTarget, argv: Sequence[str], process: asyncssh.SSHClientProcess[bytes],
    stderr: bytes,
) -> None:  # fmt: skip
    if process.exit_status is None and not process.exit_signal:
        raise ServerUnreachable(target.name, "connection lost before the transfer finished")
    code = 255 if process.exit_signal else int(process.exit_status or 0)
    if code != 0:
        raise CommandFailed(target.name, shlex.join(argv)[:80], code,
                            stderr.decode("utf-8", "replace"))  # fmt: skip


# -- through OpenSSH ---------------------------------------------------------------


def _openssh_login(target: SSHTarget) -> OpenSshLogin | None:
    """The target's OpenSSH login, None when it has none (the pooled channel then)."""
    if not openssh_installed():
        return None
    try:
        return OpenSshLogin.of(target)
    except NoOpenSshLogin:
        return None


async def _openssh_out(
    login: OpenSshLogin, target: SSHTarget, argv: Sequence[str], sink: Sink
) -> int:
    with login.config() as config:
        process = await _spawn(config, argv, asyncio.subprocess.DEVNULL)
        assert process.stdout is not None
        assert process.stderr is not None
        errors = asyncio.ensure_future(process.stderr.read())
        try:
            total = await _drain(process.stdout, sink)
            await process.wait()
        except BaseException:
            await _stop(process, errors)
            raise
        _check_openssh(target, argv, process.returncode, await errors)
    return total


async def _openssh_in(
    login: OpenSshLogin, target: SSHTarget, argv: Sequence[str], source: asyncio.StreamReader,
    progress: Callable[[bytes], Awaitable[None]] | None,
) -> int:  # fmt: skip
    with login.config() as config:
        process = await _spawn(config, argv, asyncio.subprocess.PIPE)
        assert process.stdin is not None
        assert process.stderr is not None
        process.stdin.transport.set_write_buffer_limits(high=AHEAD)
        errors = asyncio.ensure_future(process.stderr.read())
        try:
            total = await _pour(source, process.stdin, progress)
            process.stdin.close()
            await process.wait()
        except (BrokenPipeError, ConnectionResetError):
            await process.wait()  # it ended before taking everything: its status says why
            _check_openssh(target, argv, process.returncode, await errors)
            raise ServerUnreachable(target.name, "the transfer ended before all was sent") from None
        except BaseException:
            await _stop(process, errors)
            raise
        _check_openssh(target, argv, process.returncode, await errors)
    return total


async def _spawn(config: Path, argv: Sequence[str], stdin: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *ssh_argv(config, argv), stdin=stdin, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=AHEAD,
    )  # fmt: skip


async def _stop(process: asyncio.subprocess.Process, errors: asyncio.Future[bytes]) -> None:
    """ssh ended at once, whoever is being cancelled (its remote command then sees its
    pipes close); reaped before the caller goes on."""
    errors.cancel()
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.shield(process.wait())


def _check_openssh(
    target: SSHTarget, argv: Sequence[str], code: int | None, stderr: bytes
) -> None:  # fmt: skip
    said = stderr.decode("utf-8", "replace").strip()
    if code == OPENSSH_FAILED:
        raise ServerUnreachable(target.name, f"ssh: {said[-300:] or 'connection lost'}")
    if code != 0:
        raise CommandFailed(target.name, shlex.join(argv)[:80], code or 1, said)
