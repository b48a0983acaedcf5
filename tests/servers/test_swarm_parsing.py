"""What tomo reads of a Swarm, parsed from Docker's own answers: the files in
swarm_data/ were captured from real engines of this test machine (a manager and a
worker joined to it, the worker's engine then stopped: `docker info --format
'{{json .Swarm}}'` on each, `docker node inspect` on the manager)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tomo.servers.facts import ServerFacts, facts_from
from tomo.servers.swarm import node_of, nodes_of, swarm_facts_of, swarm_summary

DATA = Path(__file__).parent / "swarm_data"


def captured(name: str) -> str:
    return (DATA / name).read_text()


def inspected() -> list[dict[str, Any]]:
    return list(json.loads(captured("node_inspect_worker_down.json")))


def test_a_manager_is_known_by_its_cluster() -> None:
    swarm = swarm_facts_of(captured("info_manager.json"))
    assert swarm is not None
    assert (swarm.role, swarm.state, swarm.nodes, swarm.managers) == ("manager", "active", 2, 1)
    assert (swarm.node_id, swarm.cluster_id) == ("rr0s9yddradq42yl0hp775ebf",
                                                 "w6ce1a3774ggbmd33huafkvcc")  # fmt: skip
    assert swarm_summary(swarm) == "Docker Swarm manager of a cluster of 2 nodes (1 manager)"


def test_a_worker_names_the_manager_to_add_instead() -> None:
    swarm = swarm_facts_of(captured("info_worker.json"))
    assert swarm is not None
    assert (swarm.role, swarm.nodes, swarm.cluster_id) == ("worker", None, None)
    assert swarm.manager_addresses == ["10.213.233.1:2377"]
    assert swarm_summary(swarm) == (
        "Docker Swarm worker: tomo needs a manager to see the cluster; add the manager "
        "instead (10.213.233.1)"
    )


def test_an_engine_in_no_swarm_has_none() -> None:
    assert swarm_facts_of(captured("info_inactive.json")) is None
    assert swarm_facts_of("") is None  # Docker out of reach: nothing said
    assert swarm_facts_of("<no value>") is None  # an engine too old for the template


def test_docker_info_line_goes_into_the_facts() -> None:
    values = {"machine": "x86_64", "docker_runtimes": "runc",
              "docker_swarm": captured("info_manager.json")}  # fmt: skip
    facts = facts_from(values, ("20.10.24", "yes", None))
    assert facts.swarm is not None and facts.swarm.role == "manager"
    assert facts.docker_runtimes == ["runc"]


def test_facts_stored_before_swarms_were_known_still_read() -> None:
    old = {"os": "Debian", "architecture": "amd64", "docker_version": "24.0",
           "docker_access": "yes", "docker_runtimes": ["runc"]}  # fmt: skip
    assert ServerFacts.model_validate(old).swarm is None


def test_nodes_are_parsed_managers_first_a_dead_worker_said_in_words() -> None:
    manager, worker = nodes_of(captured("node_inspect_worker_down.json"))
    assert (manager.role, manager.leader, manager.reachability) == ("manager", True, "reachable")
    assert (manager.state, manager.availability, manager.trouble) == ("ready", "active", None)
    assert (manager.architecture, manager.os, manager.cpus) == ("amd64", "linux", 2.0)
    assert manager.memory_mb == 25276182528 // (1024 * 1024)
    assert (manager.engine_version, manager.address) == ("20.10.24+dfsg1", "10.213.233.1")
    assert (worker.role, worker.reachability, worker.state) == ("worker", None, "down")
    assert worker.message == "heartbeat failure"
    assert worker.trouble == "down (heartbeat failure)"


def test_drained_paused_and_labelled_nodes() -> None:
    raw = copy.deepcopy(inspected()[0])
    raw["Spec"].update(Availability="drain", Labels={"disk": "ssd", "zone": "attic"})
    drained = node_of(raw)
    assert drained.labels == {"disk": "ssd", "zone": "attic"}
    assert drained.trouble == "drained: its tasks move to other nodes"
    raw["Spec"]["Availability"] = "pause"
    raw["ManagerStatus"]["Reachability"] = "unreachable"
    assert node_of(raw).trouble == "paused: no new tasks; manager unreachable"


def test_a_node_missing_what_docker_may_leave_out_still_parses() -> None:
    raw = inspected()[1]
    bare = {"ID": raw["ID"], "Spec": {"Role": "worker", "Availability": "active"},
            "Status": {"State": "unknown"}}  # fmt: skip
    node = node_of(bare)
    assert (node.hostname, node.cpus, node.memory_mb, node.architecture) == (
        raw["ID"][:12], None, None, None)  # fmt: skip
    assert node.trouble == "unknown"
