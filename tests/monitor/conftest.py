"""The deployment tests' server, registry and catalog, for the monitor's tests (on
SQLite unless marked `both_databases`: the Docker work is the same on both)."""

from tests.deployment.conftest import (  # noqa: F401 - fixtures
    data_root,
    database_url,
    deploy,
    images,
    pytest_generate_tests,
    registry,
    tomo,
)
