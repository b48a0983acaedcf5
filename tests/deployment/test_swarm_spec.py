"""What tomo asks of a Swarm, without one: the `docker service create` and `docker
service update` of a container spec, what a service cannot be, and the services'
states read from Docker's answer (tests/deployment/test_swarm_apps.py runs them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomo.deployment.app_spec import AppSpec
from tomo.deployment.spec import ContainerSpec, Mount, PublishedPort
from tomo.deployment.swarm.secrets import as_files
from tomo.deployment.swarm.services import (
    ServiceState,
    on_overlay,
    parse_states,
    service_create_argv,
    status_of,
    swarm_problems,
)
from tomo.deployment.swarm.update import update_argv, update_problems

LABELS = {"tomo.installation": "i1", "tomo.app": "web"}


def container(**fields: Any) -> ContainerSpec:
    base: dict[str, Any] = {
        "name": "web", "image": "nginx:1.27", "labels": LABELS,
        "ports": [PublishedPort(8080, 80, "tcp")], "mounts": [], "env": {"TZ": "UTC"},
        "secret_env": {"TOKEN": "s3cret"}, "instance_dir": "/srv/tomo/web",
        "network": "tomo-web", "service": "app",
    }  # fmt: skip
    return ContainerSpec(**(base | fields))


def pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def test_a_service_is_created_on_its_network_with_its_labels_ports_and_env_file() -> None:
    spec = container(restart_policy="unless-stopped", entrypoint=["/my entry", "-x"],
                     command=["serve"])  # fmt: skip
    argv = service_create_argv(spec, "node1")
    assert argv[:5] == ["service", "create", "--detach", "--name", "web"]
    assert pairs(argv, "--network") == ["name=tomo-web,alias=app"]
    assert pairs(argv, "--endpoint-mode") == ["dnsrr"]
    assert pairs(argv, "--publish") == ["mode=host,published=8080,target=80,protocol=tcp"]
    assert pairs(argv, "--label") == pairs(argv, "--container-label") == [
        "tomo.installation=i1", "tomo.app=web"]  # fmt: skip
    assert pairs(argv, "--env-file") == ["/srv/tomo/web/.tomo.env"]
    assert "s3cret" not in " ".join(argv)  # values only through the env file
    assert pairs(argv, "--restart-condition") == ["any"]
    assert pairs(argv, "--entrypoint") == ["'/my entry'"]  # Docker splits it as a shell
    assert argv[-3:] == ["nginx:1.27", "-x", "serve"]
    assert "--constraint" not in argv  # no data on a node: the Swarm places it


def test_a_service_with_data_is_pinned_to_its_node_and_paths_are_quoted_for_docker() -> None:
    spec = container(mounts=[Mount("/srv/tomo/web/a,b", "/data", False, owned=True),
                             Mount('/srv/"x"', "/ro", True, owned=False)])  # fmt: skip
    argv = service_create_argv(spec, "node1")
    assert pairs(argv, "--mount") == [
        'type=bind,"source=/srv/tomo/web/a,b",target=/data',
        'type=bind,"source=/srv/""x""",target=/ro,readonly',
    ]
    assert pairs(argv, "--constraint") == ["node.id==node1"]


def test_what_a_swarm_service_cannot_be_is_named_by_service() -> None:
    app = AppSpec("web", "/srv/tomo/web", [
        container(privileged=True, devices=["/dev/dri"]),
        container(name="web-db", service="db", network_mode="host", one_shot=True),
    ])  # fmt: skip
    said = [problem.text for problem in swarm_problems(app)]
    assert said == [
        "app: a Swarm service cannot have privileged mode, devices (/dev/dri)",
        "db: a Swarm service cannot have network_mode host, a one-shot step others wait for",
    ]
    assert on_overlay(AppSpec("one", "/srv/one", [container(network=None)])).network == "tomo-one"


def test_limits_a_swarm_service_takes_and_the_options_it_cannot_have() -> None:
    """Memory and CPU limits and init are given by `docker service create`'s names
    (0 and false when not asked, so an update takes back what an earlier version
    asked); /dev/shm's size, ulimits, extra hosts and tmpfs are refused, not dropped."""
    limited = container(mem_limit=512 << 20, mem_reservation=64 << 20, cpus=1.5, init=True)
    argv = service_create_argv(limited, None)
    assert (pairs(argv, "--limit-memory"), pairs(argv, "--reserve-memory")) == (
        [str(512 << 20)], [str(64 << 20)])  # fmt: skip
    assert (pairs(argv, "--limit-cpu"), "--init=true" in argv) == (["1.5"], True)
    plain, _ = update_argv(container(), current([], [], [], []), None, "job1", 0.5)
    assert [pairs(plain, "--limit-memory"), pairs(plain, "--limit-cpu")] == [["0"], ["0"]]
    assert "--init=false" in plain
    app = AppSpec("web", "/srv/tomo/web", [container(
        shm_size=1 << 30, ulimits={"nofile": [1024, 2048]}, extra_hosts={"gw": "host-gateway"},
        tmpfs=["/run"])])  # fmt: skip
    assert [problem.text for problem in swarm_problems(app)] == [
        "web: a Swarm service cannot have a /dev/shm size (shm_size), ulimits, extra host names "
        "(extra_hosts), tmpfs folders"
    ]


