"""What a backup stores: data seen before is stored once (the speed against the same
bytes streamed by hand is benchmarks/bench_backup.py's)."""

from __future__ import annotations

import os
import shutil

from tests.backups.test_snapshots import back_up, installed
from tests.deployment.conftest import Deploy
from tomo.backups.snapshots import InstallationBackups

MB = 1 << 20
LARGEST_CHUNK = 8 * MB  # restic's: a change re-stores the chunks around it


async def test_data_seen_before_is_stored_once_and_a_small_change_stores_little(
    deploy: Deploy, backups: InstallationBackups
) -> None:
    size = 32 * MB
    await installed(deploy, "bulky")
    data = deploy.data_root / "bulky" / "data"
    with (data / "random").open("wb") as out:  # half random, half the same again
        for _ in range(size // 2 // MB):
            out.write(os.urandom(MB))
    shutil.copy(data / "random", data / "repeated")

    first = await back_up(deploy, "bulky", backups)
    (data / "small").write_text("a small change\n")
    second = await back_up(deploy, "bulky", backups)
    assert first.bytes_read > size
    assert first.bytes_added < size / 2 + 2 * LARGEST_CHUNK  # the repeated half is stored once
    assert second.bytes_added < 2 * LARGEST_CHUNK + MB
