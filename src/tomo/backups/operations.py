"""A backup and a restore as operations: each a job holding its installation's lease,
its steps and progress recorded, every change on the server in its journal (see
deployment/operation.py: whatever ends it, recovery replays that journal)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete

from tomo.backups.models import BackupRecord
from tomo.backups.restic import Retention
from tomo.backups.snapshots import InstallationBackups, SnapshotReport, StoredPart
from tomo.db import Database
from tomo.deployment.context import DeploymentContext
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.manage import Journaled, record_state
from tomo.deployment.models import Installation
from tomo.errors import TomoError
from tomo.monitor.stats import human_bytes


class BackupOperation(Journaled):
    """A snapshot of the installation's data and record; listed once whole."""

    def __init__(
        self, ctx: DeploymentContext, backups: InstallationBackups, repository_id: str,
        trigger: str,
    ) -> None:  # fmt: skip
        super().__init__(ctx, "backup")
        self.backups = backups
        self.repository_id = repository_id
        self.trigger = trigger
        self.made: BackupRecord | None = None

    async def run(self, job: JobRecorder, row: Installation) -> None:
        report = await self.backups.snapshot(row, job)
        self.made = await record_backup(self.ctx.db, row, report, self.repository_id,
                                        self.trigger)  # fmt: skip
        paths, dumps = len(report.parts) - 1 - len(report.dumps), len(report.dumps)
        kept = (f"the app kept running (dumps of {', '.join(report.dumps)})" if dumps
                else f"the app was stopped for {report.downtime_seconds:.1f} s")  # fmt: skip
        self.summary.append(
            f"backup {report.backup_id}: {paths} paths{f' and {dumps} dumps' if dumps else ''}, "
            f"{human_bytes(report.bytes_read)} read, {human_bytes(report.bytes_added)} new in the "
            f"repository; {kept}"
        )
        if row.backup_keep:
            await self._apply_retention(job, row, row.backup_keep)

    async def _apply_retention(
        self, job: JobRecorder, row: Installation, keep: dict[str, int]
    ) -> None:
        """The installation's retention, while the backup's lease keeps others out (a
        backup being made would count as incomplete). Its failure fails the job, so
        the admin hears of it; the backup just made is whole and listed all the same."""
        rules = ", ".join(f"{rule} {n}" for rule, n in keep.items())
        try:
            async with job.step("retention", f"keep {rules}"):
                forgotten = await self.backups.apply_retention(row.id, Retention(**keep))
                await forget_records(self.ctx.db, forgotten)
        except TomoError as exc:
            raise exc.with_message(f"backup {job.job_id} was made, but its retention "
                                   f"failed: {exc.message}") from exc  # fmt: skip
        self.summary.append(f"retention (keep {rules}): forgot {len(forgotten)} older "
                            f"backup{'' if len(forgotten) == 1 else 's'}")  # fmt: skip


class RestoreOperation(Journaled):
    """A backup's data in place of the installation's, whole or not at all."""

    def __init__(
        self, ctx: DeploymentContext, backups: InstallationBackups, backup: BackupRecord,
        helper_image: str, only: list[str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(ctx, "restore")
        self.backups = backups
        self.backup = backup
        self.helper_image = helper_image
        self.only = only  # the parts' names to restore; None: every one

    async def run(self, job: JobRecorder, row: Installation) -> None:
        parts = [StoredPart(p["name"], p["snapshot"], p["bytes_read"])
                 for p in self.backup.parts[1:]
                 if self.only is None or p["name"] in self.only]  # fmt: skip
        report = await self.backups.restore(row, parts, job, self.helper_image)
        async with job.step("start"):  # and the data from before the restore goes
            finished = await self.replay_journal(job, row)
            await record_state(self.ctx, row, await self.ctx.docker(row.server_id))
        await self.backups.load_dumps(row, report, job)
        when = self.backup.created_at.strftime("%Y-%m-%d %H:%M UTC")
        self.summary += [
            f"restored backup {self.backup.id} of {when}: "
            f"{', '.join([*report.restored, *(p.name for p in report.dumps)])} "
            f"({human_bytes(report.bytes_written)}); the app was stopped for "
            f"{report.downtime_seconds:.1f} s",
            *finished.done, *finished.failed,
        ]  # fmt: skip


async def record_backup(
    db: Database, row: Installation, report: SnapshotReport, repository_id: str, trigger: str
) -> BackupRecord:
    """The backups table's row for a backup whose every part is in the repository."""
    made = BackupRecord(
        id=report.backup_id, installation_id=row.id, installation_name=row.name,
        server_id=row.server_id, app=f"{row.repo_id}/{row.app_id}", version=row.version,
        repository_id=repository_id, trigger=trigger, created_at=datetime.now(UTC),
        bytes_read=report.bytes_read, bytes_added=report.bytes_added,
        downtime_seconds=round(report.downtime_seconds, 3),
        parts=[{"name": p.name, "snapshot": p.summary.snapshot_id,
                "bytes_read": p.summary.bytes_read, "bytes_added": p.summary.bytes_added}
               for p in report.parts],
    )  # fmt: skip
    async with db.session() as session, session.begin():
        session.add(made)
    return made


async def forget_records(db: Database, backup_ids: list[str]) -> None:
    """The backups table's rows of backups gone from their repository."""
    if backup_ids:
        async with db.session() as session, session.begin():
            await session.execute(delete(BackupRecord).where(BackupRecord.id.in_(backup_ids)))
