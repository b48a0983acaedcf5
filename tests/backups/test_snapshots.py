"""Backups of an installation on the real test server (sshd + Docker) into real restic."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.conftest import Deploy, carried_out
from tests.faults import wait_until
from tomo.backups.models import BackupRecord
from tomo.backups.operations import BackupOperation, RestoreOperation
from tomo.backups.restic import Repository, Restic, Retention
from tomo.backups.snapshots import (
    BACKUP,
    INSTALLATION,
    RECORD,
    InstallationBackups,
    Part,
)
from tomo.deployment.models import Installation
from tomo.deployment.operation import Operation, Prepared, done, prepare
from tomo.deployment.remote import Docker
from tomo.deployment.schemas import OperationDone
from tomo.deployment.spec import InstallConfig
from tomo.errors import (
    CommandFailed,
    OperationInterrupted,
    PreflightFailed,
    RepositoryFull,
    SnapshotNotFound,
)

# Odd names a tar and restic must carry: spaces, a newline, non-ASCII, a leading dash.
ODD_NAMES = ["with space", "new\nline", "ünïcödé", "-dash", "sub/deeper/file"]


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def status(container: str) -> str:
    return docker("container", "inspect", "--format", "{{.State.Status}}", container).strip()


def volume_folder(volume: str) -> Path:
    return Path(docker("volume", "inspect", "--format", "{{.Mountpoint}}", volume).strip())


async def installed(deploy: Deploy, name: str) -> str:
    """The web app with a folder of its own (/data) and a named volume (/store)."""
    volumes = [{"host_path": "./data", "container_path": "/data"},
               {"volume": "store", "container_path": "/store"}]  # fmt: skip
    app = await deploy.publish(name, docker=deploy.web_app(volumes=volumes))
    service = deploy.runtime.deployment
    started = await service.install_app(deploy.server, app, InstallConfig(name=name))
    view = await service.run_job(started.job_id)
    assert view.status == "done", view.error
    return started.installation.id


def fill(folder: Path, seed: str) -> None:
    """Files with odd names, owners and modes, a symlink and an empty folder."""
    for name in ODD_NAMES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{seed}: {name}\n")
    os.chown(folder / "with space", 1234, 2345)
    (folder / "with space").chmod(0o640)
    (folder / "empty").mkdir(exist_ok=True)
    os.chown(folder / "empty", 999, 999)
    (folder / "link").symlink_to("ünïcödé")


def prepared(deploy: Deploy, name: str, operation: Operation) -> Awaitable[Prepared]:
    """The operation prepared as the service prepares it (the installation's lease,
    its job), to be carried out."""
    ctx = deploy.runtime.deployment.ctx
    return prepare(ctx, name, None, operation, functools.partial(done, ctx))


async def back_up(deploy: Deploy, name: str, backups: InstallationBackups) -> BackupRecord:
    """A backup of `name` into the test's repository; the backups table's row."""
    operation = BackupOperation(deploy.runtime.deployment.ctx, backups, "test", "manual")
    await carried_out(prepared(deploy, name, operation))
    assert operation.made is not None
    return operation.made


async def restore(
    deploy: Deploy, name: str, backups: InstallationBackups, backup: BackupRecord
) -> OperationDone:
    ctx = deploy.runtime.deployment.ctx
    restoring = RestoreOperation(ctx, backups, backup, deploy.images.helper)
    return await carried_out(prepared(deploy, name, restoring))


async def step_of(deploy: Deploy, job_id: str, name: str) -> str:
    """The message a job's step ended with."""
    job = await deploy.runtime.deployment.get_job(job_id)
    return next(step.message or "" for step in job.steps if step.name == name)


def said_by(message: str) -> str:
    """A step's message without its byte count (which depends on the tar's padding)."""
    return re.sub(r" [0-9.]+ [KMG]?i?B in ", " ", message)


