"""Scheduled sync of enabled repos."""

from __future__ import annotations

import asyncio

from tomo.marketplace.scheduler import SyncScheduler
from tomo.marketplace.schemas import RepoCreate, RepoUpdate
from tomo.runtime import Runtime


async def test_due_enabled_repos_are_synced_once_per_interval(runtime: Runtime, make_repo) -> None:
    one, two, off = make_repo(), make_repo(), make_repo()
    for repo in (one, two, off):
        repo.add_app("x")
        repo.commit()
    add = runtime.marketplace.add_repo
    await add(RepoCreate(url=one.url, name="one"))
    await add(RepoCreate(url=two.url, name="two"))
    await add(RepoCreate(url=off.url, name="off"))
    await runtime.marketplace.update_repo("off", RepoUpdate(enabled=False))
    scheduler = SyncScheduler(runtime.marketplace, interval=3600)

    assert await scheduler.sync_due_repos() == ["one", "two"]
    assert await scheduler.sync_due_repos() == []  # synced less than an interval ago
    assert (await runtime.marketplace.get_repo("off")).last_synced is None


async def test_failing_repo_is_retried_only_after_an_interval(runtime: Runtime) -> None:
    await runtime.marketplace.add_repo(RepoCreate(url="https://127.0.0.1:1/x.git", name="down"))
    scheduler = SyncScheduler(runtime.marketplace, interval=3600)
    assert await scheduler.sync_due_repos() == []
    assert (await runtime.marketplace.get_repo("down")).status == "error"
    attempted = scheduler._attempted["down"]
    await scheduler.sync_due_repos()
    assert scheduler._attempted["down"] == attempted


async def test_running_scheduler_syncs_in_the_background(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("x")
    repo.commit()
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="bg"))
    scheduler = SyncScheduler(runtime.marketplace, interval=0.05)
    scheduler.start()
    try:
        for _ in range(200):
            if (await runtime.marketplace.get_repo("bg")).last_synced is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    assert (await runtime.marketplace.get_repo("bg")).app_count == 1


def test_zero_interval_disables_the_scheduler(runtime: Runtime) -> None:
    scheduler = SyncScheduler(runtime.marketplace, interval=0)
    scheduler.start()
    assert scheduler._task is None
