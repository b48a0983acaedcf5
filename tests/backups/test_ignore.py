"""A definition's ignore list (`backup.ignore`) on the real test server: what it
matches is not in the backup, and everything else comes back exactly as it was."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.backups.test_snapshots import back_up, fill, restore, status, tree
from tests.deployment.conftest import Deploy
from tests.registry import HELPER_APPLETS, Registry
from tomo.backups.restic import Restic
from tomo.backups.snapshots import RECORD, InstallationBackups
from tomo.deployment.spec import InstallConfig
from tomo.marketplace.definition import AppDefinition

IGNORE = ["data/cache", "data/*.tmp", "logs"]


@pytest.fixture(scope="module")
def tar_helper(registry: Registry) -> str:
    """The restore helper's tools and a tar that takes `--exclude` (busybox images on
    Docker Hub have one; Debian's static busybox has not, so the host's own tar with
    the libraries it links), kept on the test engine."""
    image = f"{registry.address}/tomo-test/tar-helper:1"
    busybox, tar = Path("/bin/busybox"), Path("/bin/tar").resolve()
    linked = re.findall(r"(/\S+) \(0x", subprocess.run(["ldd", str(tar)], capture_output=True,
                                                      text=True, check=True).stdout)  # fmt: skip
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as out:
        out.add(busybox, arcname="bin/busybox")
        for applet in HELPER_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            out.addfile(link)
        out.add(tar, arcname="bin/tar")
        for library in linked:
            out.add(Path(library).resolve(), arcname=library.lstrip("/"))
        folder = tarfile.TarInfo("tmp")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o1777
        out.addfile(folder)
    subprocess.run(["docker", "import", "--change", 'CMD ["/bin/sh"]', "-", image],
                   input=archive.getvalue(), check=True, capture_output=True)  # fmt: skip
    return image


@pytest.fixture
def ignoring(deploy: Deploy, restic: Restic, tar_helper: str) -> InstallationBackups:
    return InstallationBackups(deploy.runtime.deployment.ctx, restic, tar_helper)


async def installed(deploy: Deploy, name: str) -> None:
    """The web app with ./data at /data (parts of it ignored), ./logs at /logs
    (ignored whole) and a named volume at /store."""
    volumes = [{"host_path": "./data", "container_path": "/data"},
               {"host_path": "./logs", "container_path": "/logs"},
               {"volume": "store", "container_path": "/store"}]  # fmt: skip
    app = await deploy.publish(name, docker=deploy.web_app(volumes=volumes))
    started = await deploy.runtime.deployment.install_app(deploy.server, app,
                                                          InstallConfig(name=name))  # fmt: skip
    view = await deploy.runtime.deployment.run_job(started.job_id)
    assert view.status == "done", view.error
    await declare_backup(deploy, name, {"ignore": IGNORE})


async def declare_backup(deploy: Deploy, name: str, section: dict[str, Any]) -> None:
    """The installed definition with its `backup:` section, checked by the model.
    (A catalog's sync keeps only the definition's fields it lists, and `backup` is
    not one of them yet: marketplace/sync.py _DETAIL_FIELDS.)"""
    ctx = deploy.runtime.deployment.ctx
    row = await ctx.find(name)
    definition = AppDefinition.model_validate({**row.definition, "backup": section})
    await ctx.set(row.id, definition=definition.model_dump(mode="json"))


def ignored_files(data: Path) -> None:
    """What the ignore list leaves out, and a deeper `data/cache` it does not match."""
    (data / "cache" / "sub").mkdir(parents=True)
    (data / "cache" / "sub" / "big").write_bytes(os.urandom(100_000))
    (data / "cache" / "top").write_text("cached")
    (data / "a.tmp").write_text("scratch")
    (data / "sub" / "data" / "cache").mkdir(parents=True)
    (data / "sub" / "data" / "cache" / "kept").write_text("not the data folder's cache")


def without_ignored(saved: dict[str, tuple[object, ...]]) -> dict[str, tuple[object, ...]]:
    return {path: what for path, what in saved.items()
            if not (path == "cache" or path.startswith("cache/") or path == "a.tmp")}  # fmt: skip


async def test_ignored_paths_are_left_out_and_the_rest_comes_back_identical(
    deploy: Deploy, ignoring: InstallationBackups
) -> None:
    await installed(deploy, "sifted")
    data, logs = deploy.data_root / "sifted" / "data", deploy.data_root / "sifted" / "logs"
    fill(data, "bind")
    ignored_files(data)
    (logs / "today.log").write_text("not backed up\n")
    os.chown(data, 4321, 4321)
    data.chmod(0o750)
    expected = without_ignored(tree(data))
    assert "sub/data/cache/kept" in expected and "cache/top" not in expected

    backup = await back_up(deploy, "sifted", ignoring)
    assert [p["name"] for p in backup.parts] == [RECORD, "app/data.tar", "app/store.tar"]
    assert status("sifted") == "running"
    saved = await ignoring.restic.dump_bytes(backup.parts[1]["snapshot"], "/app/data.tar")
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        names = [m.name.removeprefix("./") for m in archive.getmembers()]
    assert names[0] == "data"  # the top entry docker container cp would write
    assert sorted(n.removeprefix("data/") for n in names[1:]) == sorted(expected)
    record = await ignoring.restic.dump_bytes(backup.parts[0]["snapshot"], "/" + RECORD)
    assert b'"left_out": [\n  "app/logs"\n ]' in record

    for entry in list(data.iterdir()):  # the data is lost
        subprocess.run(["rm", "-rf", str(entry)], check=True)
    await restore(deploy, "sifted", ignoring, backup)
    assert tree(data) == expected
    assert (data.stat().st_uid, data.stat().st_mode & 0o777) == (4321, 0o750)
    assert (logs / "today.log").read_text() == "not backed up\n"  # no part: left as it is
