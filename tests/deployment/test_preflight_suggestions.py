"""A port or a name that is taken comes with a free one, and a preview needs no risk
accepted: DeploymentService.preview_install against the real sshd + Docker server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests import services
from tests.conftest import RUN_LABEL
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker
from tests.services import free_port as unused_port
from tomo.deployment.spec import InstallConfig, PortOverride
from tomo.deployment.suggestions import free_name, free_port
from tomo.errors import InvalidInput


@pytest.fixture
def two_busy_ports() -> Iterator[tuple[int, int]]:
    """Two ports held by a plain process, one after the other (the second is not
    offered for the first), below the ephemeral range; the two after them, which
    tomo offers, are kept from the rest of the test (see services.held_port)."""
    ports = [services.free_port() for _ in range(4)]
    while ports != list(range(ports[0], ports[0] + 4)):  # one was held outside the tests
        ports = [*ports[1:], services.free_port()]
    with socket.socket() as first, socket.socket() as second:
        for listener, port in ((first, ports[0]), (second, ports[1])):
            listener.bind(("127.0.0.1", port))
            listener.listen(1)
        yield ports[0], ports[1]


def test_the_next_free_port_and_name_skip_what_is_taken() -> None:
    assert free_port(8080, "tcp", {(8081, "tcp"), (8082, "tcp"), (8083, "udp")}) == 8083
    assert free_port(65535, "tcp", {(1024, "tcp")}) == 1025  # none above: from 1024 up
    assert free_name("web", {"web-2"}.__contains__) == "web-3"
    long = "a" * 63
    assert free_name(long, set().__contains__) == "a" * 61 + "-2"  # still a valid name


async def test_ports_in_use_come_with_free_ones_each_its_own(
    deploy: Deploy, two_busy_ports: tuple[int, int]
) -> None:
    low, high = two_busy_ports
    app = await deploy.publish("web", docker=deploy.web_app(ports=[
        {"container": 80, "host": low}, {"container": 81, "host": high}]))  # fmt: skip
    plan = await deploy.runtime.deployment.preview_install(deploy.server, app, InstallConfig())
    problems = {p.fields[0]: p for p in plan.problems or []}
    assert problems["ports[0]"].text == f"host port {low}/tcp is already in use on the server"
    offers = [int(problems["ports[0]"].suggestion), int(problems["ports[1]"].suggestion)]
    assert len(set(offers)) == 2 and not {low, high} & set(offers)  # not each other's either
    moved = InstallConfig(ports=[PortOverride(host=offers[0], container=80),
                                 PortOverride(host=offers[1], container=81)])  # fmt: skip
    again = await deploy.runtime.deployment.preview_install(deploy.server, app, moved)
    assert again.problems == []


async def test_a_name_in_use_comes_with_one_free_on_the_server_too(deploy: Deploy) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    service = deploy.runtime.deployment
    first = await service.install_app(deploy.server, app, InstallConfig())
    assert (await service.run_job(first.job_id)).status == "done"
    # A container named web-2 that tomo did not make: the server has that name.
    docker("create", "--name", "web-2", "--label", f"tomo.owner={RUN_LABEL}",
           deploy.images.web_v1)  # fmt: skip
    moved = InstallConfig(ports=[PortOverride(host=unused_port(), container=80)])
    plan = await service.preview_install(deploy.server, app, moved)
    (problem,) = plan.problems or []
    assert problem.text == "an installation named 'web' already exists on this server"
    assert (problem.fields, problem.suggestion) == (["name"], "web-3")
    with pytest.raises(InvalidInput) as refused:  # recorded without asking the server
        await service.install_app(deploy.server, app, moved)
    assert [(p.hint, p.suggestion) for p in refused.value.problems] == [("choose --name", "web-2")]


async def test_a_preview_needs_no_risk_accepted_and_names_those_to_accept(deploy: Deploy) -> None:
    socket_mount = {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock",
                    "readonly": True}  # fmt: skip
    app = await deploy.publish("watcher", docker=deploy.web_app(volumes=[socket_mount]))
    service = deploy.runtime.deployment
    plan = await service.preview_install(deploy.server, app, InstallConfig())
    assert (plan.risks, plan.risks_to_accept) == (["docker-socket"], ["docker-socket"])
    assert plan.problems == []
    (container,) = plan.containers
    assert container.name == "watcher" and container.image == deploy.images.web_v1
    assert container.folders == ["/var/run/docker.sock:/var/run/docker.sock:ro"]
    assert plan.instance_dir == f"{deploy.data_root}/watcher"
    accepted = await service.preview_install(deploy.server, app, InstallConfig(
        accept_risks=["docker-socket"]))  # fmt: skip
    assert accepted.risks_to_accept == []
    with pytest.raises(InvalidInput, match="not accepted: docker-socket"):  # still refused
        await service.install_app(deploy.server, app, InstallConfig())
    assert await service.list_installations() == []

    needy = await deploy.publish("needy", docker=deploy.web_app(
        volumes=[socket_mount], environment=[{"name": "X", "required": True}]))  # fmt: skip
    with pytest.raises(InvalidInput) as refused:  # the rest is refused as ever, risks aside
        await service.preview_install(deploy.server, needy, InstallConfig())
    assert [p.fields for p in refused.value.problems] == [("env.X",)]
