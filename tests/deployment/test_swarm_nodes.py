"""Apps on a Swarm of two nodes, for real: a manager and a worker, each a Docker
engine in a network namespace of its own, joined over a veth pair
(tests/swarmhost.py SwarmPair); tomo reaches the manager over the test sshd.

The data's node chosen or suggested, its folders made there by a helper job; a
service without data placed anywhere and moved off a drained node while a pinned
one is reported down with its node named; a node that stops answering; an update
that fails on both nodes and is rolled back by the Swarm; more tasks binding a host
port than nodes refused. Both engines share this machine's disk, so a folder made
on the worker is seen here too (its owner says who made it).

Ports are published in host mode and names resolve by DNS round robin: the CI
kernel has no IPVS, so the routing mesh is not used (nor asserted) here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.deployment.conftest import Deploy, carried_out
from tests.deployment.test_multi_container import two_services
from tests.deployment.test_swarm_apps import install, services_of, swarm_deploy
from tests.faults import wait_until
from tests.lanes import INDEX
from tests.registry import Registry, TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.swarmhost import SwarmHost, SwarmPair, manager_sshd
from tomo.config import Settings
from tomo.deployment.spec import InstallConfig
from tomo.errors import InstallFailed


@pytest.fixture(scope="module")
def pair(registry: Registry, images: TestImages) -> Iterator[SwarmPair]:
    started = SwarmPair(INDEX).start(registry)
    yield started
    started.remove()


@pytest.fixture(scope="module")
def pair_sshd(pair: SwarmPair, ssh_users: SshUsers) -> Iterator[Sshd]:
    with manager_sshd(pair.manager, ssh_users) as sshd:
        yield sshd


@pytest.fixture
async def on_pair(
    settings: Settings, pair_sshd: Sshd, ssh_users: SshUsers, images: TestImages,
    data_root: Path, make_repo, pair: SwarmPair,
) -> AsyncIterator[Deploy]:  # fmt: skip
    """The deploy fixture's set-up, its server the two-node Swarm's manager."""
    try:
        async with swarm_deploy(settings, pair_sshd, ssh_users, images, data_root,
                                make_repo) as deploy:  # fmt: skip
            yield deploy
    finally:
        pair.cut_off(up=True)
        for host in pair.hosts:
            pair.manager.docker("node", "update", "--availability", "active", host.node_id)
        pair.clear()


def task_nodes(host: SwarmHost, service: str) -> list[str]:
    """The node ids of the service's tasks meant to run."""
    ids = host.docker("service", "ps", "--quiet", "--no-trunc", "--filter",
                      "desired-state=running", service).stdout.decode().split()  # fmt: skip
    if not ids:
        return []
    listed = host.docker("inspect", "--type", "task", "--format", "{{.NodeID}}", *ids)
    return listed.stdout.decode().split()


def running_on(host: SwarmHost, service: str) -> list[str]:
    """The node ids of the service's tasks running now."""
    ids = host.docker("service", "ps", "--quiet", "--no-trunc", "--filter",
                      "desired-state=running", service).stdout.decode().split()  # fmt: skip
    found = []
    for task in ids:
        said = host.docker("inspect", "--type", "task", "--format",
                           "{{.Status.State}} {{.NodeID}}", task).stdout.decode().split()  # fmt: skip
        if said and said[0] == "running":
            found.append(said[1])
    return found


def helpers_left(host: SwarmHost) -> list[str]:
    listed = host.docker("service", "ls", "--filter", "label=tomo.helper", "--format", "{{.Name}}")
    return listed.stdout.decode().split()


async def test_the_data_goes_on_the_node_suggested_or_chosen_and_its_folders_are_made_there(
    on_pair: Deploy, pair: SwarmPair
) -> None:
    """The first app's data goes on the node tomo reaches (no node holds any yet);
    the next is suggested the worker, which holds none. A node named by a hostname
    both share is refused; by its id, chosen. The worker's folders are made by a
    helper job there, as the SSH user, and removed there by the uninstall."""
    deploy = on_pair
    manager, worker = pair.manager, pair.worker
    first = await deploy.publish("first", docker=deploy.web_app())
    installation, status, error = await install(deploy, first)
    assert status == "done", error
    assert task_nodes(manager, "first") == [manager.node_id]

    app = await deploy.publish("pair", **two_services(deploy))
    preview = await deploy.runtime.deployment.preview_install(deploy.server, app, InstallConfig())
    assert preview.problems == []
    assert preview.data_node is not None and preview.data_node.startswith(
        f"{_hostname(manager)} ({worker.node_id[:12]}): suggested: the ready node with the "
        "fewest apps' data (0)"
    ), preview.data_node  # fmt: skip
    assert f"node.id=={worker.node_id}" in preview.containers[-1].argv

    _, status, error = await install(deploy, app, swarm_node=_hostname(manager))
    assert status == "failed" and error is not None
    assert f"'{_hostname(manager)}' names 2 nodes of the Swarm: give the node's id" in error

    installation, status, error = await install(deploy, app, swarm_node=worker.node_id[:8])
    assert status == "done", error
    record = await deploy.runtime.deployment.get_installation("pair")
    assert record.config["swarm_node"] == worker.node_id
    assert task_nodes(manager, "pair") == [worker.node_id]  # the client, with the data
    out = deploy.data_root / "pair" / "out"
    assert (out / "got.txt").read_text() == "web v1\n"  # it reached the api on the overlay
    assert out.stat().st_uid == deploy.data_root.stat().st_uid  # made as the SSH user
    assert helpers_left(manager) == []

    # A helper job left running there (tomo stopped while it ran) goes with the app.
    manager.docker("service", "create", "--detach", "--mode", "replicated-job", "--name",
                   "tomo-helper-left", "--label", f"tomo.helper={installation}",
                   deploy.images.web_v1, "sleep", "300")  # fmt: skip
    done = await carried_out(deploy.runtime.deployment.prepare_uninstall("pair",
                                                                         remove_data=True))  # fmt: skip
    assert f"removed {out} on node {worker.node_id[:12]}" in done.summary, done.summary
    assert "removed 1 helper job" in done.summary
    assert not (deploy.data_root / "pair").exists()
    assert services_of(manager, installation) == {} and helpers_left(manager) == []


