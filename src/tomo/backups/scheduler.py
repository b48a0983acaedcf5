"""BackupScheduler: in `tomo serve`, each interval, a backup of every installation
whose schedule says one is due (see schedule.py), one at a time, as the same job as
`tomo backup create` with the trigger `schedule` (its retention applied after it).

An installation that another operation holds is left for the next pass. A backup
that fails (its server away too) is told by its job, as a `backup-failed` event
(tomo.events.hooks), and is not tried again before the schedule's next moment: a
broken one would otherwise be tried, and told, every pass. One refused before its
job began (the repository cannot be opened) is only logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from tomo.background import PassLoop
from tomo.backups.models import BackupRecord
from tomo.backups.schedule import is_due, last_slot, schedule_of
from tomo.backups.service import BackupService
from tomo.deployment.models import Installation
from tomo.errors import InstallationBusy, RemoteError, TomoError
from tomo.updates.watcher import local_now

log = logging.getLogger("tomo.backups")


@dataclass(frozen=True)
class PassReport:
    """What one pass did, by installation name (for tests and the log)."""

    made: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # another operation holds it
    failed: list[str] = field(default_factory=list)


class BackupScheduler(PassLoop):
    name = "tomo-backup-scheduler"
    log = log  # where a failed pass is told

    def __init__(
        self, backups: BackupService, *, interval: float,
        clock: Callable[[], datetime] = local_now,
    ) -> None:  # fmt: skip
        super().__init__()
        self.backups = backups
        self.interval = interval
        self.clock = clock
        self._tried: dict[str, datetime] = {}  # installation id -> the slot its backup failed in

    async def run_pass(self) -> PassReport:
        now = self.clock()
        report = PassReport()
        for row in await self._due(now):
            slot = last_slot(schedule_of(row.backup_schedule or ""), now)
            if self._tried.get(row.id) != slot:
                await self._back_up(row, slot, report)
        return report

    async def _back_up(self, row: Installation, slot: datetime, report: PassReport) -> None:
        try:
            prepared = await self.backups.prepare_backup(row.id, trigger="schedule")
        except (InstallationBusy, RemoteError):
            report.skipped.append(row.name)  # the next pass tries again
            return
        except TomoError as exc:  # refused before a job began: no event tells it
            self._failed(row, slot, report, exc)
            return
        try:
            await prepared.run()
        except TomoError as exc:
            self._failed(row, slot, report, exc)
        else:
            report.made.append(row.name)

    def _failed(
        self, row: Installation, slot: datetime, report: PassReport, exc: TomoError
    ) -> None:
        log.warning("scheduled backup of %s on %s failed: %s", row.name, row.server_id,
                    exc.message)  # fmt: skip
        self._tried[row.id] = slot
        report.failed.append(row.name)

    async def _due(self, now: datetime) -> list[Installation]:
        """The installations with a schedule that asks for a backup now, by name."""
        scheduled = select(Installation).where(Installation.backup_schedule.is_not(None))
        latest = select(BackupRecord.installation_id, func.max(BackupRecord.created_at)).group_by(
            BackupRecord.installation_id
        )
        async with self.backups.ctx.db.session() as session:
            rows = list(await session.scalars(scheduled.order_by(Installation.name)))
            last = {installation: when for installation, when in await session.execute(latest)}
        return [row for row in rows if _due(row, now, last.get(row.id))]


def _due(row: Installation, now: datetime, last_backup: datetime | None) -> bool:
    try:
        schedule = schedule_of(row.backup_schedule or "")
    except TomoError as exc:  # stored before a check existed, or by hand: say so, go on
        log.warning("%s on %s: %s", row.name, row.server_id, exc.message)
        return False
    return is_due(schedule, now, created_at=row.created_at, last_backup=last_backup)
