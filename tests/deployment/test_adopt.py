"""Adopting a container tomo did not create (`tomo adopt`), through the real entry
point, the sshd + Docker test server and a container made by hand with `docker run`."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker, page
from tests.services import free_port


@pytest.fixture
def handmade(deploy: Deploy) -> Iterator[dict[str, str]]:
    """A container made by hand as CasaOS or a user would: a page from a host folder,
    a named volume, a plain and a secret variable; removed (with its volume) after."""
    tag = uuid.uuid4().hex[:8]
    made = {"name": f"handmade-{tag}", "port": str(free_port()), "volume": f"keepme-{tag}",
            "folder": str(deploy.data_root.parent / f"handmade-{tag}")}  # fmt: skip
    Path(made["folder"]).mkdir()
    (Path(made["folder"]) / "index.html").write_text("made by hand\n")
    docker("run", "-d", "--name", made["name"], "-p", f"127.0.0.1:{made['port']}:80",
           "-v", f"{made['folder']}:/www", "-v", f"{made['volume']}:/vol",
           "-e", "GREETING=hello", "-e", "DB_PASSWORD=hunter2-secret",
           "--cap-add", "NET_ADMIN", "--restart", "unless-stopped",
           deploy.images.web_v1)  # fmt: skip
    docker("exec", made["name"], "sh", "-c", "echo precious > /vol/data")
    yield made
    for name in (made["name"], "site"):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    subprocess.run(["docker", "volume", "rm", made["volume"]], capture_output=True, check=False)
    shutil.rmtree(made["folder"], ignore_errors=True)


def inspect(container: str, template: str) -> str:
    return docker("container", "inspect", "--format", template, container).strip()


@pytest.mark.both_databases
async def test_a_container_made_by_hand_is_adopted_managed_updated_and_removed(
    deploy: Deploy, tomo: Tomo, handmade: dict[str, str]
) -> None:
    started_at = inspect(handmade["name"], "{{.State.StartedAt}}")
    listed = [c["name"] for c in tomo.json("server", "containers", "box")]
    assert handmade["name"] in listed

    [adopted] = tomo.json("adopt", "box", handmade["name"], "--name", "site")
    installation = adopted["installation"]
    assert (installation["name"], installation["repo_id"], installation["status"]) == (
        "site", "personal", "running")  # fmt: skip
    assert installation["adopted"] is True
    # Nothing restarted: the same container, running since before, renamed in place.
    assert inspect("site", "{{.State.StartedAt}}") == started_at
    assert page(int(handmade["port"])) == "made by hand\n"
    assert any("risk flag" in note for note in adopted["notes"])
    assert any(handmade["volume"] in note for note in adopted["notes"])
    # The secret is sealed, never shown; the plain value is the config's.
    assert installation["config"]["env"] == {"GREETING": "hello"}
    shown = tomo.run("ps").stdout + json.dumps(tomo.json("ps"))
    assert "hunter2" not in shown and "site" in shown
    assert "site" not in [c["name"] for c in tomo.json("server", "containers", "box")]
    jobs = tomo.json("job", "list", "--installation", "site")
    assert [(j["kind"], j["status"]) for j in jobs] == [("adopt", "done")]

    assert tomo.json("stop", "site")["status"] == "stopped"
    assert tomo.json("start", "site")["status"] == "running"
    docker("exec", "site", "sh", "-c", "echo hello-from-site > /proc/1/fd/1")
    assert tomo.run("logs", "site", "--tail", "5").stdout.splitlines()[-1] == "hello-from-site"

    # An update makes the container again from its config: same page, same volume,
    # the secret back in its environment.
    updated = tomo.json("update", "site")
    assert updated["installation"]["status"] == "running"
    assert inspect("site", '{{index .Config.Labels "tomo.installation"}}') == installation["id"]
    assert page(int(handmade["port"])) == "made by hand\n"
    assert docker("exec", "site", "cat", "/vol/data") == "precious\n"
    assert "DB_PASSWORD=hunter2-secret" in inspect("site", "{{json .Config.Env}}")

    gone = tomo.json("uninstall", "site", "--remove-data")
    assert gone["installation"]["status"] == "removed"
    assert (
        f"kept volume {handmade['volume']} and 1 anonymous volume (there before tomo "
        "adopted the container)" in gone["summary"]
    )
    assert (Path(handmade["folder"]) / "index.html").read_text() == "made by hand\n"
    assert docker("volume", "ls", "-q", "--filter", f"name={handmade['volume']}").strip()
    assert tomo.json("ps") == []


async def test_what_cannot_be_adopted_is_refused_and_nothing_changes(
    deploy: Deploy, tomo: Tomo, handmade: dict[str, str]
) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    tomo.json("install", app, "--server", "box")
    refused = tomo.error("adopt", "box", "web", expect=4)
    assert "already an installation of tomo's" in refused
    missing = tomo.error("adopt", "box", "no-such-container", expect=3)
    assert "no container 'no-such-container' on box" in missing
    taken = tomo.error("adopt", "box", handmade["name"], "--name", "web", expect=2)
    assert "an installation named 'web' already exists" in taken
    bad = tomo.error("adopt", "box", handmade["name"], "--name", "Bad Name", expect=2)
    assert "'Bad Name' is not a valid instance name" in bad
    assert inspect(handmade["name"], "{{.State.Running}}") == "true"
    assert [i["name"] for i in tomo.json("ps")] == ["web"]


async def test_a_container_is_adopted_as_the_catalog_app_it_runs(
    deploy: Deploy, tomo: Tomo, handmade: dict[str, str]
) -> None:
    """--app: the catalog's definition, the container's values as its config."""
    app = await deploy.publish("web", docker=deploy.web_app(
        volumes=[{"host_path": "./www", "container_path": "/www"}],
        environment=[{"name": "GREETING", "default": "hi"}]))  # fmt: skip
    [adopted] = tomo.json("adopt", "box", handmade["name"], "--app", app, "--name", "site")
    installation = adopted["installation"]
    assert (installation["repo_id"], installation["app_id"]) == (deploy.repo_id, "web")
    assert installation["config"]["env"] == {"GREETING": "hello"}
    assert installation["ports"] == [f"{handmade['port']}/tcp"]
    assert [v["host_path"] for v in installation["config"]["volumes"]] == [handmade["folder"]]
    updated = tomo.json("update", "site", "--tag", "2")
    assert updated["installation"]["image"] == deploy.images.web_v2
    assert page(int(handmade["port"])) == "made by hand\n"
    tomo.json("uninstall", "site")


async def test_several_containers_are_adopted_at_once_or_none_is(
    deploy: Deploy, tomo: Tomo
) -> None:
    names = [f"many-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for name in names:
        docker("run", "-d", "--name", name, deploy.images.web_v1)
    try:
        refused = tomo.error("adopt", "box", *names, "missing-one", expect=3)
        assert "no container 'missing-one' on box" in refused
        assert tomo.json("ps") == []
        assert tomo.error("adopt", "box", *names, "--name", "x1", expect=2)
        short = inspect(names[0], "{{.Id}}")[:8]  # any unique prefix of its id, as Docker takes
        adopted = tomo.json("adopt", "box", short, *names[1:])
        assert sorted(a["installation"]["name"] for a in adopted) == sorted(names)
        assert {a["installation"]["status"] for a in adopted} == {"running"}
        assert sorted(i["app_id"] for i in tomo.json("ps")) == sorted(names)
        catalog = deploy.runtime.settings.data_dir / "personal-catalog"
        commits = subprocess.run(["git", "-C", str(catalog), "rev-list", "--count", "HEAD"],
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert commits.strip() == "1"  # one commit (and one sync) for all of them
    finally:
        for name in names:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
