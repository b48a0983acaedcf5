"""How updates reach an installation, and when an automatic one may run.

- `manual` (the default): an offered update is shown everywhere (the list's badge,
  `tomo outdated`, the API) and applied by hand;
- `notify`: the same, and each new offer is told once as an `update-available`
  event (so it reaches the channels that chose it);
- `auto`: applied by tomo inside the installation's maintenance window, as the
  same all-or-nothing update as by hand; when both versions are release numbers,
  only within the same major version unless the admin allowed more;
- `pinned`: never offered, never applied (the admin keeps it as it is).

A window is two times of day, `03:00-05:00`, in tomo's local time; one that ends
before it starts runs over midnight (`23:00-01:00`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum

from tomo.errors import InvalidInput, Refusal


class UpdatePolicy(StrEnum):
    MANUAL = "manual"
    NOTIFY = "notify"
    AUTO = "auto"
    PINNED = "pinned"


POLICY_WORDS = {
    UpdatePolicy.MANUAL: "shown when offered, applied by hand",
    UpdatePolicy.NOTIFY: "shown and told to the notification channels when offered",
    UpdatePolicy.AUTO: "applied by tomo inside its maintenance window",
    UpdatePolicy.PINNED: "never offered: kept as it is",
}
DEFAULT_WINDOW = "03:00-05:00"
_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class Window:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def holds(self, moment: datetime) -> bool:
        """Whether `moment` (in the window's clock) is inside it; the end is outside."""
        now = moment.time().replace(second=0, microsecond=0)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end  # over midnight


def parse_policy(text: str, field: tuple[str, ...] = ("updates",)) -> UpdatePolicy:
    try:
        return UpdatePolicy(text.strip().lower())
    except ValueError:
        choices = ", ".join(policy.value for policy in UpdatePolicy)
        raise InvalidInput(
            [Refusal(f"'{text}' is not an update policy (one of: {choices})", field)]
        ) from None


def parse_window(text: str, field: tuple[str, ...] = ("window",)) -> Window:
    """`HH:MM-HH:MM`, each a real time of day, the two different."""
    match = _WINDOW.fullmatch(text)
    if match is None:
        raise InvalidInput([Refusal(
            f"'{text}' is not a maintenance window: write it as HH:MM-HH:MM, e.g. {DEFAULT_WINDOW}",
            field,
        )])  # fmt: skip
    hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
    for hour, minute in ((hour1, minute1), (hour2, minute2)):
        if hour > 23 or minute > 59:
            raise InvalidInput([Refusal(
                f"'{text}' is not a maintenance window: {hour:02d}:{minute:02d} is not a "
                "time of day (00:00 to 23:59)", field,
            )])  # fmt: skip
    window = Window(time(hour1, minute1), time(hour2, minute2))
    if window.start == window.end:
        raise InvalidInput([Refusal(
            f"'{text}' is not a maintenance window: it starts and ends at the same time", field
        )])  # fmt: skip
    return window


def window_of(text: str | None) -> Window:
    """An installation's stored window (checked when it was set), or the default."""
    return parse_window(text or DEFAULT_WINDOW)
