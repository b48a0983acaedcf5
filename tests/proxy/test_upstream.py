"""Where the front door sends an installation's names: its container and port, as
the definition's `proxy` and network mode allow."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gitrepo import app_definition
from tomo.deployment.models import Installation
from tomo.errors import InvalidInput
from tomo.marketplace.definition import AppDefinition
from tomo.proxy.routes import Upstream
from tomo.proxy.service import upstream_of


def row(**docker: Any) -> Installation:
    base = app_definition("web")
    definition = AppDefinition.model_validate({**base, "docker": {**base["docker"], **docker}})
    return Installation(name="site", definition=definition.model_dump(mode="json"))


@pytest.mark.parametrize("mode", [None, "bridge", "default"])
def test_a_bridge_is_tomos_network_which_the_front_door_reaches(mode: str | None) -> None:
    assert upstream_of(row(network_mode=mode)) == Upstream("site", 80)


@pytest.mark.parametrize("mode", ["host", "none", "container:vpn"])
def test_a_network_the_front_door_cannot_join_is_refused_naming_the_mode(mode: str) -> None:
    with pytest.raises(InvalidInput, match=f"site runs with network_mode {mode}: the front "
                                           "door cannot reach it by name"):  # fmt: skip
        upstream_of(row(network_mode=mode))
