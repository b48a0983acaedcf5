"""Real restic in a temporary folder; the deployment tests' server, registry and catalog."""

from __future__ import annotations

import logging
import shutil
import subprocess
import uuid
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
from tests.sshd import SshUsers
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


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback (a stand-in for S3 storage, which cannot run here)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        unavailable("moto is not installed (pip install -e '.[dev]')")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def user_folder(ssh_users: SshUsers) -> Iterator[Path]:
    """A folder of the test's own that the SSH test user may write to: another
    server's data root, a repository on a server (rm -rf: containers leave root's
    files in it)."""
    root = Path(f"/tmp/tomo-user-{uuid.uuid4().hex[:8]}")
    root.mkdir()
    shutil.chown(root, user=ssh_users.user)
    yield root
    subprocess.run(["rm", "-rf", str(root)], check=False)


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
