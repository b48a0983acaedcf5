"""The deployment tests' server, registry and catalog, for the image checks; and a
floating tag of that registry, moved at will (registries.py)."""

from __future__ import annotations

import pytest

from tests.deployment.conftest import (  # noqa: F401 - fixtures, and SQLite only unless marked
    data_root,
    database_url,
    deploy,
    images,
    pytest_generate_tests,
    registry,
    tomo,
)
from tests.registry import Registry, TestImages
from tests.updates.registries import FloatingTag


@pytest.fixture
def floating(registry: Registry, images: TestImages) -> FloatingTag:  # noqa: F811 - fixtures
    return FloatingTag(registry, images)
