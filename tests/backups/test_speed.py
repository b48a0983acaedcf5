"""How fast a snapshot streams, against the same bytes streamed by hand (`ssh
server docker cp … | restic backup --stdin`), and how much a second snapshot
after a small change stores (figures printed with -s). TOMO_BACKUP_MB sets the
data's size (default 32; the note's figures are of 200)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from tests.backups.test_snapshots import installed
from tests.deployment.conftest import Deploy
from tests.sshd import Sshd, SshUsers
from tomo.backups.restic import Repository, Restic
from tomo.backups.snapshots import InstallationBackups

MB = 1 << 20
LARGEST_CHUNK = 8 * MB  # restic's: a change re-stores the chunks around it


async def test_a_snapshot_streams_as_fast_as_by_hand_and_a_small_change_stores_little(
    deploy: Deploy, backups: InstallationBackups, sshd: Sshd, ssh_users: SshUsers,
    tmp_path: Path, restic_binary: str,
) -> None:  # fmt: skip
    size = int(os.environ.get("TOMO_BACKUP_MB", "32")) * MB
    await installed(deploy, "bulky")
    data = deploy.data_root / "bulky" / "data"
    with (data / "random").open("wb") as out:  # half random, half the same again
        for _ in range(size // 2 // MB):
            out.write(os.urandom(MB))
    shutil.copy(data / "random", data / "repeated")

    began = time.monotonic()
    first = await backups.snapshot("bulky")
    took = time.monotonic() - began
    (data / "small").write_text("a small change\n")
    second = await backups.snapshot("bulky")
    fresh = Restic(Repository("by-hand", str(tmp_path / "by-hand"), "pw"), binary=restic_binary)
    await fresh.init()
    by_hand = _by_hand(fresh, sshd, ssh_users, "bulky:/data")  # the same bytes, no dedup
    streamed = sum(p.summary.seconds for p in first.parts)

    print(f"\n{first.bytes_read / MB:.0f} MiB: tomo {took:.1f} s "
          f"({first.bytes_read / MB / took:.0f} MiB/s; restic's own {streamed:.1f} s; downtime "
          f"{first.downtime_seconds:.1f} s), "
          f"by hand {by_hand:.1f} s; stored {first.bytes_added / MB:.1f} MiB, then "
          f"{second.bytes_added / MB:.1f} MiB after a small change")  # fmt: skip
    assert first.bytes_read > size
    assert first.bytes_added < size / 2 + 2 * LARGEST_CHUNK  # the repeated half is stored once
    assert second.bytes_added < 2 * LARGEST_CHUNK + MB


def _by_hand(restic: Restic, sshd: Sshd, users: SshUsers, source: str) -> float:
    ssh = ["ssh", "-i", str(users.key), "-p", str(sshd.port), "-o", "BatchMode=yes",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           f"{users.user}@127.0.0.1", "docker", "container", "cp", "--archive", source, "-"]  # fmt: skip
    backup = [restic.binary, "--repo", restic.repository.location, "--no-cache", "backup",
              "--stdin", "--stdin-filename", "by-hand.tar", "--quiet"]  # fmt: skip
    pipeline = f"{shlex.join(ssh)} | {shlex.join(backup)}"
    began = time.monotonic()
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True,
                   env={**os.environ, "RESTIC_PASSWORD": restic.repository.password})  # fmt: skip
    return time.monotonic() - began
