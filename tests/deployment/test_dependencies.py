"""Apps that require other apps, through the real entry point on the sshd + Docker
test server: installed in order, the dependant reaching its dependency by the
host name it exports, given its generated secret; never left without it."""

from __future__ import annotations

import pytest

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker


async def publish_pair(deploy: Deploy) -> str:
    """`node`, which exports its host and a generated token, and `viewer`, which
    requires it and uses both."""
    await deploy.publish("node", docker=deploy.web_app(environment=[
        {"name": "TOKEN", "default": "${TOKEN}"}]), settings=[
        {"name": "TOKEN", "secret": True, "generate": "hex"}],
        exports=[{"name": "NODE_HOST", "host": "app"},
                 {"name": "NODE_TOKEN", "value": "${TOKEN}"}])  # fmt: skip
    return await deploy.publish("viewer", docker=deploy.web_app(environment=[
        {"name": "UPSTREAM", "default": "${NODE_HOST}"},
        {"name": "UPSTREAM_TOKEN", "default": "${NODE_TOKEN}"}]),
        requires=[{"app": "node", "imports": ["NODE_HOST", "NODE_TOKEN"]}])  # fmt: skip


@pytest.mark.both_databases
async def test_an_app_is_installed_after_what_it_requires_and_reaches_it_by_its_host(
    deploy: Deploy, tomo: Tomo
) -> None:
    viewer = await publish_pair(deploy)
    refused = tomo.error("install", viewer, "--server", "box", "--accept-risk", "app:node",
                         expect=2)  # fmt: skip
    assert f"{viewer} needs {deploy.repo_id}/node installed on box first" in refused
    assert tomo.json("ps") == []

    installed = tomo.json("install", viewer, "--server", "box", "--with-dependencies",
                          "--accept-risk", "app:node")  # fmt: skip
    assert installed["installation"]["status"] == "running"
    assert sorted((i["name"], i["status"]) for i in tomo.json("ps")) == [
        ("node", "running"), ("viewer", "running")]  # fmt: skip
    # The dependant reaches the dependency by the host it exports, on its network.
    page = docker("exec", "viewer", "sh", "-c", 'wget -q -O- "http://$UPSTREAM/"')
    assert page == "web v1\n"
    token = docker("exec", "node", "sh", "-c", 'echo "$TOKEN"').strip()
    assert len(token) == 32
    assert docker("exec", "viewer", "sh", "-c", 'echo "$UPSTREAM_TOKEN"').strip() == token
    assert token not in tomo.run("ps", "--json").stdout  # a secret, sealed, never shown

    # What others require is neither stopped nor removed behind their back.
    assert "node is needed by viewer" in tomo.error("stop", "node", expect=4)
    assert "node is needed by viewer" in tomo.error("uninstall", "node", expect=4)
    assert tomo.json("stop", "node", "--with-dependants")["status"] == "stopped"
    assert {i["name"]: i["status"] for i in tomo.json("ps")} == {
        "node": "stopped", "viewer": "stopped"}  # fmt: skip
    gone = tomo.json("uninstall", "node", "--with-dependants", "--remove-data")
    assert gone["installation"]["status"] == "removed"
    assert tomo.json("ps") == []


async def test_the_dependencies_installed_for_an_app_that_fails_are_taken_back(
    deploy: Deploy, tomo: Tomo
) -> None:
    """All or nothing: the risk flag left unaccepted refuses the app after its
    dependency was installed for it; the dependency goes too."""
    viewer = await publish_pair(deploy)
    refused = tomo.run("install", viewer, "--server", "box", "--with-dependencies", expect=2)
    assert "app:node" in refused.stderr
    assert "took back node" in refused.stderr
    assert tomo.json("ps") == []
