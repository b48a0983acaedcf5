"""Update policies and maintenance windows, as the CLI and the API take them."""

from __future__ import annotations

from datetime import datetime

import pytest

from tomo.errors import InvalidInput
from tomo.updates.policy import UpdatePolicy, parse_policy, parse_window
from tomo.updates.schemas import UpdateSettings


@pytest.mark.parametrize(("window", "moment", "inside"), [
    ("03:00-05:00", "03:00", True), ("03:00-05:00", "04:59", True),
    ("03:00-05:00", "05:00", False), ("03:00-05:00", "02:59", False),
    ("23:00-01:00", "23:30", True), ("23:00-01:00", "00:30", True),
    ("23:00-01:00", "01:00", False), ("23:00-01:00", "12:00", False),
    (" 3:15 - 4:00 ", "03:15", True),
])  # fmt: skip
def test_a_window_holds_from_its_start_to_before_its_end(
    window: str, moment: str, inside: bool
) -> None:
    hour, minute = map(int, moment.split(":"))
    assert parse_window(window).holds(datetime(2026, 12, 6, hour, minute)) is inside


@pytest.mark.parametrize(("window", "said"), [
    ("25:00", "'25:00' is not a maintenance window: write it as HH:MM-HH:MM"),
    ("03:00-25:00", "25:00 is not a time of day (00:00 to 23:59)"),
    ("03:60-05:00", "03:60 is not a time of day"),
    ("03:00-03:00", "it starts and ends at the same time"),
    ("3am-5am", "write it as HH:MM-HH:MM, e.g. 03:00-05:00"),
])  # fmt: skip
def test_a_window_that_is_not_one_is_refused_naming_the_field(window: str, said: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_window(window, ("--window",))
    (problem,) = refused.value.problems
    assert said in problem.text and problem.fields == ("--window",)


def test_a_window_reads_back_in_one_form() -> None:
    assert str(parse_window("3:05 - 4:00")) == "03:05-04:00"
    assert UpdateSettings(policy=UpdatePolicy.AUTO, window=" 3:05-4:00").window == "03:05-04:00"
    assert UpdateSettings(window="  ").window is None


def test_a_policy_is_one_of_four() -> None:
    assert parse_policy(" Auto ") is UpdatePolicy.AUTO
    with pytest.raises(InvalidInput, match="'weekly' is not an update policy "
                       r"\(one of: manual, notify, auto, pinned\)"):  # fmt: skip
        parse_policy("weekly")
