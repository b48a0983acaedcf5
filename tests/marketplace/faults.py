"""Fault injection for sync tests: make one repo's sync fail as a bug would."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

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


async def wait_until(condition: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> None:
    """Poll `condition` until it holds; fail (not hang) once `within` seconds pass."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"still not true after {within}s"
        await asyncio.sleep(0.02)


@contextmanager
def captured_log(name: str) -> Iterator[list[logging.LogRecord]]:
    """Records of one logger, whatever handlers or propagation tomo configured."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger, handler = logging.getLogger(name), Collect(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def exception_of(record: logging.LogRecord) -> Any:
    return record.exc_info[1] if record.exc_info else None