def tree(folder: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under the folder: kind, mode, owner, and bytes or link target."""
    found: dict[str, tuple[Any, ...]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        what = (os.readlink(path) if path.is_symlink()
                else path.read_bytes() if path.is_file() else None)  # fmt: skip
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_uid, info.st_gid, what)
    return found


async def test_a_backup_saves_every_path_and_a_restore_puts_exactly_that_back(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "keeper")
    data, store = deploy.data_root / "keeper" / "data", volume_folder("keeper_store")
    fill(data, "bind")
    fill(store, "volume")
    os.chown(data, 4321, 4321)  # the folder's own owner and mode come back too
    data.chmod(0o750)
    saved = {data: tree(data), store: tree(store)}
    folder_itself = data.stat()
    files = sum(path.is_file() and not path.is_symlink()
                for folder in (data, store) for path in folder.rglob("*"))  # fmt: skip

    backup = await back_up(deploy, "keeper", backups)
    assert f"2 paths: saved {files} files" == said_by(await step_of(deploy, backup.id, "save"))
    assert [p["name"] for p in backup.parts] == [RECORD, "app/data.tar", "app/store.tar"]
    assert backup.bytes_read > 0 and backup.bytes_added > 0
    assert 0 < backup.downtime_seconds < 30
    assert status("keeper") == "running"
    (whole,) = await backups.backups(web)
    assert whole.id == backup.id
    assert [s.paths for s in whole.snapshots] == [
        ["/" + RECORD], ["/app/data.tar"], ["/app/store.tar"]]  # fmt: skip

    for folder in (data, store):  # the data is damaged while the app runs
        (folder / "with space").write_text("overwritten")
        os.chown(folder / "with space", 0, 0)
        (folder / "ünïcödé").unlink()
        shutil.rmtree(folder / "sub")
        (folder / "empty").rmdir()
        (folder / "made later").write_text("not in the backup")
    os.chown(data, 0, 0)
    restored = await restore(deploy, "keeper", backups, backup)
    assert "restored backup" in restored.summary[0]
    assert f"2 paths: restored {files} files" == said_by(
        await step_of(deploy, restored.job_id, "restore")
    )
    assert status("keeper") == "running"
    assert {data: tree(data), store: tree(store)} == saved
    assert (data.stat().st_uid, data.stat().st_mode) == (folder_itself.st_uid,
                                                         folder_itself.st_mode)  # fmt: skip


async def test_a_stopped_app_is_backed_up_and_stays_stopped(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    await installed(deploy, "sleeper")
    docker("container", "stop", "sleeper")
    backup = await back_up(deploy, "sleeper", backups)
    assert backup.downtime_seconds == 0
    assert len(backup.parts) == 3
    assert status("sleeper") == "exited"


class WithAMissingPath(InstallationBackups):
    """The app's paths, and then one its container does not have: its stream fails
    after the real paths were saved."""

    async def parts(
        self, row: Installation, docker: Docker, containers: dict[str, str] | None = None
    ) -> list[Part]:
        real = await super().parts(row, docker, containers)
        return [*real, Part(real[0].service, real[0].container, "/not-there", "bind", "x")]


async def test_a_failed_stream_leaves_no_snapshot_and_the_app_running(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "fragile")
    failing = WithAMissingPath(backups.ctx, backups.restic)
    with pytest.raises(CommandFailed, match="not-there"):
        await back_up(deploy, "fragile", failing)
    assert status("fragile") == "running"
    assert await backups.restic.snapshots([f"{INSTALLATION}={web}"]) == []
    assert await deploy.runtime.backups.list_backups("fragile") == []
    (job, *_) = await deploy.runtime.deployment.list_jobs(installation="fragile", limit=1)
    assert (job.kind, job.status) == ("backup", "failed")


async def test_a_cancelled_backup_leaves_nothing_and_the_app_running(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "cancelled")
    big = deploy.data_root / "cancelled" / "data" / "big"
    with big.open("wb") as out:
        for _ in range(64):
            out.write(os.urandom(1 << 20))
    task = asyncio.ensure_future(back_up(deploy, "cancelled", backups))
    await wait_until(lambda: status("cancelled") != "running")  # the backup stopped it
    await asyncio.sleep(0.5)  # and is streaming
    task.cancel()
    with pytest.raises(OperationInterrupted, match="backup interrupted during save"):
        await task
    assert status("cancelled") == "running"
    assert await backups.restic.snapshots([f"{INSTALLATION}={web}"]) == []
    await backups.restic.check()


async def test_retention_keeps_whole_backups_and_drops_incomplete_ones(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "kept")
    first = await back_up(deploy, "kept", backups)
    second = await back_up(deploy, "kept", backups)
    # What a tomo killed mid-backup leaves: a part of a backup that never finished.
    tags = [f"{INSTALLATION}={web}", f"{BACKUP}=killed", "tomo-parts=3", "tomo-part=0"]
    await backups.restic.backup_bytes(RECORD, b"{}", tags)
    assert [b.id for b in await backups.backups(web)] == [first.id, second.id]

    forgotten = await backups.apply_retention(web, Retention(last=1))
    assert sorted(forgotten) == sorted([first.id, "killed"])
    assert [b.id for b in await backups.backups(web)] == [second.id]
    assert len(await backups.restic.snapshots([f"{INSTALLATION}={web}"])) == 3


async def test_a_full_repository_says_so_and_the_app_runs_again(
    deploy: Deploy, small_disk: Path, restic_binary: str
) -> None:
    restic = Restic(Repository("small", str(small_disk / "repo"), "pw"), binary=restic_binary)
    await restic.init()
    web = await installed(deploy, "crowded")
    (deploy.data_root / "crowded" / "data" / "big").write_bytes(os.urandom(30_000_000))
    with pytest.raises(RepositoryFull, match="no space left"):
        await back_up(deploy, "crowded", InstallationBackups(deploy.runtime.deployment.ctx, restic))
    assert status("crowded") == "running"
    assert await restic.snapshots([f"{INSTALLATION}={web}"]) == []


async def test_a_restore_that_fails_half_way_leaves_the_data_as_it_was(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    await installed(deploy, "careful")
    data, store = deploy.data_root / "careful" / "data", volume_folder("careful_store")
    fill(data, "bind")
    backup = await back_up(deploy, "careful", backups)
    (data / "made later").write_text("kept: the restore never finished")
    (store / "also later").write_text("kept too")
    before = {data: tree(data), store: tree(store)}
    # The second part's snapshot is gone from the repository: the first is staged
    # by then, and must not be swapped in.
    await backups.restic.forget(ids=[backup.parts[2]["snapshot"]], prune=False)

    with pytest.raises(SnapshotNotFound):
        await restore(deploy, "careful", backups, backup)
    assert status("careful") == "running"
    assert {data: tree(data), store: tree(store)} == before  # no .tomo-restore-* left either
    (job, *_) = await deploy.runtime.deployment.list_jobs(installation="careful", limit=1)
    assert (job.kind, job.status) == ("restore", "failed")
    assert "put the data of /data back as it was" in (job.error or "")


async def test_a_restore_without_room_on_the_server_is_refused_before_it_starts(
    deploy: Deploy, backups: InstallationBackups, small_disk: Path
) -> None:
    data = deploy.data_root / "cramped" / "data"
    data.mkdir(parents=True)
    os.chown(data.parent, deploy.data_root.stat().st_uid, -1)  # the SSH user's, as tomo makes it
    subprocess.run(["mount", "--bind", str(small_disk), str(data)], check=True)  # 8 MiB in all
    try:
        await installed(deploy, "cramped")
        (data / "big").write_bytes(os.urandom(5_000_000))
        backup = await back_up(deploy, "cramped", backups)

        with pytest.raises(PreflightFailed, match=r"/data of cramped needs 4\.8 MiB"):
            await restore(deploy, "cramped", backups, backup)
        assert status("cramped") == "running"
        assert [p.name for p in data.iterdir()] == ["big"]
    finally:
        docker("container", "rm", "-f", "cramped")
        subprocess.run(["umount", str(data)], check=False)


async def test_a_restore_interrupted_mid_stream_leaves_the_data_as_it_was(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    await installed(deploy, "halted")
    data = deploy.data_root / "halted" / "data"
    with (data / "big").open("wb") as out:
        for _ in range(96):
            out.write(os.urandom(1 << 20))
    backup = await back_up(deploy, "halted", backups)
    (data / "big").unlink()
    (data / "since").write_text("made after the backup\n")
    before = tree(data)

    task = asyncio.ensure_future(restore(deploy, "halted", backups, backup))
    await wait_until(lambda: any(data.glob(".tomo-restore-*/data/big")), within=60)
    task.cancel()  # Ctrl-C while the restored data streams into its stage
    with pytest.raises(OperationInterrupted, match="restore interrupted during restore"):
        await task
    assert tree(data) == before  # no stage left, nothing swapped
    assert status("halted") == "running"
