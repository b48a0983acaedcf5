"""Fault injection for sync tests: make one repo's sync fail as a bug would."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.marketplace.schemas import SyncReport
from tomo.marketplace.sync import RepoSync

INTERNAL_ERROR = "sync failed with an internal error (ValueError); the details are in tomo's log"


def inject_sync_fault(monkeypatch: pytest.MonkeyPatch, repo_id: str, fault: BaseException) -> None:
    """Fault injection: the sync of `repo_id` raises `fault` where it would fetch
    and parse (its lease taken); every other repo syncs for real."""
    real_run = RepoSync.run

    async def run_or_fail(self: RepoSync, session: AsyncSession) -> SyncReport:
        if self.repo.id == repo_id:
            raise fault
        return await real_run(self, session)

    monkeypatch.setattr(RepoSync, "run", run_or_fail)
