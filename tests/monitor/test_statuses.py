"""The statuses a health pass reads are kept on the installations, and the installed
list shows them without asking the servers while they are fresh (real Docker on the
test server, one pass at a time)."""

from __future__ import annotations

from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker
from tests.monitor.test_monitor import installed, monitor_of


async def test_the_installed_list_shows_what_the_last_pass_read(deploy: Deploy) -> None:
    service = deploy.runtime.deployment
    web = await installed(deploy, "web", restart_policy="no")
    assert not service.statuses_fresh()  # no pass yet: the list asks the server
    monitor = monitor_of(deploy)
    await monitor.run_pass()
    assert service.statuses_fresh()

    docker("kill", "web")
    await monitor.run_pass()
    (seen,) = await service.list_for_page()
    assert (seen.id, seen.status, seen.status_message) == (web, "stopped", "exit code 137")

    docker("start", "web")  # behind tomo's back, and no pass since: not asked
    (shown,) = await service.list_for_page()
    assert shown.status == "stopped"
    (asked,) = await service.list_for_page(refresh=True)
    assert (asked.status, asked.status_message) == ("running", None)


async def test_statuses_go_stale_without_a_monitor(deploy: Deploy) -> None:
    service = deploy.runtime.deployment
    await installed(deploy, "web", restart_policy="no")
    await monitor_of(deploy).run_pass()
    assert service.statuses_fresh()
    service.settings = service.settings.model_copy(update={"monitor_interval": 0})  # turned off
    assert not service.statuses_fresh()
    docker("kill", "web")
    (asked,) = await service.list_for_page()  # asked again: not what the last pass read
    assert asked.status == "stopped"
