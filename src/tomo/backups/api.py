"""Backup routes: make one (a job, like an update), list and read them, restore one
over its installation, forget one. Reading is for viewers; the rest for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from tomo.backups.schemas import BackupForgotten, BackupPublic
from tomo.deployment.api import OperationStarted, started
from tomo.http.deps import BackupsDep
from tomo.http.problems import error_responses

router = APIRouter(tags=["backups"])


@router.post("/installations/{installation}/backups", name="create_backup",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def create_backup(
    request: Request, installation: str, backups: BackupsDep
) -> OperationStarted:
    """Back an installation up now: 202 with the job (follow its events). Its
    containers are stopped for the snapshot and started again right after."""
    return started(request, await backups.prepare_backup(installation))


@router.get("/backups", name="list_backups", responses=error_responses(401, 404))
async def list_backups(
    backups: BackupsDep, installation: str | None = None, server: str | None = None
) -> list[BackupPublic]:
    """Every whole backup, newest first; of one installation when named."""
    return await backups.list_backups(installation, server)


@router.get("/backups/{backup_id}", name="get_backup", responses=error_responses(401, 404))
async def get_backup(backup_id: str, backups: BackupsDep) -> BackupPublic:
    """One backup: when, of what, and each part's size."""
    return await backups.get_backup(backup_id)


@router.post("/backups/{backup_id}/restore", name="restore_backup",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def restore_backup(request: Request, backup_id: str, backups: BackupsDep) -> OperationStarted:
    """Put a backup's data back over its installation's: 202 with the job. Each folder
    is replaced whole once all of them are restored; until then the data is as it was."""
    return started(request, await backups.prepare_restore(backup_id))


@router.delete("/backups/{backup_id}", name="forget_backup",
               responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def forget_backup(backup_id: str, backups: BackupsDep) -> BackupForgotten:
    """Remove a backup from its repository, with the data no other backup shares."""
    return await backups.forget_backup(backup_id)
