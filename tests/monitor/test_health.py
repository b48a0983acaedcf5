"""The monitor's rules: what containers' states mean, and which change is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tomo.events.kinds import EventKind
from tomo.monitor.health import STEADY_SECONDS, Container, Health, Seen, change_to_tell, judge

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=1)


def box(status: str = "running", *, restarts: int = 0, health: str | None = None,
        exit_code: int = 0, started: datetime = LONG_AGO) -> Container:  # fmt: skip
    return Container("web", status, exit_code, health, restarts, started)


def seen(health: Health, restarts: int = 0) -> Seen:
    return Seen(health, restarts)


@pytest.mark.parametrize(("containers", "health"), [
    ([box()], Health.RUNNING),
    ([box(), box("exited", exit_code=137)], Health.EXITED),
    ([box(), None], Health.MISSING),
    ([box(health="unhealthy")], Health.UNHEALTHY),
    ([box("restarting", restarts=1)], Health.CRASH_LOOP),
    ([box("paused")], Health.EXITED),
])  # fmt: skip
def test_what_the_containers_say(containers: list[Container | None], health: Health) -> None:
    assert judge(containers, seen(Health.RUNNING), NOW).health is health


def test_two_restarts_between_passes_are_a_crash_loop_though_it_runs_now() -> None:
    assert judge([box(restarts=5)], seen(Health.RUNNING, 3), NOW).health is Health.CRASH_LOOP
    assert judge([box(restarts=4)], seen(Health.RUNNING, 3), NOW).health is Health.RUNNING


def test_a_recreated_container_counts_its_restarts_afresh() -> None:
    assert judge([box(restarts=1)], seen(Health.RUNNING, 9), NOW).health is Health.RUNNING


def test_a_crash_loop_ends_only_once_the_container_has_run_steadily() -> None:
    looping = seen(Health.CRASH_LOOP, 4)
    just_started = NOW - timedelta(seconds=STEADY_SECONDS / 2)
    assert judge([box(restarts=4, started=just_started)], looping, NOW).health is Health.CRASH_LOOP
    assert judge([box(restarts=5)], looping, NOW).health is Health.CRASH_LOOP
    assert judge([box(restarts=4)], looping, NOW).health is Health.RUNNING


def test_the_first_look_and_no_change_tell_nothing() -> None:
    assert change_to_tell(None, seen(Health.EXITED)) is None
    assert change_to_tell(seen(Health.EXITED), seen(Health.EXITED, 1)) is None
    assert change_to_tell(seen(Health.RUNNING), seen(Health.RUNNING, 1)) is None


@pytest.mark.parametrize(("before", "after", "told"), [
    (Health.RUNNING, Health.EXITED, EventKind.APP_DOWN),
    (Health.EXITED, Health.MISSING, EventKind.APP_DOWN),
    (Health.RUNNING, Health.UNHEALTHY, EventKind.APP_UNHEALTHY),
    (Health.RUNNING, Health.CRASH_LOOP, EventKind.APP_CRASH_LOOPING),
    (Health.EXITED, Health.RUNNING, EventKind.APP_RECOVERED),
    (Health.CRASH_LOOP, Health.RUNNING, EventKind.APP_RECOVERED),
])  # fmt: skip
def test_each_change_is_told_once(before: Health, after: Health, told: EventKind) -> None:
    assert change_to_tell(seen(before), seen(after)) is told
