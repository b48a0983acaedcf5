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

The command runs on one of the server's pooled channels (SSHService.binary_process).
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from tomo.errors import CommandFailed, ServerUnreachable
from tomo.lazy import lazy_import
from tomo.servers.ssh import SSHService, SSHTarget, docker_argv

if TYPE_CHECKING:
    import asyncssh
else:
    asyncssh = lazy_import("asyncssh")

CHUNK = 1 << 20

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


async def stream_out(ssh: SSHService, target: SSHTarget, argv: Sequence[str], sink: Sink) -> int:
    """Run argv on the server and hand its stdout to `sink` chunk by chunk; the
    byte count once it has exited 0, else CommandFailed with its stderr (after
    the sink had what came: the caller then throws that away)."""
    async with ssh.binary_process(target, argv) as process:
        process.stdin.write_eof()
        errors = asyncio.ensure_future(process.stderr.read())
        total = 0
        try:
            while chunk := await process.stdout.read(CHUNK):
                await sink(chunk)
                total += len(chunk)
            await process.wait_closed()
        except BaseException:
            errors.cancel()
            raise
        _check(target, argv, process, await errors)
    return total


async def stream_in(
    ssh: SSHService, target: SSHTarget, argv: Sequence[str], source: asyncio.StreamReader,
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> int:  # fmt: skip
    """Run argv on the server with `source` (read to its end) as its stdin;
    `progress` hears of each chunk's size once it is sent."""
    async with ssh.binary_process(target, argv) as process:
        errors = asyncio.ensure_future(process.stderr.read())
        total = 0
        try:
            while chunk := await source.read(CHUNK):
                process.stdin.write(chunk)
                await process.stdin.drain()
                total += len(chunk)
                if progress is not None:
                    await progress(len(chunk))
            process.stdin.write_eof()
            await process.wait_closed()
        except BaseException:
            errors.cancel()
            raise
        _check(target, argv, process, await errors)
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
