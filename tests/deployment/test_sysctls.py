"""Kernel parameters of a container's own namespaces (compose's `sysctls`), set by
Docker on the sshd + Docker test server: the container's, never the server's."""

from __future__ import annotations

from pathlib import Path

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker


async def test_a_network_parameter_is_the_containers_own(deploy: Deploy, tomo: Tomo) -> None:
    server_value = Path("/proc/sys/net/ipv4/tcp_keepalive_time").read_text()
    app = await deploy.publish("tuned", docker=deploy.web_app(
        sysctls={"net.ipv4.ip_forward": "1", "net.ipv4.tcp_keepalive_time": "123"}))  # fmt: skip
    preview = tomo.json("install", app, "--server", "box", "--preview")
    assert "net.ipv4.ip_forward=1" in preview["argv"]
    tomo.json("install", app, "--server", "box")
    inside = docker("exec", "tuned", "cat", "/proc/sys/net/ipv4/tcp_keepalive_time")
    assert inside.strip() == "123"
    assert docker("exec", "tuned", "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"
    assert Path("/proc/sys/net/ipv4/tcp_keepalive_time").read_text() == server_value
    tomo.json("uninstall", "tuned")
