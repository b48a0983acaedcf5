"""Scheduled sync: every enabled repo, once per interval, one sync per repo at a time."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from tomo.background import BackgroundLoop
from tomo.errors import SyncInProgress, TomoError
from tomo.marketplace.service import MarketplaceService

log = logging.getLogger("tomo.scheduler")
MAX_TICK_SECONDS = 60.0


class SyncScheduler(BackgroundLoop):
    name = "tomo-sync-scheduler"

    def __init__(self, service: MarketplaceService, interval: float) -> None:
        super().__init__()
        self.service = service
        self.interval = timedelta(seconds=interval)
        self._attempted: dict[str, datetime] = {}

    def wanted(self) -> bool:
        return self.interval.total_seconds() > 0

    async def _run(self) -> None:
        tick = min(self.interval.total_seconds(), MAX_TICK_SECONDS)
        while True:
            try:
                await self.sync_due_repos()
            except Exception:  # e.g. the database is gone for a while: try next tick
                log.exception("scheduled sync round failed")
            await asyncio.sleep(tick)

    async def sync_due_repos(self) -> list[str]:
        """Sync each enabled repo whose last sync (or attempt) is an interval old."""
        synced = []
        for repo in await self.service.list_repos():
            if not repo.enabled or not self._due(repo.id, repo.last_synced):
                continue
            self._attempted[repo.id] = datetime.now(UTC)
            if await self._sync(repo.id):
                synced.append(repo.id)
        return synced

    async def _sync(self, repo_id: str) -> bool:
        """One repo's sync; whatever goes wrong stays with that repo."""
        try:
            await self.service.sync_repo(repo_id)
        except SyncInProgress:
            return False
        except TomoError as exc:
            log.warning("scheduled sync of %s failed: %s", repo_id, exc.message)
            return False
        except Exception:  # a bug: sync_repo recorded it on the repo; the details go here
            log.exception("scheduled sync of %s failed with an internal error", repo_id)
            return False
        return True

    def _due(self, repo_id: str, last_synced: datetime | None) -> bool:
        moments = [t for t in (last_synced, self._attempted.get(repo_id)) if t is not None]
        if not moments:
            return True
        latest = max(moments)
        return datetime.now(UTC) - latest >= self.interval
