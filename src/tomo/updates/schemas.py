"""An installation's update settings, as every face reads and sets them."""

from __future__ import annotations

from pydantic import BaseModel, field_validator

from tomo.errors import InvalidInput
from tomo.updates.policy import UpdatePolicy, parse_window


class UpdateSettings(BaseModel):
    """How updates reach an installation (see tomo/updates/policy.py)."""

    policy: UpdatePolicy = UpdatePolicy.MANUAL
    # HH:MM-HH:MM in tomo's local time, for `auto`; None: the default (03:00-05:00).
    window: str | None = None
    # `auto` may cross a major version (1.x -> 2.0) when both are release numbers.
    major: bool = False

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return str(parse_window(value))
        except InvalidInput as exc:
            raise ValueError(exc.problems[0].text) from None


def update_columns(settings: UpdateSettings) -> dict[str, object]:
    """The installation's columns that keep `settings`."""
    return {"update_policy": settings.policy, "update_window": settings.window,
            "update_major": settings.major}  # fmt: skip
