"""Catalog formats at sync time: detected or set, named in the report, and a
repository in no known format is a sync error that keeps the last good catalog."""

from __future__ import annotations

import pytest

from tests.gitrepo import CatalogRepo
from tests.marketplace.test_sync import app_rows, subscribe
from tomo.errors import SyncFailed
from tomo.marketplace.schemas import RepoCreate, RepoUpdate
from tomo.runtime import Runtime


async def test_tomo_format_is_detected_and_reported(runtime: Runtime, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("one")
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.format, report.app_count) == ("tomo", 1)
    assert (await runtime.marketplace.get_repo(repo_id)).last_report.format == "tomo"


async def test_a_repository_in_no_known_format_fails_and_keeps_the_catalog(
    runtime: Runtime, make_repo
) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("one")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)
    repo.remove("apps")
    repo.write("README.md", "nothing here\n")
    repo.commit()

    with pytest.raises(SyncFailed) as failed:
        await runtime.marketplace.sync_repo(repo_id)

    assert "holds no apps in a format tomo knows" in failed.value.message
    assert "CasaOS" in failed.value.message or "tomo catalog (tomo)" in failed.value.message
    assert set(await app_rows(runtime, repo_id)) == {"one"}
    detail = await runtime.marketplace.get_repo(repo_id)
    assert detail.status == "error" and "format" in (detail.last_error or "")


async def test_a_set_format_is_used_without_detection(runtime: Runtime, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.write("README.md", "an empty catalog, for now\n")
    repo.commit()
    added = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="mine", format="tomo"))

    report = await runtime.marketplace.sync_repo(added.id)

    assert (report.format, report.app_count, added.format) == ("tomo", 0, "tomo")


async def test_changing_the_format_reads_every_file_again(runtime: Runtime, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("one")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)

    updated = await runtime.marketplace.update_repo(repo_id, RepoUpdate(format="tomo"))
    report = await runtime.marketplace.sync_repo(repo_id)
    back = await runtime.marketplace.update_repo(repo_id, RepoUpdate(format="auto"))

    assert (updated.format, report.status, back.format) == ("tomo", "synced", None)
