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

A definition's `backup:` section changes that (see dumps.py): with dump commands
the app keeps running, each dump saved as a part of its own and the paths it
covers left out (unless the caller stopped the app: then every path is copied);
its ignore list leaves folders out, or what matches below them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import posixpath
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tomo.backups.dumps import (
    Dump,
    dump_argv,
    dumped_service,
    dumps_of,
    excluding_tar_argv,
    ignored_below,
    restore_argv,
    wait_ready,
)
from tomo.backups.restic import BackupSummary, Restic, Retention, Snapshot
from tomo.backups.tar_entries import TarEntries
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
from tomo.errors import CommandFailed, InstallFailed, PreflightFailed, RemoteError, TomoError
from tomo.marketplace.definition import AppDefinition, BackupDump, image_repository
from tomo.monitor.stats import human_bytes

log = logging.getLogger("tomo.backups")
INSTALLATION, BACKUP, PART, PARTS = "tomo-installation", "tomo-backup", "tomo-part", "tomo-parts"
RECORD = "tomo/installation.json"
T = TypeVar("T")
PARALLEL = 2  # streams at a time, each way: a small part does not wait for a big one


@dataclass(frozen=True)
class Part:
    """One path of one container, saved as one snapshot."""

    service: str
    container: str
    path: str  # in the container
    kind: str  # "bind" (a folder under the installation's own) or "volume"
    source: str  # the folder on the server, or the volume's name
    exclude: tuple[str, ...] = ()  # globs below the path its ignore list leaves out

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
    dumps: list[str] = dataclasses.field(default_factory=list)  # services dumped, app kept running

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
class Plan:
    """What one backup saves: paths as files, dumps, and what it leaves out."""

    parts: list[Part]
    dumps: list[Dump]  # empty: the app is stopped meanwhile
    left_out: list[str]  # `SERVICE/PATH`, covered by a dump or ignored whole


@dataclass(frozen=True)
class RestoreReport:
    backup_id: str
    restored: list[str]  # the parts' names
    bytes_written: int
    downtime_seconds: float
    dumps: list[StoredPart] = dataclasses.field(default_factory=list)  # for load_dumps


