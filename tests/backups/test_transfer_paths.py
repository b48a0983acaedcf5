"""The two ways an app's data travels: OpenSSH's client with tomo's key login (bulk
data, the default for a key login), and the pooled asyncssh channel (a server that
logs in with a password); and the connection lost in the middle of a backup."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.backups.test_snapshots import fill, status, tree
from tests.deployment.conftest import Deploy, carried_out, server_for
from tests.faults import wait_until
from tests.sshd import Sshd, SshUsers
from tomo.deployment.spec import InstallConfig
from tomo.errors import ServerUnreachable
from tomo.servers.openssh import FOLDER_PREFIX


def ssh_folders() -> set[str]:
    """The private folders OpenSSH is given tomo's login in by this process (one per
    transfer; other workers' own are theirs)."""
    return set(glob.glob(f"{tempfile.gettempdir()}/{FOLDER_PREFIX}{os.getpid()}-*"))


async def installed_on(deploy: Deploy, server: str, name: str) -> None:
    app = await deploy.publish(name, docker=deploy.web_app())
    service = deploy.runtime.deployment
    started = await service.install_app(server, app, InstallConfig(name=name))
    assert (await service.run_job(started.job_id)).status == "done"


async def test_a_server_that_logs_in_with_a_password_sends_the_data_over_tomo_s_channel(
    deploy: Deploy, sshd: Sshd, ssh_users: SshUsers, user_folder: Path
) -> None:
    by_password = server_for("pwbox", sshd, ssh_users, user_folder).model_copy(
        update={"private_key": None, "password": SecretStr(ssh_users.password)}
    )
    await deploy.runtime.servers.add_server(by_password)
    await installed_on(deploy, "pwbox", "pwnotes")
    data = user_folder / "pwnotes" / "data"
    fill(data, "password")
    saved = tree(data)
    before = ssh_folders()
    made = await carried_out(deploy.runtime.backups.prepare_backup("pwnotes"))
    shutil.rmtree(data)
    data.mkdir()
    await carried_out(deploy.runtime.backups.prepare_restore(made.job_id))
    assert tree(data) == saved
    assert ssh_folders() == before  # OpenSSH was never given a login for it


async def test_the_connection_lost_mid_backup_fails_it_and_the_app_runs_again(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, user_folder: Path
) -> None:
    await deploy.runtime.servers.add_server(server_for("far", own_sshd, ssh_users, user_folder))
    await installed_on(deploy, "far", "farnotes")
    (user_folder / "farnotes" / "data" / "big").write_bytes(os.urandom(300 << 20))
    before = ssh_folders()
    backups = deploy.runtime.backups
    backing_up = asyncio.ensure_future(carried_out(backups.prepare_backup("farnotes")))
    await wait_until(lambda: bool(ssh_folders() - before) or backing_up.done(), within=60)
    await asyncio.sleep(0.3)  # the stream under way
    own_sshd.kill_connections()

    with pytest.raises(ServerUnreachable, match="far"):
        await backing_up
    assert status("farnotes") == "running"  # started again on a new connection
    assert await backups.list_backups("farnotes") == []
    restic = await backups.repositories.default()
    assert await restic.snapshots() == []  # the part made before is forgotten
    assert ssh_folders() == before
