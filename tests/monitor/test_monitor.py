"""The health monitor against real containers on the test server, one pass at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy, run_verb, server_for
from tests.deployment.test_install import docker
from tests.events.receivers import http_receiver, smtp_receiver
from tests.faults import wait_until
from tests.sshd import Sshd, SshUsers
from tomo.deployment.spec import InstallConfig
from tomo.events.kinds import EventKind
from tomo.events.schemas import ChannelCreate, EventPublic
from tomo.monitor.monitor import HealthMonitor

TOLD_BY_THE_MONITOR = {
    EventKind.APP_DOWN, EventKind.APP_UNHEALTHY, EventKind.APP_CRASH_LOOPING,
    EventKind.APP_RECOVERED, EventKind.SERVER_UNREACHABLE, EventKind.SERVER_BACK,
}  # fmt: skip


def monitor_of(deploy: Deploy) -> HealthMonitor:
    """A monitor whose passes the test runs itself (no interval of its own)."""
    return HealthMonitor(deploy.runtime.deployment, deploy.runtime.events, interval=0,
                         time_limit=5)  # fmt: skip


async def installed(deploy: Deploy, name: str, server: str = "box", **docker: Any) -> str:
    app = await deploy.publish(name, docker=deploy.web_app(**docker))
    service = deploy.runtime.deployment
    started = await service.install_app(server, app, InstallConfig(name=name))
    view = await service.run_job(started.job_id)
    assert view.status == "done", view.error
    return started.installation.id


async def told(deploy: Deploy) -> list[EventPublic]:
    """The monitor's events, oldest first."""
    listed = await deploy.runtime.events.list_events(user_id="nobody", limit=500)
    return [event for event in reversed(listed.events) if event.kind in TOLD_BY_THE_MONITOR]


async def passes(monitor: HealthMonitor, count: int) -> None:
    for _ in range(count):
        await monitor.run_pass()


async def test_a_killed_app_is_told_once_down_and_once_recovered(deploy: Deploy) -> None:
    events = deploy.runtime.events
    with http_receiver() as receiver, smtp_receiver() as smtp:
        for name, url in (("hooks", receiver.url()), ("mail", smtp.url())):
            await events.add_channel(ChannelCreate(name=name, url=SecretStr(url), events=[]))
        web = await installed(deploy, "web", restart_policy="no")
        monitor = monitor_of(deploy)
        await monitor.run_pass()  # takes note: the app runs

        docker("kill", "web")
        await passes(monitor, 3)
        await events.flush()
        (down,) = await told(deploy)
        assert (down.kind, down.installation_id, down.title) == (
            EventKind.APP_DOWN, web, "web on box is down")  # fmt: skip
        assert down.detail is not None and "exit code 137" in down.detail, down.detail
        assert [post["json"]["title"] for post in receiver.posts.wait_for(1)] == [
            "tomo: web on box is down"]  # fmt: skip
        (mail,) = smtp.mails.wait_for(1)
        assert "web on box is down" in mail["data"]

        docker("start", "web")
        await passes(monitor, 2)
        await events.flush()
        assert [(e.kind, e.title) for e in await told(deploy)] == [
            (EventKind.APP_DOWN, "web on box is down"),
            (EventKind.APP_RECOVERED, "web on box recovered"),
        ]
        assert len(receiver.posts.wait_for(2)) == 2
        assert len(smtp.mails.wait_for(2)) == 2


async def test_a_stop_and_start_through_tomo_tell_nothing(deploy: Deploy, tomo: Tomo) -> None:
    await installed(deploy, "web")
    monitor = monitor_of(deploy)
    await monitor.run_pass()
    await run_verb(deploy.runtime.deployment, "stop", "web")
    await passes(monitor, 2)
    await run_verb(deploy.runtime.deployment, "start", "web")
    await passes(monitor, 2)
    assert await told(deploy) == []
    docker("kill", "web")  # the monitor still watches it
    await monitor.run_pass()
    assert [e.kind for e in await told(deploy)] == [EventKind.APP_DOWN]
    listed = tomo.json("events")["events"]  # `tomo events` lists what the monitor told
    assert [(e["kind"], e["title"]) for e in listed] == [("app-down", "web on box is down")]


async def test_a_container_docker_keeps_restarting_is_told_once_as_a_crash_loop(
    deploy: Deploy,
) -> None:
    await installed(deploy, "crashy", image=deploy.images.crashy, restart_policy="always")
    monitor = monitor_of(deploy)
    await monitor.run_pass()

    async def looping() -> bool:
        await monitor.run_pass()
        await asyncio.sleep(0.3)  # a pass now and then, as the interval would
        return bool(await told(deploy))

    await wait_until(looping, within=60)
    await passes(monitor, 3)
    (loop,) = await told(deploy)
    assert (loop.kind, loop.title) == (
        EventKind.APP_CRASH_LOOPING,
        "crashy on box is in a crash loop",
    )
    assert loop.detail is not None and "Docker keeps restarting container crashy" in loop.detail


async def test_a_server_whose_sshd_stops_is_told_unreachable_then_back(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> None:
    await deploy.runtime.servers.add_server(server_for("flaky", own_sshd, ssh_users, data_root))
    await installed(deploy, "web", server="flaky")
    monitor = monitor_of(deploy)
    await monitor.run_pass()

    own_sshd.stop()
    await passes(monitor, 3)
    (gone,) = await told(deploy)
    assert (gone.kind, gone.server_id, gone.title) == (
        EventKind.SERVER_UNREACHABLE, "flaky", "Server flaky is unreachable")  # fmt: skip

    own_sshd.start()
    await passes(monitor, 2)
    assert [(e.kind, e.title) for e in await told(deploy)] == [
        (EventKind.SERVER_UNREACHABLE, "Server flaky is unreachable"),
        (EventKind.SERVER_BACK, "Server flaky is back"),
    ]
