"""The loops `tomo serve` runs beside its requests (the sync scheduler, the health
monitor, the update watcher): started with the app, cancelled when it stops."""

from __future__ import annotations

import abc
import asyncio


class BackgroundLoop(abc.ABC):
    name: str  # the asyncio task's, as a traceback or a debugger shows it

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    def wanted(self) -> bool:
        """Whether it runs at all (an interval of 0 turns it off)."""

    @abc.abstractmethod
    async def _run(self) -> None:
        """The loop, until cancelled."""

    def start(self) -> None:
        if self.wanted() and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
