"""No app reaches another's container unless a risk flag says so, on a real server:
an app without a network of its own is on tomo's isolated network.

The isolation is Docker's iptables rules: the lanes' own engines run without them
(tests/dockerhost.py), so this module runs on the machine's engine."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests import lanes
from tests.conftest import RUN_LABEL
from tests.deployment.conftest import Deploy, carried_out
from tests.deployment.test_install import docker, install
from tests.services import free_port
from tomo.deployment.spec import PortOverride

pytestmark = pytest.mark.machine_engine


@pytest.fixture(autouse=True)
def _on_the_machines_engine() -> None:
    if lanes.own_engine():
        pytest.fail("this test needs the machine's Docker engine, not a worker's own "
                    "(iptables off): scripts/test runs it after the others, in one process")  # fmt: skip


# busybox's wget, given up after 3 s (its own -T crashes in the test image).
FETCH = 'wget -q -O- "$0" & fetching=$!; (sleep 3; kill $fetching) 2>/dev/null & wait $fetching'


def fetched(container: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", container, "sh", "-c", FETCH, url],
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip


def address_on(container: str, network: str) -> str:
    template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
    return docker("inspect", "--format", template, container).strip()


async def test_apps_without_a_network_of_their_own_cannot_reach_each_other(
    deploy: Deploy,
) -> None:
    """On Docker's default bridge every container reaches every other by address;
    tomo puts a one-container app (and a store's `network_mode: bridge`) on its
    isolated network instead, where none does, and no uninstall removes it."""
    app = await deploy.publish("web", docker=deploy.web_app(network_mode="bridge"))
    for name in ("first", "second"):
        port = [PortOverride(container=80, host=free_port())]
        _, view = await install(deploy, app, name=name, ports=port)
        assert view.status == "done", view.error
    for name in ("first", "second"):
        networks = docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", name)
        assert list(json.loads(networks)) == ["tomo-isolated"]
    options = docker("network", "inspect", "--format", "{{json .Options}}", "tomo-isolated")
    assert json.loads(options)["com.docker.network.bridge.enable_icc"] == "false"

    url = f"http://{address_on('second', 'tomo-isolated')}/"
    refused = fetched("first", url)
    assert refused.returncode != 0 and "web v1" not in refused.stdout, refused
    # The check can tell: on a network that lets them, the same probe gets the page.
    control = f"tomo-test-open-{uuid.uuid4().hex[:8]}"
    docker("network", "create", "--label", f"tomo.owner={RUN_LABEL}", control)
    try:
        for name in ("first", "second"):
            docker("network", "connect", control, name)
        reached = fetched("first", f"http://{address_on('second', control)}/")
        assert (reached.returncode, reached.stdout) == (0, "web v1\n"), reached
    finally:
        for name in ("first", "second"):
            docker("network", "disconnect", "--force", control, name)
        docker("network", "rm", control)

    for name in ("first", "second"):
        await carried_out(deploy.runtime.deployment.prepare_uninstall(name, remove_data=True))
    assert "tomo-isolated" in docker("network", "ls", "--format", "{{.Name}}").split()