class InstallationBackups:
    """Backups of installations into one repository."""

    def __init__(
        self, ctx: DeploymentContext, restic: Restic, helper_image: str | None = None
    ) -> None:
        self.ctx = ctx
        self.restic = restic
        # What reads a folder without the paths its ignore list leaves out.
        self.helper_image = helper_image or ctx.settings.helper_image

    # -- backing up ---------------------------------------------------------

    async def snapshot(
        self, row: Installation, job: JobRecorder, stopped: dict[str, str] | None = None
    ) -> SnapshotReport:
        """Stop the app, save every path (its record meanwhile), start it again; the
        backup's id is its job's. A container is written in the job's journal before
        it is stopped, so a tomo killed meanwhile starts it again when it comes back
        (see deployment/reconcile.py). `stopped`: the app's containers (service ->
        name) already stopped by the caller (an update), saved as they are. With
        dumps declared and their containers running, nothing is stopped: the dumps
        are saved, then the paths they do not cover."""
        docker = await self.ctx.docker(row.server_id)
        plan = await self.plan(row, docker, stopped)
        count = len(plan.parts) + len(plan.dumps)
        backup_id = job.job_id
        tags = [f"{INSTALLATION}={row.id}", f"{BACKUP}={backup_id}", f"{PARTS}={count + 1}"]
        if any(part.exclude for part in plan.parts):
            await data_swap.ensure_helper_image(docker, self.helper_image)
        running = [] if stopped or plan.dumps else await _running(docker, long_running(row))
        saved: list[PartSaved] = []
        images = await _images(docker, stopped or containers_of(row))
        # The record needs nothing the parts make: it is saved meanwhile (a backup is
        # whole by its tags, whatever the order its snapshots were made in).
        record = asyncio.ensure_future(self._save_record(row, tags, plan, images))
        started = time.monotonic()
        try:
            try:
                if stopped is None and not plan.dumps:
                    async with job.step("stop", _names(running) or "nothing runs"):
                        await stop_for_a_while(job, docker, running)
                async with job.step("save", _saving(plan)):
                    meter = Meter(job, "saving", f"{_saving(plan)}: saved")
                    saved += await self._save_all(docker, plan, tags, job, meter)
                    await meter.tell_all()
            finally:
                not_started = await finish_anyway(_start_again(docker, running))
                downtime = time.monotonic() - started if running else 0.0
            if not_started is None and running:
                await started_again(job)
            async with job.step("record", RECORD):
                saved.insert(0, await record)
        finally:
            if not record.done():
                record.cancel()
                await asyncio.gather(record, return_exceptions=True)
            if len(saved) != count + 1:  # failed or cancelled: nothing of it counts
                await finish_anyway(self._forget_backup(backup_id))
        if not_started is not None:
            raise not_started.with_message(f"backup {backup_id} of {row.name} was made, but "
                                           f"{not_started.message}")  # fmt: skip
        return SnapshotReport(backup_id, row.id, saved, downtime, [d.service for d in plan.dumps])

    async def plan(
        self, row: Installation, docker: Docker, stopped: dict[str, str] | None = None
    ) -> Plan:
        """The paths to save as files (each with what its ignore list leaves out
        below it), the dumps to make instead of a stop (none when the caller stopped
        the app, or a dump's container does not run), and what is left out."""
        definition = AppDefinition.model_validate(row.definition)
        declared = dumps_of(definition, containers_of(row))
        dumps = [] if stopped is not None else await _live(docker, declared)
        instance_dir = await self._instance_dir(row)
        covered = {_key(part) for dump in dumps
                   for part in await _mounted(docker, dump.service, dump.container, instance_dir)
                   if part.path in dump.covers}  # fmt: skip
        kept, left_out = [], []
        ignore = definition.backup.ignore
        for part in await self.parts(row, docker, stopped):
            relative = posixpath.relpath(part.source, instance_dir)
            below = ignored_below(relative, ignore) if part.kind == "bind" else []
            if below is None or _key(part) in covered:
                left_out.append(f"{part.service}{part.path}")
            else:
                kept.append(dataclasses.replace(part, exclude=tuple(below)))
        return Plan(kept, dumps, left_out)

    async def parts(
        self, row: Installation, docker: Docker, containers: dict[str, str] | None = None
    ) -> list[Part]:
        """Every volume and every folder under the installation's own folder that
        its containers mount, as Docker reports them; each once (the first
        container, in start order, that mounts it), in the order of their names
        (Docker lists a container's mounts in no set order)."""
        instance_dir = await self._instance_dir(row)
        found: dict[str, Part] = {}
        for service, container in (containers or containers_of(row)).items():
            for part in await _mounted(docker, service, container, instance_dir):
                found.setdefault(_key(part), part)
        return sorted(found.values(), key=lambda part: part.filename)

    async def _instance_dir(self, row: Installation) -> str:
        data_root = (await self.ctx.servers.get_server(row.server_id)).data_root
        return posixpath.join(data_root, row.name)

    def _streams(self, docker: Docker, plan: Plan) -> list[tuple[str, list[str]]]:
        """Each part's name and the command on the server that writes it to stdout:
        the dumps first (the app runs on meanwhile), then the paths."""
        target = docker.target
        streams = [(d.filename, dump_argv(target, d.container, d.command)) for d in plan.dumps]
        for part in plan.parts:
            argv = (excluding_tar_argv(target, self.helper_image, part.container, part.path,
                                       part.exclude) if part.exclude
                    else copy_out_argv(target, part.container, part.path))  # fmt: skip
            streams.append((part.filename, argv))
        return streams

    async def _save_all(
        self, docker: Docker, plan: Plan, tags: list[str], job: JobRecorder, meter: Meter
    ) -> list[PartSaved]:
        """Every stream into restic, PARALLEL at a time (a small part need not wait for
        a big one, nor its restic start-up for the other's stream); in their order."""
        streams = self._streams(docker, plan)
        done = 0

        async def save(index: int, name: str, argv: list[str]) -> PartSaved:
            nonlocal done
            part = await self._save(docker, name, argv, [*tags, f"{PART}={index}"], meter)
            done += 1
            await job.progress(done, len(streams))
            return part

        return await all_or_none([functools.partial(save, index, name, argv) for index, (name, argv)
                                  in enumerate(streams, start=1)], PARALLEL)  # fmt: skip

    async def _save(
        self, docker: Docker, name: str, argv: list[str], tags: list[str], meter: Meter
    ) -> PartSaved:
        counted = meter.part(tar=dumped_service(name) is None)  # a dump is the app's own
        async with self.restic.backup_stream(name, tags) as upload:

            async def into_restic(chunk: bytes) -> None:
                await upload.write(chunk)
                await counted(chunk)

            try:
                await stream_out(self.ctx.servers.ssh, docker.target, argv, into_restic, bulk=True)
            except CommandFailed as exc:
                service = dumped_service(name)
                if service is None:
                    raise
                raise exc.with_message(f"the dump of {service} failed: {exc.message}") from exc
        assert upload.summary is not None
        return PartSaved(name, upload.summary)

    async def _save_record(
        self, row: Installation, tags: list[str], plan: Plan, images: dict[str, str | None]
    ) -> PartSaved:
        """What brings the installation back without the catalog: its definition and
        config as installed, secrets still sealed with tomo's key, the images its
        containers ran (by digest, where a registry gave one); and the names of the
        backup's other parts (their snapshots carry its tag), and what it left out."""
        record = {
            "id": row.id, "name": row.name, "server_id": row.server_id, "repo_id": row.repo_id,
            "app_id": row.app_id, "version": row.version, "image": row.image,
            "definition": row.definition, "config": row.config,
            "secret_env_enc": row.secret_env_enc, "containers": containers_of(row),
            "images": images,
            "parts": [*(d.filename for d in plan.dumps), *(p.filename for p in plan.parts)],
            "dumps": [{"service": d.service, "name": d.filename, "command": list(d.command)}
                      for d in plan.dumps],
            "left_out": plan.left_out,
            "excluded": {p.filename: list(p.exclude) for p in plan.parts if p.exclude},
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
        dumps = [part for part in parts if dumped_service(part.name) is not None]
        placed = [_placed(part, containers_of(row), job.job_id, helper_image)
                  for part in parts if part not in dumps]  # fmt: skip
        async with job.step("check", f"{len(placed)} paths on {row.server_id}"):
            _declared_restores(row, dumps)
            await data_swap.ensure_helper_image(docker, helper_image)
            await self._check_space(docker, placed)
        running = await _running(docker, long_running(row))
        started = time.monotonic()
        async with job.step("stop", _names(running) or "nothing runs"):
            await stop_for_a_while(job, docker, running)
        async with job.step("restore", f"{len(placed)} paths"):
            # restic opens the repository and starts each dump while the stages are
            # made (its bytes wait in the pipe): its start-up costs no time.
            staged = asyncio.Event()

            async def stage() -> list[int]:
                await self._stage(docker, placed, job)
                staged.set()
                return []

            meter = Meter(job, "restoring", f"{len(placed)} paths: restored")
            restoring = functools.partial(self._put_all_back, docker, placed, job, staged, meter)
            works: list[Callable[[], Awaitable[list[int]]]] = [stage, restoring]
            written = sum((await all_or_none(works, len(works)))[1])
            await meter.tell_all()
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
        return RestoreReport(job.job_id, [p.name for p in placed], written, downtime, dumps)

    async def load_dumps(self, row: Installation, report: RestoreReport, job: JobRecorder) -> None:
        """Once the restored app runs again: each dump of the backup streamed into its
        service's restore command, when the service's `ready` command says it can
        take it (a container that does not run is started for it, then stopped)."""
        if not report.dumps:
            return
        docker = await self.ctx.docker(row.server_id)
        declared, containers = _declared_restores(row, report.dumps), containers_of(row)
        loaded: list[str] = []
        async with job.step("load", ", ".join(p.name for p in report.dumps)):
            for part in report.dumps:
                service = dumped_service(part.name) or ""
                try:
                    await self._load(docker, part, service, containers[service],
                                     declared[service], job)  # fmt: skip
                except TomoError as exc:
                    restored = ", ".join([*report.restored, *loaded]) or "nothing else"
                    raise exc.with_message(f"restored {restored}, but not {part.name}: "
                                           f"{exc.message}") from exc  # fmt: skip
                loaded.append(part.name)

    async def _load(
        self, docker: Docker, part: StoredPart, service: str, container: str,
        dump: BackupDump, job: JobRecorder,
    ) -> None:  # fmt: skip
        was_running = bool(await _running(docker, [container]))
        if not was_running:
            await docker.run(["container", "start", container])
        try:
            if dump.ready:
                await wait_ready(docker, container, service, dump.ready)
            argv = restore_argv(docker.target, container, dump.restore)
            meter = Meter(job, f"loading {part.name}", f"loaded {part.name}:")
            async with self.restic.dump(part.snapshot, "/" + part.name) as stream:
                await stream_in(self.ctx.servers.ssh, docker.target, argv, stream,
                                meter.part(tar=False), bulk=True)  # fmt: skip
        finally:
            if not was_running:
                await finish_anyway(docker.stop(container))

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

    async def _put_all_back(
        self, docker: Docker, placed: Sequence[Placed], job: JobRecorder, staged: asyncio.Event,
        meter: Meter,
    ) -> list[int]:  # fmt: skip
        """Every part into its stage once `staged`, PARALLEL at a time; the bytes each
        wrote."""
        done = 0

        async def put_back(part: Placed) -> int:
            nonlocal done
            written = await self._put_back(docker, part, job, staged, meter)
            done += 1
            await job.progress(done, len(placed))
            return written

        return await all_or_none([functools.partial(put_back, p) for p in placed], PARALLEL)

    async def _put_back(
        self, docker: Docker, part: Placed, job: JobRecorder, staged: asyncio.Event,
        meter: Meter,
    ) -> int:  # fmt: skip
        """The part's tar from restic into its folder's stage (or over the file), once
        the stages are made."""
        argv = copy_in_argv(docker.target, part.container, part.path)
        if part.folder:
            argv = copy_into_argv(docker.target, part.container,
                                  data_swap.staging_dir(part.path, job.job_id))  # fmt: skip
        async with self.restic.dump(part.snapshot, "/" + part.name) as stream:
            await staged.wait()
            return await stream_in(self.ctx.servers.ssh, docker.target, argv, stream,
                                   meter.part(tar=True), bulk=True)  # fmt: skip


async def _mounted(docker: Docker, service: str, container: str, instance_dir: str) -> list[Part]:
    """The container's volumes and folders under the installation's own."""
    args = ["container", "inspect", "--format", "{{json .Mounts}}", container]
    mounts = json.loads(await docker.run(args)) or []
    return [part for mount in mounts
            if (part := _part(service, container, mount, instance_dir)) is not None]  # fmt: skip


def _key(part: Part) -> str:
    """What a part reads, whichever container mounts it."""
    return f"{part.kind}:{part.source}"


def _saving(plan: Plan) -> str:
    dumps = f" and {len(plan.dumps)} dumps, the app running" if plan.dumps else ""
    return f"{len(plan.parts)} paths{dumps}"


async def _live(docker: Docker, dumps: list[Dump]) -> list[Dump]:
    """The dumps, when each one's container runs (a dump needs it); else none: the
    app is stopped and its paths copied, as without dumps."""
    running = await _running(docker, [d.container for d in dumps])
    return dumps if len(running) == len(dumps) else []


async def _images(docker: Docker, containers: dict[str, str]) -> dict[str, str | None]:
    """service -> the image its container runs, as `repository@sha256:…` (None: an
    image no registry gave, or a container gone)."""
    return {service: await _digest(docker, name) for service, name in containers.items()}


async def _digest(docker: Docker, container: str) -> str | None:
    try:
        configured, _, image_id = (await docker.run(
            ["container", "inspect", "--format", "{{.Config.Image}} {{.Image}}", container]
        )).strip().partition(" ")  # fmt: skip
        digests = json.loads(await docker.run(
            ["image", "inspect", "--format", "{{json .RepoDigests}}", image_id])) or []  # fmt: skip
    except (CommandFailed, ValueError):
        return None
    wanted = image_repository(configured)
    found = [d for d in digests if image_repository(d.partition("@")[0]) == wanted] or digests
    return str(found[0]) if found else None


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


def _declared_restores(row: Installation, dumps: Sequence[StoredPart]) -> dict[str, BackupDump]:
    """service -> its dump as the app declares it now, for each dump of a backup; an
    InstallFailed naming the first the app cannot take back (before anything starts)."""
    definition = AppDefinition.model_validate(row.definition)
    declared = {d.service or definition.main_service: d for d in definition.backup.dumps}
    for part in dumps:
        service = dumped_service(part.name) or ""
        if service not in definition.all_services or service not in declared:
            raise InstallFailed(f"backup part {part.name} is a dump of service {service}, "
                                f"which {row.name} no longer declares (backup.dumps)")  # fmt: skip
    return declared


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
    """Bytes and files a step has moved so far, over all its parts, told as its
    message about once a second, and once more when all are moved."""

    def __init__(self, job: JobRecorder, doing: str, done: str) -> None:
        self.job, self.doing, self.done = job, doing, done
        self.count, self.told_at = 0, time.monotonic()
        self.tars: list[TarEntries] = []

    def part(self, *, tar: bool) -> Callable[[bytes], Awaitable[None]]:
        """What hears of each chunk of one part's stream (a tar's files counted)."""
        entries = TarEntries() if tar else None
        if entries is not None:
            self.tars.append(entries)

        async def moved(chunk: bytes) -> None:
            if entries is not None:
                entries.feed(chunk)
            self.count += len(chunk)
            if time.monotonic() - self.told_at >= 1.0:
                self.told_at = time.monotonic()
                await self.job.note(f"{self.doing}: {self.said()} so far")

        return moved

    def said(self) -> str:
        """The bytes, and the files unless a stream was not a tar as TarEntries reads."""
        if not self.tars or any(entries.lost for entries in self.tars):
            return human_bytes(self.count)
        files = sum(entries.files for entries in self.tars)
        return f"{human_bytes(self.count)} in {files:,} file{'' if files == 1 else 's'}"

    async def tell_all(self) -> None:
        await self.job.note(f"{self.done} {self.said()}")


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


async def all_or_none(works: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Every one of `works` run, `limit` at a time, their results in their order; the
    first failure (or a cancellation) cancels the others and waits for them to end
    before it is raised, so nothing runs on behind the caller's back."""
    allowed = asyncio.Semaphore(limit)

    async def one(work: Callable[[], Awaitable[T]]) -> T:
        async with allowed:
            return await work()

    tasks = [asyncio.ensure_future(one(work)) for work in works]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


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
