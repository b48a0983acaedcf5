"""When an installation is backed up on its own: its schedule, in tomo's local time.

- `hourly`: at the start of every hour;
- `daily HH:MM`: every day at that time;
- `weekly DAY HH:MM`: every week on that day (mon, tue, wed, thu, fri, sat, sun).

A schedule names moments (`last_slot`: the latest one so far). A backup is due when
none of the installation was made (by any trigger) since the last moment named, and
the installation existed before it: a new installation waits for its first moment,
and a tomo that was off at 02:00 makes the backup it missed once, when it is back.

Times are reckoned on the wall clock of `now`'s zone and compared as instants: a
02:30 that a change to summer time skips comes at 03:30 (the same instant), and one
that the change back repeats comes once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from tomo.errors import InvalidInput, Refusal

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday()'s order
EXAMPLE = "daily 02:00"
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


class Every(StrEnum):
    HOUR = "hourly"
    DAY = "daily"
    WEEK = "weekly"


_PERIOD = {Every.HOUR: timedelta(hours=1), Every.DAY: timedelta(days=1),
           Every.WEEK: timedelta(weeks=1)}  # fmt: skip


@dataclass(frozen=True)
class Schedule:
    every: Every
    at: time = time(0, 0)  # of the day (daily, weekly); hourly: on the hour
    day: int = 0  # of the week, Monday 0 (weekly)

    def __str__(self) -> str:
        if self.every is Every.HOUR:
            return self.every.value
        if self.every is Every.DAY:
            return f"{self.every.value} {self.at:%H:%M}"
        return f"{self.every.value} {DAYS[self.day]} {self.at:%H:%M}"


def parse_schedule(text: str, field: tuple[str, ...] = ("schedule",)) -> Schedule:
    """`hourly`, `daily HH:MM` or `weekly DAY HH:MM`, in any case."""
    words = text.lower().split()
    try:
        every = Every(words[0]) if words else None
    except ValueError:
        every = None
    wanted = {Every.HOUR: 1, Every.DAY: 2, Every.WEEK: 3}
    if every is None or len(words) != wanted[every]:
        raise _refused(text, f"write hourly, daily HH:MM or weekly DAY HH:MM, e.g. {EXAMPLE}",
                       field)  # fmt: skip
    if every is Every.HOUR:
        return Schedule(every)
    day = _day(text, words[1], field) if every is Every.WEEK else 0
    return Schedule(every, _time_of_day(text, words[-1], field), day)


def schedule_of(text: str) -> Schedule:
    """An installation's stored schedule (checked when it was set)."""
    return parse_schedule(text)


def last_slot(schedule: Schedule, now: datetime) -> datetime:
    """The latest moment the schedule names at or before `now` (an aware datetime;
    the schedule is read on its zone's wall clock)."""
    slot = _slot_near(schedule, now)
    while slot.astimezone(UTC) > now.astimezone(UTC):
        slot -= _PERIOD[schedule.every]  # on the wall clock: the zone's offset follows
    return slot


def is_due(
    schedule: Schedule, now: datetime, *, created_at: datetime, last_backup: datetime | None
) -> bool:
    """Whether the installation, made at `created_at`, needs a backup now: it existed
    at the last moment named and has no backup (`last_backup`: its latest) since."""
    slot = last_slot(schedule, now)
    return created_at < slot and (last_backup is None or last_backup < slot)


def _slot_near(schedule: Schedule, now: datetime) -> datetime:
    """The schedule's moment in `now`'s hour, day or week (possibly after `now`)."""
    if schedule.every is Every.HOUR:
        return now.replace(minute=0, second=0, microsecond=0)
    slot = now.replace(hour=schedule.at.hour, minute=schedule.at.minute, second=0,
                       microsecond=0, fold=0)  # fmt: skip
    if schedule.every is Every.WEEK:
        slot -= timedelta(days=(now.weekday() - schedule.day) % 7)
    return slot


def _day(text: str, word: str, field: tuple[str, ...]) -> int:
    if word not in DAYS:
        raise _refused(text, f"'{word}' is not a day of the week ({', '.join(DAYS)})", field)
    return DAYS.index(word)


def _time_of_day(text: str, word: str, field: tuple[str, ...]) -> time:
    match = _TIME.fullmatch(word)
    if match is None:
        raise _refused(text, f"'{word}' is not a time: write it as HH:MM, e.g. 02:00", field)
    hour, minute = (int(part) for part in match.groups())
    if hour > 23 or minute > 59:
        raise _refused(text, f"{hour:02d}:{minute:02d} is not a time of day (00:00 to 23:59)",
                       field)  # fmt: skip
    return time(hour, minute)


def _refused(text: str, why: str, field: tuple[str, ...]) -> InvalidInput:
    return InvalidInput([Refusal(f"'{text}' is not a backup schedule: {why}", field)])
