"""Catalog formats at sync time: detected or set, named in the report, and a
repository in no known format is a sync error that keeps the last good catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
    last = (await runtime.marketplace.get_repo(repo_id)).last_report
    assert last is not None and last.format == "tomo"


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


FIXTURES = Path(__file__).parent / "formats" / "fixtures"


def catalog_from(make_repo, fixture: str) -> CatalogRepo:
    """A real git repository holding one of the fixture catalogs, as published."""
    repo: CatalogRepo = make_repo()
    shutil.copytree(FIXTURES / fixture, repo.path, dirs_exist_ok=True)
    repo.commit()
    return repo


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [("casaos", "casaos"), ("runtipi", "runtipi"), ("umbrel", "umbrel"),
     ("portainer/v2", "portainer")],
)  # fmt: skip
async def test_each_stores_catalog_is_detected_and_stored(
    runtime: Runtime, make_repo, fixture: str, expected: str
) -> None:
    repo = catalog_from(make_repo, fixture)
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert report.format == expected
    stored = await app_rows(runtime, repo_id)
    assert report.app_count == len(stored) > 0
    # Files the format cannot load are per-file errors, never the whole sync's.
    assert all(problem.path and problem.message for problem in report.errors)
    page = await runtime.marketplace.search_apps(repo=repo_id, limit=100)
    assert {app.id for app in page.items} == set(stored)


async def test_a_multi_container_app_from_a_store_keeps_its_services(
    runtime: Runtime, make_repo
) -> None:
    repo = catalog_from(make_repo, "umbrel")
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)

    installable = [
        app for app in [await runtime.marketplace.get_app(f"{repo_id}/{a}")
                        for a in await app_rows(runtime, repo_id)]
        if app.is_multi_container and not app.not_installable
    ]  # fmt: skip

    assert installable, "the Umbrel fixtures hold an installable app of several services"
    app = installable[0]
    assert app.main_service in app.all_services and len(app.all_services) >= 2


async def test_a_store_app_that_changes_is_parsed_again(runtime: Runtime, make_repo) -> None:
    repo = catalog_from(make_repo, "casaos")
    repo_id = await subscribe(runtime, repo)
    first = await runtime.marketplace.sync_repo(repo_id)
    compose = next(repo.path.glob("Apps/*/docker-compose.yml"))
    compose.write_text(compose.read_text() + "\n# touched\n")
    repo.commit()

    second = await runtime.marketplace.sync_repo(repo_id)

    assert (second.added, second.updated, second.removed) == (0, 1, 0)
    assert second.app_count == first.app_count


async def test_a_templates_file_larger_than_one_definition_may_be_still_syncs(
    runtime: Runtime, make_repo
) -> None:
    repo = catalog_from(make_repo, "portainer/v2")
    size = (repo.path / "templates.json").stat().st_size
    limited = runtime.marketplace.settings.model_copy(update={"max_definition_bytes": size // 2})
    runtime.marketplace.settings = limited
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert report.app_count > 0
    assert not [e for e in report.errors if "byte limit" in e.message]


async def test_portainer_copies_of_a_template_in_older_files_give_way_to_the_newest(
    runtime: Runtime, make_repo
) -> None:
    """Portainer's own repository keeps templates.json (version 3) beside
    templates-2.0.json and templates-1.20.0.json: each app once, from the newest."""
    nginx = {"title": "Nginx", "description": "Web server", "image": "nginx:1.27"}
    repo: CatalogRepo = make_repo()
    repo.write("templates.json", json.dumps({"version": "3", "templates": [
        {"id": 1, "type": 1, **nginx, "image": "nginx:1.27-alpine"}]}))  # fmt: skip
    repo.write("templates-2.0.json", json.dumps({"version": "2", "templates": [
        {"type": 1, **nginx}, {"type": 1, "title": "Redis", "image": "redis:7"}]}))  # fmt: skip
    repo.write("templates-1.20.0.json", json.dumps([{"type": "container", **nginx}]))
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.errors, report.app_count) == ([], 2)
    rows = await app_rows(runtime, repo_id)
    assert rows["nginx"].source_path == "templates.json#0"
    assert rows["nginx"].docker_config["image"] == "nginx:1.27-alpine"
    assert rows["redis"].source_path == "templates-2.0.json#1"  # listed only there
    (warning,) = [w.message for w in report.warnings if w.path == "templates.json#0"]
    assert "templates-1.20.0.json lists it too, in an older templates file (format version 1)" in (
        warning
    )
    assert "templates-2.0.json lists it too" in warning


async def test_portainer_a_template_renamed_in_each_file_is_still_one_app(
    runtime: Runtime, make_repo
) -> None:
    """Portainer's files list CockroachDB as a container, a stack and an Edge stack in
    templates-1.20.0.json, a stack and an Edge stack in templates-2.0.json, a stack in
    templates-3.0.json: the Edge stack was settled as cockroachdb-3 in the first and
    cockroachdb-2 in the second, and both were listed. One of each kind now, from the
    newest file that has it; the container, whose id the newest file gives a stack,
    is passed over."""
    stack = {"url": "https://github.com/portainer/templates", "stackfile": "stacks/c/stack.yml"}
    edge = {"type": 4, "title": "CockroachDB", "repository": stack}
    repo: CatalogRepo = make_repo()
    repo.write("stacks/c/stack.yml", "services:\n  roach:\n    image: cockroachdb/cockroach\n")
    repo.write("templates-1.20.0.json", json.dumps([
        {"type": 1, "title": "CockroachDB", "image": "cockroachdb/cockroach:v1"},
        {"type": 2, "title": "CockroachDB", "repository": stack}, edge]))  # fmt: skip
    repo.write("templates-2.0.json", json.dumps({"version": "2", "templates": [
        {"type": 2, "title": "CockroachDB", "repository": stack}, edge]}))  # fmt: skip
    repo.write("templates-3.0.json", json.dumps({"version": "3", "templates": [
        {"id": 1, "type": 2, "title": "CockroachDB", "repository": stack}]}))  # fmt: skip
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert report.errors == []
    rows = await app_rows(runtime, repo_id)
    assert {app_id: row.source_path for app_id, row in rows.items()} == {
        "cockroachdb": "templates-3.0.json#0",
        "cockroachdb-2": "templates-2.0.json#1",  # the Edge stack, once
    }


async def test_portainer_two_bare_lists_the_file_named_for_the_newer_release_wins(
    runtime: Runtime, make_repo
) -> None:
    """Portainer's repository also kept templates.json and templates-1.20.0.json both as
    bare lists (format 1), listing the same apps: each was refused as the other's
    duplicate. The file named for the newer Portainer release is the catalog's."""
    redis = {"title": "Redis", "description": "Key-value store"}
    repo: CatalogRepo = make_repo()
    repo.write("templates.json", json.dumps([{"type": "container", **redis, "image": "redis:5"}]))
    repo.write("templates-1.20.0.json", json.dumps([{"type": 1, **redis, "image": "redis:6"}]))
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.errors, report.app_count) == ([], 1)
    row = (await app_rows(runtime, repo_id))["redis"]
    assert (row.source_path, row.docker_config["image"]) == ("templates-1.20.0.json#0", "redis:6")
    (warning,) = [w.message for w in report.warnings if w.path == "templates-1.20.0.json#0"]
    assert "templates.json lists it too, in an older templates file (format version 1)" in warning
