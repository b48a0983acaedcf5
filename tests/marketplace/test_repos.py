"""Repository registry: add, list, show, update, remove; refusals change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.gitrepo import app_definition
from tomo.deployment.models import Installation
from tomo.deployment.spec import ConfigChanges
from tomo.errors import (
    AppNotFound,
    GitError,
    InvalidInput,
    InvalidRepoUrl,
    RepoAlreadySubscribed,
    RepoExists,
    RepoNotFound,
)
from tomo.marketplace.schemas import RepoCreate, RepoUpdate
from tomo.runtime import Runtime
from tomo.servers.models import Server


async def test_add_derives_a_unique_slug_and_lists(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.commit()  # a default branch for the add to find
    add = runtime.marketplace.add_repo
    first = await add(RepoCreate(url=repo.url, name="My Homelab Apps!", repo_type="personal"))
    second = await add(RepoCreate(url=repo.url, name="my homelab apps", allow_duplicate=True))
    chosen = await add(RepoCreate(url=repo.url, name="Third", id="custom-id", allow_duplicate=True))

    assert (first.id, second.id, chosen.id) == ("my-homelab-apps", "my-homelab-apps-2", "custom-id")
    assert first.model_dump() == {
        "id": "my-homelab-apps", "name": "My Homelab Apps!", "url": repo.url, "branch": "main",
        "repo_type": "personal", "enabled": True, "status": "active", "last_synced": None,
        "app_count": 0, "last_error": None, "last_commit": None, "has_credentials": False,
            "format": None,
        "warnings": [],
    }  # fmt: skip
    assert second.warnings == [
        f"repo 'my-homelab-apps' already subscribes to this repository ({repo.url}, branch main)"
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
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="B", id="b", branch="other"))
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


async def test_subscribing_to_a_url_and_branch_again_is_refused_unless_asked(
    runtime: Runtime, make_repo
) -> None:
    add = runtime.marketplace.add_repo
    network = await add(
        RepoCreate(url="https://Git.Example.com/team/catalog.git", name="Team", branch="main")
    )
    local = make_repo()
    local.commit()
    await add(RepoCreate(url=local.url, name="Local"))

    with pytest.raises(RepoAlreadySubscribed) as refused:
        await add(RepoCreate(url="https://git.example.com/team/catalog/", name="Again",
                             branch="main"))  # fmt: skip
    with pytest.raises(RepoAlreadySubscribed) as refused_local:  # its default branch, found
        await add(RepoCreate(url=f"file://{local.url}/", name="Local Again"))
    assert (refused.value.message, refused.value.repos, refused.value.fields) == (
        "repo 'team' already follows https://git.example.com/team/catalog/ on branch 'main' "
        "(another subscription would list each of its apps again)", ("team",), ("url",),
    )  # fmt: skip
    assert refused_local.value.repos == ("local",)
    assert [r.id for r in await runtime.marketplace.list_repos()] == ["local", "team"]

    other_branch = await add(
        RepoCreate(url="https://git.example.com/team/catalog", name="Testing", branch="testing")
    )
    anyway = await add(RepoCreate(url=f"file://{local.url}/", name="Local Again",
                                  allow_duplicate=True))  # fmt: skip
    unrelated = await add(
        RepoCreate(url="https://git.example.com/team/other", name="Other", branch="main")
    )
    assert other_branch.warnings == [
        f"repo 'team' already subscribes to this repository ({network.url}, branch main)"
    ]
    assert anyway.warnings == [
        f"repo 'local' already subscribes to this repository ({local.url}, branch main)"
    ]
    assert unrelated.warnings == []
    assert len(await runtime.marketplace.list_repos()) == 5


async def test_the_kind_of_a_repo_changes_and_a_bad_one_is_refused(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.commit()
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Mine", id="mine"))
    changed = await runtime.marketplace.update_repo("mine", RepoUpdate(repo_type="official"))
    assert changed.repo_type == "official"
    with pytest.raises(ValidationError, match="repo_type"):
        RepoUpdate.model_validate({"repo_type": "vendor"})
    assert (await runtime.marketplace.get_repo("mine")).repo_type == "official"


async def installed(runtime: Runtime, repo_id: str, app_id: str, name: str) -> None:
    """An installation of a repo's app, as an install leaves it (no server is reached)."""
    now = datetime.now(UTC)
    async with runtime.db.session() as session, session.begin():
        if await session.get(Server, "nas") is None:
            session.add(Server(id="nas", name="NAS", host="127.0.0.1", port=22, username="tomo",
                               auth_type="key", private_key_enc="sealed", data_root="/srv/apps",
                               use_sudo=False, status="online", created_at=now))  # fmt: skip
            await session.flush()
        session.add(Installation(id=f"i-{name}", server_id="nas", name=name, repo_id=repo_id,
                                 app_id=app_id, version="1.0.0", image=f"example/{app_id}:1.0.0",
                                 definition=app_definition(app_id), config={}, status="running",
                                 created_at=now, updated_at=now))  # fmt: skip


async def test_removing_a_repo_names_the_installations_left_running(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Home", id="home"))
    await runtime.marketplace.sync_repo("home")
    await installed(runtime, "home", "photos", "pics")
    await installed(runtime, "home", "notes", "notes")
    await installed(runtime, "elsewhere", "notes", "other-notes")

    assert [i.name for i in await runtime.marketplace.installations_from("home")] == [
        "notes", "pics",
    ]  # fmt: skip
    removed = await runtime.marketplace.remove_repo("home")

    assert [i.model_dump() for i in removed.installations] == [
        {"name": "notes", "server": "NAS", "app": "notes"},
        {"name": "pics", "server": "NAS", "app": "photos"},
    ]
    assert (await runtime.deployment.get_installation("pics")).status == "running"
    with pytest.raises(AppNotFound) as refused:
        await runtime.deployment.prepare_update("pics", None, tag=None, changes=ConfigChanges())
    assert refused.value.message == (
        "the catalog no longer has 'photos' (repository 'home' was removed): there is no "
        "newer version of pics, which keeps running as installed"
    )


async def test_updating_an_app_its_repo_no_longer_lists_says_so(
    runtime: Runtime, make_repo
) -> None:
    repo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Home", id="home"))
    await runtime.marketplace.sync_repo("home")
    await installed(runtime, "home", "photos", "pics")
    repo.remove("apps/tools/photos.yaml")
    repo.commit("photos gone")
    await runtime.marketplace.sync_repo("home")

    with pytest.raises(AppNotFound, match=r"^the catalog no longer has 'photos' \(repository "
                       r"'home' no longer lists it\)"):  # fmt: skip
        await runtime.deployment.prepare_update("pics", None, tag=None, changes=ConfigChanges())
