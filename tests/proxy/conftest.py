"""A Caddy image built from Debian's caddy binary, and a front door on the deployment
tests' server (real sshd, real Docker engine, real registry)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.caddy import push_caddy_image
from tests.deployment.conftest import (  # noqa: F401 - fixtures
    Deploy,
    busy_port,
    data_root,
    database_url,
    deploy,
    images,
    registry,
)
from tests.registry import Registry
from tests.services import free_port
from tomo.proxy.door import FrontDoor, front_door


@pytest.fixture(scope="session")
def caddy_image(registry: Registry) -> str:  # noqa: F811
    """Debian's Caddy as an image in the test registry (the server pulls it, as it
    would pull caddy:2), removed from the local engine so that it really does."""
    return push_caddy_image(registry)


@pytest.fixture
def ports() -> tuple[int, int]:
    """Free loopback ports for the front door's HTTP and HTTPS."""
    return free_port(), free_port()


@pytest.fixture
async def door(deploy: Deploy, caddy_image: str) -> AsyncIterator[FrontDoor]:  # noqa: F811
    """The test server's front door (not made yet: a test ensures it); it goes
    afterwards, volume and all."""
    server = await deploy.runtime.servers.get_server(deploy.server)
    made = await front_door(deploy.runtime.deployment.ctx, server.id)
    yield made
    await made.remove(with_volume=True)
