"""A backup restored onto another server: the app installed there as it was backed up,
then its data restored; on the second test server, a Docker engine of its own."""

from __future__ import annotations

from pathlib import Path

from tests.backups.test_snapshots import fill, installed, tree, volume_folder
from tests.deployment.conftest import Deploy, carried_out, server_for
from tests.dockerhost import DockerHost
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tomo.deployment.spec import ConfigChanges, PortOverride


async def test_a_backup_restored_onto_another_server_runs_the_app_there_with_its_data(
    deploy: Deploy, ssh_users: SshUsers, user_folder: Path
) -> None:
    await installed(deploy, "mover")
    data, store = deploy.data_root / "mover" / "data", volume_folder("mover_store")
    fill(data, "bind")
    fill(store, "volume")
    saved = [tree(data), tree(store)]
    made = await carried_out(deploy.runtime.backups.prepare_backup("mover"))

    engine = DockerHost(201).start()
    sshd = Sshd(ssh_users, f"elsewhere-{free_port()}", extra_config=engine.sshd_config()).start()
    try:
        await deploy.runtime.servers.add_server(
            server_for("elsewhere", sshd, ssh_users, user_folder)
        )
        backups = deploy.runtime.backups
        # Both "servers" are this machine: the app's own host port is taken here.
        port = ConfigChanges(ports=[PortOverride(host=free_port(), container=80)])
        new = await carried_out(
            backups.prepare_restore_install(made.job_id, "elsewhere", changes=port)
        )
        assert (new.installation.server_id, new.installation.name) == ("elsewhere", "mover")
        restored = await carried_out(backups.prepare_restore(made.job_id, new.installation.id))
        assert restored.installation.status == "running"

        state = engine.docker("container", "inspect", "--format", "{{.State.Status}}", "mover")
        assert state.stdout.decode().strip() == "running"
        volume = engine.docker("volume", "inspect", "--format", "{{.Mountpoint}}", "mover_store")
        assert tree(user_folder / "mover" / "data") == saved[0]
        assert tree(Path(volume.stdout.decode().strip())) == saved[1]
    finally:
        sshd.stop()
        engine.remove()
