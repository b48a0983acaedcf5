"""An update backs the data up first (while the old containers are stopped) and, when
the new version fails after changing the data, puts the data back with the old
containers: on the real test server, with real restic."""

from __future__ import annotations

from tests.backups.test_snapshots import status, volume_folder
from tests.deployment.conftest import Deploy, carried_out
from tests.services import free_port
from tomo.deployment.spec import InstallConfig
from tomo.errors import InstallFailed

VOLUMES = [{"host_path": "./data", "container_path": "/data"},
           {"volume": "store", "container_path": "/store"}]  # fmt: skip
# A new version whose "migration" ruins both data folders, then fails to start.
RUINS_THE_DATA = ["/bin/sh", "-c", "echo ruined > /data/db; echo ruined > /store/db; exit 3"]


async def test_a_failed_update_puts_the_data_and_the_containers_back(deploy: Deploy) -> None:
    deploy.runtime.settings.backup_before_update = True  # the default outside the tests
    port = free_port()
    app = await deploy.publish("ledger", docker=deploy.web_app(port=port, volumes=VOLUMES))
    service = deploy.runtime.deployment
    started = await service.install_app(deploy.server, app, InstallConfig(name="ledger"))
    assert (await service.run_job(started.job_id)).status == "done"
    data, store = deploy.data_root / "ledger" / "data", volume_folder("ledger_store")
    (data / "db").write_text("the books\n")
    (store / "db").write_text("the vault\n")

    await deploy.publish("ledger", docker=deploy.web_app(
        port=port, volumes=VOLUMES, image=deploy.images.web_v2, command=RUINS_THE_DATA))  # fmt: skip
    failed = None
    try:
        await carried_out(service.prepare_update("ledger"))
    except InstallFailed as exc:
        failed = exc.message
    assert failed is not None
    assert "put the previous container back as 'ledger' and started it" in failed
    assert "put the data back as it was before the update (backup " in failed
    assert (data / "db").read_text() == "the books\n"
    assert (store / "db").read_text() == "the vault\n"
    assert status("ledger") == "running"
    (backup,) = await deploy.runtime.backups.list_backups("ledger")
    assert backup.trigger == "update"
    assert not list(data.glob(".tomo-*")) and not list(store.glob(".tomo-*"))


async def test_an_update_that_works_keeps_its_backup_and_says_so(deploy: Deploy) -> None:
    deploy.runtime.settings.backup_before_update = True
    app = await deploy.publish("diary", docker=deploy.web_app(volumes=VOLUMES))
    service = deploy.runtime.deployment
    started = await service.install_app(deploy.server, app, InstallConfig(name="diary"))
    assert (await service.run_job(started.job_id)).status == "done"
    await deploy.publish("diary", docker=deploy.web_app(volumes=VOLUMES,
                                                        image=deploy.images.web_v2))  # fmt: skip
    updated = await carried_out(service.prepare_update("diary"))
    (backup,) = await deploy.runtime.backups.list_backups("diary")
    assert f"backed the data up first (backup {backup.id})" in updated.summary
    assert [p.name for p in backup.parts] == ["tomo/installation.json", "app/data.tar",
                                              "app/store.tar"]  # fmt: skip
    assert backup.downtime_seconds == 0  # the update's own stop: not the backup's
