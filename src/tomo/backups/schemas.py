"""What the faces show of backups."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tomo.backups.schedule import parse_schedule
from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.deployment.models import Installation


class BackupPartPublic(BaseModel):
    name: str  # SERVICE/PATH.tar, or tomo/installation.json (the record)
    bytes_read: int  # the data as it was


class BackupPublic(BaseModel):
    """One whole backup of one installation."""

    model_config = ConfigDict(from_attributes=True)

    id: str  # the id of the job that made it
    installation_id: str
    installation_name: str
    server_id: str
    app: str
    version: str
    repository_id: str
    trigger: str  # manual, update (made before one), schedule
    created_at: datetime
    bytes_read: int  # every part's data as it was
    bytes_added: int  # what the repository grew by: what changed since the backups before
    downtime_seconds: float  # how long the app was stopped for it
    parts: list[BackupPartPublic]


class BackupForgotten(BaseModel):
    backup: BackupPublic
    freed: bool  # its data that no other backup shares was removed from the repository


# The retention a schedule brings when none is given: the last 3 backups, and the
# newest of each of the last 7 days, 4 weeks and 6 months.
DEFAULT_KEEP = {"last": 3, "daily": 7, "weekly": 4, "monthly": 6}
KEEP_RULES = ("last", "daily", "weekly", "monthly")


class RepositoryPublic(BaseModel):
    """A backup repository as anyone may see it: never its password or keys."""

    name: str
    kind: str  # local, sftp (a folder on a server tomo manages), s3
    location: str  # the folder (and its server), or the S3 URL
    server: str | None  # sftp: the server holding it
    default: bool  # installations without a choice of their own back up into it
    backups: int  # how many whole backups it holds
    created_at: datetime


class RepositoryCreate(BaseModel):
    """A repository to add, its kind told by what is given: `server` and `path` (a
    folder on that server), `url` and an access key (S3-compatible storage), or
    `path` alone (a folder on tomo's host)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    server: str | None = None
    path: str | None = Field(default=None, max_length=4096)
    url: str | None = Field(default=None, max_length=2048)
    access_key_id: str | None = Field(default=None, max_length=256)
    secret_access_key: SecretStr | None = Field(default=None, max_length=1024)
    region: str | None = Field(default=None, max_length=64)


class BackupSettings(BaseModel):
    """An installation's backups as every face reads and sets them (see schedule.py).

    A schedule set with no `keep_*` keeps the last 3 backups and the newest of each of
    the last 7 days, 4 weeks and 6 months; no schedule and no `keep_*`: every backup
    is kept. A retention is applied after each backup of the installation."""

    model_config = ConfigDict(strict=True)  # 0 is no `false`, "3" no 3: refused, not guessed

    # hourly, daily HH:MM or weekly DAY HH:MM in tomo's local time; None: on demand only
    schedule: str | None = None
    keep_last: int | None = Field(default=None, ge=1)  # the newest N backups
    keep_daily: int | None = Field(default=None, ge=1)  # the newest of each of N days
    keep_weekly: int | None = Field(default=None, ge=1)
    keep_monthly: int | None = Field(default=None, ge=1)
    # An update backs the data up first, and puts it back if the update fails.
    before_update: bool = True
    repository: str | None = None  # where its backups go; None: the default repository

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return str(parse_schedule(value))
        except InvalidInput as exc:
            raise ValueError(exc.problems[0].text) from None

    def keep_rules(self) -> dict[str, int] | None:
        """The retention as the installation keeps it ({"last": 3, …}; None: every backup)."""
        given = {rule: n for rule in KEEP_RULES if (n := getattr(self, f"keep_{rule}"))}
        if not given and self.schedule is not None:
            return dict(DEFAULT_KEEP)
        return given or None


def backup_columns(settings: BackupSettings) -> dict[str, object]:
    """The installation's columns that keep `settings`."""
    return {"backup_schedule": settings.schedule, "backup_keep": settings.keep_rules(),
            "backup_before_update": settings.before_update,
            "backup_repository": settings.repository}  # fmt: skip


def backup_settings_of(row: Installation) -> BackupSettings:
    """An installation's settings, its retention as stored (the defaults written out)."""
    keep = row.backup_keep or {}
    return BackupSettings(
        schedule=row.backup_schedule, before_update=row.backup_before_update,
        repository=row.backup_repository,
        **{f"keep_{rule}": keep.get(rule) for rule in KEEP_RULES},
    )  # fmt: skip
