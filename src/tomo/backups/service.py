"""BackupService: back installations up, list their backups, restore and forget them.

A backup or a restore is an operation of its installation (its lease, its job,
its journal: see operations.py), run now or in the background like an update.
The backups table lists the backups that are whole in their repository; the
repository holds the data (see snapshots.py).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update

from tomo.backups.models import BackupRecord
from tomo.backups.operations import BackupOperation, RestoreOperation, record_backup
from tomo.backups.repositories import BackupRepositories
from tomo.backups.schemas import (
    BackupForgotten,
    BackupPublic,
    BackupSettings,
    RepositoryCreate,
    RepositoryPublic,
    backup_columns,
    backup_settings_of,
)
from tomo.backups.snapshots import RECORD, InstallationBackups
from tomo.deployment import install
from tomo.deployment.context import DeploymentContext
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.journal import Journal
from tomo.deployment.models import Installation, runs_on_swarm
from tomo.deployment.operation import Outcome, Prepared, done, prepare
from tomo.deployment.schemas import OperationDone
from tomo.deployment.spec import ConfigChanges, InstallConfig
from tomo.errors import (
    BackupNotFound,
    Conflict,
    InstallationNotFound,
    InvalidInput,
    Refusal,
    TomoError,
)
from tomo.marketplace.definition import AppDefinition


def refuse_on_swarm(row: Installation) -> None:
    """Backups stop an app's containers for the snapshot: a Swarm's are not its own."""
    if runs_on_swarm(row):
        raise Conflict(
            f"{row.name} runs as Swarm services: tomo does not back up or restore "
            "apps on a Swarm yet"
        )


class BackupService:
    def __init__(self, ctx: DeploymentContext, repositories: BackupRepositories) -> None:
        self.ctx = ctx
        self.repositories = repositories

    async def _finish(self, row: Installation, outcome: Outcome) -> OperationDone:
        return await done(self.ctx, row, outcome)

    async def prepare_backup(
        self, ref: str, server: str | None = None, *, trigger: str = "manual"
    ) -> Prepared:
        """Take the installation's lease and record the backup's job; `run` makes it."""
        row = await self.ctx.find(ref, server)
        refuse_on_swarm(row)
        restic = await self.repositories.for_installation(row)
        operation = BackupOperation(self.ctx, InstallationBackups(self.ctx, restic),
                                    restic.repository.name, trigger)  # fmt: skip
        return await prepare(self.ctx, row.id, None, operation, self._finish)

    async def prepare_restore(
        self, backup_id: str, installation: str | None = None, server: str | None = None,
        only: list[str] | None = None,
    ) -> Prepared:  # fmt: skip
        """Put a backup's data back over its installation's (stopped meanwhile), or over
        another installation of the same app (one made by prepare_restore_install);
        `only`: some of its parts (`SERVICE:/PATH` or a part's name), the others left
        as they are."""
        backup = await self._record(backup_id)
        parts = chosen_parts(backup, only)
        target = await self._restore_target(backup, installation, server)
        refuse_on_swarm(target)
        restic = await self.repositories.open(backup.repository_id)
        operation = RestoreOperation(self.ctx, InstallationBackups(self.ctx, restic), backup,
                                     self.ctx.settings.helper_image, parts)  # fmt: skip
        return await prepare(self.ctx, target.id, None, operation, self._finish)

    async def prepare_restore_install(
        self, backup_id: str, server: str, name: str | None = None,
        changes: ConfigChanges | None = None,
    ) -> Prepared:  # fmt: skip
        """A new installation of what the backup recorded (its definition, settings,
        secrets and image, whatever the catalog says now) on `server`, as `name` (the
        backup's by default), with `changes` (another host port): its install job.
        Restoring the backup over it (prepare_restore) moves the app there."""
        backup = await self._record(backup_id)
        record = await self._installation_record(backup)
        definition = AppDefinition.model_validate(record["definition"])
        recorded = InstallConfig.model_validate(record["config"])
        changed = recorded.changed_by(changes or ConfigChanges()).model_dump()
        # As the target server takes apps (a Swarm's as services), whatever the source was.
        config = InstallConfig.model_validate({**changed, "name": name or record["name"],
                                               "swarm": None})  # fmt: skip
        images = {definition.main_service: str(record["image"])}
        plan, installation_id = await install.plan_restored_install(
            self.ctx, server, definition, str(record["repo_id"]), config,
            self.ctx.open(record.get("secret_env_enc")), images,
        )  # fmt: skip
        return await install.record_install(self.ctx, plan, config, installation_id)

    async def _restore_target(
        self, backup: BackupRecord, installation: str | None, server: str | None
    ) -> Installation:
        if installation is None:
            try:
                return await self.ctx.load(backup.installation_id)
            except InstallationNotFound:
                raise InstallationNotFound(
                    f"{backup.installation_name}, which backup {backup.id} is of, is no longer "
                    "installed: restore it as a new installation (tomo backup restore "
                    f"{backup.id} --server SERVER)"
                ) from None
        target = await self.ctx.find(installation, server)
        if f"{target.repo_id}/{target.app_id}" != backup.app:
            other = f"{target.repo_id}/{target.app_id}"
            raise InvalidInput(f"backup {backup.id} is of {backup.app}; {target.name} on "
                               f"{target.server_id} is {other}")  # fmt: skip
        return target

    async def _installation_record(self, backup: BackupRecord) -> dict[str, Any]:
        """What the backup's first part holds: the installation as it was."""
        restic = await self.repositories.open(backup.repository_id)
        stored = await restic.dump_bytes(backup.parts[0]["snapshot"], "/" + RECORD)
        record: dict[str, Any] = json.loads(stored)
        return record

    async def list_backups(
        self, ref: str | None = None, server: str | None = None
    ) -> list[BackupPublic]:
        """Every whole backup, newest first; of one installation when `ref` names one."""
        query = select(BackupRecord).order_by(BackupRecord.created_at.desc())
        if ref is not None:
            installation = await self.ctx.find(ref, server)
            query = query.where(BackupRecord.installation_id == installation.id)
        async with self.ctx.db.session() as session:
            return [BackupPublic.model_validate(row) for row in await session.scalars(query)]

    async def get_backup(self, backup_id: str) -> BackupPublic:
        return BackupPublic.model_validate(await self._record(backup_id))

    async def forget_backup(self, backup_id: str) -> BackupForgotten:
        """Remove a backup from its repository (and its data no other backup shares)."""
        backup = await self._record(backup_id)
        restic = await self.repositories.open(backup.repository_id)
        await restic.unlock()  # what a killed tomo left would stop the prune
        await restic.forget(ids=[part["snapshot"] for part in backup.parts], prune=True)
        async with self.ctx.db.session() as session, session.begin():
            await session.execute(delete(BackupRecord).where(BackupRecord.id == backup_id))
        return BackupForgotten(backup=BackupPublic.model_validate(backup), freed=True)

    # -- keeping the data through an update (deployment.context.DataGuard) ------

    async def save(self, job: JobRecorder, row: Installation, containers: dict[str, str]) -> str:
        """A backup of the stopped `containers`, made within the update's job."""
        restic = await self.repositories.for_installation(row)
        backups = InstallationBackups(self.ctx, restic)
        report = await backups.snapshot(row, job, stopped=containers)
        made = await record_backup(self.ctx.db, row, report, restic.repository.name, "update")
        return made.id

    async def put_back(self, job: JobRecorder, row: Installation, backup_id: str) -> list[str]:
        """The backup an update made, restored over the containers it put back; its
        own journal meanwhile (a tomo killed during it finishes or undoes it)."""
        backup = await self._record(backup_id)
        restic = await self.repositories.open(backup.repository_id)
        restoring = RestoreOperation(self.ctx, InstallationBackups(self.ctx, restic),
                                     backup, self.ctx.settings.helper_image)  # fmt: skip
        update_journal, job.journal = job.journal, Journal()
        try:
            await restoring.run(job, row)
        except TomoError as exc:
            undone = await restoring.replay_journal(job, row)
            return [f"could not put the data back from backup {backup_id} ({exc.message})",
                    *undone.done, *undone.failed]  # fmt: skip
        finally:
            job.journal = update_journal
            await job.save_journal()
        return [f"put the data back as it was before the update (backup {backup_id})"]

    async def _record(self, backup_id: str) -> BackupRecord:
        async with self.ctx.db.session() as session:
            found = await session.get(BackupRecord, backup_id)
        if found is None:
            raise BackupNotFound(f"no backup {backup_id!r} (tomo backup list shows them)")
        return found

    # -- schedules and retention (schedule.py, scheduler.py) --------------------

    async def get_settings(self, ref: str, server: str | None = None) -> BackupSettings:
        """When the installation is backed up on its own and which backups it keeps."""
        return backup_settings_of(await self.ctx.find(ref, server))

    async def set_settings(
        self, ref: str, settings: BackupSettings, server: str | None = None
    ) -> BackupSettings:
        """The installation's settings from now on (whole: what is not given is the
        default); its retention applies after its next backup."""
        row = await self.ctx.find(ref, server)
        await self.repositories.check_choice(settings.repository)
        await self._store_settings(settings, Installation.id == row.id)
        return await self.get_settings(row.id)

    async def set_settings_for_all(self, settings: BackupSettings) -> list[str]:
        """The same settings for every installation; the names of those changed."""
        await self.repositories.check_choice(settings.repository)
        return await self._store_settings(settings)

    async def _store_settings(
        self, settings: BackupSettings, *where: ColumnElement[bool]
    ) -> list[str]:
        changed = (update(Installation).where(*where).values(**backup_columns(settings))
                   .returning(Installation.name))  # fmt: skip
        async with self.ctx.db.session() as session, session.begin():
            return sorted(await session.scalars(changed))

    # -- repositories (repositories.py) ------------------------------------------

    async def list_repositories(self) -> list[RepositoryPublic]:
        return await self.repositories.list()

    async def add_repository(self, request: RepositoryCreate) -> RepositoryPublic:
        """A new repository, made (`restic init`) where the request says."""
        name, add = request.name, self.repositories
        if request.url is not None:
            secret = (
                request.secret_access_key.get_secret_value() if request.secret_access_key else ""
            )
            return await add.add_s3(name, request.url, request.access_key_id or "", secret,
                                    request.region)  # fmt: skip
        if request.path is None:
            raise InvalidInput("give a path (and a server for a folder on one), or an S3 url")
        if request.server is not None:
            return await add.add_on_server(name, request.server, request.path)
        return await add.add_local(name, request.path)

    async def remove_repository(self, name: str) -> RepositoryPublic:
        """Forget a repository no backup and no installation uses; its data stays."""
        return await self.repositories.remove(name)

    async def make_default_repository(self, name: str) -> RepositoryPublic:
        return await self.repositories.make_default(name)

    async def repository_password(self, name: str) -> str:
        return await self.repositories.password(name)


def chosen_parts(backup: BackupRecord, only: list[str] | None) -> list[str] | None:
    """The names of the parts `only` asks for (each as `SERVICE:/PATH` or a part's
    name); None: every part. A path the backup does not hold is refused, naming
    those it does."""
    if not only:
        return None
    names = [str(part["name"]) for part in backup.parts[1:]]
    by_path = {_as_path(name): name for name in names}
    chosen: list[str] = []
    unknown: list[str] = []
    for wanted in only:
        found = wanted if wanted in names else by_path.get(wanted.rstrip("/") or wanted)
        (chosen if found else unknown).append(found or wanted)
    if unknown:
        held = ", ".join(by_path) or "nothing"
        raise InvalidInput([Refusal(f"backup {backup.id} holds no {', '.join(unknown)}; it "
                                    f"holds {held}", ("only",))])  # fmt: skip
    return list(dict.fromkeys(chosen))


def _as_path(name: str) -> str:
    """A part's name as the user writes it: `app/data.tar` -> `app:/data`."""
    if name.endswith(".tar"):
        service, _, path = name.removesuffix(".tar").partition("/")
        return f"{service}:/{path}"
    return name  # a dump (SERVICE.dump)
