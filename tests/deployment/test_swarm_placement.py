"""Where an app goes on a Swarm, without one: the node its data goes on (asked or
suggested), what keeps the nodes from running it, replicas and publish modes in
`docker service create`, and a pinned service's node in its status
(tests/deployment/test_swarm_nodes.py does it all on two real nodes)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deployment.test_swarm_spec import answer, container, pairs, service, task
from tomo.deployment.app_spec import AppSpec, ShippedFile
from tomo.deployment.spec import Mount, NamedMount
from tomo.deployment.swarm.nodes import NodeHost, choose_node, node_problems
from tomo.deployment.swarm.services import how_it_runs, parse_states, service_create_argv
from tomo.errors import PreflightFailed
from tomo.marketplace.definition import AppDefinition
from tomo.servers.swarm import SwarmNode


def node(ident: str, hostname: str = "pi", **fields: Any) -> SwarmNode:
    base: dict[str, Any] = {"id": ident, "hostname": hostname, "role": "worker",
                            "availability": "active", "state": "ready",
                            "architecture": "amd64", "memory_mb": 4096}  # fmt: skip
    return SwarmNode(**(base | fields))


MANAGER = node("m" * 25, "hub", role="manager", memory_mb=2048)
BIG = node("b" * 25, "big", memory_mb=16384)
ARM = node("a" * 25, "pi", architecture="arm64")
DRAINED = node("d" * 25, "old", availability="drain")


def test_the_suggestion_is_the_ready_node_with_the_fewest_apps_data() -> None:
    nodes = [MANAGER, BIG, DRAINED]
    first = choose_node("cluster", nodes, None, {}, MANAGER.id, [])
    assert first.node == MANAGER  # among equals, the node tomo reaches
    assert first.said == (f"hub ({MANAGER.id[:12]}): suggested: the ready node with the fewest "
                          "apps' data (0)")  # fmt: skip
    assert choose_node("cluster", nodes, None, {MANAGER.id: 1}, MANAGER.id, []).node == BIG
    both = {MANAGER.id: 1, BIG.id: 1}
    assert choose_node("cluster", nodes, None, both, None, []).node == BIG  # the most memory
    assert choose_node("cluster", [MANAGER, ARM], None, {}, MANAGER.id, ["arm64"]).node == ARM
    with pytest.raises(PreflightFailed) as none:
        choose_node("cluster", [DRAINED], None, {}, None, [])
    assert "no node of the Swarm can take the app's data now: old (dddddddddddd, it is drained)" in (
        none.value.message)  # fmt: skip


def test_a_node_asked_for_is_found_by_id_prefix_or_unique_hostname() -> None:
    nodes = [MANAGER, BIG, ARM, node("c" * 25, "pi")]
    assert choose_node("cluster", nodes, "big", {}, None, []).node == BIG
    assert choose_node("cluster", nodes, "aaaaaa", {}, None, []).node == ARM
    assert choose_node("cluster", nodes, BIG.id, {}, None, []).why == "as asked"
    with pytest.raises(PreflightFailed) as twice:
        choose_node("cluster", nodes, "pi", {}, None, [])
    assert twice.value.problems[0].text == (
        "'pi' names 2 nodes of the Swarm: give the node's id (aaaaaaaaaaaa, cccccccccccc)"
    )
    assert twice.value.problems[0].fields == ("swarm_node",)
    with pytest.raises(PreflightFailed) as missing:
        choose_node("cluster", nodes, "aaa", {}, None, [])  # too short a prefix
    assert "the Swarm has no node 'aaa': hub (mmmmmmmmmmmm, ready); " in missing.value.message


def definition(**requirements: Any) -> AppDefinition:
    return AppDefinition.model_validate({
        "id": "web", "name": "Web", "version": "1", "description": "A web app.",
        "docker": {"image": "nginx:1.27"}, "requirements": requirements})  # fmt: skip


def with_data(**fields: Any) -> Any:
    return container(mounts=[Mount("/srv/tomo/web/data", "/data", False, owned=True)], **fields)


def test_what_keeps_the_nodes_from_running_the_app_is_said_before_anything_is_made() -> None:
    placed = choose_node("cluster", [ARM], "pi", {}, None, [])
    shipped = [ShippedFile("/srv/tomo/web/data/conf", b"x", 0o644, None)]
    app = AppSpec("web", "/srv/tomo/web", [with_data()], files=shipped)
    said = [p.text for p in node_problems(app, definition(architectures=["amd64"], min_ram=8192),
                                          [ARM], placed, MANAGER.id)]  # fmt: skip
    assert said == [
        f"the data's node pi ({ARM.id[:12]}) cannot run web: it is arm64, the app runs on amd64",
        f"the data's node pi ({ARM.id[:12]}) cannot run web: it has 4096 MB of memory, the app "
        "needs 8192 MB",
        "the store's files can be placed only on the node tomo reaches; the data's node is pi "
        f"({ARM.id[:12]})",
    ]
    assert node_problems(app, definition(), [ARM], placed, ARM.id) == []  # tomo reaches it
    stateless = AppSpec("web", "/srv/tomo/web", [container(replicas=3)])
    said = [p.text for p in node_problems(stateless, definition(), [MANAGER, BIG, DRAINED], None,
                                          MANAGER.id)]  # fmt: skip
    assert said == ["web asks for 3 replicas, each binding port 8080/tcp on its node, and 2 nodes "
                    "can run it"]  # fmt: skip
    ingress = AppSpec("web", "/srv/tomo/web", [container(replicas=3, publish_mode="ingress")])
    assert node_problems(ingress, definition(), [MANAGER, BIG], None, MANAGER.id) == []
    nowhere = node_problems(stateless, definition(architectures=["riscv64"]), [MANAGER], None,
                            MANAGER.id)  # fmt: skip
    assert [p.text for p in nowhere] == ["no node of the Swarm can run web: hub (mmmmmmmmmmmm, "
                                         "ready)"]  # fmt: skip


def test_replicas_and_the_publish_mode_in_the_service() -> None:
    free = service_create_argv(container(replicas=3, publish_mode="ingress"), "n1")
    assert pairs(free, "--replicas") == ["3"]
    assert pairs(free, "--endpoint-mode") == ["vip"]  # the routing mesh routes to a VIP
    assert pairs(free, "--publish") == ["mode=ingress,published=8080,target=80,protocol=tcp"]
    assert how_it_runs(container(replicas=3, publish_mode="ingress")) == (
        "3 tasks; its ports on every node of the Swarm, which routes to a task (ingress)"
    )
    pinned = with_data(replicas=3, named_volumes=[NamedMount("web_db", "/db", False)])
    argv = service_create_argv(pinned, "n1")
    assert pairs(argv, "--replicas") == ["1"]  # its data is on one node
    assert "type=volume,source=web_db,target=/db,volume-label=tomo.installation=i1" in (
        pairs(argv, "--mount"))  # made by the node that runs it, labelled  # fmt: skip
    assert how_it_runs(pinned).startswith("1 task (not 3: its data is on one node); its ports on "
                                          "every address of the node that runs it")  # fmt: skip


def test_a_pinned_service_whose_node_cannot_run_it_says_so() -> None:
    pinned = service("web", 1)
    pinned["Spec"]["TaskTemplate"] = {"Placement": {"Constraints": ["node.id == n1"]}}
    nodes = [{"ID": "n1", "Hostname": "pi", "Status": "Down", "Availability": "Active"}]
    said = answer([pinned], [task("web", "t1", "pending", "running", "no suitable node")])
    states = parse_states(said + "--nodes--\n" + "\n".join(map(json.dumps, nodes)) + "\n")
    assert states["web"].node_trouble == "its data is on node pi (n1), which is down"
    nodes[0] |= {"Status": "Ready", "Availability": "Drain"}
    states = parse_states(said + "--nodes--\n" + json.dumps(nodes[0]) + "\n")
    assert states["web"].node_trouble == "its data is on node pi (n1), which is drained"
    states = parse_states(said + "--nodes--\n")  # the node left the Swarm
    assert states["web"].node_trouble is None  # no node list: nothing said of it


class Recorder:
    """A stand-in for the SSH service (no server): records the argv it is asked to run."""

    def __init__(self) -> None:
        self.argv: list[str] = []

    async def run(self, target: Any, argv: Any, **options: Any) -> Any:
        from tomo.servers.ssh import CommandResult

        self.argv = list(argv)
        return CommandResult(0, "created /srv/tomo/web\n", "")


async def test_a_command_on_another_node_is_a_job_pinned_there_in_its_own_files() -> None:
    from tomo.deployment.remote import Docker

    recorder = Recorder()
    target: Any = type("Target", (), {"name": "cluster", "use_sudo": False})()
    host = NodeHost(recorder, "n2", "busybox:1.36.1", "1000:1000", "i1")  # type: ignore[arg-type]
    created: list[str] = []
    await Docker(host, target).prepare_files(["/srv/tomo/web"], created)
    assert created == ["/srv/tomo/web"]
    job = recorder.argv[7:]  # after sh -c RUN_JOB $0 sudo name polls
    assert pairs(job, "--constraint") == ["node.id==n2"]
    assert pairs(job, "--mount") == ["type=bind,source=/,target=/host"]
    assert pairs(job, "--mode") == ["replicated-job"]
    image = job.index("busybox:1.36.1")
    assert job[image + 1 : image + 4] == ["chroot", "/host", "/bin/sh"]
    assert job[image + 6 : image + 9] == ["tomo-as", "1000", "1000"]
    assert job[image + 9 : image + 11] == ["sh", "-c"] and job[-1] == "/srv/tomo/web"
