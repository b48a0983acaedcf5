"""`tomo install`, `ps`, `start|stop|restart|update|uninstall`, `logs` through the real entry point."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import select
import subprocess
import time

from tests.cli.tomo_cli import Tomo, tomo_command
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker, page
from tests.services import free_port


async def test_install_manage_and_uninstall(deploy: Deploy, tomo: Tomo) -> None:
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port, environment=[
        {"name": "TOKEN", "secret": True, "generate": "hex"}]))  # fmt: skip
    preview = tomo.json("install", app, "--server", "box", "--preview")
    assert preview["argv"][:3] == ["docker", "container", "run"]

    result = tomo.json("install", app, "--server", "box", "--env", "TZ=UTC")
    assert result["installation"]["status"] == "running"
    assert [s["name"] for s in result["job"]["steps"]] == [
        "validate",
        "preflight",
        "pull",
        "create",
        "wait",
    ]
    token = result["generated_secrets"]["TOKEN"]
    assert len(token) == 32
    assert page(port) == "web v1\n"
    assert token not in tomo.run("ps").stdout + tomo.run("ps", "--json").stdout

    rows = tomo.json("ps", "--server", "box")
    assert [(r["name"], r["status"], r["ports"]) for r in rows] == [
        ("web", "running", [f"{port}/tcp"])
    ]
    assert tomo.json("stop", "web")["status"] == "stopped"
    assert tomo.json("start", "web")["status"] == "running"
    assert tomo.json("restart", "web")["status"] == "running"
    docker("exec", "web", "sh", "-c", "echo hello-from-web > /proc/1/fd/1")
    assert tomo.run("logs", "web", "--tail", "5").stdout.splitlines()[-1] == "hello-from-web"
    updated = tomo.json("update", "web", "--tag", "2")
    assert updated["installation"]["image"] == deploy.images.web_v2
    assert page(port) == "web v2\n"

    gone = tomo.json("uninstall", "web", "--remove-data")
    assert (gone["installation"]["name"], gone["installation"]["status"]) == ("web", "removed")
    root = deploy.data_root / "web"
    assert gone["summary"][0] == "removed container 'web' and its volumes"
    assert f"removed {root}" in gone["summary"]
    assert tomo.json("ps") == []
    assert not root.exists()


async def test_failures_exit_non_zero_with_one_line(deploy: Deploy, tomo: Tomo) -> None:
    app = await deploy.publish("broken", docker=deploy.web_app(image=deploy.images.broken))
    done = tomo.run("install", app, "--server", "box", expect=8)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "broken on purpose" in last
    assert "broken" not in docker("ps", "-a", "--format", "{{.Names}}").split()

    needs = await deploy.publish(
        "needs", docker=deploy.web_app(environment=[{"name": "X", "required": True}])
    )
    assert tomo.error("install", needs, "--server", "box", expect=2) == (
        "error: required environment variables missing: X (give each with --env NAME=VALUE)"
    )
    assert tomo.error("install", needs, "--server", "box", "--port", "80", expect=2) == (
        "error: --port '80': expected HOST:CONTAINER[/udp]"
    )
    assert tomo.error("install", needs, "--server", "box", "--env", "X", expect=2) == (
        "error: --env 'X': expected NAME=VALUE"
    )
    assert tomo.error("stop", "ghost", expect=3) == "error: no installation with id or name 'ghost'"


async def test_detach_returns_at_once_and_the_job_finishes(deploy: Deploy, tomo: Tomo) -> None:
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port))
    started = tomo.json("install", app, "--server", "box", "--detach")
    assert started["installation"]["status"] == "pending"
    deadline = time.monotonic() + 60
    while tomo.json("job", "show", started["job_id"])["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    assert tomo.json("job", "show", started["job_id"])["status"] == "done"
    assert page(port) == "web v1\n"


async def test_uninstall_shows_its_steps_while_docker_stops_the_container(
    deploy: Deploy, tomo: Tomo
) -> None:
    # An app that ignores SIGTERM: Docker waits its 10 s before it kills it.
    stubborn = ["sh", "-c", "trap '' TERM; /bin/httpd -f -p 80 -h /www"]
    await deploy.publish("web", docker=deploy.web_app(command=stubborn))
    tomo.json("install", f"{deploy.repo_id}/web", "--server", "box")
    seen = await asyncio.to_thread(terminal_output_until, tomo, ["uninstall", "web"],
                                   "remove container")  # fmt: skip
    assert "uninstall (running)" in seen  # shown while Docker was still stopping it
    assert tomo.json("ps") == []


def terminal_output_until(tomo: Tomo, args: list[str], wanted: str) -> str:
    """Run tomo with a terminal as its stderr; return what it showed up to `wanted`
    (then let it finish)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*tomo_command(), "--data-dir", str(tomo.data_dir), *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower, env=tomo.env,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 60
    while wanted.encode() not in shown and time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            shown += os.read(leader, 65536)
    with contextlib.suppress(OSError):  # drain until it ends, so it never blocks on us
        while process.poll() is None or select.select([leader], [], [], 0)[0]:
            if select.select([leader], [], [], 1)[0]:
                os.read(leader, 65536)
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0
    return shown.decode(errors="replace")


