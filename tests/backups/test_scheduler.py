"""Scheduled backups and retention on the real test server, with real restic: the
scheduler's passes (a clock of the test's own), `tomo backup settings` as a user
runs it, and a retention applied after a backup."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import update

from tests.backups.test_snapshots import installed
from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tomo.backups.scheduler import BackupScheduler, PassReport
from tomo.backups.schemas import BackupSettings
from tomo.backups.snapshots import InstallationBackups
from tomo.deployment.context import OperationFailed
from tomo.deployment.jobs import new_id, release_lease, take_lease
from tomo.deployment.models import Installation
from tomo.events.kinds import EventKind
from tomo.runtime import Runtime


async def installed_a_day_ago(deploy: Deploy, name: str) -> str:
    """An installation that existed before the schedule's last moment."""
    installation_id = await installed(deploy, name)
    async with deploy.runtime.deployment.db.session() as session, session.begin():
        await session.execute(update(Installation).where(Installation.id == installation_id)
                              .values(created_at=datetime.now().astimezone() - timedelta(days=1)))  # fmt: skip
    return installation_id


async def test_a_due_installation_is_backed_up_once_and_a_busy_one_on_a_later_pass(
    deploy: Deploy, tomo: Tomo
) -> None:
    installation_id = await installed_a_day_ago(deploy, "diary")
    bad = tomo.run("backup", "settings", "diary", "--schedule", "daily 25:00", expect=2)
    assert "--schedule: 'daily 25:00' is not a backup schedule: 25:00 is not a time" in bad.stderr
    tomo.run("backup", "settings", "diary", "--schedule", "Hourly", "--no-before-update")
    shown = tomo.run("backup", "settings", "diary").stdout
    assert "hourly" in shown and "last 3, daily 7, weekly 4, monthly 6" in shown
    assert json.loads(tomo.run("backup", "settings", "diary", "--json").stdout) == {
        "schedule": "hourly", "keep_last": 3, "keep_daily": 7, "keep_weekly": 4,
        "keep_monthly": 6, "before_update": False, "repository": None,
    }  # fmt: skip

    now = datetime.now().astimezone()  # a clock that stands still: the same slot each pass
    scheduler = BackupScheduler(deploy.runtime.backups, interval=60, clock=lambda: now)
    db, holder = deploy.runtime.deployment.db, new_id()
    await take_lease(db, installation_id, "stop", holder)
    assert (await scheduler.run_pass()).skipped == ["diary"]
    await release_lease(db, installation_id, unsettled_job=None)

    assert (await scheduler.run_pass()).made == ["diary"]
    (backup,) = await deploy.runtime.backups.list_backups("diary")
    assert backup.trigger == "schedule"
    assert await scheduler.run_pass() == PassReport()  # nothing due: its backup is made


async def test_retention_after_a_backup_keeps_what_it_says_rows_and_snapshots(
    deploy: Deploy,
) -> None:
    installation_id = await installed(deploy, "ledger")
    service = deploy.runtime.backups
    await service.set_settings("ledger", BackupSettings(keep_last=1))
    summaries = [(await (await service.prepare_backup("ledger")).run()).summary
                 for _ in range(3)]  # fmt: skip
    assert summaries[0][-1] == "retention (keep last 1): forgot 0 older backups"
    assert summaries[2][-1] == "retention (keep last 1): forgot 1 older backup"

    (kept,) = await service.list_backups("ledger")
    restic = await service.repositories.default()
    in_repository = await InstallationBackups(deploy.runtime.deployment.ctx, restic).backups(
        installation_id
    )
    assert [b.id for b in in_repository] == [kept.id]


async def test_a_failed_backup_job_is_a_backup_failed_event(runtime: Runtime) -> None:
    failed = OperationFailed("backup", "box", "i1", "diary", "the repository's disk is full")
    tell = runtime.deployment.ctx.hooks.failed
    assert tell is not None  # wired by the runtime
    await tell(failed)
    (event,) = (await runtime.events.list_events(user_id="someone")).events
    assert (event.kind, event.title, event.detail) == (
        EventKind.BACKUP_FAILED,
        "Backup of diary on box failed",
        "the repository's disk is full",
    )
