"""Backups of an installation on the real test server (sshd + Docker) into real restic."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.conftest import Deploy
from tests.faults import wait_until
from tomo.backups.restic import Repository, Restic, Retention
from tomo.backups.snapshots import (
    BACKUP,
    INSTALLATION,
    RECORD,
    InstallationBackups,
    Part,
)
from tomo.deployment.models import Installation
from tomo.deployment.remote import Docker
from tomo.deployment.spec import InstallConfig
from tomo.errors import CommandFailed, RepositoryFull

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


def tree(folder: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under the folder: kind, mode, owner, and bytes or link target."""
    found: dict[str, tuple[Any, ...]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        what = (os.readlink(path) if path.is_symlink()
                else path.read_bytes() if path.is_file() else None)  # fmt: skip
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_uid, info.st_gid, what)
    return found


async def test_a_snapshot_saves_every_path_and_a_restore_puts_it_back(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "keeper")
    data, store = deploy.data_root / "keeper" / "data", volume_folder("keeper_store")
    fill(data, "bind")
    fill(store, "volume")
    saved = {data: tree(data), store: tree(store)}

    report = await backups.snapshot("keeper")
    assert [p.name for p in report.parts] == [RECORD, "app/data.tar", "app/store.tar"]
    assert report.bytes_read > 0
    assert 0 < report.downtime_seconds < 30
    assert status("keeper") == "running"
    (backup,) = await backups.backups(web)
    assert backup.id == report.backup_id
    assert [s.paths for s in backup.snapshots] == [
        ["/" + RECORD], ["/app/data.tar"], ["/app/store.tar"]]  # fmt: skip

    for folder in (data, store):  # the data is damaged while the app runs
        (folder / "with space").write_text("overwritten")
        os.chown(folder / "with space", 0, 0)
        (folder / "ünïcödé").unlink()
        shutil.rmtree(folder / "sub")
        (folder / "empty").rmdir()
    restored = await backups.restore("keeper", report.backup_id)
    assert restored.restored == ["app/data.tar", "app/store.tar"]
    assert status("keeper") == "running"
    assert {data: tree(data), store: tree(store)} == saved


async def test_a_stopped_app_is_backed_up_and_stays_stopped(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    await installed(deploy, "sleeper")
    docker("container", "stop", "sleeper")
    report = await backups.snapshot("sleeper")
    assert report.downtime_seconds == 0
    assert len(report.parts) == 3
    assert status("sleeper") == "exited"


class WithAMissingPath(InstallationBackups):
    """The app's paths, and then one its container does not have: its stream fails
    after the real paths were saved."""

    async def parts(self, row: Installation, docker: Docker) -> list[Part]:
        real = await super().parts(row, docker)
        return [*real, Part(real[0].service, real[0].container, "/not-there", "bind", "x")]


async def test_a_failed_stream_leaves_no_snapshot_and_the_app_running(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "fragile")
    failing = WithAMissingPath(backups.ctx, backups.restic)
    with pytest.raises(CommandFailed, match="not-there"):
        await failing.snapshot("fragile")
    assert status("fragile") == "running"
    assert await backups.restic.snapshots([f"{INSTALLATION}={web}"]) == []


async def test_a_cancelled_snapshot_leaves_nothing_and_the_app_running(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "cancelled")
    big = deploy.data_root / "cancelled" / "data" / "big"
    with big.open("wb") as out:
        for _ in range(64):
            out.write(os.urandom(1 << 20))
    task = asyncio.ensure_future(backups.snapshot("cancelled"))
    await wait_until(lambda: status("cancelled") != "running")  # the backup stopped it
    await asyncio.sleep(0.5)  # and is streaming
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert status("cancelled") == "running"
    assert await backups.restic.snapshots([f"{INSTALLATION}={web}"]) == []
    await backups.restic.check()


async def test_retention_keeps_whole_backups_and_drops_incomplete_ones(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    web = await installed(deploy, "kept")
    first = await backups.snapshot("kept")
    second = await backups.snapshot("kept")
    # What a tomo killed mid-backup leaves: a part of a backup that never finished.
    tags = [f"{INSTALLATION}={web}", f"{BACKUP}=killed", "tomo-parts=3", "tomo-part=0"]
    await backups.restic.backup_bytes(RECORD, b"{}", tags)
    assert [b.id for b in await backups.backups(web)] == [first.backup_id, second.backup_id]

    forgotten = await backups.apply_retention(web, Retention(last=1))
    assert sorted(forgotten) == sorted([first.backup_id, "killed"])
    assert [b.id for b in await backups.backups(web)] == [second.backup_id]
    assert len(await backups.restic.snapshots([f"{INSTALLATION}={web}"])) == 3


async def test_a_full_repository_says_so_and_the_app_runs_again(
    deploy: Deploy, small_disk: Path, restic_binary: str
) -> None:
    restic = Restic(Repository("small", str(small_disk / "repo"), "pw"), binary=restic_binary)
    await restic.init()
    web = await installed(deploy, "crowded")
    (deploy.data_root / "crowded" / "data" / "big").write_bytes(os.urandom(30_000_000))
    with pytest.raises(RepositoryFull, match="no space left"):
        await InstallationBackups(deploy.runtime.deployment.ctx, restic).snapshot("crowded")
    assert status("crowded") == "running"
    assert await restic.snapshots([f"{INSTALLATION}={web}"]) == []