def service(name: str, replicas: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"ID": f"id-{name}", "Spec": {"Name": name, "Labels": labels or LABELS,
                                         "Mode": {"Replicated": {"Replicas": replicas}}},
            "UpdateStatus": {"State": "completed"}}  # fmt: skip


def task(service_name: str, ident: str, state: str, desired: str, err: str = "",
         at: str = "2026-12-07T08:00:00Z") -> dict[str, Any]:  # fmt: skip
    return {"ID": ident, "ServiceID": f"id-{service_name}", "DesiredState": desired,
            "UpdatedAt": at, "Status": {"State": state, "Err": err, "Timestamp": at}}  # fmt: skip


def answer(services: list[dict[str, Any]], tasks: list[dict[str, Any]], *noise: str) -> str:
    lines = [*map(json.dumps, services), *noise, "--tasks--", *map(json.dumps, tasks)]
    return "\n".join(lines) + "\n"


def test_states_come_from_the_tasks_and_a_missing_service_is_no_error() -> None:
    said = answer([service("web", 1), service("web-db", 1)], [
        task("web", "t1", "failed", "shutdown", "task: non-zero exit (3)", "2026-12-07T08:00:00Z"),
        task("web", "t2", "running", "running", at="2026-12-07T08:00:05Z"),
        task("web-db", "t3", "pending", "running", "no suitable node (insufficient resources)"),
    ], "Error: no such service: web-gone")  # fmt: skip
    states = parse_states(said)
    web, db = states["web"], states["web-db"]
    assert (web.up, web.running, web.error, web.task_ids) == (
        True, 1, "task: non-zero exit (3)", frozenset({"t2"}))  # fmt: skip
    assert (db.up, db.pending) == (False, "no suitable node (insufficient resources)")
    names = {"app": "web", "db": "web-db", "cache": "web-gone"}
    assert status_of(names, states) == ("missing", "db: 0/1 running (no suitable node "
                                        "(insufficient resources)); cache: the Swarm service is "
                                        "gone (removed outside tomo?)")  # fmt: skip
    assert status_of({"app": "web"}, states) == ("running", None)


def test_a_task_the_swarm_pruned_between_listing_and_inspection_is_no_error() -> None:
    """`docker service ps` lists a task, the Swarm replaces and prunes it, and
    `docker inspect` of it says so: the service is read from the tasks that are left
    (a fresh-clone CI run failed an install's status on it)."""
    pruned = "Error: task 7h0fqjmigvbgurxec0z26i1ro not found"
    said = answer([service("web", 1)], [task("web", "t2", "running", "running")])
    said = said.replace("--tasks--\n", f"--tasks--\n{pruned}\n")
    assert parse_states(said)["web"].task_ids == frozenset({"t2"})


def test_a_stopped_service_is_stopped_and_half_an_app_stopped_is_an_error() -> None:
    states = parse_states(answer([service("web", 0), service("web-db", 1)],
                                 [task("web-db", "t1", "running", "running")]))  # fmt: skip
    assert status_of({"app": "web"}, states) == ("stopped", None)
    assert status_of({"app": "web", "db": "web-db"}, states) == ("error", "stopped: app")


def test_docker_unable_to_answer_for_the_swarm_is_an_error_not_an_empty_swarm() -> None:
    with pytest.raises(ValueError, match="This node is not a swarm manager"):
        parse_states("Error response from daemon: This node is not a swarm manager. Use "
                     '"docker swarm init"\n--tasks--\n')  # fmt: skip


def current(env: list[str], ports: list[tuple[int, int]], mounts: list[tuple[str, str]],
            constraints: list[str]) -> dict[str, Any]:  # fmt: skip
    """A service's Spec as `docker service inspect` gives it."""
    return {"Name": "web", "TaskTemplate": {
        "ContainerSpec": {"Env": env, "Mounts": [{"Type": "bind", "Source": source, "Target": target}
                                                 for source, target in mounts]},
        "Placement": {"Constraints": constraints}},
        "EndpointSpec": {"Ports": [{"PublishedPort": published, "TargetPort": target,
                                    "Protocol": "tcp", "PublishMode": "host"}
                                   for published, target in ports]}}  # fmt: skip


