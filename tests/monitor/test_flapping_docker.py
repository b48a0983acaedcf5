"""A real container killed and started again and again between passes: its channel
receives the first changes, one "flapping" event, then one saying how it ended."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import SecretStr

from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker
from tests.events.receivers import http_receiver
from tests.faults import wait_until
from tests.monitor.test_monitor import TOLD_BY_THE_MONITOR, installed
from tomo.events.kinds import EventKind
from tomo.events.schemas import ChannelCreate, EventPublic
from tomo.monitor.health import FlapRule
from tomo.monitor.monitor import HealthMonitor

# Short enough for a test to wait for a whole window of calm; long enough for the
# kills and starts below to fall within one.
WINDOW = timedelta(seconds=12)


async def test_a_flapping_container_is_told_once_then_once_steady_again(deploy: Deploy) -> None:
    events = deploy.runtime.events
    with http_receiver() as receiver:
        await events.add_channel(ChannelCreate(name="hooks", url=SecretStr(receiver.url()),
                                               events=[]))  # fmt: skip
        web = await installed(deploy, "web", restart_policy="no")
        monitor = HealthMonitor(deploy.runtime.deployment, events, interval=0, time_limit=5,
                                flapping=FlapRule(changes=3, window=WINDOW))  # fmt: skip
        await monitor.run_pass()  # takes note: the app runs
        for verb in ("kill", "start") * 3:  # six changes, each seen by one pass
            docker(verb, "web")
            await monitor.run_pass()
            await monitor.run_pass()  # a pass that sees no change tells nothing

        async def steady() -> bool:
            await monitor.run_pass()
            await asyncio.sleep(0.5)
            return len(await told(deploy)) == 4

        await wait_until(steady, within=WINDOW.total_seconds() + 20)
        await passes_tell_nothing_more(monitor, deploy)
        await events.flush()
        listed = await told(deploy)
        assert [(e.kind, e.title) for e in listed] == [
            (EventKind.APP_DOWN, "web on box is down"),
            (EventKind.APP_RECOVERED, "web on box recovered"),
            (EventKind.APP_FLAPPING, "web on box is flapping: down 2 times in 1 min"),
            (EventKind.APP_RECOVERED, "web on box is steady again: running"),
        ]
        assert all(e.installation_id == web for e in listed)
        flapping, ended = listed[2].detail or "", listed[3].detail or ""
        assert "exit code 137" in flapping and "exited at" in flapping, flapping
        assert "not told one by one" in flapping, flapping
        assert "container web is running again" in ended and "down 3 times" in ended, ended
        posted = [post["json"]["title"] for post in receiver.posts.wait_for(4)]
        assert posted == [f"tomo: {e.title}" for e in listed]


async def told(deploy: Deploy) -> list[EventPublic]:
    """The monitor's events, flapping ones too, oldest first."""
    listed = await deploy.runtime.events.list_events(user_id="nobody", limit=500)
    kinds = TOLD_BY_THE_MONITOR | {EventKind.APP_FLAPPING}
    return [event for event in reversed(listed.events) if event.kind in kinds]


async def passes_tell_nothing_more(monitor: HealthMonitor, deploy: Deploy) -> None:
    for _ in range(2):
        await monitor.run_pass()
    assert len(await told(deploy)) == 4
