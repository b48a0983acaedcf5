"""What a sync that ends by a bug or an interruption leaves on its repo."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.faults import wait_until
from tests.marketplace.faults import INTERNAL_ERROR, inject_sync_fault
from tomo.marketplace.schemas import RepoCreate, SyncReport
from tomo.marketplace.sync import RepoSync
from tomo.runtime import Runtime


async def add_repo_with_an_app(runtime: Runtime, make_repo) -> str:
    repo = make_repo()
    repo.add_app("x")
    repo.commit()
    return (await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="r"))).id


async def test_a_bug_is_recorded_as_an_internal_error_and_raised(
    runtime: Runtime, make_repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id = await add_repo_with_an_app(runtime, make_repo)
    inject_sync_fault(monkeypatch, repo_id, ValueError("injected fault at /secret/path"))

    with pytest.raises(ValueError, match="injected fault"):
        await runtime.marketplace.sync_repo(repo_id)

    repo = await runtime.marketplace.get_repo(repo_id)
    assert (repo.status, repo.last_error) == ("error", INTERNAL_ERROR)
    monkeypatch.undo()  # the bug is fixed: the next sync takes the lease and succeeds
    assert (await runtime.marketplace.sync_repo(repo_id)).app_count == 1


async def test_a_cancelled_sync_is_recorded_as_interrupted(
    runtime: Runtime, make_repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id = await add_repo_with_an_app(runtime, make_repo)
    started = asyncio.Event()

    async def run_until_cancelled(self: RepoSync, session: AsyncSession) -> SyncReport:
        started.set()
        await asyncio.Event().wait()  # never set: only a cancellation ends it
        raise AssertionError("not reached")

    monkeypatch.setattr(RepoSync, "run", run_until_cancelled)
    sync = asyncio.create_task(runtime.marketplace.sync_repo(repo_id))
    await asyncio.wait_for(started.wait(), 30)
    sync.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sync

    async def recorded() -> bool:
        return (await runtime.marketplace.get_repo(repo_id)).status == "error"

    await wait_until(recorded)  # the record is shielded from the cancellation
    assert (await runtime.marketplace.get_repo(repo_id)).last_error == "sync was interrupted"
