"""BackupService: back installations up, list their backups, restore and forget them.

A backup or a restore is an operation of its installation (its lease, its job,
its journal: see operations.py), run now or in the background like an update.
The backups table lists the backups that are whole in their repository; the
repository holds the data (see snapshots.py).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from tomo.backups.models import BackupRecord
from tomo.backups.operations import BackupOperation, RestoreOperation, record_backup
from tomo.backups.repositories import BackupRepositories
from tomo.backups.schemas import BackupForgotten, BackupPublic
from tomo.backups.snapshots import InstallationBackups
from tomo.deployment.context import DeploymentContext
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.journal import Journal
from tomo.deployment.models import Installation
from tomo.deployment.operation import Outcome, Prepared, done, prepare
from tomo.deployment.schemas import OperationDone
from tomo.errors import BackupNotFound, TomoError


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
        restic = await self.repositories.default()
        operation = BackupOperation(self.ctx, InstallationBackups(self.ctx, restic),
                                    restic.repository.name, trigger)  # fmt: skip
        return await prepare(self.ctx, ref, server, operation, self._finish)

    async def prepare_restore(self, backup_id: str) -> Prepared:
        """Put a backup's data back over its installation's (stopped meanwhile)."""
        backup = await self._record(backup_id)
        restic = await self.repositories.open(backup.repository_id)
        operation = RestoreOperation(self.ctx, InstallationBackups(self.ctx, restic), backup,
                                     self.ctx.settings.helper_image)  # fmt: skip
        installation = await self.ctx.load(backup.installation_id)
        return await prepare(self.ctx, installation.id, None, operation, self._finish)

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
        restic = await self.repositories.default()
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
