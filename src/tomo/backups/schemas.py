"""What the faces show of backups."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