async def test_a_failed_install_on_the_worker_takes_its_folders_back_there(
    on_pair: Deploy, pair: SwarmPair
) -> None:
    deploy = on_pair
    app = await deploy.publish("broken", docker=deploy.web_app(image=deploy.images.broken))
    _, status, error = await install(deploy, app, swarm_node=pair.worker.node_id)
    assert status == "failed"
    assert error is not None and "non-zero exit (3)" in error, error
    assert not (deploy.data_root / "broken").exists()
    assert helpers_left(pair.manager) == []
    assert await deploy.runtime.deployment.list_installations() == []


async def test_a_drained_node_moves_a_service_without_data_and_names_the_pinned_app_down(
    on_pair: Deploy, pair: SwarmPair
) -> None:
    """Drained: the stateless service's task runs on the manager now; the pinned
    app is down, its status naming its node and why. Active again, it runs again.
    Then the worker stops answering (its link cut): down, and said so."""
    deploy = on_pair
    manager, worker = pair.manager, pair.worker
    stateless = await deploy.publish("relay", docker=deploy.web_app(volumes=[]))
    _, status, error = await install(deploy, stateless)
    assert status == "done", error
    pinned = await deploy.publish("keeper", docker=deploy.web_app())
    _, status, error = await install(deploy, pinned, swarm_node=worker.node_id)
    assert status == "done", error
    assert task_nodes(manager, "keeper") == [worker.node_id]

    manager.docker("node", "update", "--availability", "drain", worker.node_id)
    await wait_until(lambda: running_on(manager, "relay") == [manager.node_id], within=60)
    shown = await deploy.runtime.deployment.refresh_status("keeper")
    assert shown.status == "error"
    assert shown.status_message == (
        f"0/1 running (its data is on node {_hostname(worker)} ({worker.node_id[:12]}), "
        "which is drained)"
    ), shown.status_message  # fmt: skip
    relay = await deploy.runtime.deployment.refresh_status("relay")
    assert relay.status == "running", relay.status_message

    manager.docker("node", "update", "--availability", "active", worker.node_id)
    await wait_until(lambda: running_on(manager, "keeper") == [worker.node_id], within=60)
    assert (await deploy.runtime.deployment.refresh_status("keeper")).status == "running"

    pair.cut_off()
    await wait_until(lambda: pair.ready() == 1, within=60)
    shown = await deploy.runtime.deployment.refresh_status("keeper")
    assert shown.status == "error"
    assert shown.status_message is not None and "which is down" in shown.status_message


async def test_an_update_that_fails_on_both_nodes_is_rolled_back_by_the_swarm(
    on_pair: Deploy, pair: SwarmPair
) -> None:
    """Two replicas binding one host port: one on each node. More than the nodes is
    refused before anything is made. The next version exits at once: the Swarm
    puts the previous one back on both."""
    deploy = on_pair
    manager = pair.manager
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port, volumes=[], replicas=2))
    installation, status, error = await install(deploy, app, replicas={"web": 3})
    assert status == "failed" and error is not None
    assert f"web asks for 3 replicas, each binding port {port}/tcp on its node, and 2 nodes" in (
        error)  # fmt: skip
    assert services_of(manager, installation) == {}

    _, status, error = await install(deploy, app)
    assert status == "done", error
    assert sorted(running_on(manager, "web")) == sorted(h.node_id for h in pair.hosts)
    assert manager.fetch(f"http://127.0.0.1:{port}/").stdout == "web v1\n"
    assert pair.worker.fetch(f"http://127.0.0.1:{port}/").stdout == "web v1\n"

    await deploy.publish("web", docker=deploy.web_app(port=port, volumes=[], replicas=2,
                                                      image=deploy.images.broken))  # fmt: skip
    with pytest.raises(InstallFailed) as failed:
        await carried_out(deploy.runtime.deployment.prepare_update("web"))
    assert "the Swarm put the previous one back" in failed.value.message, failed.value.message
    await wait_until(lambda: len(running_on(manager, "web")) == 2, within=60)
    template = "{{.Spec.TaskTemplate.ContainerSpec.Image}}"
    image = manager.docker("service", "inspect", "--format", template, "web").stdout.decode()
    assert image.strip() == deploy.images.web_v1
    shown = await deploy.runtime.deployment.refresh_status("web")
    assert shown.status == "running", shown.status_message
    spec = json.loads(manager.docker("service", "inspect", "--format", "{{json .Spec.Mode}}",
                                     "web").stdout)  # fmt: skip
    assert spec == {"Replicated": {"Replicas": 2}}


def _hostname(host: SwarmHost) -> str:
    return host.docker("info", "--format", "{{.Name}}").stdout.decode().strip()
