"""Backup schedules: parsing, the last moment one named, and when a backup is due;
fixed instants in a real zone with summer time (no clock, no Docker)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from tomo.backups.schedule import is_due, last_slot, parse_schedule
from tomo.backups.schemas import BackupSettings, backup_columns
from tomo.errors import InvalidInput

BERLIN = ZoneInfo("Europe/Berlin")  # summer time from 2026-03-29 02:00 to 2026-10-25 03:00


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.mark.parametrize(("text", "canonical"), [
    ("hourly", "hourly"), ("daily 02:00", "daily 02:00"), ("  Daily   2:30 ", "daily 02:30"),
    ("weekly sun 23:59", "weekly sun 23:59"), ("WEEKLY Mon 0:05", "weekly mon 00:05"),
])  # fmt: skip
def test_a_schedule_is_read_in_any_case_and_said_one_way(text: str, canonical: str) -> None:
    assert str(parse_schedule(text)) == canonical


@pytest.mark.parametrize(("text", "why"), [
    ("", "write hourly, daily HH:MM or weekly DAY HH:MM, e.g. daily 02:00"),
    ("monthly 02:00", "write hourly, daily HH:MM or weekly DAY HH:MM"),
    ("hourly 02:00", "write hourly, daily HH:MM or weekly DAY HH:MM"),
    ("daily", "write hourly, daily HH:MM or weekly DAY HH:MM"),
    ("daily 2am", "'2am' is not a time: write it as HH:MM, e.g. 02:00"),
    ("daily 24:00", "24:00 is not a time of day (00:00 to 23:59)"),
    ("weekly monday 02:00", "'monday' is not a day of the week (mon, tue, wed, thu, fri, sat, sun)"),
    ("weekly 02:00", "write hourly, daily HH:MM or weekly DAY HH:MM"),
])  # fmt: skip
def test_a_wrong_schedule_is_refused_saying_why_and_naming_its_field(text: str, why: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_schedule(text, ("--schedule",))
    (problem,) = refused.value.problems
    assert problem.text.startswith(f"'{text}' is not a backup schedule: {why}")
    assert problem.fields == ("--schedule",)


@pytest.mark.parametrize(("schedule", "now", "slot"), [
    ("hourly", "2026-06-10 14:59:59", "2026-06-10 14:00"),
    ("hourly", "2026-06-10 14:00", "2026-06-10 14:00"),  # at the moment itself
    ("daily 02:00", "2026-06-10 01:59", "2026-06-09 02:00"),
    ("daily 02:00", "2026-06-10 02:00", "2026-06-10 02:00"),
    ("daily 02:00", "2026-06-10 23:00", "2026-06-10 02:00"),
    ("weekly wed 02:00", "2026-06-10 03:00", "2026-06-10 02:00"),  # a Wednesday
    ("weekly wed 02:00", "2026-06-10 01:00", "2026-06-03 02:00"),
    ("weekly mon 02:00", "2026-06-10 03:00", "2026-06-08 02:00"),
    ("weekly sun 23:00", "2026-06-10 03:00", "2026-06-07 23:00"),
])  # fmt: skip
def test_the_last_slot_is_the_latest_moment_named_at_or_before_now(
    schedule: str, now: str, slot: str
) -> None:
    assert last_slot(parse_schedule(schedule), at(now)) == at(slot)


def test_a_slot_across_a_change_of_summer_time_keeps_its_wall_clock_time() -> None:
    daily = parse_schedule("daily 02:30")
    before = last_slot(daily, at("2026-10-25 12:00"))  # the day winter time comes back
    assert before == at("2026-10-25 02:30") and before.utcoffset() == at("2026-06-01").utcoffset()
    after = last_slot(daily, at("2026-10-26 01:00"))
    assert after.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # once, not twice
    assert last_slot(daily, at("2026-03-30 12:00")) == at("2026-03-30 02:30")


def test_a_time_that_summer_time_skips_comes_at_the_same_instant_an_hour_later() -> None:
    daily = parse_schedule("daily 02:30")  # 2026-03-29 goes from 02:00 straight to 03:00
    assert last_slot(daily, at("2026-03-29 03:10")) == at("2026-03-28 02:30")
    slot = last_slot(daily, at("2026-03-29 03:40"))
    assert slot.astimezone(UTC) == at("2026-03-29 03:30").astimezone(UTC)


def test_due_when_no_backup_since_the_slot_and_the_installation_was_there_before_it() -> None:
    daily, now = parse_schedule("daily 02:00"), at("2026-06-10 09:00")
    old = at("2026-01-01 00:00")
    assert is_due(daily, now, created_at=old, last_backup=None)
    assert is_due(daily, now, created_at=old, last_backup=at("2026-06-10 01:59"))
    assert not is_due(daily, now, created_at=old, last_backup=at("2026-06-10 02:00:01"))
    assert not is_due(daily, now, created_at=at("2026-06-10 08:00"), last_backup=None)  # new
    in_utc = datetime(2026, 6, 10, 0, 30, tzinfo=UTC)  # 02:30 in Berlin: after the slot
    assert not is_due(daily, now, created_at=old, last_backup=in_utc)


def test_settings_with_a_schedule_and_no_retention_keep_the_default_retention() -> None:
    columns = backup_columns(BackupSettings(schedule="daily 2:00"))
    assert columns["backup_schedule"] == "daily 02:00"
    assert columns["backup_keep"] == {"last": 3, "daily": 7, "weekly": 4, "monthly": 6}
    assert backup_columns(BackupSettings())["backup_keep"] is None  # on demand: keep every one
    assert backup_columns(BackupSettings(keep_last=1))["backup_keep"] == {"last": 1}
    with pytest.raises(ValidationError, match="is not a backup schedule"):
        BackupSettings(schedule="every day")
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        BackupSettings(keep_daily=0)
