"""`tomo install --preview`, and a taken port or name refused with the option that
frees it: the real entry point against the real sshd + Docker test server."""

from __future__ import annotations

import re

from tests.cli.tomo_cli import Tomo
from tests.deployment import conftest as deployment
from tests.deployment.conftest import Deploy
from tests.services import free_port

# The deployment tests' fixtures: the real server, a catalog on it, the `tomo` command
# on that data directory (SQLite), a port a plain process holds.
registry, images, data_root, database_url, deploy, tomo, busy_port = (
    deployment.registry, deployment.images, deployment.data_root, deployment.database_url,
    deployment.deploy, deployment.tomo, deployment.busy_port,
)  # fmt: skip

SOCKET = {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock",
          "readonly": True}  # fmt: skip


async def test_preview_shows_what_it_creates_and_the_risks_to_accept(
    deploy: Deploy, tomo: Tomo
) -> None:
    port = free_port()
    app = await deploy.publish("watcher", docker=deploy.web_app(port=port, volumes=[SOCKET]))
    shown = tomo.run("install", app, "--server", "box", "--preview").stdout
    root = deploy.data_root / "watcher"
    for line in (f"Installing {app} on box would create (nothing was changed):",
                 f"  folder {root} (the installation's own)",
                 f"  container watcher (image {deploy.images.web_v1})",
                 f"    port {port}:80/tcp",
                 "    folder /var/run/docker.sock:/var/run/docker.sock:ro",
                 "  network tomo-isolated (if the server lacks it: shared by the apps without "
                 "a network of their own, where no container reaches another; kept after an "
                 "uninstall)",
                 "  docker-socket: Controls Docker on the server",
                 "  accept them with --accept-risk docker-socket",
                 "box can take it: checked on the server just now."):  # fmt: skip
        assert line in shown.splitlines(), shown
    assert re.search(r"^docker container run --detach --name watcher ", shown, re.M), shown

    plan = tomo.json("install", app, "--server", "box", "--preview")
    assert (plan["risks_to_accept"], plan["problems"]) == (["docker-socket"], [])
    assert plan["containers"][0]["ports"] == [f"{port}:80/tcp"]
    accepted = tomo.json("install", app, "--server", "box", "--preview",
                         "--accept-risk", "docker-socket")  # fmt: skip
    assert accepted["risks_to_accept"] == []
    assert tomo.json("ps") == [] and tomo.json("job", "list") == []  # nothing changed
    assert not root.exists()


async def test_a_port_or_a_name_taken_is_refused_with_the_option_that_frees_it(
    deploy: Deploy, tomo: Tomo, busy_port: int
) -> None:
    app = await deploy.publish("web", docker=deploy.web_app(port=busy_port))
    refused = tomo.run("install", app, "--server", "box", expect=8).stderr.splitlines()[-1]
    found = re.fullmatch(
        rf"error: box: host port {busy_port}/tcp is already in use on the server; nothing had "
        r"been created on box; (\d+) is free: use --port \1:80", refused)  # fmt: skip
    assert found, refused
    free = found.group(1)
    assert int(free) != busy_port
    preview = tomo.run("install", app, "--server", "box", "--preview").stdout
    assert (f"  host port {busy_port}/tcp is already in use on the server ({free} is free: "
            f"use --port {free}:80)") in preview.splitlines()  # fmt: skip

    installed = tomo.json("install", app, "--server", "box", "--port", f"{free}:80")
    assert installed["installation"]["ports"] == [f"{free}/tcp"]
    again = tomo.error("install", app, "--server", "box", "--port", f"{free_port()}:80", expect=2)
    assert again == ("error: an installation named 'web' already exists on this server "
                     "(web-2 is free: use --name web-2)")  # fmt: skip
    assert [row["name"] for row in tomo.json("ps")] == ["web"]


async def test_a_login_is_one_of_three_words_and_needs_a_name_to_guard(
    deploy: Deploy, tomo: Tomo
) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    bogus = tomo.run("install", app, "--server", "box", "--login", "everyone", expect=2)
    assert bogus.stderr.splitlines()[-1] == (
        "error: --login: 'everyone' is not one of users, admins, off"
    )
    unnamed = tomo.run("install", app, "--server", "box", "--login", "users", expect=2)
    assert "a login in front of web guards its names, and it is given none" in unnamed.stderr
    assert "give it one with --hostname" in unnamed.stderr
    assert tomo.json("ps") == [] and tomo.json("job", "list") == []  # nothing changed

    tomo.run("server", "update", "box", "--domain", "home.example")
    named = tomo.run("install", app, "--server", "box", "--hostname", "photos", "--login",
                     "admins", "--preview").stdout.splitlines()  # fmt: skip
    assert ("  name photos.home.example (routed by the server's front door; only tomo's "
            "admins get through)") in named  # fmt: skip
    assert "  network tomo-web" in named and not any("tomo-isolated" in n for n in named)
    assert "box would refuse it now:" in named  # tomo's address is not set
    assert any("needs tomo's address: set TOMO_PUBLIC_URL" in line for line in named), named
    assert tomo.json("ps") == [] and tomo.json("job", "list") == []
