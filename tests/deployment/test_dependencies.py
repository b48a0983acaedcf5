"""Apps that require other apps, through the real entry point on the sshd + Docker
test server: installed in order, the dependant reaching its dependency by the
host name it exports, given its generated secret; never left without it."""

from __future__ import annotations

import base64
from pathlib import Path

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


async def test_an_app_gets_what_its_dependencys_dependency_exports_and_optional_values(
    deploy: Deploy, tomo: Tomo
) -> None:
    """Umbrel's apps use their dependencies' dependencies' exports (an app that
    requires lightning uses bitcoin's network name) and variables of apps they do
    not list: what the required apps give through them, and empty otherwise."""
    await publish_pair(deploy)  # node (exports NODE_HOST, NODE_TOKEN), viewer (requires it)
    wallet = await deploy.publish("wallet", docker=deploy.web_app(environment=[
        {"name": "NODE", "default": "${NODE_HOST}"},
        {"name": "NODE_SECRET", "default": "${NODE_TOKEN}"},
        {"name": "EXPLORER_PORT", "default": "${MEMPOOL_PORT}"}]),
        requires=[{"app": "viewer", "imports": ["NODE_TOKEN"]}],
        optional_imports=["NODE_HOST", "MEMPOOL_PORT"])  # fmt: skip

    preview = tomo.run("install", wallet, "--server", "box", "--with-dependencies", expect=2)
    assert "app:node" in preview.stderr  # it joins node's network, through viewer
    installed = tomo.json("install", wallet, "--server", "box", "--with-dependencies",
                          "--accept-risk", "app:node")  # fmt: skip
    assert installed["installation"]["status"] == "running"
    assert sorted(i["name"] for i in tomo.json("ps")) == ["node", "viewer", "wallet"]
    token = docker("exec", "node", "sh", "-c", 'echo "$TOKEN"').strip()
    assert docker("exec", "wallet", "sh", "-c", 'echo "$NODE_SECRET"').strip() == token
    assert docker("exec", "wallet", "sh", "-c", 'wget -q -O- "http://$NODE/"') == "web v1\n"
    assert docker("exec", "wallet", "sh", "-c", 'echo "[$EXPLORER_PORT]"') == "[]\n"


async def test_an_app_mounts_a_folder_of_the_data_of_an_app_it_requires(
    deploy: Deploy, tomo: Tomo
) -> None:
    """Umbrel's wallets mount their node's data folder (`${APP_LIGHTNING_NODE_DATA_DIR}`):
    the folder the dependency exports, as its installation has it, read-only here; the
    dependant's uninstall leaves it alone."""
    note = base64.b64encode(b"macaroon\n").decode()
    await deploy.publish("vault", docker=deploy.web_app(volumes=[
        {"host_path": "./keys", "container_path": "/keys"}]), files=[
        {"path": "./keys/admin.macaroon", "content": note}],
        exports=[{"name": "VAULT_KEYS", "value": "${TOMO_DATA_DIR}/keys"}])  # fmt: skip
    reader = await deploy.publish("reader", docker=deploy.web_app(volumes=[
        {"container_path": "/keys", "imported_folder": "VAULT_KEYS", "readonly": True}]),
        requires=[{"app": "vault", "imports": ["VAULT_KEYS"]}])  # fmt: skip

    refused = tomo.run("install", reader, "--server", "box", "--with-dependencies", expect=2)
    assert "app-data:vault" in refused.stderr
    installed = tomo.json("install", reader, "--server", "box", "--with-dependencies",
                          "--accept-risk", "app-data:vault")  # fmt: skip
    assert installed["installation"]["status"] == "running"
    assert docker("exec", "reader", "cat", "/keys/admin.macaroon") == "macaroon\n"
    written = docker("exec", "reader", "sh", "-c", "touch /keys/x 2>&1 || echo refused")
    assert "Read-only file system" in written or "refused" in written

    gone = tomo.json("uninstall", "reader", "--remove-data")
    assert gone["installation"]["status"] == "removed"
    assert docker("exec", "vault", "cat", "/keys/admin.macaroon") == "macaroon\n"

    # The folder made a link (as a container writing around it could): refused there.
    keys = Path(docker("inspect", "vault", "--format",
                       '{{range .Mounts}}{{if eq .Destination "/keys"}}{{.Source}}{{end}}{{end}}'
                       ).strip())  # fmt: skip
    keys.rename(keys.with_name("keys.real"))
    keys.symlink_to("/etc")
    refused = tomo.run("install", reader, "--server", "box", "--accept-risk", "app-data:vault",
                       expect=8)  # fmt: skip
    assert f"the folder {keys} of the app it requires leads to /etc on the server" in (
        refused.stderr)  # fmt: skip
    assert [i["name"] for i in tomo.json("ps")] == ["vault"]
