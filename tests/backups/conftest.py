"""Real restic in a temporary folder; the deployment tests' server, registry and catalog."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment.conftest import (  # noqa: F401 - fixtures
    Deploy,
    data_root,
    database_url,
    deploy,
    images,
    registry,
    tomo,
)
from tests.services import unavailable
from tomo.backups.restic import Repository, Restic
from tomo.backups.snapshots import InstallationBackups


@pytest.fixture
def restic_binary() -> str:
    found = shutil.which("restic")
    if found is None:
        unavailable("restic is not installed (apt-get install restic)")
    return found


@pytest.fixture
async def restic(tmp_path: Path, restic_binary: str) -> Restic:
    """A repository just made, in a folder of the test's own."""
    made = Restic(Repository("test", str(tmp_path / "repo"), "correct horse battery staple"),
                  binary=restic_binary)  # fmt: skip
    await made.init()
    return made


@pytest.fixture
async def backups(deploy: Deploy, restic: Restic) -> InstallationBackups:  # noqa: F811
    """Backups of the test server's installations into the test's repository."""
    return InstallationBackups(deploy.runtime.deployment.ctx, restic)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB filesystem (tmpfs), to be filled."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        unavailable(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)
