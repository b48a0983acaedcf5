"""The whole journey over real HTTP: a `tomo serve` process, a bearer token, the
real sshd, Docker engine and registry — add and sync a repo, search, add and
trust the server, install and follow the job's events to `running`, stop, start,
uninstall with the data."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.cli.tomo_cli import Laptop, tomo_command
from tests.deployment.conftest import STABLE_SECONDS, remove_test_containers
from tests.deployment.test_install import page
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages
from tests.services import free_port, wait_until_serving
from tests.sshd import Sshd, SshUsers

PASSWORD = "an admin password"


@dataclass
class Served:
    """A running `tomo serve` and a client holding an admin's token."""

    http: httpx.Client
    data_dir: Path

    def follow(self, job_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Read the job's events to its end: every step event, and the final job."""
        steps: list[dict[str, Any]] = []
        with self.http.stream("GET", f"/api/jobs/{job_id}/events", timeout=120) as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            name = ""
            for line in events.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if name == "end":
                        return steps, data
                    steps.append(data)
        raise AssertionError("the event stream ended without an end event")


def tomo(data_dir: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([*tomo_command(), "--data-dir", str(data_dir), *args],
                          env=env, input=stdin, capture_output=True, text=True, check=True,
                          timeout=120)  # fmt: skip
    return done.stdout


@pytest.fixture
def served(tmp_path: Path, images: TestImages) -> Iterator[Served]:
    data_dir = tmp_path / "served"
    port = free_port()
    env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "TOMO_PUBLISH_ADDRESS": "127.0.0.1",
           "TOMO_INSTALL_WAIT_TIMEOUT": "20", "TOMO_INSTALL_STABLE_SECONDS": str(STABLE_SECONDS),
           "TOMO_SYNC_INTERVAL": "0", "TOMO_MONITOR_INTERVAL": "0",
           "TOMO_HELPER_IMAGE": images.helper}  # fmt: skip
    tomo(data_dir, env, "user", "create", "admin", "--admin", "--password-stdin", stdin=PASSWORD)
    token = tomo(data_dir, env, "token", "create", "e2e").strip()
    server = subprocess.Popen(
        [*tomo_command(), "--data-dir", str(data_dir), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            yield Served(http, data_dir)
    finally:
        server.terminate()
        server.wait(timeout=30)
        remove_test_containers()


def web_catalog(make_repo: Any, images: TestImages, port: int) -> CatalogRepo:
    repo: CatalogRepo = make_repo()
    definition = app_definition("web", docker={
        "image": images.web_v1, "ports": [{"container": 80, "host": port}],
        "volumes": [{"host_path": "./data", "container_path": "/data"}],
        "environment": [{"name": "TZ", "default": "UTC"}, {"name": "GREETING", "required": True}],
    })  # fmt: skip
    repo.write("apps/tools/web.yaml", yaml.safe_dump(definition))
    repo.commit()
    return repo


def test_install_and_manage_an_app_over_http(
    served: Served, make_repo: Any, images: TestImages, sshd: Sshd, ssh_users: SshUsers,
    data_root: Path,
) -> None:  # fmt: skip
    http = served.http
    port = free_port()
    repo = web_catalog(make_repo, images, free_port())
    added = http.post("/api/marketplace/repos", json={"url": repo.url, "name": "test"})
    assert added.status_code == 201, added.text
    assert http.post("/api/marketplace/repos/test/sync").json()["app_count"] == 1
    found = http.get("/api/marketplace/apps", params={"q": "web"}).json()
    assert [item["id"] for item in found["items"]] == ["web"]

    server = {"name": "box", "host": "127.0.0.1", "port": sshd.port, "username": ssh_users.user,
              "private_key": ssh_users.key.read_text(), "fingerprint": sshd.fingerprint,
              "data_root": str(data_root)}  # fmt: skip
    made = http.post("/api/servers", json=server)
    assert made.status_code == 201, made.text
    assert made.json()["server"]["status"] == "online"
    assert "PRIVATE KEY" not in made.text

    request = {"server": "box", "app": "test/web", "env": {"GREETING": "hello"},
               "ports": [{"host": port, "container": 80}]}  # fmt: skip
    preview = http.post("/api/installations", params={"preview": "true"}, json=request)
    assert (preview.status_code, preview.json()["problems"]) == (200, [])
    assert preview.json()["argv"][:3] == ["docker", "container", "run"]
    missing = http.post("/api/installations", json={**request, "env": {}})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["message"].startswith(
        "required environment variables missing: GREETING"
    )

    started = http.post("/api/installations", json=request)
    assert started.status_code == 202, started.text
    installation = started.json()["installation"]["id"]
    steps, job = served.follow(started.json()["job_id"])
    assert job["status"] == "done", job["error"]
    assert [s["name"] for s in steps if s["status"] == "done"] == [
        "validate", "preflight", "pull", "create", "wait",
    ]  # fmt: skip
    assert http.get(f"/api/installations/{installation}").json()["status"] == "running"
    assert page(port) == "web v1\n"

    for verb, status in (("stop", "stopped"), ("start", "running")):
        operation = http.post(f"/api/installations/{installation}/{verb}")
        assert operation.status_code == 202, operation.text
        _, job = served.follow(operation.json()["job_id"])
        assert job["status"] == "done", job["error"]
        assert http.get(f"/api/installations/{installation}").json()["status"] == status
    assert page(port) == "web v1\n"

    removed = http.delete(f"/api/installations/{installation}", params={"remove_data": "true"})
    assert removed.status_code == 202, removed.text
    _, job = served.follow(removed.json()["job_id"])
    assert job["status"] == "done", job["error"]
    assert f"removed {data_root}/web" in job["summary"]
    assert not (data_root / "web").exists()
    assert http.get(f"/api/installations/{installation}").status_code == 404
    assert http.get("/api/installations").json() == []


def test_a_late_follower_receives_what_already_happened(
    served: Served, make_repo: Any, images: TestImages, sshd: Sshd, ssh_users: SshUsers,
    data_root: Path,
) -> None:  # fmt: skip
    http = served.http
    repo = web_catalog(make_repo, images, free_port())
    http.post("/api/marketplace/repos", json={"url": repo.url, "name": "test"})
    http.post("/api/marketplace/repos/test/sync")
    http.post("/api/servers", json={
        "name": "box", "host": "127.0.0.1", "port": sshd.port, "username": ssh_users.user,
        "private_key": ssh_users.key.read_text(), "fingerprint": sshd.fingerprint,
        "data_root": str(data_root),
    })  # fmt: skip
    started = http.post("/api/installations", json={
        "server": "box", "app": "test/web", "env": {"GREETING": "hi"},
    }).json()  # fmt: skip
    job_id = started["job_id"]
    deadline = time.monotonic() + 60
    while http.get(f"/api/jobs/{job_id}").json()["status"] in ("pending", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    steps, job = served.follow(job_id)  # after the end: the whole story, then the end
    assert job["status"] == "done"
    assert [s["name"] for s in steps] == ["validate", "preflight", "pull", "create", "wait"]


def test_the_same_journey_through_tomo_login_and_the_cli(
    served: Served, make_repo: Any, images: TestImages, sshd: Sshd, ssh_users: SshUsers,
    data_root: Path, tmp_path: Path,
) -> None:  # fmt: skip
    """A laptop logged in to the served tomo: every command goes through the API, and
    nothing happens in a data directory of the laptop's own."""
    laptop = Laptop(tmp_path / "home", tmp_path / "laptop")
    laptop.login(str(served.http.base_url), PASSWORD)
    port = free_port()
    repo = web_catalog(make_repo, images, free_port())
    assert laptop.json("repo", "add", repo.url, "--name", "test")["app_count"] == 1
    assert [app["id"] for app in laptop.json("app", "search", "web")["items"]] == ["web"]
    added = laptop.json("server", "add", "box", "127.0.0.1", "--port", str(sshd.port), "--user",
                        ssh_users.user, "--key", str(ssh_users.key), "--fingerprint",
                        sshd.fingerprint, "--data-root", str(data_root))  # fmt: skip
    assert added["server"]["status"] == "online"

    install = ["install", "test/web", "--server", "box", "--port", f"{port}:80"]
    assert laptop.error(*install, expect=2).startswith(
        "error: required environment variables missing: GREETING"
    )
    result = laptop.json(*install, "--env", "GREETING=hello")
    assert result["installation"]["status"] == "running"
    assert [step["name"] for step in result["job"]["steps"]] == [
        "validate", "preflight", "pull", "create", "wait",
    ]  # fmt: skip
    assert page(port) == "web v1\n"
    assert [(row["name"], row["status"]) for row in laptop.json("ps")] == [("web", "running")]
    assert laptop.json("stop", "web")["status"] == "stopped"
    assert laptop.json("start", "web")["status"] == "running"
    assert page(port) == "web v1\n"
    updated = laptop.json("update", "web", "--tag", "2", "--env", "GREETING=again")
    assert updated["installation"]["image"] == images.web_v2
    assert page(port) == "web v2\n"
    assert laptop.json("job", "list", "--installation", "web")[0]["kind"] == "update"

    # A backup, the data lost, the backup restored: all through the API.
    (data_root / "web" / "data" / "notes.txt").write_text("keep me\n")
    made = laptop.json("backup", "create", "web")
    backup, before_update = laptop.json("backup", "list", "web")  # newest first
    assert (backup["id"], backup["trigger"]) == (made["job_id"], "manual")
    assert before_update["trigger"] == "update"  # the update backed the data up first
    assert [p["name"] for p in laptop.json("backup", "show", backup["id"])["parts"]] == [
        "tomo/installation.json", "app/data.tar", "app/store.tar"]  # fmt: skip
    (data_root / "web" / "data" / "notes.txt").unlink()
    restored = laptop.json("backup", "restore", backup["id"])
    assert restored["installation"]["status"] == "running"
    assert (data_root / "web" / "data" / "notes.txt").read_text() == "keep me\n"
    assert page(port) == "web v2\n"
    assert laptop.json("backup", "forget", backup["id"])["backup"]["id"] == backup["id"]
    assert [b["id"] for b in laptop.json("backup", "list")] == [before_update["id"]]

    # A repository on a server tomo manages (over SFTP with its key), chosen for web.
    vault = laptop.json("backup", "repository", "add", "vault", "--server", "box", "--path",
                        str(data_root / "vault"))  # fmt: skip
    assert (vault["kind"], vault["server"]) == ("sftp", "box")
    laptop.run("backup", "settings", "web", "--repository", "vault")
    offsite = laptop.json("backup", "create", "web")
    assert laptop.json("backup", "show", offsite["job_id"])["repository_id"] == "vault"
    assert (data_root / "vault" / "config").is_file()
    assert "never returns it" in laptop.error("backup", "repository", "password", "vault",
                                              expect=2)  # fmt: skip

    gone = laptop.run("uninstall", "web", "--remove-data")
    assert f"removed {data_root}/web" in gone.stdout + gone.stderr
    assert not (data_root / "web").exists()
    assert laptop.json("ps") == []
    token = laptop.token()
    laptop.run("logout")
    assert not laptop.data_dir.exists()  # nothing ran on the laptop itself
    assert not any(token in output for output in laptop.outputs)
