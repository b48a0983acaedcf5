"""Repository registry: add, list, show, update, remove; refusals change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tomo.errors import GitError, InvalidInput, InvalidRepoUrl, RepoExists, RepoNotFound
from tomo.marketplace.schemas import RepoCreate, RepoUpdate
from tomo.runtime import Runtime


async def test_add_derives_a_unique_slug_and_lists(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.commit()  # a default branch for the add to find
    add = runtime.marketplace.add_repo
    first = await add(RepoCreate(url=repo.url, name="My Homelab Apps!", repo_type="personal"))
    second = await add(RepoCreate(url=repo.url, name="my homelab apps"))
    chosen = await add(RepoCreate(url=repo.url, name="Third", id="custom-id"))

    assert (first.id, second.id, chosen.id) == ("my-homelab-apps", "my-homelab-apps-2", "custom-id")
    assert first.model_dump() == {
        "id": "my-homelab-apps", "name": "My Homelab Apps!", "url": repo.url, "branch": "main",
        "repo_type": "personal", "enabled": True, "status": "active", "last_synced": None,
        "app_count": 0, "last_error": None, "last_commit": None, "has_credentials": False,
            "format": None,
        "warnings": [],
    }  # fmt: skip
    assert second.warnings == [
        f"repo 'my-homelab-apps' already subscribes to this repository ({repo.url})"
    ]
    assert [r.id for r in await runtime.marketplace.list_repos()] == [
        "custom-id", "my-homelab-apps", "my-homelab-apps-2",
    ]  # fmt: skip


async def test_show_accepts_id_or_name(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.commit()  # a default branch for the add to find
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Family Apps"))
    assert (await runtime.marketplace.get_repo("family-apps")).name == "Family Apps"
    assert (await runtime.marketplace.get_repo("Family Apps")).id == "family-apps"
    with pytest.raises(RepoNotFound, match="no repo with id or name 'missing'"):
        await runtime.marketplace.get_repo("missing")


async def test_duplicates_are_refused(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.commit()  # a default branch for the add to find
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Apps", id="apps"))
    with pytest.raises(RepoExists, match="a repo named 'Apps' already exists"):
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Apps"))
    with pytest.raises(RepoExists, match="a repo with id 'apps' already exists"):
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Other", id="apps"))
    with pytest.raises(InvalidInput, match="repo id 'Bad Id' must be lowercase"):
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="B", id="Bad Id"))
    assert len(await runtime.marketplace.list_repos()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% {marker}",
        "--upload-pack=touch {marker}",
        "file:///x --upload-pack=touch {marker}",
    ],
)
async def test_injected_urls_are_refused_and_git_never_runs(
    runtime: Runtime, tmp_path: Path, url: str
) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(InvalidRepoUrl):
        await runtime.marketplace.add_repo(RepoCreate(url=url.format(marker=marker), name="evil"))
    assert not marker.exists()
    assert await runtime.marketplace.list_repos() == []
    assert not runtime.settings.repos_dir.exists()


async def test_local_repos_forbidden_by_setting(runtime: Runtime, make_repo) -> None:
    runtime.settings.allow_local_repos = False
    with pytest.raises(InvalidRepoUrl, match="local repositories are disabled"):
        await runtime.marketplace.add_repo(RepoCreate(url=make_repo().url, name="local"))


async def test_local_repo_added_then_forbidden_fails_at_sync(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("x")
    repo.commit()
    created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="local"))
    runtime.settings.allow_local_repos = False
    with pytest.raises(InvalidRepoUrl, match="local repositories are disabled"):
        await runtime.marketplace.sync_repo(created.id)
    assert (await runtime.marketplace.get_repo(created.id)).status == "error"


async def test_update_name_branch_and_enabled(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("on-main")
    repo.commit()
    repo.git("checkout", "--quiet", "-b", "testing")
    repo.add_app("on-testing")
    repo.commit()
    created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="R", branch="main"))
    await runtime.marketplace.sync_repo(created.id)

    updated = await runtime.marketplace.update_repo(
        created.id, RepoUpdate(name="Renamed", branch="testing", enabled=False)
    )
    assert (updated.name, updated.branch, updated.enabled) == ("Renamed", "testing", False)
    report = await runtime.marketplace.sync_repo(created.id)
    assert (report.branch, report.added, report.app_count) == ("testing", 1, 2)


async def test_bad_updates_change_nothing(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.commit()  # a default branch for the add to find
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="A", id="a"))
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="B", id="b"))
    with pytest.raises(InvalidRepoUrl, match="'--orphan' is not a valid branch name"):
        await runtime.marketplace.update_repo("a", RepoUpdate(branch="--orphan"))
    with pytest.raises(RepoExists):
        await runtime.marketplace.update_repo("a", RepoUpdate(name="B"))
    shown = await runtime.marketplace.get_repo("a")
    assert (shown.name, shown.branch) == ("A", "main")


async def test_remove_by_name(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.commit()  # a default branch for the add to find
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Gone Soon"))
    removed = await runtime.marketplace.remove_repo("Gone Soon")
    assert removed.id == "gone-soon"
    assert await runtime.marketplace.list_repos() == []
    with pytest.raises(RepoNotFound):
        await runtime.marketplace.remove_repo("Gone Soon")


async def test_add_without_a_branch_follows_the_remotes_default(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo(branch="master")
    repo.add_app("alpha")
    repo.commit()
    created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Older Style"))
    assert created.branch == "master"

    report = await runtime.marketplace.sync_repo(created.id)
    assert (report.branch, report.app_count) == ("master", 1)
    assert (await runtime.marketplace.get_repo(created.id)).branch == "master"


async def test_a_named_branch_needs_no_answer_from_the_remote(runtime: Runtime) -> None:
    nowhere = "https://127.0.0.1:1/catalog.git"  # nothing listens there
    created = await runtime.marketplace.add_repo(
        RepoCreate(url=nowhere, name="Offline", branch="stable")
    )
    assert created.branch == "stable"


async def test_add_without_a_branch_of_an_empty_remote_is_refused(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()  # no commit: its HEAD names no branch yet
    with pytest.raises(InvalidInput) as refused:
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Empty"))
    assert refused.value.message == (
        f"{repo.url} names no default branch (it has no commits yet, or its HEAD is detached); "
        "name the branch to follow"
    )
    assert await runtime.marketplace.list_repos() == []


async def test_add_without_a_branch_of_an_unreachable_remote_stores_nothing(
    runtime: Runtime,
) -> None:
    with pytest.raises(GitError, match="git ls-remote failed: cannot connect to the server"):
        await runtime.marketplace.add_repo(
            RepoCreate(url="https://127.0.0.1:1/catalog.git", name="Down")
        )
    assert await runtime.marketplace.list_repos() == []


async def test_adding_a_subscribed_url_again_warns_and_adds(runtime: Runtime, make_repo) -> None:
    add = runtime.marketplace.add_repo
    network = await add(
        RepoCreate(url="https://Git.Example.com/team/catalog.git", name="Team", branch="main")
    )
    local = make_repo()
    local.commit()
    await add(RepoCreate(url=local.url, name="Local"))

    again = await add(
        RepoCreate(url="https://git.example.com/team/catalog/", name="Again", branch="main")
    )
    local_again = await add(RepoCreate(url=f"file://{local.url}/", name="Local Again"))
    unrelated = await add(
        RepoCreate(url="https://git.example.com/team/other", name="Other", branch="main")
    )

    assert again.warnings == [f"repo 'team' already subscribes to this repository ({network.url})"]
    assert local_again.warnings == [
        f"repo 'local' already subscribes to this repository ({local.url})"
    ]
    assert unrelated.warnings == []
    assert len(await runtime.marketplace.list_repos()) == 5
