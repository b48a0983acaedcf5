"""The loops `tomo serve` runs beside its requests (the sync scheduler, the health
monitor, the update watcher, the backup scheduler): started with the app,
cancelled when it stops."""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any


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


class PassLoop(BackgroundLoop):
    """A pass every `interval` seconds (0: never), the first one interval after the
    start: a tomo that starts and stops at once (a test, a quick restart) asks no
    server. A pass that fails (the database gone for a while) is logged with its
    traceback, and the next one comes as usual."""

    interval: float
    log: logging.Logger

    def wanted(self) -> bool:
        return self.interval > 0

    @abc.abstractmethod
    async def run_pass(self) -> Any: ...

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_pass()
            except Exception:
                self.log.exception("%s: a pass failed", self.name)
