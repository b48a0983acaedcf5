"""Scheduled sync of enabled repos."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.faults import captured_log, exception_of, wait_until
from tests.marketplace.faults import INTERNAL_ERROR, inject_sync_fault
from tomo.marketplace.scheduler import SyncScheduler
from tomo.marketplace.schemas import RepoCreate, RepoPublic, RepoUpdate
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
    await runtime.marketplace.add_repo(
        RepoCreate(url="https://127.0.0.1:1/x.git", name="down", branch="main")
    )
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


async def add_synced_later(runtime: Runtime, make_repo, name: str) -> None:
    repo = make_repo()
    repo.add_app("x")
    repo.commit()
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name=name))


async def test_a_bug_in_one_repos_sync_is_logged_recorded_and_the_others_sync(
    runtime: Runtime, make_repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a-broken", "b-fine"):
        await add_synced_later(runtime, make_repo, name)
    inject_sync_fault(monkeypatch, "a-broken", ValueError("injected fault"))
    scheduler = SyncScheduler(runtime.marketplace, interval=3600)

    with captured_log("tomo.scheduler") as records:
        assert await scheduler.sync_due_repos() == ["b-fine"]

    broken = await runtime.marketplace.get_repo("a-broken")
    assert (broken.status, broken.last_error) == ("error", INTERNAL_ERROR)
    assert (await runtime.marketplace.get_repo("b-fine")).app_count == 1
    [logged] = [record for record in records if record.levelno == logging.ERROR]
    assert "a-broken" in logged.getMessage()
    assert isinstance(exception_of(logged), ValueError)


async def test_the_running_scheduler_outlives_a_round_that_fails(
    runtime: Runtime, make_repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_synced_later(runtime, make_repo, "bg")
    real_list_repos = runtime.marketplace.list_repos
    rounds = 0

    async def list_repos_failing_first() -> list[RepoPublic]:  # fault injection
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise ValueError("injected fault: the database went away")
        return await real_list_repos()

    monkeypatch.setattr(runtime.marketplace, "list_repos", list_repos_failing_first)
    scheduler = SyncScheduler(runtime.marketplace, interval=0.05)
    with captured_log("tomo.scheduler") as records:
        scheduler.start()
        try:
            await wait_until(lambda: synced(runtime, "bg"))
            task = scheduler._task
            assert task is not None and not task.done()
        finally:
            await scheduler.stop()
    assert rounds >= 2
    assert [type(exception_of(r)) for r in records if exception_of(r)] == [ValueError]


async def synced(runtime: Runtime, repo_id: str) -> bool:
    return (await runtime.marketplace.get_repo(repo_id)).last_synced is not None
