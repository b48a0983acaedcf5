"""A backup of one installation: its record and every folder and volume it keeps
data in, each streamed from its server into restic while the app is stopped.

One backup is several restic snapshots (restic 0.14 takes one stdin stream per
run), told together by their tags:

    tomo-installation=ID   the installation's id
    tomo-backup=ID         this backup (shared by its snapshots)
    tomo-part=N            0: the installation's record (installation.json); 1…: a path
    tomo-parts=COUNT       how many parts a whole backup has

A backup counts only when every one of its parts is in the repository: a run
that fails forgets what it made, and one that never got to (tomo killed) is
left incomplete, never listed, and forgotten by the next retention.

Consistency: the app's long-running containers are stopped with Docker directly
(not the stop operation: a backup will be a job holding the installation's
lease itself, and the stop operation would record a "stopped" status for a
pause nobody asked for). Those that were running are started again whatever
happens, a cancellation included; an app its user had stopped stays stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tomo.backups.restic import BackupSummary, Restic, Retention, Snapshot
from tomo.backups.transfer import copy_in_argv, copy_out_argv, stream_in, stream_out
from tomo.deployment.context import DeploymentContext
from tomo.deployment.jobs import new_id
from tomo.deployment.manage import containers_of, long_running
from tomo.deployment.models import Installation
from tomo.deployment.remote import Docker
from tomo.errors import InstallFailed, RemoteError, SnapshotNotFound, TomoError

log = logging.getLogger("tomo.backups")
INSTALLATION, BACKUP, PART, PARTS = "tomo-installation", "tomo-backup", "tomo-part", "tomo-parts"
RECORD = "tomo/installation.json"
T = TypeVar("T")


@dataclass(frozen=True)
class Part:
    """One path of one container, saved as one snapshot."""

    service: str
    container: str
    path: str  # in the container
    kind: str  # "bind" (a folder under the installation's own) or "volume"
    source: str  # the folder on the server, or the volume's name

    @property
    def filename(self) -> str:
        """Its name in the repository: `SERVICE/PATH.tar`, so a restore knows where
        it goes without anything else."""
        return f"{self.service}{self.path.rstrip('/')}.tar"


@dataclass(frozen=True)
class PartSaved:
    name: str  # Part.filename, or RECORD
    summary: BackupSummary


@dataclass(frozen=True)
class SnapshotReport:
    backup_id: str
    installation_id: str
    parts: list[PartSaved]
    downtime_seconds: float  # from the first stop to the last start (0: nothing ran)

    @property
    def bytes_read(self) -> int:
        return sum(p.summary.bytes_read for p in self.parts)

    @property
    def bytes_added(self) -> int:
        return sum(p.summary.bytes_added for p in self.parts)


@dataclass(frozen=True)
class Backup:
    """A whole backup as the repository holds it."""

    id: str
    installation_id: str
    time: datetime  # of its first snapshot
    snapshots: list[Snapshot]  # by part


@dataclass(frozen=True)
class RestoreReport:
    backup_id: str
    restored: list[str]  # the parts' names
    bytes_written: int
    downtime_seconds: float


class InstallationBackups:
    """Backups of installations into one repository."""

    def __init__(self, ctx: DeploymentContext, restic: Restic) -> None:
        self.ctx = ctx
        self.restic = restic

    # -- backing up ---------------------------------------------------------

    async def snapshot(self, ref: str, server: str | None = None) -> SnapshotReport:
        """Stop the app, save its record and every path, start it again."""
        row = await self.ctx.find(ref, server)
        docker = await self.ctx.docker(row.server_id)
        parts = await self.parts(row, docker)
        backup_id = new_id()
        tags = [f"{INSTALLATION}={row.id}", f"{BACKUP}={backup_id}", f"{PARTS}={len(parts) + 1}"]
        running = await _running(docker, long_running(row))
        saved: list[PartSaved] = []
        started = time.monotonic()
        try:
            try:
                for name in reversed(running):
                    await docker.stop(name)
                for index, part in enumerate(parts, start=1):
                    saved.append(await self._save(docker, part, [*tags, f"{PART}={index}"]))
            finally:
                not_started = await finish_anyway(_start_again(docker, running))
                downtime = time.monotonic() - started if running else 0.0
            saved.insert(0, await self._save_record(row, tags))  # needs no downtime
        finally:
            if len(saved) != len(parts) + 1:  # failed or cancelled: nothing of it counts
                await finish_anyway(self._forget_backup(backup_id))
        if not_started is not None:
            raise not_started.with_message(f"backup {backup_id} of {row.name} was made, but "
                                           f"{not_started.message}")  # fmt: skip
        return SnapshotReport(backup_id, row.id, saved, downtime)

    async def parts(self, row: Installation, docker: Docker) -> list[Part]:
        """Every volume and every folder under the installation's own folder that
        its containers mount, as Docker reports them; each once (the first
        container, in start order, that mounts it), in the order of their names
        (Docker lists a container's mounts in no set order)."""
        data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
        instance_dir = posixpath.join(data_root, row.name)
        found: dict[str, Part] = {}
        for service, container in containers_of(row).items():
            args = ["container", "inspect", "--format", "{{json .Mounts}}", container]
            for mount in json.loads(await docker.run(args)) or []:
                part = _part(service, container, mount, instance_dir)
                if part is not None:
                    found.setdefault(f"{part.kind}:{part.source}", part)
        return sorted(found.values(), key=lambda part: part.filename)

    async def _save(self, docker: Docker, part: Part, tags: list[str]) -> PartSaved:
        argv = copy_out_argv(docker.target, part.container, part.path)
        async with self.restic.backup_stream(part.filename, tags) as upload:
            await stream_out(self.ctx.servers.ssh, docker.target, argv, upload.write)
        assert upload.summary is not None
        return PartSaved(part.filename, upload.summary)

    async def _save_record(self, row: Installation, tags: list[str]) -> PartSaved:
        """What brings the installation back without the catalog: its definition and
        config as installed, secrets still sealed with tomo's key."""
        record = {
            "id": row.id, "name": row.name, "server_id": row.server_id, "repo_id": row.repo_id,
            "app_id": row.app_id, "version": row.version, "image": row.image,
            "definition": row.definition, "config": row.config,
            "secret_env_enc": row.secret_env_enc, "containers": containers_of(row),
        }  # fmt: skip
        data = json.dumps(record, indent=1, sort_keys=True).encode()
        summary = await self.restic.backup_bytes(RECORD, data, [*tags, f"{PART}=0"])
        return PartSaved(RECORD, summary)

    async def _forget_backup(self, backup_id: str) -> None:
        """Forget every snapshot of a backup that did not finish (its data goes
        with the next prune)."""
        try:
            await self.restic.unlock()  # a restic killed mid-start leaves its lock behind
            made = await self.restic.snapshots([f"{BACKUP}={backup_id}"])
            if made:
                await self.restic.forget(ids=[s.id for s in made], prune=False)
        except TomoError as exc:  # listed as incomplete, and forgotten by the next retention
            log.warning("could not forget the parts of failed backup %s: %s", backup_id,
                        exc.message)  # fmt: skip

    # -- listing, retention -------------------------------------------------

    async def backups(self, installation_id: str) -> list[Backup]:
        """The whole backups of an installation, oldest first."""
        return [b for b in await self._all(installation_id) if _whole(b)]

    async def apply_retention(self, installation_id: str, retention: Retention) -> list[str]:
        """Forget every incomplete backup, then the whole ones `retention` does not
        keep (judged by their records, all parts of each going together), and
        prune; the ids of those forgotten. Run it under the installation's lease:
        a backup still being made counts as incomplete."""
        await self.restic.unlock()  # what a killed tomo left would stop the prune
        every = await self._all(installation_id)
        broken = [b for b in every if not _whole(b)]
        if broken:
            await self.restic.forget(ids=[s.id for b in broken for s in b.snapshots], prune=False)
        records = await self.restic.forget(
            retention=retention, tags=[f"{INSTALLATION}={installation_id}", f"{PART}=0"],
            group_by="host", dry_run=True,
        )  # fmt: skip
        dropped = set(records.removed)
        gone = [b for b in every if _whole(b) and any(s.id in dropped for s in b.snapshots)]
        ids = [s.id for b in gone for s in b.snapshots]
        if ids:
            await self.restic.forget(ids=ids, prune=True)
        elif broken:
            await self.restic.prune()
        return [b.id for b in [*broken, *gone]]

    async def _all(self, installation_id: str) -> list[Backup]:
        by_backup: dict[str, list[Snapshot]] = {}
        for snap in await self.restic.snapshots([f"{INSTALLATION}={installation_id}"]):
            by_backup.setdefault(snap.tag(BACKUP) or "", []).append(snap)
        found = [
            Backup(backup_id, installation_id, min(s.time for s in snaps),
                   sorted(snaps, key=lambda s: int(s.tag(PART) or 0)))
            for backup_id, snaps in by_backup.items() if backup_id
        ]  # fmt: skip
        return sorted(found, key=lambda b: b.time)

    # -- restoring ----------------------------------------------------------

    async def restore(self, ref: str, backup_id: str, server: str | None = None) -> RestoreReport:
        """Put a backup's paths back into the installation's containers (stopped
        meanwhile, started again after). Files made since the backup stay."""
        row = await self.ctx.find(ref, server)
        backup = next((b for b in await self.backups(row.id) if b.id == backup_id), None)
        if backup is None:
            raise SnapshotNotFound(self.restic.repository.name,
                                   f"{row.name} has no whole backup {backup_id}")  # fmt: skip
        docker = await self.ctx.docker(row.server_id)
        containers = containers_of(row)
        running = await _running(docker, long_running(row))
        started, written, restored = time.monotonic(), 0, []
        try:
            for name in reversed(running):
                await docker.stop(name)
            for snap in backup.snapshots[1:]:
                written += await self._put_back(docker, containers, snap)
                restored.append(snap.paths[0].lstrip("/"))
        finally:
            not_started = await finish_anyway(_start_again(docker, running))
            downtime = time.monotonic() - started if running else 0.0
        if not_started is not None:
            raise not_started
        return RestoreReport(backup_id, restored, written, downtime)

    async def _put_back(self, docker: Docker, containers: dict[str, str], snap: Snapshot) -> int:
        stored = snap.paths[0]  # /SERVICE/PATH.tar
        service, _, path = stored.lstrip("/").removesuffix(".tar").partition("/")
        if service not in containers:
            raise InstallFailed(f"backup part {stored} is of a service the app no longer has")
        argv = copy_in_argv(docker.target, containers[service], "/" + path)
        async with self.restic.dump(snap.id, stored) as stream:
            return await stream_in(self.ctx.servers.ssh, docker.target, argv, stream)


def _part(service: str, container: str, mount: dict[str, Any], instance_dir: str) -> Part | None:
    kind, destination = mount.get("Type"), str(mount.get("Destination", ""))
    if kind == "volume" and mount.get("Name"):
        return Part(service, container, destination, "volume", str(mount["Name"]))
    source = posixpath.normpath(str(mount.get("Source", "")))
    if kind == "bind" and (source == instance_dir or source.startswith(instance_dir + "/")):
        return Part(service, container, destination, "bind", source)
    return None  # a folder of the server's own (media, a socket): not the app's data


def _whole(backup: Backup) -> bool:
    count = backup.snapshots[0].tag(PARTS)
    parts = {s.tag(PART) for s in backup.snapshots}
    return count is not None and count.isdigit() and len(parts) == int(count)


async def _running(docker: Docker, names: Sequence[str]) -> list[str]:
    """Those of the containers that run now (in the order given)."""
    states = await asyncio.gather(*(docker.state(name) for name in names))
    return [n for n, s in zip(names, states, strict=True)
            if s is not None and s.status in ("running", "restarting")]  # fmt: skip


async def _start_again(docker: Docker, names: Sequence[str]) -> RemoteError | None:
    """Start each container (in start order; starting a running one does nothing),
    trying them all; the first failure, if any."""
    failed: RemoteError | None = None
    for name in names:
        try:
            await docker.run(["container", "start", name])
        except RemoteError as exc:
            log.error("could not start %s again after a backup: %s", name, exc.message)
            failed = failed or exc
    return failed


async def finish_anyway(work: Awaitable[T]) -> T:
    """Run `work` to its end even when the caller is cancelled meanwhile; the
    cancellation is raised once it is done."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result
