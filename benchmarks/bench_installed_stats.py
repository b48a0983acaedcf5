"""The installed list with resource figures, over real HTTP: tomo's app served by
uvicorn in this process (so that the figures can be put in its cache as a health
pass leaves them), SQLite, 100 installations, a browser's session cookie.

    .venv/bin/python -m benchmarks.bench_installed_stats [--installations 100] [--rounds 60]

Each round asks `GET /api/health` (no credentials, no database: the baseline of the
same moment), then the table view and the tiles view of /installed, each once with
no figures cached (as before the first pass) and once with every installation's
figures cached. Printed: p50 and p95 of each, the ratio of each p50 to the
baseline's, and of the page with figures to the same page without. The issue asks
for a p95 under 100 ms with the figures cached, never a server asked for them.

The installations are rows in the database on a server that is never reached, as
after `tomo adopt` of containers whose ids tomo does not know yet: the list asks
Docker for the status only of installations with a container id, so no SSH round
trip is made here. (A list of installations with containers also asks their
servers for each one's status, on every view: see benchmarks/README.md.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from tests.gitrepo import app_definition
from tests.services import free_port

from benchmarks.common import ms, percentile, table
from tomo.app import create_app
from tomo.auth.schemas import UserCreate
from tomo.config import Settings
from tomo.deployment.models import Installation
from tomo.deployment.statuses import InstallationStatus
from tomo.monitor.stats import (
    ContainerUse,
    ResourceCache,
    ServerTotals,
    installation_use,
    server_use,
)
from tomo.runtime import Runtime, open_runtime
from tomo.servers.models import Server

BUDGET = 0.100  # seconds: the p95
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway user of a throwaway tomo
BASELINE = "/api/health"
SERVER = "bench"
TOTALS = ServerTotals(cpu_count=8, memory_total_bytes=32 * 2**30)
APPS = 10  # distinct catalog apps among the installations


async def prepare(settings: Settings, count: int) -> None:
    """An admin, a server row and `count` installation rows (running, no container id)."""
    async with open_runtime(settings) as runtime:
        await runtime.auth.create_user(UserCreate(username="bench", password=PASSWORD,
                                                  role="admin"))  # fmt: skip
        now = datetime.now(UTC)
        async with runtime.db.session() as session, session.begin():
            session.add(Server(id=SERVER, name=SERVER, host="192.0.2.1", port=22,
                               username="tomo", auth_type="key", created_at=now))  # fmt: skip
            await session.flush()  # the installations' foreign key needs it first
            for index in range(count):
                app_id = f"app{index % APPS}"
                session.add(Installation(
                    id=uuid.uuid4().hex[:12], server_id=SERVER, name=f"{app_id}-{index}",
                    repo_id="bench", app_id=app_id, version="1.0.0",
                    image=f"example/{app_id}:1.0.0", definition=app_definition(app_id),
                    config={"env": {"TZ": "UTC"}}, status=InstallationStatus.RUNNING,
                    created_at=now, updated_at=now,
                ))  # fmt: skip


def fill(cache: ResourceCache, ids: list[str]) -> None:
    """Every installation's figures, as a health pass leaves them."""
    moment = datetime.now(UTC)
    uses = {}
    for index, installation in enumerate(ids):
        limit = 512 * 2**20 if index % 2 else TOTALS.memory_total_bytes
        # fmt: off
        container = ContainerUse(f"c{index}", 0.25 * (index % 9), (20 + index) * 2**20, limit,
                                 10_000 * index, 4_000 * index, 2**20 * index, 2**19 * index)
        # fmt: on
        uses[installation] = installation_use([container], TOTALS, moment)
    cache.put(SERVER, uses, server_use(uses.values(), TOTALS, moment))


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[str, Runtime]]:
    """tomo's app under uvicorn in a thread; its URL and its runtime."""
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, name="tomo-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("tomo did not start serving")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app.state.runtime
    finally:
        server.should_exit = True
        thread.join(timeout=30)


PAGES = {"table": "/installed?view=table", "tiles": "/installed"}


def browse(url: str, cache: ResourceCache, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {BASELINE: []}
    with httpx.Client(base_url=url, timeout=30) as http:
        login = http.post("/login", data={"username": "bench", "password": PASSWORD})
        if login.status_code != 303:
            raise SystemExit(f"login refused: {login.status_code}")
        ids = [row["id"] for row in http.get("/api/installations").json()]
        fill(cache, ids)
        for path in PAGES.values():  # warm: templates compiled, connections open
            answer = http.get(path)
            answer.raise_for_status()
            if "MiB / 512.0 MiB" not in answer.text:
                raise SystemExit(f"{path}: the figures are not on the page")
        for _ in range(rounds):
            samples[BASELINE].append(_timed(http, BASELINE))
            for figures in (False, True):
                if figures:
                    fill(cache, ids)
                else:
                    cache.put(SERVER, {}, server_use([], TOTALS, datetime.now(UTC)))
                for view, path in PAGES.items():
                    key = f"{view}, {'with' if figures else 'without'} figures"
                    samples.setdefault(key, []).append(_timed(http, path))
    return samples


def _timed(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = http.get(path)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed


def report(samples: dict[str, list[float]], count: int) -> None:
    base = statistics.median(samples[BASELINE])
    rows = []
    for name, values in samples.items():
        p50, p95 = statistics.median(values), percentile(values, 95)
        with_figures = name.endswith("with figures")
        versus = ""
        if with_figures:
            without = statistics.median(samples[name.replace("with figures", "without figures")])
            versus = f"{p50 / without:.2f}x"
        rows.append([name, ms(p50), ms(p95), f"{p50 / base:.1f}x", versus,
                     ("ok" if p95 <= BUDGET else "OVER") if with_figures else ""])  # fmt: skip
    print(f"\n/installed with {count} installations, SQLite, a session cookie (ratio: p50 / "
          f"{BASELINE} p50 of the same rounds; figures: p50 with / without)")  # fmt: skip
    print(table(rows, ["page", "p50", "p95", "ratio", "figures", f"p95 <= {ms(BUDGET)}"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--installations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tomo-bench-installed-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", builtin_catalog=False, sync_interval=0,
                            monitor_interval=0)  # fmt: skip
        asyncio.run(prepare(settings, args.installations))
        with serving(settings) as (url, runtime):
            samples = browse(url, runtime.deployment.resources, args.rounds)
    report(samples, args.installations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
