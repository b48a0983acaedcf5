"""`tomo outdated` lists the installations whose catalog offers a newer version, and
`tomo ps` marks them, as the real command prints them (table, sentence, --json),
after real syncs of a real git catalog. The server is one nothing answers on:
what the catalog offers is known without asking it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo
from tests.deployment.test_outdated import installed
from tests.gitrepo import CatalogRepo
from tests.services import free_port
from tomo.config import Settings
from tomo.runtime import open_runtime
from tomo.servers.models import Server


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    return Tomo(tmp_path / "data", TOMO_SSH_STATUS_TIMEOUT="2")


async def record_installations(data_dir: Path) -> None:
    """notes and pics on server NAS, as installs leave them (no server is reached)."""
    settings = Settings(data_dir=data_dir, builtin_catalog=False)
    async with open_runtime(settings) as runtime:
        async with runtime.db.session() as session, session.begin():
            session.add(Server(id="nas", name="NAS", host="127.0.0.1", port=free_port(),
                               username="tomo", auth_type="key", private_key_enc="sealed",
                               data_root="/srv/apps", use_sudo=False, status="online",
                               created_at=datetime.now(UTC)))  # fmt: skip
        await installed(runtime, "home", "notes", "notes")
        await installed(runtime, "home", "photos", "pics")


async def test_outdated_lists_what_the_last_sync_offers(tomo: Tomo, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    tomo.run("repo", "add", repo.url, "--name", "Home")
    tomo.run("repo", "sync", "home")
    await record_installations(tomo.data_dir)

    none = tomo.run("outdated")
    assert none.stdout == ""
    assert none.stderr.strip() == "No installation is offered a newer version."
    assert json.loads(tomo.run("outdated", "--json").stdout) == []
    assert "→" not in tomo.run("ps").stdout

    repo.add_app("notes", version="1.1.0", release_notes="Faster search.\nDark mode.")
    repo.commit()
    tomo.run("repo", "sync", "home")

    listed = tomo.run("outdated")
    row = next(line for line in listed.stdout.splitlines() if "i-notes" in line)
    assert "home/notes" in row and "1.0.0" in row and "1.1.0" in row
    assert "Faster search. …" in row  # the first line; the rest in --json
    assert "pics" not in listed.stdout
    shown = json.loads(tomo.run("outdated", "--json").stdout)
    assert [(i["name"], i["update"]) for i in shown] == [("notes", {
        "from_version": "1.0.0", "to_version": "1.1.0",
        "release_notes": "Faster search.\nDark mode.", "images": [],
    })]  # fmt: skip
    assert tomo.run("outdated", "--server", "NAS", "--json").stdout == tomo.run(
        "outdated", "--json").stdout  # fmt: skip

    ps = tomo.run("ps")
    assert "1.0.0 → 1.1.0" in next(line for line in ps.stdout.splitlines() if "i-notes" in line)
    assert "→" not in next(line for line in ps.stdout.splitlines() if "i-pics" in line)
    assert "1 installation is offered a newer version (→): see `tomo outdated`." in ps.stderr
    marked = {i["name"]: i["update"] for i in json.loads(tomo.run("ps", "--json").stdout)}
    assert marked["notes"]["to_version"] == "1.1.0" and marked["pics"] is None


def test_outdated_on_an_unknown_server_is_refused(tomo: Tomo) -> None:
    refused = tomo.run("outdated", "--server", "nowhere", expect=3)
    assert refused.stderr == "error: no server with id or name 'nowhere'\n"
