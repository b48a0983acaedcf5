"""Pages: the backups of the installations (see tomo/backups). Every backup with its
size and what it added; making one now, restoring one and forgetting one, each
asked on a page of its own first, since a restore replaces the data the app has.

A backup and a restore are jobs, started as the API starts them: the browser goes
to the job's page to follow it. Forgetting is quick and runs in the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tomo.backups.schemas import BackupPublic
from tomo.backups.service import BackupService
from tomo.deployment.operation import Prepared
from tomo.errors import BackupNotFound, InvalidInput, NotFound, Refusal, TomoError
from tomo.http.deps import BackupsDep, DeploymentDep, run_in_background, runtime_of
from tomo.monitor.stats import human_bytes
from tomo.web.backup_settings import SettingsInWords, default_repository, in_words
from tomo.web.session import Admin, Viewer
from tomo.web.templating import accepted, exact, redirect, refused, render

router = APIRouter()
RECENT = 5  # of an installation's newest backups on its page; the Backups page has the rest
RECORD_PART = 0  # a backup's first part is the installation's record, not its data


@dataclass(frozen=True)
class Folder:
    """One path of one service that a restore puts back, and its size then."""

    service: str
    path: str
    size: str
    choice: str  # what the restore form sends for it (SERVICE:/PATH, or a dump's name)


@router.get("/backups", name="web_backups")
async def backups_page(
    request: Request, _: Viewer, backups: BackupsDep, installation: str | None = None
) -> Response:
    """Every backup, newest first (of one installation when named): what, when, how
    big, and what it added to the repository."""
    found = await backups.list_backups(installation or None)
    named = found[0].installation_name if installation and found else installation
    context = {"backups": found, "servers": await _server_names(request),
               "installation": installation or "", "installation_name": named,
               "human_bytes": human_bytes,
               "repositories": await backups.list_repositories()}  # fmt: skip
    return render(request, "backups/list.html", context)


@dataclass(frozen=True)
class BackupsOfInstallation:
    """What an installation's page shows of its backups."""

    recent: list[BackupPublic]  # its newest
    settings: SettingsInWords  # how it is backed up on its own (web/backup_settings.py)


async def recent_backups(request: Request, installation_id: str) -> BackupsOfInstallation:
    """The installation's newest backups and its backup settings, for its page."""
    backups = runtime_of(request).backups
    settings = in_words(await backups.get_settings(installation_id),
                        await default_repository(backups))  # fmt: skip
    return BackupsOfInstallation((await backups.list_backups(installation_id))[:RECENT], settings)


@router.post("/installed/{installation}/backups", name="web_backup_create")
async def create_backup(
    request: Request, installation: str, _: Admin, backups: BackupsDep
) -> Response:
    """Back the installation up now, as a job, then follow it."""
    try:
        prepared = await backups.prepare_backup(installation)
    except TomoError as exc:  # busy, or gone: back where the user came from, saying so
        back = "/installed" if isinstance(exc, NotFound) else f"/installed/{installation}"
        return refused(request, back, exc)
    return _started(request, prepared)


@router.get("/backups/{backup_id}/restore", name="web_restore_form")
async def restore_form(
    request: Request, backup_id: str, _: Admin, backups: BackupsDep, deployment: DeploymentDep
) -> Response:
    """What a restore does to the app and its data, before anything runs."""
    backup = await _backup(backups, backup_id)
    context = {"backup": backup, "folders": _folders(backup),
               "installation": await deployment.get_installation(backup.installation_id),
               "human_bytes": human_bytes}  # fmt: skip
    return render(request, "backups/restore.html", context)


@router.post("/backups/{backup_id}/restore", name="web_restore")
async def restore(request: Request, backup_id: str, _: Admin, backups: BackupsDep) -> Response:
    """Put the backup's data back over its installation's, as a job, then follow it."""
    backup = await _backup(backups, backup_id)
    chosen = (await request.form()).getlist("only")
    every = [folder.choice for folder in _folders(backup)]
    try:
        if not chosen:
            raise InvalidInput([Refusal("choose at least one folder to put back", ("only",))])
        only = None if set(chosen) >= set(every) else [str(c) for c in chosen]
        prepared = await backups.prepare_restore(backup.id, only=only)
    except TomoError as exc:
        return refused(request, f"/backups/{backup.id}/restore", exc)
    return _started(request, prepared)


@router.get("/backups/{backup_id}/forget", name="web_forget_form")
async def forget_form(request: Request, backup_id: str, _: Admin, backups: BackupsDep) -> Response:
    """What forgetting a backup removes, before anything is removed."""
    backup = await _backup(backups, backup_id)
    context = {"backup": backup, "human_bytes": human_bytes}
    return render(request, "backups/forget.html", context)


@router.post("/backups/{backup_id}/forget", name="web_forget")
async def forget(request: Request, backup_id: str, _: Admin, backups: BackupsDep) -> Response:
    """Remove the backup from its repository, then back to the list, saying so."""
    backup = await _backup(backups, backup_id)
    try:
        await backups.forget_backup(backup.id)
    except TomoError as exc:
        return refused(request, "/backups", exc)
    return redirect("/backups", f"The backup of {backup.installation_name} made "
                    f"{exact(backup.created_at)} is forgotten")  # fmt: skip


def _started(request: Request, prepared: Prepared) -> Response:
    """The job carried on after the answer, as the API's; its page follows it."""
    run_in_background(request, prepared.run())
    return accepted(request, f"/jobs/{prepared.job_id}")


async def _backup(backups: BackupService, backup_id: str) -> BackupPublic:
    """The backup, or a 404 page in a page's words (the service's names a command)."""
    try:
        return await backups.get_backup(backup_id)
    except BackupNotFound:
        raise BackupNotFound(f"no backup {backup_id!r}: it was forgotten, or never made "
                             "(the Backups page lists them)") from None  # fmt: skip


def _folders(backup: BackupPublic) -> list[Folder]:
    """Each path the backup holds (named SERVICE/PATH.tar), as a restore puts it back."""
    folders = []
    for part in backup.parts[RECORD_PART + 1 :]:
        size = human_bytes(part.bytes_read)
        if not part.name.endswith(".tar"):  # SERVICE.dump: loaded by its restore command
            service = part.name.removesuffix(".dump")
            folders.append(Folder(service, "its dump", size, part.name))
            continue
        service, _, path = part.name.removesuffix(".tar").partition("/")
        folders.append(Folder(service, f"/{path}", size, f"{service}:/{path}"))
    return folders


async def _server_names(request: Request) -> dict[str, str]:
    return {s.id: s.name for s in await runtime_of(request).servers.list_servers()}