def test_an_update_changes_only_what_changed_and_secrets_go_on_stdin() -> None:
    """Docker applies a removal to what the same command adds: only what went is
    removed, only what is new added (a mount at a target it had replaces it)."""
    old = current(["TZ=UTC", "GONE=1", "TOKEN=old"], [(8080, 80), (9000, 90)],
                  [("/srv/tomo/web/data", "/data"), ("/srv/tomo/web/old", "/old")],
                  ["node.id==node1", "node.role==manager"])  # fmt: skip
    spec = container(env={"TZ": "Europe/Paris"}, secret_env={"TOKEN": "n3w"},
                     ports=[PublishedPort(8080, 80, "tcp"), PublishedPort(9001, 90, "tcp")],
                     mounts=[Mount("/srv/tomo/web/data", "/data", False, owned=True),
                             Mount("/srv/tomo/web/cfg", "/cfg", True, owned=True)])  # fmt: skip
    argv, stdin = update_argv(spec, old, "node1", "job1", 0.5)
    assert pairs(argv, "--env-rm") == ["GONE"]
    assert pairs(argv, "--env-add") == ["TZ=Europe/Paris", "TOKEN"]
    assert stdin == "TOKEN=n3w\n" and "n3w" not in " ".join(argv)
    assert pairs(argv, "--publish-rm") == ["mode=host,published=9000,target=90,protocol=tcp"]
    assert pairs(argv, "--publish-add") == ["mode=host,published=9001,target=90,protocol=tcp"]
    assert pairs(argv, "--mount-rm") == ["/old"]
    assert pairs(argv, "--mount-add") == ["type=bind,source=/srv/tomo/web/cfg,target=/cfg,readonly"]
    assert "--constraint-rm" not in argv and "--constraint-add" not in argv  # the same node
    assert pairs(argv, "--update-failure-action") == ["rollback"]
    assert pairs(argv, "--update-monitor") == ["1s"]
    assert "tomo.update=job1" in pairs(argv, "--container-label-add")
    assert "--replicas" not in argv  # one, as it runs


def test_an_update_sets_the_new_versions_replicas_and_a_stopped_service_stays_stopped() -> None:
    running = current([], [], [], []) | {"Mode": {"Replicated": {"Replicas": 2}}}
    argv, _ = update_argv(container(replicas=3), running, None, "job1", 0.5)
    assert pairs(argv, "--replicas") == ["3"]
    stopped = current([], [], [], []) | {"Mode": {"Replicated": {"Replicas": 0}}}
    argv, _ = update_argv(container(replicas=3), stopped, None, "job1", 0.5)
    assert "--replicas" not in argv and "tomo.replicas=3" in pairs(argv, "--label-add")


def test_an_update_that_would_put_a_secret_on_a_command_line_is_refused() -> None:
    app = AppSpec("web", "/srv/tomo/web", [container(secret_env={"db.password": "n3w"})])
    old = {"web": current(["db.password=old"], [(8080, 80)], [], [])}
    (problem,) = update_problems(app, old, use_sudo=False)
    assert "the new value of db.password could only reach the Swarm on a command line" in (
        problem.text)  # fmt: skip
    same = AppSpec("web", "/srv/tomo/web", [container(secret_env={"TOKEN": "n3w"})])
    assert update_problems(same, {"web": current(["TOKEN=old"], [(8080, 80)], [], [])}, False) == []
    assert update_problems(same, {"web": current(["TOKEN=old"], [(8080, 80)], [], [])}, True)
    (other,) = update_problems(same, {}, use_sudo=False)
    assert other.text == ("the new version has other services than the Swarm runs (adds web)")


def test_a_service_state_is_up_only_with_every_replica_running() -> None:
    state = ServiceState("web", "i1", 2, 1, None, None, None, 2)
    assert not state.up


def test_a_secret_the_image_reads_from_a_file_becomes_a_swarm_secret() -> None:
    app = AppSpec("web", "/srv/tomo/web", [container(secret_env={"TOKEN": "s3cret", "KEY": "k"})])
    moved, made = as_files(app, {"TOKEN": "TOKEN_FILE"})
    (secret,) = made
    assert (secret.target, secret.value) == ("TOKEN", "s3cret")
    assert secret.name.startswith("tomo-web-token-") and "s3cret" not in secret.name
    (spec,) = moved.containers
    assert spec.secret_env == {"KEY": "k"}  # the other stays in the environment
    assert spec.env["TOKEN_FILE"] == "/run/secrets/TOKEN"
    argv = service_create_argv(spec, None)
    assert pairs(argv, "--secret") == [f"source={secret.name},target=TOKEN"]
    assert as_files(app, {"TOKEN": "TOKEN_FILE"})[1][0].name != secret.name  # never reused
    assert "s3cret" not in repr(made)
