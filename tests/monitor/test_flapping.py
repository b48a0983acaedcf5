"""The flap rules, pass by pass on a clock the test moves: one event per change until
an installation flaps, then one event for the flapping and one when it is steady again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tomo.monitor.health import (
    FLAPPING,
    FlapRule,
    Flaps,
    Health,
    Telling,
    count_flap,
)

START = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
RULE = FlapRule(changes=3, window=timedelta(minutes=10))
DOWN, UP = Health.EXITED, Health.RUNNING


def passes(steps: Iterable[tuple[timedelta, Health | None]],
           rule: FlapRule = RULE) -> tuple[list[Telling], Flaps]:  # fmt: skip
    """What each pass tells, for passes at START + each offset that saw each change
    (None: no change), and the last flaps."""
    flaps, told = Flaps(), []
    for offset, changed_to in steps:
        flaps, telling = count_flap(rule, flaps, changed_to, START + offset)
        told.append(telling)
    return told, flaps


def test_down_and_back_once_is_told_change_by_change() -> None:
    told, flaps = passes([(0 * MINUTE, None), (1 * MINUTE, DOWN), (2 * MINUTE, None),
                          (3 * MINUTE, UP), (4 * MINUTE, None)])  # fmt: skip
    assert told == [Telling.NOTHING, Telling.CHANGE, Telling.NOTHING, Telling.CHANGE,
                    Telling.NOTHING]  # fmt: skip
    assert flaps.since is None


def test_the_third_change_within_the_window_is_told_as_flapping_once() -> None:
    told, flaps = passes([(1 * MINUTE, DOWN), (2 * MINUTE, UP), (3 * MINUTE, DOWN),
                          (4 * MINUTE, UP), (5 * MINUTE, DOWN), (6 * MINUTE, UP)])  # fmt: skip
    assert told == [Telling.CHANGE, Telling.CHANGE, Telling.FLAPPING, Telling.HELD,
                    Telling.HELD, Telling.HELD]  # fmt: skip
    assert (flaps.since, flaps.downs) == (START + MINUTE, 3)


def test_changes_spread_wider_than_the_window_never_flap() -> None:
    steps = [(n * 6 * MINUTE, DOWN if n % 2 else UP) for n in range(1, 9)]
    told, _ = passes(steps)
    assert told == [Telling.CHANGE] * 8


def test_steady_for_a_whole_window_ends_it_with_one_event() -> None:
    flapping = [(1 * MINUTE, DOWN), (2 * MINUTE, UP), (3 * MINUTE, DOWN), (4 * MINUTE, UP)]
    quiet = [(n * MINUTE, None) for n in range(5, 14)]  # the last change 9 minutes before
    told, flaps = passes([*flapping, *quiet, (14 * MINUTE, None), (15 * MINUTE, None)])
    assert told[4:] == [Telling.NOTHING] * 9 + [Telling.STEADY, Telling.NOTHING]
    assert flaps == Flaps()  # forgotten: it starts afresh


def test_a_change_while_flapping_restarts_the_wait_for_steady() -> None:
    steps = [(1 * MINUTE, DOWN), (2 * MINUTE, UP), (3 * MINUTE, DOWN),
             (12 * MINUTE, UP), (21 * MINUTE, None), (22 * MINUTE, None)]  # fmt: skip
    told, _ = passes(steps)
    assert told == [Telling.CHANGE, Telling.CHANGE, Telling.FLAPPING, Telling.HELD,
                    Telling.NOTHING, Telling.STEADY]  # fmt: skip


def test_after_steady_it_may_flap_again_and_is_told_again() -> None:
    once = [(1 * MINUTE, DOWN), (2 * MINUTE, UP), (3 * MINUTE, DOWN), (14 * MINUTE, None)]
    again = [(20 * MINUTE, UP), (21 * MINUTE, DOWN), (22 * MINUTE, UP)]
    told, _ = passes([*once, *again])
    assert told == [Telling.CHANGE, Telling.CHANGE, Telling.FLAPPING, Telling.STEADY,
                    Telling.CHANGE, Telling.CHANGE, Telling.FLAPPING]  # fmt: skip


def test_every_state_but_running_counts_as_down() -> None:
    steps = [(1 * MINUTE, Health.UNHEALTHY), (2 * MINUTE, UP), (3 * MINUTE, Health.CRASH_LOOP),
             (4 * MINUTE, Health.MISSING)]  # fmt: skip
    _, flaps = passes(steps)
    assert flaps.downs == 3


def test_tomo_serve_flaps_at_three_changes_within_ten_minutes() -> None:
    assert (FLAPPING.changes, FLAPPING.window) == (3, timedelta(minutes=10))
    told, _ = passes([(0 * MINUTE, DOWN), (5 * MINUTE, UP), (9 * MINUTE, DOWN)], FLAPPING)
    assert told[-1] is Telling.FLAPPING


def test_how_long_it_flapped_is_in_minutes_rounded_up() -> None:
    def lasted(*seconds: int, since: datetime | None = None) -> int:
        changes = tuple((START + timedelta(seconds=s), DOWN) for s in seconds)
        return Flaps(changes, since).minutes

    assert (lasted(), lasted(0), lasted(0, 61), lasted(0, 240)) == (1, 1, 2, 4)
    assert lasted(600, 700, since=START) == 12  # from the start of its flapping run