async def test_a_pasted_compose_file_installs_updates_and_uninstalls(
    deploy: Deploy, tomo: Tomo, tmp_path
) -> None:
    """`tomo install --compose FILE`: an app from outside any catalog, through the same
    risk flags, preflight and all-or-nothing install as a store's."""
    port = free_port()
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        f"services:\n  web:\n    image: {deploy.images.web_v1}\n"
        f"    ports: ['{port}:80']\n    environment: {{GREETING: hello}}\n"
    )
    installed = tomo.json("install", "--compose", str(compose), "--name", "mysite",
                          "--server", "box")  # fmt: skip
    assert installed["installation"]["status"] == "running"
    assert installed["installation"]["app_id"] == "mysite"
    assert installed["installation"]["repo_id"] == "personal"
    assert page(port) == "web v1\n"

    # the same name again replaces the app in the catalog; the installation updates to it
    compose.write_text(compose.read_text().replace(deploy.images.web_v1, deploy.images.web_v2))
    refused = tomo.run("install", "--compose", str(compose), "--name", "mysite", "--server",
                       "box", expect=2)  # fmt: skip
    assert "'mysite' already exists on this server" in refused.stderr  # the first one's
    assert tomo.json("app", "show", "personal/mysite")["docker"]["image"] == deploy.images.web_v2
    tomo.json("update", "mysite")
    assert page(port) == "web v2\n"
    tomo.json("uninstall", "mysite")
    assert tomo.json("ps") == []


def test_a_compose_file_that_cannot_be_read_adds_nothing(deploy: Deploy, tomo: Tomo,
                                                         tmp_path) -> None:  # fmt: skip
    broken = tmp_path / "broken.yml"
    broken.write_text("services:\n  web:\n    ports: ['80']\n")
    refused = tomo.run("install", "--compose", str(broken), "--name", "broken", "--server",
                       "box", expect=2)  # fmt: skip
    assert refused.stderr.startswith("error: the compose file: ")
    assert "services.web.image: is required" in refused.stderr
    assert "personal" not in [repo["id"] for repo in tomo.json("repo", "list")]
    usage = tomo.run("install", "--compose", str(broken), "--server", "box", expect=2)
    assert "--name" in usage.stderr


def test_a_docker_run_line_installs_as_an_app(deploy: Deploy, tomo: Tomo) -> None:
    port = free_port()
    line = f"docker run -d --rm --name whatever -p {port}:80 {deploy.images.web_v1}"
    installed = tomo.json("install", "--run", line, "--name", "runsite", "--server", "box")
    assert installed["installation"]["status"] == "running"
    assert page(port) == "web v1\n"
    tomo.json("uninstall", "runsite")


async def test_containers_tomo_did_not_create_are_listed_with_their_catalog_apps(
    deploy: Deploy, tomo: Tomo
) -> None:
    """`tomo server containers`: a container made by hand (as CasaOS or Portainer
    leave them) is listed with the catalog app that runs its image; tomo's own are not."""
    app = await deploy.publish("web", docker=deploy.web_app())
    tomo.json("install", app, "--server", "box")
    handmade = f"handmade-{free_port()}"
    docker("run", "-d", "--name", handmade, "--label", "made.by=hand",
           "-p", f"127.0.0.1:{free_port()}:80", deploy.images.web_v1)  # fmt: skip
    try:
        listed = tomo.json("server", "containers", "box")
        table = tomo.run("server", "containers", "box").stdout
    finally:
        docker("rm", "-f", handmade)
    mine = [c for c in listed if c["name"] == handmade]
    assert [(c["image"], c["state"], c["apps"]) for c in mine] == [
        (deploy.images.web_v1, "running", [app]),
    ]  # fmt: skip
    assert "web" not in [c["name"] for c in listed]  # tomo's installation
    assert "catalog apps" in table and handmade in table
