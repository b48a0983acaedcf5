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
(not the stop operation: a backup is a job holding the installation's lease
itself, and the stop operation would record a "stopped" status for a pause
nobody asked for). Those that were running are started again whatever happens,
a cancellation included, and each is in the job's journal before it is stopped
(a tomo killed meanwhile starts it on its return); an app its user had stopped
stays stopped. A restore replaces each folder whole (deployment/data_swap.py).
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
from tomo.backups.transfer import (
    copy_in_argv,
    copy_into_argv,
    copy_out_argv,
    stream_in,
    stream_out,
)
from tomo.deployment import data_swap
from tomo.deployment.context import DeploymentContext
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.manage import containers_of, long_running
from tomo.deployment.models import Installation
from tomo.deployment.remote import Docker
from tomo.errors import InstallFailed, PreflightFailed, RemoteError, TomoError
from tomo.monitor.stats import human_bytes

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
class StoredPart:
    """One part of a whole backup, as the backups table lists it."""

    name: str  # SERVICE/PATH.tar
    snapshot: str  # restic's snapshot id
    bytes_read: int


@dataclass
class Placed:
    """A part about to be restored: where it goes, and how (see data_swap.py)."""

    name: str
    snapshot: str
    bytes_read: int
    container: str
    path: str
    swap: dict[str, str]  # data_swap's arguments, as the journal keeps them
    folder: bool = True  # False: a bind-mounted file, written in place


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

    async def snapshot(
        self, row: Installation, job: JobRecorder, stopped: dict[str, str] | None = None
    ) -> SnapshotReport:
        """Stop the app, save every path, start it again, then save its record; the
        backup's id is its job's. A container is written in the job's journal before
        it is stopped, so a tomo killed meanwhile starts it again when it comes back
        (see deployment/reconcile.py). `stopped`: the app's containers (service ->
        name) already stopped by the caller (an update), saved as they are."""
        docker = await self.ctx.docker(row.server_id)
        parts = await self.parts(row, docker, stopped)
        backup_id = job.job_id
        tags = [f"{INSTALLATION}={row.id}", f"{BACKUP}={backup_id}", f"{PARTS}={len(parts) + 1}"]
        running = [] if stopped else await _running(docker, long_running(row))
        saved: list[PartSaved] = []
        started = time.monotonic()
        try:
            try:
                if stopped is None:
                    async with job.step("stop", _names(running) or "nothing runs"):
                        await stop_for_a_while(job, docker, running)
                async with job.step("save", f"{len(parts)} paths"):
                    for index, part in enumerate(parts, start=1):
                        saved.append(await self._save(docker, part, [*tags, f"{PART}={index}"],
                                                      job))  # fmt: skip
                        await job.progress(index, len(parts))
            finally:
                not_started = await finish_anyway(_start_again(docker, running))
                downtime = time.monotonic() - started if running else 0.0
            if not_started is None and running:
                await started_again(job)
            async with job.step("record", RECORD):  # needs no downtime
                saved.insert(0, await self._save_record(row, tags, saved, downtime))
        finally:
            if len(saved) != len(parts) + 1:  # failed or cancelled: nothing of it counts
                await finish_anyway(self._forget_backup(backup_id))
        if not_started is not None:
            raise not_started.with_message(f"backup {backup_id} of {row.name} was made, but "
                                           f"{not_started.message}")  # fmt: skip
        return SnapshotReport(backup_id, row.id, saved, downtime)

    async def parts(
        self, row: Installation, docker: Docker, containers: dict[str, str] | None = None
    ) -> list[Part]:
        """Every volume and every folder under the installation's own folder that
        its containers mount, as Docker reports them; each once (the first
        container, in start order, that mounts it), in the order of their names
        (Docker lists a container's mounts in no set order)."""
        data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
        instance_dir = posixpath.join(data_root, row.name)
        found: dict[str, Part] = {}
        for service, container in (containers or containers_of(row)).items():
            args = ["container", "inspect", "--format", "{{json .Mounts}}", container]
            for mount in json.loads(await docker.run(args)) or []:
                part = _part(service, container, mount, instance_dir)
                if part is not None:
                    found.setdefault(f"{part.kind}:{part.source}", part)
        return sorted(found.values(), key=lambda part: part.filename)

    async def _save(
        self, docker: Docker, part: Part, tags: list[str], job: JobRecorder
    ) -> PartSaved:
        argv = copy_out_argv(docker.target, part.container, part.path)
        meter = Meter(job, f"saving {part.filename}")
        async with self.restic.backup_stream(part.filename, tags) as upload:

            async def into_restic(chunk: bytes) -> None:
                await upload.write(chunk)
                await meter.add(len(chunk))

            await stream_out(self.ctx.servers.ssh, docker.target, argv, into_restic)
        assert upload.summary is not None
        return PartSaved(part.filename, upload.summary)

    async def _save_record(
        self, row: Installation, tags: list[str], saved: list[PartSaved], downtime: float
    ) -> PartSaved:
        """What brings the installation back without the catalog: its definition and
        config as installed, secrets still sealed with tomo's key; and what the
        backup's other parts hold."""
        record = {
            "id": row.id, "name": row.name, "server_id": row.server_id, "repo_id": row.repo_id,
            "app_id": row.app_id, "version": row.version, "image": row.image,
            "definition": row.definition, "config": row.config,
            "secret_env_enc": row.secret_env_enc, "containers": containers_of(row),
            "parts": [{"name": p.name, "snapshot": p.summary.snapshot_id,
                       "bytes_read": p.summary.bytes_read} for p in saved],
            "downtime_seconds": round(downtime, 3),
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

    async def restore(
        self, row: Installation, parts: Sequence[StoredPart], job: JobRecorder, helper_image: str
    ) -> RestoreReport:
        """Put a backup's folders in place of the installation's (see
        deployment/data_swap.py: each is replaced whole, the data it held kept
        until every one is restored); its containers are stopped meanwhile and
        started again once the restored data is in place."""
        docker = await self.ctx.docker(row.server_id)
        placed = [_placed(part, containers_of(row), job.job_id, helper_image) for part in parts]
        async with job.step("check", f"{len(placed)} paths on {row.server_id}"):
            await data_swap.ensure_helper_image(docker, helper_image)
            await self._check_space(docker, placed)
        running = await _running(docker, long_running(row))
        started, written = time.monotonic(), 0
        async with job.step("stop", _names(running) or "nothing runs"):
            await stop_for_a_while(job, docker, running)
        async with job.step("restore", f"{len(placed)} paths"):
            await self._stage(docker, placed, job)
            for index, part in enumerate(placed, start=1):
                written += await self._put_back(docker, part, job)
                await job.progress(index, len(placed))
        async with job.step("swap"):
            for container, folders in _folders_by_container(placed).items():
                await data_swap.swap(docker, helper_image, container, folders, job.job_id)
            # Past this point the restored data stays: a failure finishes instead.
            job.journal.committed = True
            job.journal.cleanup = [*({"start_container": name} for name in running), *(
                {"drop_previous_data": {"image": helper_image, "container": container,
                                        "paths": folders, "job": job.job_id}}
                for container, folders in _folders_by_container(placed).items()
            )]  # fmt: skip
            await job.save_journal()
        downtime = time.monotonic() - started if running else 0.0
        return RestoreReport(job.job_id, [p.name for p in placed], written, downtime)

    async def _check_space(self, docker: Docker, placed: Sequence[Placed]) -> None:
        """Whether each path is a folder (swapped whole) or a file (written in place);
        a PreflightFailed naming each path without room for its restored data (which
        sits beside the current data until the swap). One helper run per container."""
        problems = []
        for container in dict.fromkeys(p.container for p in placed):
            mine = [p for p in placed if p.container == container]
            image = mine[0].swap["image"]
            found = await data_swap.free_space(docker, image, container, [p.path for p in mine])
            for part in mine:
                free, part.folder = found[part.path]
                if part.bytes_read > free:
                    needs, has = human_bytes(part.bytes_read), human_bytes(free)
                    problems.append(f"{part.path} of {part.container} needs {needs} for the "
                                    f"restored data, and {has} is free there")  # fmt: skip
        if problems:
            raise PreflightFailed(docker.server, problems)

    async def _stage(self, docker: Docker, placed: Sequence[Placed], job: JobRecorder) -> None:
        """An empty stage in every folder, each written in the journal first (whatever
        ends the restore, its recovery takes the stage away and the data stays)."""
        job.journal.undo += [{"swap_back_data": p.swap} for p in placed if p.folder]
        await job.save_journal()
        image = placed[0].swap["image"] if placed else ""
        for container, folders in _folders_by_container(placed).items():
            await data_swap.prepare(docker, image, container, folders, job.job_id)

    async def _put_back(self, docker: Docker, part: Placed, job: JobRecorder) -> int:
        """The part's tar from restic into its folder's stage (or over the file)."""
        argv = copy_in_argv(docker.target, part.container, part.path)
        if part.folder:
            argv = copy_into_argv(docker.target, part.container,
                                  data_swap.staging_dir(part.path, job.job_id))  # fmt: skip
        meter = Meter(job, f"restoring {part.name}")
        async with self.restic.dump(part.snapshot, "/" + part.name) as stream:
            return await stream_in(self.ctx.servers.ssh, docker.target, argv, stream, meter.add)


def _part(service: str, container: str, mount: dict[str, Any], instance_dir: str) -> Part | None:
    kind, destination = mount.get("Type"), str(mount.get("Destination", ""))
    if kind == "volume" and mount.get("Name"):
        return Part(service, container, destination, "volume", str(mount["Name"]))
    source = posixpath.normpath(str(mount.get("Source", "")))
    if kind == "bind" and (source == instance_dir or source.startswith(instance_dir + "/")):
        return Part(service, container, destination, "bind", source)
    return None  # a folder of the server's own (media, a socket): not the app's data


def _placed(part: StoredPart, containers: dict[str, str], job: str, image: str) -> Placed:
    service, _, path = part.name.removesuffix(".tar").partition("/")
    if service not in containers:
        raise InstallFailed(f"backup part {part.name} is of a service the app no longer has")
    container, path = containers[service], "/" + path
    swap = {"image": image, "container": container, "path": path, "job": job}
    return Placed(part.name, part.snapshot, part.bytes_read, container, path, swap)


def _folders_by_container(placed: Sequence[Placed]) -> dict[str, list[str]]:
    """The folders (not files) to swap, by the container that mounts them."""
    found: dict[str, list[str]] = {}
    for part in placed:
        if part.folder:
            found.setdefault(part.container, []).append(part.path)
    return found


def _names(containers: Sequence[str]) -> str:
    return ", ".join(containers)


class Meter:
    """Bytes moved so far, told as the job step's message about once a second."""

    def __init__(self, job: JobRecorder, doing: str) -> None:
        self.job, self.doing = job, doing
        self.count, self.told_at = 0, time.monotonic()

    async def add(self, count: int) -> None:
        self.count += count
        if time.monotonic() - self.told_at >= 1.0:
            self.told_at = time.monotonic()
            await self.job.note(f"{self.doing}: {human_bytes(self.count)} so far")


async def stop_for_a_while(job: JobRecorder, docker: Docker, running: Sequence[str]) -> None:
    """Stop the containers (the last started first), each written in the job's journal
    first: whatever ends the job, its recovery starts them again."""
    for name in reversed(running):
        job.journal.undo.append({"start_container": name})
        await job.save_journal()
        await docker.stop(name)


async def started_again(job: JobRecorder) -> None:
    """The containers stop_for_a_while stopped run again: nothing left to undo."""
    job.journal.undo = [a for a in job.journal.undo if "start_container" not in a]
    await job.save_journal()


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
