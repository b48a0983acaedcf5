"""Backup routes: make one (a job, like an update), list and read them, restore one
over its installation, forget one; an installation's schedule and retention. Reading is
for viewers; the rest for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from tomo.backups.schemas import (
    BackupForgotten,
    BackupPublic,
    BackupSettings,
    RepositoryCreate,
    RepositoryPublic,
)
from tomo.deployment.api import OperationStarted, started
from tomo.deployment.spec import ConfigChanges
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


class RestoreRequest(BaseModel):
    """Which installation a backup is restored over: its own by default."""

    installation: str | None = None  # an id, or a name (with `server` when several have it)
    server: str | None = None
    # Some of its parts only (`SERVICE:/PATH`, as `GET /backups/{id}` lists them); the
    # installation's other folders are left as they are.
    only: list[str] | None = None


@router.post("/backups/{backup_id}/restore", name="restore_backup",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409, 422))  # fmt: skip
async def restore_backup(
    request: Request, backup_id: str, backups: BackupsDep, body: RestoreRequest | None = None
) -> OperationStarted:
    """Put a backup's data back over its installation's (or over another installation of
    the same app, such as one made by `POST /backups/{id}/installations`): 202 with the
    job. Each folder is replaced whole once all of them are restored; until then the
    data is as it was."""
    given = body or RestoreRequest()
    prepared = await backups.prepare_restore(backup_id, given.installation, given.server,
                                             given.only)  # fmt: skip
    return started(request, prepared)


class RestoreInstall(ConfigChanges):
    """Where the backup's app is installed again: a server, a name (the backup's by
    default), and other host ports if its own are taken there."""

    server: str
    name: str | None = None


@router.post("/backups/{backup_id}/installations", name="install_from_backup",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409, 422))  # fmt: skip
async def install_from_backup(
    request: Request, backup_id: str, body: RestoreInstall, backups: BackupsDep
) -> OperationStarted:
    """Install what a backup recorded (its definition, settings, secrets and image, not
    the catalog's) on a server, as a new installation: 202 with its install job. Then
    restore the backup over it (`POST /backups/{id}/restore` with its id): that is how
    an app moves to another server, or comes back after its uninstall."""
    changes = ConfigChanges.model_validate(body.model_dump(exclude={"server", "name"}))
    prepared = await backups.prepare_restore_install(backup_id, body.server, body.name, changes)
    return started(request, prepared)


@router.delete("/backups/{backup_id}", name="forget_backup",
               responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def forget_backup(backup_id: str, backups: BackupsDep) -> BackupForgotten:
    """Remove a backup from its repository, with the data no other backup shares."""
    return await backups.forget_backup(backup_id)


@router.get("/installations/{installation}/backup-settings", name="get_backup_settings",
            responses=error_responses(401, 404))  # fmt: skip
async def get_backup_settings(installation: str, backups: BackupsDep) -> BackupSettings:
    """When the installation is backed up on its own, which backups it keeps, and
    whether an update backs it up first."""
    return await backups.get_settings(installation)


@router.put("/installations/{installation}/backup-settings", name="set_backup_settings",
            responses=error_responses(401, 403, 404, 422))  # fmt: skip
async def set_backup_settings(
    installation: str, body: BackupSettings, backups: BackupsDep
) -> BackupSettings:
    """Set them whole: `schedule` (`hourly`, `daily HH:MM`, `weekly DAY HH:MM` in tomo's
    local time; null: on demand only), `keep_*` (a schedule with none keeps the last 3
    and the newest of 7 days, 4 weeks and 6 months; null for all: every backup)."""
    return await backups.set_settings(installation, body)


@router.put("/backup-settings", name="set_all_backup_settings",
            responses=error_responses(401, 403, 422))  # fmt: skip
async def set_all_backup_settings(body: BackupSettings, backups: BackupsDep) -> list[str]:
    """The same settings, whole, for every installation: the names of those changed."""
    return await backups.set_settings_for_all(body)


@router.get("/backup-repositories", name="list_backup_repositories",
            responses=error_responses(401))  # fmt: skip
async def list_backup_repositories(backups: BackupsDep) -> list[RepositoryPublic]:
    """Where backups go: each repository's kind, place, and how many backups it holds
    (never its password or keys)."""
    return await backups.list_repositories()


@router.post("/backup-repositories", name="add_backup_repository",
             status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 404, 409, 422, 502, 503))  # fmt: skip
async def add_backup_repository(body: RepositoryCreate, backups: BackupsDep) -> RepositoryPublic:
    """Make a repository: a folder on a server tomo manages (`server`, `path`; over
    SFTP with tomo's key login to it), S3-compatible storage (`url`, `access_key_id`,
    `secret_access_key`, `region`), or a folder on tomo's host (`path`). Its password
    is made by tomo and kept sealed."""
    return await backups.add_repository(body)


@router.delete("/backup-repositories/{name}", name="remove_backup_repository",
               responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def remove_backup_repository(name: str, backups: BackupsDep) -> RepositoryPublic:
    """Forget a repository that is not the default and that no backup or installation
    uses; what it holds stays where it is."""
    return await backups.remove_repository(name)


@router.put("/backup-repositories/{name}/default", name="make_default_backup_repository",
            responses=error_responses(401, 403, 404))  # fmt: skip
async def make_default_backup_repository(name: str, backups: BackupsDep) -> RepositoryPublic:
    """Installations without a repository of their own back up into this one from now on."""
    return await backups.make_default_repository(name)
