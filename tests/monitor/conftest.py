"""The deployment tests' server, registry and catalog, for the monitor's tests."""

from tests.deployment.conftest import (  # noqa: F401 - fixtures
    data_root,
    deploy,
    images,
    registry,
    tomo,
)
