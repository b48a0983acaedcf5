"""`tomo repo …` as a person reads it: a sync's summary fits a screen (--verbose
lists every line, --json the whole report), a URL subscribed already is asked
about, and removing a repository says which installations it leaves running."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo
from tests.gitrepo import CatalogRepo, app_definition
from tests.marketplace.test_sync_report import BUILD, CONTAINER_NAME, noisy_casaos_catalog
from tomo.config import Settings
from tomo.deployment.models import Installation
from tomo.runtime import open_runtime
from tomo.servers.models import Server


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    return Tomo(tmp_path / "data")


def test_a_noisy_sync_prints_a_screenful_and_every_line_when_asked(tomo: Tomo, make_repo) -> None:
    store = noisy_casaos_catalog(make_repo, count=200)

    added = tomo.run("repo", "add", store.url, "--name", "Casa")
    shown = (added.stdout + added.stderr).splitlines()
    verbose = tomo.run("repo", "sync", "Casa", "--force", "--verbose").stdout
    report = tomo.json("repo", "sync", "Casa", "--force")

    assert len(shown) < 30, shown
    assert f"  {200:>5}  {CONTAINER_NAME}  (Apps/app000/docker-compose.yml, " \
        "Apps/app001/docker-compose.yml and 198 more)" in shown  # fmt: skip
    assert "3 app(s) listed but not installable; the commonest reasons:" in shown
    assert f"  {3:>5}  {BUILD}  (app000, app001 and 1 more)" in shown
    assert "2 file(s) not stored:" in shown and "(--verbose lists every line)" in shown
    assert any(line.startswith("casa: synced, casaos catalog, branch main at ") and
               line.endswith("; 200 apps: 200 added, 0 updated, 0 removed, 0 unchanged")
               for line in shown)  # fmt: skip
    for index in range(200):
        assert f"Apps/app{index:03d}/docker-compose.yml" in verbose
    assert len(report["warnings"]) == 200 and report["summary"]["warnings"][0]["count"] == 200
    assert "Apps/app199/docker-compose.yml" not in tomo.run("repo", "show", "Casa").stdout
    assert "Apps/app199/docker-compose.yml" in tomo.run("repo", "show", "Casa", "-v").stdout


def test_a_url_subscribed_already_is_asked_about_at_a_terminal(tomo: Tomo, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.commit()
    tomo.run("repo", "add", repo.url, "--name", "Home")

    declined = tomo.on_terminal("repo", "add", repo.url, "--name", "Again", typed="n\n",
                                expect=4)  # fmt: skip
    accepted = tomo.on_terminal("repo", "add", repo.url, "--name", "Again", typed="y\n")

    said = f"Repo 'home' already follows {repo.url} on branch 'main' (another subscription"
    assert said in declined.stderr and "Subscribe again all the same? [y/N]" in declined.stdout
    assert declined.stderr.strip().endswith("would list each of its apps again); nothing was "
                                            "added")  # fmt: skip
    assert "Added repo again" in accepted.stderr
    assert [r["id"] for r in tomo.json("repo", "list")] == ["again", "home"]


async def _installed(data_dir: Path, repo_id: str, app_id: str, name: str) -> None:
    """An installation of a repo's app, as an install leaves it (no server reached)."""
    now = datetime.now(UTC)
    settings = Settings(data_dir=data_dir, builtin_catalog=False)
    async with open_runtime(settings) as runtime, runtime.db.session() as session:
        session.add(Server(id="nas", name="NAS", host="127.0.0.1", port=22, username="tomo",
                           auth_type="key", private_key_enc="sealed", data_root="/srv/apps",
                           use_sudo=False, status="online", created_at=now))  # fmt: skip
        await session.flush()
        session.add(Installation(id="i1", server_id="nas", name=name, repo_id=repo_id,
                                 app_id=app_id, version="1.0.0", image="example/x:1.0.0",
                                 definition=app_definition(app_id), config={}, status="running",
                                 created_at=now, updated_at=now))  # fmt: skip
        await session.commit()


def test_removing_a_repo_says_which_installations_keep_running(tomo: Tomo, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.commit()
    tomo.run("repo", "add", repo.url, "--name", "Home", "--type", "personal")
    assert tomo.json("repo", "update", "Home", "--type", "official")["repo_type"] == "official"
    asyncio.run(_installed(tomo.data_dir, "home", "notes", "my-notes"))

    removed = tomo.run("repo", "remove", "Home")

    assert removed.stderr.splitlines() == [
        "Removed repo home and its 1 apps",
        "Installations of its apps keep running as installed: my-notes on NAS. No newer "
        "version of them is offered any more.",
    ]
    assert tomo.error("update", "my-notes", expect=3) == (
        "error: the catalog no longer has 'notes' (repository 'home' was removed): there is "
        "no newer version of my-notes, which keeps running as installed"
    )
    assert tomo.json("repo", "list") == []
