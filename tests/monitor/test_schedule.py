"""The monitor's own schedule inside a runtime (no server: a pass over nothing)."""

from __future__ import annotations

import asyncio

from tests.faults import wait_until
from tomo.monitor.monitor import HealthMonitor
from tomo.runtime import Runtime


def monitor_every(runtime: Runtime, seconds: float) -> HealthMonitor:
    return HealthMonitor(runtime.deployment, runtime.events, interval=seconds, time_limit=1)


async def test_a_started_monitor_passes_once_an_interval_until_stopped(runtime: Runtime) -> None:
    monitor = monitor_every(runtime, 0.05)
    monitor.start()
    await wait_until(lambda: monitor.last_pass is not None, within=10)
    first = monitor.last_pass
    await wait_until(lambda: monitor.last_pass != first, within=10)
    await monitor.stop()
    stopped_at = monitor.last_pass
    await asyncio.sleep(0.2)  # four intervals: the loop would have passed, had it not stopped
    assert monitor.last_pass == stopped_at


async def test_an_interval_of_zero_turns_the_monitor_off(runtime: Runtime) -> None:
    monitor = monitor_every(runtime, 0)
    monitor.start()
    await asyncio.sleep(0.2)  # four of the intervals the test above uses
    assert monitor.last_pass is None
    await monitor.stop()
