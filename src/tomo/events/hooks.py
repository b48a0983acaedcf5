"""What other features tell the event list, turned into events (wired by tomo.runtime:
the deployment and marketplace packages know nothing of this one)."""

from __future__ import annotations

from tomo.deployment.context import OperationFailed
from tomo.events.kinds import FAILED_OPERATIONS, EventKind
from tomo.events.service import EventService


class EventHooks:
    def __init__(self, events: EventService) -> None:
        self.events = events

    async def operation_failed(self, failed: OperationFailed) -> None:
        """An install, update, uninstall or backup that failed (the other operations
        are not told)."""
        kind = FAILED_OPERATIONS.get(failed.kind)
        if kind is None or failed.automatic:  # an automatic update's outcome: updates/watcher.py
            return
        await self.events.record(
            kind, title=f"{failed.kind.capitalize()} of {failed.installation_name} on "
            f"{failed.server_id} failed", detail=failed.message, server=failed.server_id,
            installation=failed.installation_id, installation_name=failed.installation_name,
        )  # fmt: skip

    async def sync_failed(self, repo_id: str, message: str) -> None:
        await self.events.record(EventKind.SYNC_FAILED, title=f"Catalog sync of {repo_id} failed",
                                 detail=message)  # fmt: skip
