"""What the monitor makes of an installation's containers, which change it tells, and
when an installation flaps (its changes are then told as one event, not one each).

Pure rules, no I/O: the monitor feeds them what Docker said, what the last pass saw
and the time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tomo.events.kinds import EventKind

# Restarts between two passes that make a crash loop even when each pass happens
# to catch the container up.
LOOP_RESTARTS = 2
# A restarted container counts as up again only after running this long: Docker's own
# measure of a restart that worked (it resets its back-off after 10 s).
STEADY_SECONDS = 10.0


class Health(StrEnum):
    RUNNING = "running"
    EXITED = "exited"
    MISSING = "missing"
    UNHEALTHY = "unhealthy"
    CRASH_LOOP = "crash loop"


@dataclass(frozen=True)
class Container:
    """One container as one `docker container inspect` describes it."""

    name: str
    status: str  # created, running, restarting, exited, paused, dead
    exit_code: int
    health: str | None  # Docker's health check verdict, None without one
    restarts: int
    started_at: datetime | None


@dataclass(frozen=True)
class Seen:
    """An installation as a pass found it."""

    health: Health
    restarts: int  # of all its containers, to count the restarts since the last pass


def judge(containers: Sequence[Container | None], previous: Seen | None, now: datetime) -> Seen:
    """The installation's health from its containers (None: a container that is gone)."""
    if any(c is None for c in containers):
        return Seen(Health.MISSING, 0)
    found = [c for c in containers if c is not None]
    restarts = sum(c.restarts for c in found)
    return Seen(_health(found, restarts - _restarts_before(previous, restarts), previous, now),
                restarts)  # fmt: skip


def _restarts_before(previous: Seen | None, restarts: int) -> int:
    # A recreated container (e.g. by hand) starts counting again from zero.
    if previous is None or previous.restarts > restarts:
        return restarts
    return previous.restarts


def _health(found: list[Container], new_restarts: int, previous: Seen | None,
            now: datetime) -> Health:  # fmt: skip
    if any(c.status == "restarting" for c in found) or new_restarts >= LOOP_RESTARTS:
        return Health.CRASH_LOOP
    if (
        previous is not None
        and previous.health is Health.CRASH_LOOP
        and (new_restarts or any(not _steady(c, now) for c in found))
    ):
        return Health.CRASH_LOOP  # up between two crashes is not recovered
    if any(c.status != "running" for c in found):
        return Health.EXITED
    if any(c.health == "unhealthy" for c in found):
        return Health.UNHEALTHY
    return Health.RUNNING


def _steady(container: Container, now: datetime) -> bool:
    if container.status != "running" or container.started_at is None:
        return container.status == "running"
    return (now - container.started_at).total_seconds() >= STEADY_SECONDS


_TOLD = {
    Health.RUNNING: EventKind.APP_RECOVERED,
    Health.EXITED: EventKind.APP_DOWN,
    Health.MISSING: EventKind.APP_DOWN,
    Health.UNHEALTHY: EventKind.APP_UNHEALTHY,
    Health.CRASH_LOOP: EventKind.APP_CRASH_LOOPING,
}


def told_as(health: Health) -> EventKind:
    """The event that tells an installation is now in `health`."""
    return _TOLD[health]


def change_to_tell(previous: Seen | None, current: Seen) -> EventKind | None:
    """The event a pass records: one per change, none on the first look (what was
    down before tomo started was not seen going down) and none while nothing changes."""
    if previous is None or previous.health is current.health:
        return None
    return told_as(current.health)


# -- flapping ---------------------------------------------------------------------


@dataclass(frozen=True)
class FlapRule:
    """An installation flaps once its state changed `changes` times within `window`;
    it is steady again after a whole `window` without a change."""

    changes: int = 3  # down, back, down again: the third change
    window: timedelta = timedelta(minutes=10)


FLAPPING = FlapRule()  # tomo serve's


@dataclass(frozen=True)
class Flaps:
    """An installation's recent changes of state, as the flap rules keep them."""

    changes: tuple[tuple[datetime, Health], ...] = ()  # within the window, oldest first
    since: datetime | None = None  # its first change of the flapping run (None: not flapping)
    downs: int = 0  # how often it left `running` since `since`

    @property
    def minutes(self) -> int:
        """From its first change (of the flapping run) to its last, in whole minutes
        rounded up, at least one."""
        if not self.changes:
            return 1
        first = self.since or self.changes[0][0]
        return max(1, math.ceil((self.changes[-1][0] - first).total_seconds() / 60))


class Telling(StrEnum):
    """What a pass does with an installation, its flapping considered."""

    NOTHING = "nothing"
    CHANGE = "change"  # tell the change, as one event
    FLAPPING = "flapping"  # tell one event: it flaps; its changes are held from now on
    HELD = "held"  # a change while it flaps: not told
    STEADY = "steady"  # tell one event: it stopped flapping, and how it is now


def count_flap(rule: FlapRule, flaps: Flaps, changed_to: Health | None,
               now: datetime) -> tuple[Flaps, Telling]:  # fmt: skip
    """The installation's changes after this pass (`changed_to`: the state it changed
    to, None when it did not change), and what the pass tells."""
    recent = tuple((at, health) for at, health in flaps.changes if now - at < rule.window)
    if changed_to is not None:
        recent += ((now, changed_to),)
    if flaps.since is not None:
        if changed_to is not None:
            return Flaps(recent, flaps.since, flaps.downs + _down(changed_to)), Telling.HELD
        if not recent:  # what it was (since when, how often down) is the caller's `flaps`
            return Flaps(), Telling.STEADY
        return Flaps(recent, flaps.since, flaps.downs), Telling.NOTHING
    if changed_to is None:
        return Flaps(recent), Telling.NOTHING
    if len(recent) >= rule.changes:
        downs = sum(_down(health) for _, health in recent)
        return Flaps(recent, recent[0][0], downs), Telling.FLAPPING
    return Flaps(recent), Telling.CHANGE


def _down(health: Health) -> int:
    return int(health is not Health.RUNNING)
