"""Dump commands (`backup.dumps`) on the real test server: the app keeps running
while its "database" is dumped, a restore loads the dump back through the restore
command, and a dump that fails leaves no backup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backups.test_ignore import declare_backup
from tests.backups.test_snapshots import back_up, docker, restore, status
from tests.deployment.conftest import Deploy
from tomo.backups import dumps as dumps_module
from tomo.backups.snapshots import INSTALLATION, RECORD, InstallationBackups
from tomo.deployment.manage import containers_of
from tomo.deployment.spec import InstallConfig
from tomo.errors import CommandFailed, InstallFailed

# The "database": a file the service keeps in /db; its dump is that file, and its
# restore writes stdin back into it (into a new file, renamed: as a load would).
TABLE = "/db/table"
DUMP = {
    "service": "db",
    "command": ["cat", TABLE],
    "restore": ["sh", "-c", f"cat > {TABLE}.new && mv {TABLE}.new {TABLE}"],
    "covers": ["/db"],
    "ready": ["sh", "-c", "[ -d /db ]"],
}
# What is copied as files while the dump runs: the web service's folder, and each
# service's /store (the image declares it a VOLUME); not /db, which the dump covers.
FILES = ["db/store.tar", "web/data.tar", "web/store.tar"]


async def installed(deploy: Deploy, name: str, dump: dict[str, Any]) -> None:
    """`web` (the main service, ./data at /data) and `db` (./db at /db, dumped)."""
    web = deploy.web_app(volumes=[{"host_path": "./data", "container_path": "/data"}])
    db = {"image": deploy.images.web_v1,
          "volumes": [{"host_path": "./db", "container_path": "/db"}]}  # fmt: skip
    app = await deploy.publish(name, main="web", services={"web": web, "db": db})
    started = await deploy.runtime.deployment.install_app(deploy.server, app,
                                                          InstallConfig(name=name))  # fmt: skip
    view = await deploy.runtime.deployment.run_job(started.job_id)
    assert view.status == "done", view.error
    await declare_backup(deploy, name, {"dumps": [dump]})


def started_at(container: str) -> str:
    return docker("container", "inspect", "--format", "{{.State.StartedAt}}", container).strip()


async def test_a_dump_backup_keeps_the_app_running_and_a_restore_loads_the_dump_back(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    await installed(deploy, "ledger", DUMP)
    folder = deploy.data_root / "ledger"
    (folder / "db" / "table").write_text("row 1\nrow 2\n")
    (folder / "data" / "page").write_text("files are copied live")
    before = {name: started_at(name) for name in ("ledger", "ledger-db")}

    backup = await back_up(deploy, "ledger", backups)
    assert {name: started_at(name) for name in before} == before  # never stopped
    assert backup.downtime_seconds == 0
    assert [p["name"] for p in backup.parts] == [RECORD, "db.dump", *FILES]
    dumped = await backups.restic.dump_bytes(backup.parts[1]["snapshot"], "/db.dump")
    assert dumped == b"row 1\nrow 2\n"
    record = json.loads(await backups.restic.dump_bytes(backup.parts[0]["snapshot"], "/" + RECORD))
    assert record["left_out"] == ["db/db"]  # covered by the dump: not copied as files
    assert record["dumps"] == [{"service": "db", "name": "db.dump", "command": ["cat", TABLE]}]
    web_image = f"{deploy.images.web_v1.rsplit(':', 1)[0]}@sha256:"
    assert all(image.startswith(web_image) for image in record["images"].values())
    assert set(record["images"]) == {"web", "db"}

    (folder / "db" / "table").write_text("dropped by mistake\n")  # the data is lost
    (folder / "data" / "page").unlink()
    done = await restore(deploy, "ledger", backups, backup)
    assert f"{', '.join(FILES)}, db.dump" in done.summary[0]
    assert (folder / "db" / "table").read_text() == "row 1\nrow 2\n"  # through `restore`
    assert (folder / "data" / "page").read_text() == "files are copied live"
    assert status("ledger") == status("ledger-db") == "running"


async def test_a_failing_dump_fails_the_backup_and_lists_nothing(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    broken = {**DUMP, "command": ["sh", "-c", "echo the database is locked >&2; exit 5"]}
    await installed(deploy, "jammed", broken)
    web = (await deploy.runtime.deployment.ctx.find("jammed")).id
    before = started_at("jammed-db")

    with pytest.raises(CommandFailed, match=r"the dump of db failed: .*the database is locked"):
        await back_up(deploy, "jammed", backups)
    assert await backups.restic.snapshots([f"{INSTALLATION}={web}"]) == []
    assert await deploy.runtime.backups.list_backups("jammed") == []
    assert started_at("jammed-db") == before and status("jammed") == "running"


async def test_an_app_stopped_by_the_caller_is_copied_whole_and_dumps_nothing(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    """An update's backup (the app already stopped) and an app whose dumped service
    does not run: every path as files, the covered one too."""
    await installed(deploy, "paused", DUMP)
    ctx = deploy.runtime.deployment.ctx
    row = await ctx.find("paused")
    server = await ctx.docker(row.server_id)
    live = await backups.plan(row, server)
    assert ([d.service for d in live.dumps], [p.filename for p in live.parts]) == (["db"], FILES)

    stopped = await backups.plan(row, server, stopped=containers_of(row))
    assert (stopped.dumps, [p.filename for p in stopped.parts]) == ([], ["db/db.tar", *FILES])
    docker("container", "stop", "paused-db")
    not_running = await backups.plan(row, server)
    assert (not_running.dumps, len(not_running.parts)) == ([], 4)


async def test_a_service_never_ready_fails_the_restore_clearly(
    deploy: Deploy, backups: InstallationBackups, monkeypatch: pytest.MonkeyPatch
) -> None:
    await installed(deploy, "sleepy", DUMP)
    folder: Path = deploy.data_root / "sleepy"
    (folder / "db" / "table").write_text("kept\n")
    backup = await back_up(deploy, "sleepy", backups)
    await declare_backup(deploy, "sleepy", {"dumps": [{**DUMP, "ready": ["sh", "-c", "exit 1"]}]})
    monkeypatch.setattr(dumps_module, "READY_SECONDS", 2.0)  # not the minute a real one gets

    with pytest.raises(InstallFailed, match=r"restored db/store\.tar, web/data\.tar, web/store\.tar,"
                                            r" but not db\.dump: service db was not ready for "
                                            r"its dump within 2 s \(`sh -c 'exit 1'` kept failing"):  # fmt: skip
        await restore(deploy, "sleepy", backups, backup)
    assert status("sleepy-db") == "running"
