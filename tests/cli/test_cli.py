"""The CLI contract: commands, stable JSON shapes, one-line errors and exit codes.

Runs the real entry point (`python -m tomo`) in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.tomo_cli import Tomo, tomo_command
from tests.gitrepo import CatalogRepo
from tomo.config import Settings
from tomo.runtime import open_runtime


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    return Tomo(tmp_path / "data")


@pytest.fixture
def catalog(make_repo) -> CatalogRepo:
    repo = make_repo("catalog")
    repo.add_app("jellyfin", "media", tags=["media", "streaming"])
    repo.add_app("navidrome", "media", tags=["music"], licence="GPL-3.0")  # sic: a typo
    repo.add_app("portainer", "tools", docker={"image": "portainer/portainer-ce:2.21.4",
        "volumes": [{"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock"}]})  # fmt: skip
    repo.write("apps/tools/broken.yaml", "id: [")
    repo.commit()
    return repo


def test_repo_add_syncs_and_reports_in_the_pinned_shape(tomo: Tomo, catalog: CatalogRepo) -> None:
    report = tomo.json("repo", "add", catalog.url, "--name", "Home Catalog", "--type", "personal")
    assert report == {
        "repo_id": "home-catalog", "status": "synced", "format": "tomo", "branch": "main",
        "commit": catalog.git("rev-parse", "HEAD"), "app_count": 3, "added": 3, "updated": 0, "removed": 0,
        "errors": [{"path": "apps/tools/broken.yaml",
                    "message": "invalid YAML, line 2: did not find expected node content"}],
        "warnings": [{"path": "apps/media/navidrome.yaml",
                      "message": "licence: unknown key, ignored (did you mean 'license'?)"}],
        "not_installable": [], "unchanged": 0,
        "summary": {
            "errors": [{"kind": "invalid YAML, line 2: did not find expected node content",
                        "count": 1, "examples": ["apps/tools/broken.yaml"]}],
            "warnings": [{"kind": "licence: unknown key, ignored (did you mean 'license'?)",
                          "count": 1, "examples": ["apps/media/navidrome.yaml"]}],
            "not_installable": [],
        },
    }  # fmt: skip
    again = tomo.json("repo", "sync", "Home Catalog")
    assert (again["status"], again["added"], again["app_count"]) == ("unchanged", 0, 3)


def test_repo_list_show_update_remove(tomo: Tomo, catalog: CatalogRepo) -> None:
    tomo.run("repo", "add", catalog.url, "--name", "C", "--id", "cat", "--no-sync")
    listed = tomo.json("repo", "list")
    assert [sorted(item) for item in listed] == [sorted([
        "id", "name", "url", "branch", "repo_type", "enabled", "status", "last_synced",
        "app_count", "last_error", "last_commit", "has_credentials", "format",
    ])]  # fmt: skip
    assert listed[0]["last_synced"] is None
    tomo.run("repo", "sync", "cat")
    shown = tomo.json("repo", "show", "cat")
    assert shown["app_count"] == 3
    assert shown["last_report"]["errors"][0]["path"] == "apps/tools/broken.yaml"
    assert tomo.json("repo", "update", "cat", "--disable", "--name", "Renamed")["enabled"] is False
    human = tomo.run("repo", "show", "Renamed").stdout
    assert "apps/tools/broken.yaml" in human
    assert tomo.json("repo", "remove", "cat")["id"] == "cat"
    assert tomo.json("repo", "list") == []


def test_app_search_show_categories_and_rate(tomo: Tomo, catalog: CatalogRepo) -> None:
    tomo.run("repo", "add", catalog.url, "--name", "C")
    page = tomo.json("app", "search", "jelly")
    assert page == {"total": 1, "estimated": False, "items": [{
        "id": "jellyfin", "repo_id": "c", "name": "Jellyfin", "version": "1.0.0",
        "category": "media", "tags": ["media", "streaming"], "avg_rating": 0.0,
        "install_count": 0, "risks": [], "installable": True,
    }]}  # fmt: skip
    assert tomo.json("app", "search", "--category", "media", "--tag", "music")["total"] == 1
    assert [
        i["id"] for i in tomo.json("app", "search", "--limit", "1", "--offset", "1")["items"]
    ] == ["navidrome"]
    assert tomo.json("app", "categories") == [
        {"name": "media", "count": 2},
        {"name": "tools", "count": 1},
    ]

    shown = tomo.json("app", "show", "c/portainer")
    assert shown["risks"] == ["docker-socket"]
    assert shown["docker"]["image"] == "portainer/portainer-ce:2.21.4"
    assert {"repo_id", "source_path", "requirements", "avg_rating", "rating_count"} <= set(shown)
    assert "docker-socket" in tomo.run("app", "show", "portainer").stdout

    nobody = tomo.error("app", "rate", "jellyfin", "4", "--user", "alice", expect=3)
    assert nobody == "error: no tomo user with id or name 'alice': a rating is a tomo account's"
    tomo.run("user", "create", "alice", "--password-stdin", stdin="a long password\n")
    rated = tomo.json("app", "rate", "jellyfin", "4", "--user", "alice")
    assert (rated["avg_rating"], rated["rating_count"], rated["username"]) == (4.0, 1, "alice")
    human = tomo.run("app", "search").stdout
    assert "c/jellyfin" in human and "4.0" in human


def test_errors_are_one_line_with_exit_codes(
    tomo: Tomo, catalog: CatalogRepo, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    assert tomo.error("repo", "add", f"ext::sh -c touch% {marker}", "--name", "x", expect=2) == (
        f"error: repository URL uses a transport tomo does not allow: 'ext::sh -c touch% {marker}'"
    )
    assert not marker.exists()
    assert tomo.error("repo", "show", "ghost", expect=3) == "error: no repo with id or name 'ghost'"
    assert (
        tomo.error("app", "show", "ghost", expect=3) == "error: no app 'ghost' in any enabled repo"
    )
    tomo.run("repo", "add", catalog.url, "--name", "C")
    assert tomo.error("repo", "add", catalog.url, "--name", "C", expect=4) == (
        "error: a repo named 'C' already exists"
    )
    assert tomo.error("app", "rate", "jellyfin", "9", expect=2) == (
        "error: rating must be between 1 and 5, got 9"
    )
    assert (
        tomo.error("app", "search", "--limit", "0", expect=2)
        == "error: limit must be between 1 and 200"
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--offset", "99999999999999999999", "error: offset must be between 0 and 1000000000"),
        ("--offset", "-1", "error: offset must be between 0 and 1000000000"),
        ("--limit", "99999999999999999999", "error: limit must be between 1 and 200"),
    ],
)
def test_search_paging_out_of_bounds_is_a_usage_error(
    tomo: Tomo, catalog: CatalogRepo, option: str, value: str, message: str
) -> None:
    tomo.run("repo", "add", catalog.url, "--name", "C")
    assert tomo.error("app", "search", option, value, expect=2) == message


def test_failed_sync_says_the_catalog_was_kept(tomo: Tomo, catalog: CatalogRepo) -> None:
    tomo.run("repo", "add", catalog.url, "--name", "C")
    catalog.git("branch", "-m", "main", "renamed")
    line = tomo.error("repo", "sync", "C", expect=5)
    assert (
        line
        == f"error: sync of 'C' failed (catalog kept): branch 'main' not found at {catalog.url}"
    )
    assert tomo.json("app", "search")["total"] == 3
    assert tomo.json("repo", "show", "C")["status"] == "error"


def test_add_whose_first_sync_fails_keeps_the_repo(tomo: Tomo) -> None:
    url = "https://127.0.0.1:1/x.git"  # nothing listens there
    done = tomo.run("repo", "add", url, "--name", "Down", "--branch", "main", expect=5)
    added, line = done.stderr.strip().splitlines()
    assert added == "Added repo down (https://127.0.0.1:1/x.git)"
    assert line.startswith("error: sync of 'down' failed (repo added, its first sync failed): ")
    assert tomo.json("repo", "show", "down")["status"] == "error"


def test_repo_add_follows_the_remotes_default_branch(tomo: Tomo, make_repo) -> None:
    repo = make_repo("older", branch="master")
    repo.add_app("alpha")
    repo.commit()
    done = tomo.run("repo", "add", repo.url, "--name", "Older")
    assert (
        f"older: synced, tomo catalog, branch master at {repo.git('rev-parse', 'HEAD')[:12]}"
        in done.stderr
    )
    assert tomo.json("repo", "show", "older")["branch"] == "master"


def test_repo_add_without_branch_when_the_remote_is_down_adds_nothing(tomo: Tomo) -> None:
    line = tomo.error("repo", "add", "https://127.0.0.1:1/x.git", "--name", "Down", expect=5)
    assert line.startswith("error: git ls-remote failed: cannot connect to the server (fatal: ")
    assert tomo.json("repo", "list") == []


def test_adding_a_subscribed_url_again_is_refused_unless_asked(
    tomo: Tomo, catalog: CatalogRepo
) -> None:
    tomo.run("repo", "add", catalog.url, "--name", "C")
    assert tomo.error("repo", "add", f"{catalog.url}/", "--name", "Again", expect=4) == (
        f"error: repo 'c' already follows {catalog.url} on branch 'main' (another subscription "
        "would list each of its apps again); add --allow-duplicate to subscribe all the same"
    )
    quiet = tomo.run("repo", "add", f"file://{catalog.url}", "--name", "Third", "--no-sync",
                     "--json", "--allow-duplicate")  # fmt: skip
    warning = f"repo 'c' already subscribes to this repository ({catalog.url}, branch main)"
    assert json.loads(quiet.stdout)["warnings"] == [warning]
    # With --json too, the warnings go to stderr: stdout stays one JSON document.
    assert quiet.stderr.splitlines() == [f"warning: {warning}"]
    assert [repo["id"] for repo in tomo.json("repo", "list")] == ["c", "third"]


def test_repo_update_branch_syncs_the_new_branch(tomo: Tomo, catalog: CatalogRepo) -> None:
    tomo.run("repo", "add", catalog.url, "--name", "C")
    catalog.git("checkout", "--quiet", "-b", "testing")
    catalog.add_app("extra", "tools")
    testing_head = catalog.commit()

    report = tomo.json("repo", "update", "C", "--branch", "testing")
    assert (report["branch"], report["commit"]) == ("testing", testing_head)
    assert (report["added"], report["app_count"]) == (1, 4)
    assert tomo.json("app", "show", "c/extra")["id"] == "extra"
    human = tomo.run("repo", "update", "C", "--branch", "main").stderr
    assert "Updated repo c; it follows branch main" in human
    assert "c: synced, tomo catalog, branch main at" in human
    assert (
        tomo.json("repo", "update", "C", "--branch", "testing", "--no-sync")["branch"] == "testing"
    )
    assert tomo.json("repo", "show", "C")["last_report"]["branch"] == "main"


def test_repo_update_to_a_branch_that_fails_says_the_old_one_shows(
    tomo: Tomo, catalog: CatalogRepo
) -> None:
    tomo.run("repo", "add", catalog.url, "--name", "C")
    done = tomo.run("repo", "update", "C", "--branch", "nope", expect=5)
    assert done.stderr.strip().splitlines()[-1] == (
        "error: sync of 'c' failed (branch changed to 'nope'; the catalog still shows the apps "
        f"of branch 'main' until a sync succeeds): branch 'nope' not found at {catalog.url}"
    )
    assert tomo.json("app", "search")["total"] == 3
    shown = tomo.json("repo", "show", "C")
    assert (shown["branch"], shown["status"], shown["app_count"]) == ("nope", "error", 3)


def test_repo_credentials_are_never_shown(tomo: Tomo) -> None:
    url = "https://user:s3cret@127.0.0.1:1/x/y.git"  # nothing listens there
    refused = tomo.run("repo", "add", url, "--name", "Private", expect=5)  # no default branch
    added = tomo.run("repo", "add", url, "--name", "Private", "--branch", "main", expect=5)
    shown = [refused.stdout + refused.stderr, added.stdout + added.stderr]
    for command in (["list"], ["list", "--json"], ["show", "private"], ["show", "private", "--json"],
                    ["sync", "private"]):  # fmt: skip
        done = tomo.run("repo", *command, expect=5 if command[0] == "sync" else 0)
        shown.append(done.stdout + done.stderr)
    assert [text for text in shown if "s3cret" in text] == []
    assert "Added repo private (https://127.0.0.1:1/x/y.git)" in shown[1]
    detail = tomo.json("repo", "show", "private")
    assert (detail["url"], detail["has_credentials"]) == ("https://127.0.0.1:1/x/y.git", True)
    assert "credentials  yes" in tomo.run("repo", "show", "private").stdout
    stored = [p for p in tomo.data_dir.rglob("*") if p.is_file() and b"s3cret" in p.read_bytes()]
    assert stored == []


def test_usage_errors_do_not_trace(tomo: Tomo) -> None:
    done = tomo.run("app", "search", "--sort", "bogus", expect=2)
    assert "Invalid value for '--sort'" in done.stderr


def test_data_dir_defaults_to_data_in_the_working_directory(tmp_path: Path) -> None:
    env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false"}
    env.pop("TOMO_DATA_DIR", None)
    subprocess.run([*tomo_command(), "repo", "list"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    assert (tmp_path / "data" / "tomo.db").is_file()


def test_first_start_shows_the_builtin_catalog(tmp_path: Path) -> None:
    tomo = Tomo(tmp_path / "data", TOMO_BUILTIN_CATALOG="true")
    page = tomo.json("app", "search", "--limit", "200")
    assert page["total"] >= 20
    assert {item["repo_id"] for item in page["items"]} == {"official"}
    assert tomo.json("app", "show", "jellyfin")["repo_id"] == "official"


def every_command() -> list[list[str]]:
    """Every command path of the CLI, as a user would type it before --help."""
    from typer.main import get_command

    from tomo.cli import app

    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return found


def test_every_help_page_renders(tomo: Tomo) -> None:
    # "[/udp]" and the like are text: no help text may be read as markup.
    commands = every_command()
    assert ["install"] in commands and ["job", "list"] in commands
    for path in commands:
        done = tomo.run(*path, "--help")
        assert "Usage:" in done.stdout, path
    assert "--port HOST:CONTAINER[/udp]" in tomo.run("install", "--help").stdout


def test_an_unknown_job_is_not_found(tomo: Tomo) -> None:
    assert tomo.error("job", "show", "nope", expect=3) == "error: no job 'nope'"


def test_the_data_dir_and_database_are_private(tmp_path: Path) -> None:
    tomo = Tomo(tmp_path / "fresh")
    tomo.json("repo", "list")
    assert tomo.data_dir.stat().st_mode & 0o777 == 0o700
    for name in ("tomo.db", "tomo.db-wal", "tomo.db-shm", "tomo.log"):
        path = tomo.data_dir / name
        assert not path.exists() or path.stat().st_mode & 0o077 == 0, name
    assert (tomo.data_dir / "tomo.db").exists()


def test_a_database_an_older_tomo_left_readable_is_made_private(tmp_path: Path) -> None:
    tomo = Tomo(tmp_path / "old")
    tomo.json("repo", "list")
    (tomo.data_dir / "tomo.db").chmod(0o644)
    tomo.json("repo", "list")
    assert (tomo.data_dir / "tomo.db").stat().st_mode & 0o777 == 0o600


async def test_search_answers_without_loading_the_database_stack(
    tomo: Tomo, catalog: CatalogRepo
) -> None:
    """The quick path: Python's sqlite3 on the current database, the same answer."""
    tomo.run("repo", "add", catalog.url, "--name", "C")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tomo", "--data-dir", str(tomo.data_dir),
         "app", "search", "stream", "--category", "MEDIA", "--json"],
        capture_output=True, text=True, env=tomo.env, check=True, timeout=60,
    )  # fmt: skip
    loaded = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "sqlite3" in loaded
    assert not {"sqlalchemy", "pydantic", "asyncssh", "alembic"} & loaded
    settings = Settings(data_dir=tomo.data_dir, builtin_catalog=False)
    async with open_runtime(settings) as runtime:  # the full path, in-process
        page = await runtime.marketplace.search_apps("stream", category="MEDIA")
    assert json.loads(done.stdout) == page.model_dump(mode="json")
    assert [item["id"] for item in page.model_dump()["items"]] == ["jellyfin"]
