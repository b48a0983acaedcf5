"""Sync against real git repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.gitrepo import CatalogRepo, app_definition, app_yaml
from tests.services import mute_tcp_server
from tomo.errors import GitError, GitTimeout, SyncInProgress
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.models import MarketplaceAppRow
from tomo.marketplace.schemas import RepoCreate, SyncProblem, SyncReport
from tomo.marketplace.service import MarketplaceService
from tomo.marketplace.sync import _DETAIL_FIELDS, app_row
from tomo.runtime import Runtime


async def subscribe(runtime: Runtime, repo: CatalogRepo, name: str = "community") -> str:
    created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name=name))
    return created.id


def errors_of(report: SyncReport) -> dict[str, str]:
    return {problem.path: problem.message for problem in report.errors}


async def app_rows(runtime: Runtime, repo_id: str) -> dict[str, MarketplaceAppRow]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(MarketplaceAppRow).where(MarketplaceAppRow.repo_id == repo_id)
        )
        return {row.id: row for row in rows}


class ParseCounter:
    """Records how many files a sync parsed, from its progress reports."""

    def __init__(self) -> None:
        self.parsed = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase == "parsing":
            self.parsed = max(self.parsed, done)


async def test_first_sync_stores_every_app_and_counts_them(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("alpha", "media")
    repo.add_app("beta", "tools")
    repo.write("apps/storage/gamma/app.yaml", app_yaml("gamma"))
    commit = repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert report.model_dump() == {
        "repo_id": repo_id, "status": "synced", "format": "tomo", "branch": "main", "commit": commit, "app_count": 3,
        "added": 3, "updated": 0, "removed": 0, "errors": [], "warnings": [],
        "not_installable": [], "unchanged": 0,
        "summary": {"errors": [], "not_installable": [], "warnings": []},
    }  # fmt: skip
    rows = await app_rows(runtime, repo_id)
    assert {app_id: row.category for app_id, row in rows.items()} == {
        "alpha": "media", "beta": "tools", "gamma": "storage",
    }  # fmt: skip
    shown = await runtime.marketplace.get_repo(repo_id)
    assert (shown.status, shown.app_count, shown.last_commit) == ("active", 3, commit)
    assert shown.last_synced is not None


async def test_one_bad_file_never_stops_a_sync(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("good")
    repo.write("apps/tools/bomb.yaml", "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for c, p in zip("bcdefg", "abcdef", strict=True)
    ))  # fmt: skip
    repo.write("apps/tools/big.yaml", "description: " + "x" * 300_000)
    repo.write("apps/tools/deep.yaml", "a: " + "[" * 60 + "]" * 60)
    repo.write("apps/tools/dupe.yaml", "id: dupe\nid: again\n")
    repo.write(
        "apps/tools/sexagesimal.yaml",
        app_yaml("sexagesimal").replace("container: 80", "container: 22:22"),
    )
    repo.write("apps/tools/latin1.yaml", "name: caf\xe9\n".encode("latin-1"))
    repo.write(
        "apps/tools/evil-image.yaml", app_yaml("evil-image", docker={"image": "x; rm -rf /"})
    )
    repo.write("apps/tools/notes.txt", "not a definition")
    repo.write("apps/tools/.hidden.yaml", "garbage: [")
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert report.app_count == 1
    assert errors_of(report) == {
        "apps/tools/big.yaml": "file is 300013 bytes, larger than the 262144-byte limit",
        "apps/tools/bomb.yaml": "document expands to more than 20000 nodes (alias bomb?)",
        "apps/tools/deep.yaml": "line 1: nested deeper than 32 levels",
        "apps/tools/dupe.yaml": "line 2: duplicate key 'id' (first given on line 1)",
        "apps/tools/evil-image.yaml": (
            "docker.image: 'x; rm -rf /' is not a valid image reference "
            "([registry/]name[:tag][@digest])"
        ),
        "apps/tools/latin1.yaml": "not valid UTF-8 (byte 9)",
        "apps/tools/sexagesimal.yaml": "docker.ports[0].container: expected a whole number, got '22:22'",
    }
    shown = await runtime.marketplace.get_repo(repo_id)
    assert shown.last_report is not None and shown.last_report.errors == report.errors


async def test_both_layouts_and_asset_files(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.write("apps/media/flat.yml", app_yaml("flat"))
    repo.write("apps/media/nested/app.yml", app_yaml("nested"))
    repo.write("apps/media/nested/compose.yaml", "services: {}")  # an asset of 'nested'
    repo.write("apps/media/nested/extra/more.yaml", "not: an app")
    repo.write("README.yaml", app_yaml("outside-apps"))
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.app_count, report.errors) == (2, [])
    assert set(await app_rows(runtime, repo_id)) == {"flat", "nested"}


async def test_symlinks_are_resolved_inside_the_clone_only(
    runtime: Runtime, make_repo, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(app_yaml("stolen"))
    repo = make_repo()
    repo.write("shared/base.yaml", app_yaml("linked"))
    repo.symlink("apps/tools/linked.yaml", "../../shared/base.yaml")
    repo.symlink("apps/tools/escape.yaml", str(secret))
    repo.symlink("apps/tools/climb.yaml", "../../../secret.yaml")
    repo.symlink("apps/tools/dangling.yaml", "nowhere.yaml")
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert set(await app_rows(runtime, repo_id)) == {"linked"}
    assert errors_of(report) == {
        "apps/tools/escape.yaml": f"symlink to '{secret}' points outside the repository; not followed",
        "apps/tools/climb.yaml": "symlink to '../../../secret.yaml' points outside the repository; not followed",
        "apps/tools/dangling.yaml": "symlink target 'nowhere.yaml' is not a file in the repository",
    }


async def test_resync_without_new_commit_is_a_no_op(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("alpha")
    repo.write("apps/tools/bad.yaml", "id: [")
    commit = repo.commit()
    repo_id = await subscribe(runtime, repo)
    first = await runtime.marketplace.sync_repo(repo_id)
    before = await app_rows(runtime, repo_id)
    counter = ParseCounter()

    again = await runtime.marketplace.sync_repo(repo_id, progress=counter)

    assert (again.status, again.branch) == ("unchanged", "main")
    assert (again.commit, again.app_count, again.added, again.updated, again.removed) == (
        commit,
        1,
        0,
        0,
        0,
    )
    assert again.errors == first.errors  # unchanged bad files are still reported
    assert counter.parsed == 0
    assert (await app_rows(runtime, repo_id))["alpha"].updated_at == before["alpha"].updated_at


async def test_only_changed_files_are_parsed_and_rewritten(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    for n in range(6):
        repo.add_app(f"app-{n}")
    repo.write("apps/tools/broken.yaml", "id: [")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)
    before = await app_rows(runtime, repo_id)

    repo.add_app("app-1", description="A new description.")
    repo.add_app("app-new")
    repo.remove("apps/tools/app-5.yaml")
    repo.commit()
    counter = ParseCounter()
    report = await runtime.marketplace.sync_repo(repo_id, progress=counter)

    assert (report.added, report.updated, report.removed, report.app_count) == (1, 1, 1, 6)
    assert counter.parsed == 2  # app-1 and app-new; broken.yaml is not parsed again
    assert list(errors_of(report)) == ["apps/tools/broken.yaml"]
    after = await app_rows(runtime, repo_id)
    assert after["app-1"].description == "A new description."
    assert after["app-1"].pk == before["app-1"].pk
    for unchanged in ("app-0", "app-2", "app-3", "app-4"):
        assert after[unchanged].updated_at == before[unchanged].updated_at
    assert "app-5" not in after


async def test_a_file_that_turns_invalid_keeps_its_last_good_app(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.add_app("keeper", description="The good version.")
    repo.add_app("other")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)

    repo.write("apps/tools/keeper.yaml", "id: keeper\nname: [unclosed")
    repo.commit()
    report = await runtime.marketplace.sync_repo(repo_id)
    message = errors_of(report)["apps/tools/keeper.yaml"]
    assert message.endswith("(the last good version of 'keeper' stays in the catalog)")
    assert (report.removed, report.app_count) == (0, 2)
    kept = await runtime.marketplace.get_app(f"{repo_id}/keeper")
    assert kept.description == "The good version."

    again = await runtime.marketplace.sync_repo(repo_id, force=True)  # nothing new: still kept
    assert (again.removed, again.app_count) == (0, 2)

    repo.remove("apps/tools/keeper.yaml")
    repo.commit()
    report = await runtime.marketplace.sync_repo(repo_id)
    assert (report.removed, report.app_count, report.errors) == (1, 1, [])


async def test_misspelt_keys_are_warnings_that_last_until_fixed(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.write("apps/tools/typo.yaml", app_yaml("typo") + "licence: MIT\n")
    repo.add_app("other")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    report = await runtime.marketplace.sync_repo(repo_id)
    expected = [SyncProblem(path="apps/tools/typo.yaml",
                            message="licence: unknown key, ignored (did you mean 'license'?)")]  # fmt: skip
    assert (report.added, report.errors, report.warnings) == (2, [], expected)

    repo.add_app("other", description="Changed.")  # typo.yaml is not parsed again
    repo.commit()
    assert (await runtime.marketplace.sync_repo(repo_id)).warnings == expected

    repo.write("apps/tools/typo.yaml", app_yaml("typo") + "license: MIT\n")
    repo.commit()
    assert (await runtime.marketplace.sync_repo(repo_id)).warnings == []


async def test_fixing_a_bad_file_adds_its_app(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.write("apps/tools/later.yaml", app_yaml("later").replace("version: 1.0.0", "version: ''"))
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    assert errors_of(await runtime.marketplace.sync_repo(repo_id)) == {
        "apps/tools/later.yaml": "version: must not be empty"
    }
    repo.add_app("later")
    repo.commit()
    report = await runtime.marketplace.sync_repo(repo_id)
    assert (report.added, report.errors, report.app_count) == (1, [], 1)


async def test_id_defined_twice_the_file_whose_path_names_it_wins(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.add_app("jellyfin", "media")
    repo.write("apps/media/jf-copy.yaml", app_yaml("jellyfin", name="Impostor"))
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert errors_of(report) == {
        "apps/media/jf-copy.yaml": (
            "id 'jellyfin' is also defined by apps/media/jellyfin.yaml, whose path names it; "
            "this file was skipped"
        )
    }
    assert (await app_rows(runtime, repo_id))["jellyfin"].name == "Jellyfin"


async def test_id_defined_twice_with_no_winner_stores_neither(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.write("apps/media/one.yaml", app_yaml("shared"))
    repo.write("apps/media/two.yaml", app_yaml("shared"))
    repo.add_app("other")
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert set(errors_of(report)) == {"apps/media/one.yaml", "apps/media/two.yaml"}
    assert "none was stored" in errors_of(report)["apps/media/one.yaml"]
    assert set(await app_rows(runtime, repo_id)) == {"other"}

    repo.remove("apps/media/two.yaml")
    repo.commit()
    counter = ParseCounter()
    report = await runtime.marketplace.sync_repo(repo_id, progress=counter)
    # one.yaml did not change, yet its app now wins and must be stored.
    assert (report.added, report.errors) == (1, [])
    assert set(await app_rows(runtime, repo_id)) == {"other", "shared"}


async def test_same_id_in_two_repos_neither_overwrites(runtime: Runtime, make_repo) -> None:
    official, community = make_repo(), make_repo()
    official.add_app("jellyfin", "media", name="Official Jellyfin")
    community.add_app("jellyfin", "media", name="Community Jellyfin")
    official.commit()
    community.commit()
    first = await subscribe(runtime, official, "first")
    second = await subscribe(runtime, community, "second")
    await runtime.marketplace.sync_repo(first)
    await runtime.marketplace.sync_repo(second)

    assert (await runtime.marketplace.get_app(f"{first}/jellyfin")).name == "Official Jellyfin"
    assert (await runtime.marketplace.get_app(f"{second}/jellyfin")).name == "Community Jellyfin"


async def test_force_pushed_branch_is_followed(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("keep")
    repo.commit("one")
    repo.add_app("dropped")
    repo.commit("two")
    repo_id = await subscribe(runtime, repo)
    assert (await runtime.marketplace.sync_repo(repo_id)).app_count == 2

    repo.git("reset", "--hard", "HEAD~1")
    repo.add_app("rewritten")
    new_head = repo.commit("history rewritten")
    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.commit, report.added, report.removed) == (new_head, 1, 1)
    assert set(await app_rows(runtime, repo_id)) == {"keep", "rewritten"}


async def test_deleted_branch_fails_and_keeps_the_last_good_catalog(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.git("checkout", "--quiet", "-b", "stable")
    repo.add_app("alpha")
    repo.commit()
    repo.git("checkout", "--quiet", "-b", "main-again")
    created = await runtime.marketplace.add_repo(
        RepoCreate(url=repo.url, name="c", branch="stable")
    )
    await runtime.marketplace.sync_repo(created.id)
    repo.git("branch", "-D", "stable")

    with pytest.raises(GitError, match=f"branch 'stable' not found at {repo.url}"):
        await runtime.marketplace.sync_repo(created.id)

    shown = await runtime.marketplace.get_repo(created.id)
    assert (shown.status, shown.app_count) == ("error", 1)
    assert shown.last_error == f"branch 'stable' not found at {repo.url}"
    assert set(await app_rows(runtime, created.id)) == {"alpha"}


async def test_unreachable_remote_fails_with_the_reason(runtime: Runtime) -> None:
    created = await runtime.marketplace.add_repo(
        RepoCreate(url="https://127.0.0.1:1/catalog.git", name="nowhere", branch="main")
    )
    with pytest.raises(GitError, match="git ls-remote failed: cannot connect to the server"):
        await runtime.marketplace.sync_repo(created.id)
    shown = await runtime.marketplace.get_repo(created.id)
    assert shown.status == "error"
    assert "cannot connect to the server" in (shown.last_error or "")


@pytest.fixture
def silent_server() -> Iterator[int]:
    with mute_tcp_server() as port:
        yield port


async def test_remote_that_never_answers_times_out(runtime: Runtime, silent_server: int) -> None:
    runtime.settings.git_timeout = 1.5
    created = await runtime.marketplace.add_repo(
        RepoCreate(
            url=f"https://127.0.0.1:{silent_server}/catalog.git", name="silent", branch="main"
        )
    )
    with pytest.raises(GitTimeout, match=r"git ls-remote timed out after 1.5s"):
        await runtime.marketplace.sync_repo(created.id)
    assert (await runtime.marketplace.get_repo(created.id)).status == "error"


async def test_sync_failure_midway_keeps_the_catalog(
    runtime: Runtime, make_repo, monkeypatch
) -> None:
    repo = make_repo()
    repo.add_app("alpha")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)
    repo.add_app("beta")
    repo.commit()

    # Fail the fetch after ls-remote saw the new commit (the clone is corrupted).
    clone = runtime.settings.repos_dir / f"{repo_id}.git"
    (clone / "HEAD").write_text("garbage")
    (clone / "objects").rename(clone / "objects-moved")
    with pytest.raises(GitError):
        await runtime.marketplace.sync_repo(repo_id)
    assert set(await app_rows(runtime, repo_id)) == {"alpha"}
    assert (await runtime.marketplace.get_repo(repo_id)).status == "error"


async def test_one_sync_per_repo_at_a_time(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("alpha")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    other = MarketplaceService(
        runtime.db, runtime.settings, runtime.marketplace.secrets
    )  # as another process would

    leased = asyncio.Event()
    # Progress is first reported after the lease is taken.
    first = asyncio.create_task(
        runtime.marketplace.sync_repo(repo_id, progress=lambda *_: leased.set())
    )
    await asyncio.wait_for(leased.wait(), timeout=10)
    with pytest.raises(SyncInProgress, match=f"repo '{repo_id}' is already syncing"):
        await other.sync_repo(repo_id)
    with pytest.raises(SyncInProgress):
        await runtime.marketplace.sync_repo(repo_id)
    assert (await first).app_count == 1
    assert (await other.sync_repo(repo_id)).status == "unchanged"


async def test_removing_a_repo_removes_its_apps_clone_and_index(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.add_app("findme", description="Uniquely searchable zebra words.")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)
    assert (await runtime.marketplace.search_apps("zebra")).total == 1

    await runtime.marketplace.remove_repo(repo_id)

    assert await app_rows(runtime, repo_id) == {}
    assert (await runtime.marketplace.search_apps("zebra")).total == 0
    assert not (runtime.settings.repos_dir / f"{repo_id}.git").exists()


async def test_a_file_named_unlike_its_id_is_stored_with_a_warning(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.write("apps/media/jelly.yaml", app_yaml("jellyfin"))
    repo.write("apps/media/emby-server/app.yaml", app_yaml("emby"))
    repo.write("apps/tools/typo-named.yml", app_yaml("typo") + "licence: MIT\n")
    repo.add_app("navidrome", "media")
    repo.write("apps/storage/seafile/app.yaml", app_yaml("seafile"))
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.errors, report.app_count) == ([], 5)
    assert report.warnings == [
        SyncProblem(path="apps/media/emby-server/app.yaml", message=(
            "id 'emby' differs from the folder; the catalog expects apps/media/emby/app.yaml")),
        SyncProblem(path="apps/media/jelly.yaml", message=(
            "id 'jellyfin' differs from the file name; the catalog expects apps/media/jellyfin.yaml")),
        SyncProblem(path="apps/tools/typo-named.yml", message=(
            "licence: unknown key, ignored (did you mean 'license'?); "
            "id 'typo' differs from the file name; the catalog expects apps/tools/typo.yml")),
    ]  # fmt: skip
    repo.add_app("navidrome", "media", description="Changed.")  # the others are not parsed again
    repo.commit()
    assert (await runtime.marketplace.sync_repo(repo_id)).warnings == report.warnings


@pytest.mark.parametrize("new_commit", [False, True], ids=["unchanged", "synced"])
async def test_a_successful_sync_clears_the_last_error(
    runtime: Runtime, make_repo, new_commit: bool
) -> None:
    repo = make_repo()
    repo.add_app("alpha")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)
    repo.git("branch", "-m", "main", "renamed")
    with pytest.raises(GitError):
        await runtime.marketplace.sync_repo(repo_id)
    failed = await runtime.marketplace.get_repo(repo_id)
    assert (failed.status, failed.last_error) == ("error", f"branch 'main' not found at {repo.url}")

    repo.git("branch", "-m", "renamed", "main")
    if new_commit:
        repo.add_app("beta")
        repo.commit()
    report = await runtime.marketplace.sync_repo(repo_id)

    assert report.status == ("synced" if new_commit else "unchanged")
    shown = await runtime.marketplace.get_repo(repo_id)
    assert (shown.status, shown.last_error) == ("active", None)


async def test_a_git_failure_keeps_gits_own_cause(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    path = repo.add_app("alpha")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    # The remote loses an object its branch needs: its side of the fetch fails.
    blob = repo.git("rev-parse", f"HEAD:{path}")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()

    with pytest.raises(GitError) as failed:
        await runtime.marketplace.sync_repo(repo_id)

    message = failed.value.message
    assert message.startswith("git fetch failed: the remote repository is damaged (")
    assert f"remote: fatal: unable to read {blob}" in message
    assert "fatal: protocol error: bad pack header" in message
    assert (await runtime.marketplace.get_repo(repo_id)).last_error == message


async def test_a_vanished_remote_is_named_in_gits_words(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("alpha")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    shutil.rmtree(repo.path)

    with pytest.raises(GitError) as failed:
        await runtime.marketplace.sync_repo(repo_id)

    # Not git's closing boilerplate ("… and the repository exists."): the line with the cause.
    assert failed.value.message == (
        "git ls-remote failed: no repository at that URL "
        f"(fatal: '{repo.url}' does not appear to be a git repository)"
    )


def test_every_field_of_a_definition_is_kept_in_the_catalog_row() -> None:
    """A field neither a column nor in the row's details is lost at every sync: the
    app's page and its installs would see the default (web_path was, at first)."""
    columns = set(app_row(AppDefinition.model_validate(app_definition("kept")), repo_id="r",
                          path="p", blob="b", now=datetime.now(UTC)))  # fmt: skip
    kept = columns | set(_DETAIL_FIELDS) | {"docker"}  # `docker` is the docker_config column
    assert set(AppDefinition.model_fields) - kept == set()
