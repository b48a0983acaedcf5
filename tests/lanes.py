"""Lanes: the tests that need a server, split among xdist's workers so that two of
them run at once, each worker with what such a test shares of its own.

A test that uses the SSH test users or the Docker engine runs with others like it
in one lane (an xdist group, `server-N`). Whichever worker runs a lane brings its
own: the first worker (gw0, or a run without xdist) the machine's engine and the
users `tomo-test` and `tomo-test-nd`; any other worker a Docker engine of its own
(tests/dockerhost.py; every `docker` the worker and its SSH sessions run talks to
it through DOCKER_HOST), users and a sudo rule suffixed with its number, and its
own numbers for the engines its tests start. So two lanes never see each other's
containers, users' passwords or sudo rules. TOMO_TEST_LANES sets how many lanes
(scripts/test: 2 with several workers).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"…; "" without xdist
INDEX = int(WORKER[2:]) if WORKER[2:].isdigit() else 0
SUFFIX = f"-{INDEX}" if INDEX else ""  # of the worker's users and sudo rule
ENGINE_NUMBER = 240 + INDEX  # the DockerHost of a worker other than the first
# Added to the numbers of the engines a test starts (200, 201): 200-239 for four
# workers, apart from the workers' own engines (240 and up).
OFFSET = 10 * INDEX


def own_engine() -> bool:
    """Whether this worker runs a Docker engine of its own (not the machine's)."""
    return INDEX > 0


def lane_count() -> int:
    return max(1, int(os.environ.get("TOMO_TEST_LANES", "1")))


def lanes_of(modules: Sequence[str]) -> dict[str, int]:
    """Each module's lane: the modules, longest first, each to the lane with the least
    time so far (a module's tests stay together: they share fixtures). A module's time
    is what the last measured run spent in it (SECONDS), or its tests' count times the
    mean of those. Every worker collects the same tests, so each computes the same lanes."""
    counts = Counter(modules)
    measured = {m: seconds for m, seconds in _measured_seconds().items() if m in counts}
    per_test = sum(measured.values()) / max(1, sum(counts[m] for m in measured))
    weights = {module: measured.get(module, count * per_test) for module, count in counts.items()}
    load = [0.0] * lane_count()
    lanes: dict[str, int] = {}
    for module, weight in sorted(weights.items(), key=lambda item: (-item[1], item[0])):
        lane = load.index(min(load))
        lanes[module] = lane
        load[lane] += weight
    return lanes


# Seconds each module of server tests took in a run of the whole suite in CI
# (`scripts/lane_times.py JUNIT --write tests/lane_seconds.json` refreshes it): lanes
# balanced by test counts were 1676 s and 1353 s, Swarm's 13 tests alone 244 s.
SECONDS = Path(__file__).with_name("lane_seconds.json")


def _measured_seconds() -> dict[str, float]:
    try:
        measured = json.loads(SECONDS.read_text())
    except (OSError, ValueError):
        return {}
    return {str(module): float(seconds) for module, seconds in measured.items()}
