"""`tomo backup …` on the real test server, as a user runs it; and tomo killed mid-backup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.backups.test_snapshots import installed, status, volume_folder
from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy, at_step
from tests.faults import wait_until


async def test_backup_create_list_show_restore_forget(deploy: Deploy, tomo: Tomo) -> None:
    await installed(deploy, "notes")
    data = deploy.data_root / "notes" / "data"
    (data / "today.txt").write_text("remember the milk\n")

    made = json.loads(tomo.run("backup", "create", "notes", "--json").stdout)
    backup_id = made["job_id"]
    assert made["summary"][0].startswith(f"backup {backup_id}: 2 paths, ")
    listed = tomo.run("backup", "list").stdout
    assert backup_id in listed and "notes" in listed and "manual" in listed
    shown = tomo.run("backup", "show", backup_id).stdout
    assert "app/data.tar" in shown and "app/store.tar" in shown

    (data / "today.txt").write_text("lost\n")
    said = tomo.run("backup", "restore", backup_id)
    assert f"restored backup {backup_id} of " in said.stderr
    assert (data / "today.txt").read_text() == "remember the milk\n"
    assert status("notes") == "running"

    missing = tomo.run("backup", "restore", "nope", expect=3)
    assert "no backup 'nope'" in missing.stderr

    # Uninstalled with its data, and back from its backup.
    tomo.run("uninstall", "notes", "--remove-data")
    gone = tomo.run("backup", "restore", backup_id, expect=3)
    assert "restore it as a new installation" in gone.stderr
    back = json.loads(tomo.run("backup", "restore", backup_id, "--server", "box",
                               "--json").stdout)  # fmt: skip
    assert back["installation"]["status"] == "running"
    assert (data / "today.txt").read_text() == "remember the milk\n"
    tomo.run("backup", "forget", backup_id)
    assert "no backups yet" in tomo.run("backup", "list").stderr


async def test_a_restore_of_one_folder_leaves_the_others_as_they_are(
    deploy: Deploy, tomo: Tomo
) -> None:
    await installed(deploy, "split")
    data, store = deploy.data_root / "split" / "data", volume_folder("split_store")
    (data / "note.txt").write_text("data then\n")
    (store / "note.txt").write_text("store then\n")
    made = json.loads(tomo.run("backup", "create", "split", "--json").stdout)["job_id"]
    (data / "note.txt").write_text("data now\n")
    (store / "note.txt").write_text("store now\n")

    unknown = tomo.run("backup", "restore", made, "--only", "app:/nowhere", expect=2)
    assert "holds no app:/nowhere; it holds app:/data, app:/store" in unknown.stderr
    assert (data / "note.txt").read_text() == "data now\n"
    done = json.loads(tomo.run("backup", "restore", made, "--only", "app:/data", "--json").stdout)
    restored = done["summary"][0]
    assert "app/data.tar" in restored and "app/store.tar" not in restored
    assert (data / "note.txt").read_text() == "data then\n"
    assert (store / "note.txt").read_text() == "store now\n"  # not asked for: as it was
    assert status("split") == "running"


async def test_backup_repositories_from_the_command_line(
    deploy: Deploy, tomo: Tomo, s3_endpoint: str, tmp_path: Path
) -> None:
    await installed(deploy, "ledger")
    local = tmp_path / "usb-disk"
    added = json.loads(tomo.run("backup", "repository", "add", "usb", "--path", str(local),
                                "--json").stdout)  # fmt: skip
    assert (added["kind"], added["default"], added["backups"]) == ("local", False, 0)
    bucket = f"{s3_endpoint}/ledger-bucket"
    tomo.run("backup", "repository", "add", "cloud", "--s3", bucket, "--access-key-id", "kid",
             "--secret-access-key-stdin", stdin="very-secret\n")  # fmt: skip
    missing = tomo.run("backup", "repository", "add", "cloud2", "--s3", bucket, expect=2)
    assert "--access-key-id" in missing.stderr

    tomo.run("backup", "repository", "default", "usb")
    made = json.loads(tomo.run("backup", "create", "ledger", "--json").stdout)["job_id"]
    listed = tomo.run("backup", "repository", "list").stdout
    assert "usb" in listed and "cloud" in listed and "very-secret" not in listed
    tomo.run("backup", "settings", "ledger", "--repository", "cloud")
    assert "cloud" in tomo.run("backup", "settings", "ledger").stdout
    tomo.run("backup", "create", "ledger")
    refused = tomo.run("backup", "repository", "remove", "usb", expect=4)
    assert "is the default" in refused.stderr and "1 backups are in it" in refused.stderr

    # Its password opens it with restic by hand (what a disaster recovery needs).
    password = tomo.run("backup", "repository", "password", "usb").stdout.strip()
    by_hand = subprocess.run(["restic", "--repo", str(local), "--no-cache", "snapshots", "--json"],
                             env={"PATH": os.environ["PATH"], "RESTIC_PASSWORD": password},
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert any(f"tomo-backup={made}" in snap["tags"] for snap in json.loads(by_hand.stdout))


async def test_tomo_killed_mid_backup_starts_the_app_again_when_it_comes_back(
    deploy: Deploy, tomo: Tomo
) -> None:
    await installed(deploy, "interrupted")
    with (deploy.data_root / "interrupted" / "data" / "big").open("wb") as out:
        for _ in range(96):
            out.write(os.urandom(1 << 20))
    process = subprocess.Popen(
        [*tomo.tomo, "backup", "create", "interrupted"], env=tomo.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        await wait_until(lambda: at_step(deploy, "interrupted", "backup", "save"), within=60)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # tomo (and its restic) die mid-stream
        process.wait()
    assert status("interrupted") == "exited"

    listed = tomo.run("ps", "--json")  # the next start of tomo settles the backup's journal
    assert "tomo stopped during the backup (save); started container 'interrupted' again" in (
        listed.stderr
    )
    assert status("interrupted") == "running"
    (job, *_) = await deploy.runtime.deployment.list_jobs(installation="interrupted", limit=1)
    assert (job.kind, job.status) == ("backup", "interrupted")
    assert tomo.run("backup", "list", "--json").stdout.strip() == "[]"


async def test_tomo_killed_mid_restore_leaves_the_data_as_it_was(
    deploy: Deploy, tomo: Tomo
) -> None:
    await installed(deploy, "halfway")
    data = deploy.data_root / "halfway" / "data"
    with (data / "big").open("wb") as out:
        for _ in range(96):
            out.write(os.urandom(1 << 20))
    made = json.loads(tomo.run("backup", "create", "halfway", "--json").stdout)["job_id"]
    (data / "note.txt").write_text("written after the backup\n")
    before = sorted(path.name for path in data.iterdir())

    process = subprocess.Popen(
        [*tomo.tomo, "backup", "restore", made], env=tomo.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        await wait_until(lambda: at_step(deploy, "halfway", "restore", "restore"), within=60)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # tomo (and restic, ssh) die mid-stream
        process.wait()

    listed = tomo.run("ps", "--json")  # the next start of tomo settles the restore's journal
    assert "tomo stopped during the restore (restore)" in listed.stderr, listed.stderr
    assert status("halfway") == "running"
    # Nothing half-applied: the folder holds what it held, and no stage is left in it.
    assert sorted(path.name for path in data.iterdir()) == before
    assert (data / "note.txt").read_text() == "written after the backup\n"
    (job, *_) = await deploy.runtime.deployment.list_jobs(installation="halfway", limit=1)
    assert (job.kind, job.status) == ("restore", "interrupted")
