"""What a backup does instead of stopping the app and copying every file: dump
commands, and the paths a definition leaves out (its `backup:` section).

A dump is a command run inside the service's running container (`docker exec`)
that writes the service's data to stdout (`pg_dumpall`); it is stored as a part
of its own, `SERVICE.dump` (no `/`: it never looks like a `SERVICE/PATH.tar`).
Its restore command reads it back on stdin once the restored app runs and its
`ready` command says so.

An ignore list holds globs relative to the installation's data folder. A part
whose folder is matched whole is left out; one with matches below it is read by
a throwaway helper container (`--volumes-from` the app's, no network, as
deployment/data_swap.py does) running `tar --exclude`, which writes what `docker
container cp` would (the same top entry, owners, modes, symlinks), so a restore
is the same. Patterns are anchored at the part's own folder: the tar is made of
`./NAME` and each pattern starts with it (tar tries an unanchored pattern at
every depth, and no deeper name starts with `./`). `*` stays within one name.
"""

from __future__ import annotations

import asyncio
import posixpath
import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tomo.deployment.remote import Docker
from tomo.errors import CommandFailed, InstallFailed
from tomo.marketplace.definition import AppDefinition
from tomo.servers.ssh import SSHTarget, docker_argv

DUMP_SUFFIX = ".dump"
READY_SECONDS = 60.0  # how long a restore waits for a service to take its dump
READY_EVERY = 1.0
_GLOB_CHARACTER = re.compile(r"([\\*?\[])")


@dataclass(frozen=True)
class Dump:
    """One dump a backup makes: in which container, with which command."""

    service: str
    container: str
    command: tuple[str, ...]
    covers: tuple[str, ...]  # container paths the dump stands for

    @property
    def filename(self) -> str:
        return dump_name(self.service)


def dump_name(service: str) -> str:
    """The part's name in the repository."""
    return service + DUMP_SUFFIX


def dumped_service(name: str) -> str | None:
    """The service a part is the dump of, or None for a part of files."""
    return (
        name.removesuffix(DUMP_SUFFIX) if name.endswith(DUMP_SUFFIX) and "/" not in name else None
    )


def dumps_of(definition: AppDefinition, containers: dict[str, str]) -> list[Dump]:
    """The definition's dumps, each with the container of its service."""
    return [Dump(service, containers[service], tuple(d.command), tuple(d.covers))
            for d in definition.backup.dumps
            for service in [d.service or definition.main_service]]  # fmt: skip


def dump_argv(target: SSHTarget, container: str, command: Sequence[str]) -> list[str]:
    """The dump command in the running container, its output on stdout."""
    return docker_argv(target, ["container", "exec", container, *command])


def restore_argv(target: SSHTarget, container: str, command: Sequence[str]) -> list[str]:
    """The restore command in the running container, the dump on its stdin."""
    return docker_argv(target, ["container", "exec", "-i", container, *command])


async def wait_ready(docker: Docker, container: str, service: str, ready: Sequence[str]) -> None:
    """Run `ready` in the container once a second until it exits 0; InstallFailed,
    with its last error output, once READY_SECONDS have passed."""
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            await docker.run(["container", "exec", container, *ready])
            return
        except CommandFailed as exc:
            if time.monotonic() >= deadline:
                raise InstallFailed(
                    f"service {service} was not ready for its dump within {READY_SECONDS:.0f} s "
                    f"(`{shlex.join(ready)}` kept failing: {exc.reason})"
                ) from exc
        await asyncio.sleep(READY_EVERY)


# -- ignore lists -------------------------------------------------------------


def ignored_below(relative: str, patterns: Sequence[str]) -> list[str] | None:
    """For a folder at `relative` under the data folder: None when a pattern matches
    it or a folder above it (the folder is left out whole), else the patterns for
    what lies below it, relative to it."""
    own = relative.split("/")
    below = []
    for pattern in patterns:
        globs = pattern.split("/")
        if not all(fnmatchcase(name, glob) for name, glob in zip(own, globs, strict=False)):
            continue
        if len(globs) <= len(own):
            return None
        below.append("/".join(globs[len(own) :]))
    return below


def excluding_tar_argv(
    target: SSHTarget, image: str, container: str, path: str, below: Sequence[str]
) -> list[str]:
    """A tar of the container's folder as `docker container cp` writes it, without
    what the patterns (relative to the folder) match; made in a helper container."""
    parent, name = posixpath.split(path.rstrip("/"))
    top = "./" + _GLOB_CHARACTER.sub(r"\\\1", name)  # the name as itself, not as a glob
    excludes = [item for pattern in below for item in ("--exclude", f"{top}/{pattern}")]
    return docker_argv(target, [
        "container", "run", "--rm", "--network", "none", "--user", "0:0", "--log-driver", "none",
        "--volumes-from", container, "--entrypoint", "tar", "--label", "tomo.helper=1", image,
        "-c", "-f", "-", "-C", parent or "/", *excludes, "./" + name,
    ])  # fmt: skip
