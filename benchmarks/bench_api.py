"""The search endpoint over real HTTP: a real `tomo serve`, 10,000 apps, bearer tokens.

    .venv/bin/python -m benchmarks.bench_api [--apps 10000] [--clients 50] [--rounds 20]

1. One client, interleaved with the in-process call: each query of the mix is
   asked of `MarketplaceService.search_apps` in this process and of
   `GET /api/marketplace/apps` (token, keep-alive) one after the other, round
   after round, so both see the same machine. Figure: the ratio of the
   endpoint's p50 to the in-process p50 (target 3x or less).
2. Under load: `--clients` concurrent clients, each with its own connection
   and token, ask the same mix until `--requests` answers came back.
   Figures: requests/s, p50, p99, and where the CPU went (server vs loader).
3. What authentication costs: `/api/health` (no credentials) beside
   `/api/auth/me` (a token: one SHA-256 and one indexed lookup) and a login
   (a password: argon2id), one client, interleaved.

The server is a separate process started as a user starts it (`python -m tomo
serve`), on a loopback port, with its own data directory on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.services import free_port

from benchmarks.bench_search import QUERY_MIX, fill_directly, vary_ratings
from benchmarks.common import ms, percentile, table
from tomo.auth.schemas import TokenCreate, UserCreate
from tomo.auth.service import LOCAL_ADMIN
from tomo.config import Settings
from tomo.runtime import open_runtime

TARGET_RATIO = 3.0
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway user of a throwaway tomo


Params = list[tuple[str, str | int | float | bool | None]]


def query_params(kwargs: dict[str, Any]) -> Params:
    """search_apps keyword arguments as the endpoint's query string."""
    names = {"search": "q", "tags": "tag"}
    params: Params = []
    for key, value in kwargs.items():
        values = value if isinstance(value, list) else [value]
        params += [(names.get(key, key), str(item)) for item in values]
    return params


# -- set-up ----------------------------------------------------------------------


async def prepare(data_dir: Path, size: int, clients: int) -> list[str]:
    """A catalog of `size` apps and a user with a token per client."""
    settings = Settings(data_dir=data_dir, builtin_catalog=False, sync_interval=0)
    async with open_runtime(settings) as runtime:
        await fill_directly(runtime.marketplace, size)
        await vary_ratings(runtime.marketplace)
        auth = runtime.auth
        await auth.create_user(UserCreate(username="bench", password=PASSWORD, role="viewer"))
        made = [await auth.create_token(TokenCreate(name=f"client {n}", username="bench"),
                                        by=LOCAL_ADMIN) for n in range(clients)]  # fmt: skip
    return [token.token for token in made]


@contextmanager
def tomo_serve(data_dir: Path) -> Iterator[tuple[str, int]]:
    """`python -m tomo serve` on a free loopback port; yields its URL and pid."""
    port = free_port()
    env = {**os.environ, "TOMO_DATA_DIR": str(data_dir), "TOMO_BUILTIN_CATALOG": "false",
           "TOMO_SYNC_INTERVAL": "0"}  # fmt: skip
    command = [sys.executable, "-m", "tomo", "serve", "--port", str(port)]
    log = data_dir.parent / "serve.log"  # a file: a pipe nobody reads would stall the server
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"tomo serve ended:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("tomo serve did not answer within 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- 1. one client beside the in-process call ------------------------------------


@dataclass
class Paired:
    in_process: list[float] = field(default_factory=list)
    endpoint: list[float] = field(default_factory=list)


async def one_client(data_dir: Path, url: str, token: str, rounds: int) -> Paired:
    settings = Settings(data_dir=data_dir, builtin_catalog=False, sync_interval=0)
    paired = Paired()
    headers = {"Authorization": f"Bearer {token}"}
    http_client = httpx.AsyncClient(base_url=url, headers=headers)
    async with open_runtime(settings) as runtime, http_client as http:
        market = runtime.marketplace
        for _, kwargs in QUERY_MIX:  # warm both: connections, caches, the first query plan
            await market.search_apps(**kwargs)
            (
                await http.get("/api/marketplace/apps", params=query_params(kwargs))
            ).raise_for_status()
        for _ in range(rounds):
            for _, kwargs in QUERY_MIX:
                started = time.perf_counter()
                await market.search_apps(**kwargs)
                paired.in_process.append(time.perf_counter() - started)
                started = time.perf_counter()
                answer = await http.get("/api/marketplace/apps", params=query_params(kwargs))
                paired.endpoint.append(time.perf_counter() - started)
                answer.raise_for_status()
    return paired


# -- 2. under load ---------------------------------------------------------------


@dataclass
class Load:
    latencies: list[float]
    seconds: float
    server_cpu: float
    loader_cpu: float
    failures: int


async def under_load(url: str, tokens: list[str], requests: int, server_pid: int) -> Load:
    latencies: list[float] = []
    failures = 0
    queue = iter(range(requests))

    async def client(token: str, offset: int) -> None:
        nonlocal failures
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:
            for n in queue:  # shared: the clients together make `requests` requests
                _, kwargs = QUERY_MIX[(n + offset) % len(QUERY_MIX)]
                started = time.perf_counter()
                answer = await http.get("/api/marketplace/apps", params=query_params(kwargs))
                latencies.append(time.perf_counter() - started)
                failures += answer.status_code != 200

    server_before, loader_before = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client(token, n) for n, token in enumerate(tokens)))
    seconds = time.perf_counter() - started
    return Load(latencies, seconds, cpu_seconds(server_pid) - server_before,
                time.process_time() - loader_before, failures)  # fmt: skip


# -- 3. what authentication costs -------------------------------------------------


async def auth_costs(url: str, token: str, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"GET /api/health (no credentials)": [],
                                       "GET /api/auth/me (bearer token)": [],
                                       "POST /api/auth/login (password)": []}  # fmt: skip
    login = {"username": "bench", "password": PASSWORD}
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(rounds):
            for label in samples:
                method, path = label.split(" ")[:2]
                headers = {"Authorization": f"Bearer {token}"} if "token" in label else {}
                started = time.perf_counter()
                answer = await http.request(method, path, headers=headers,
                                            json=login if method == "POST" else None)  # fmt: skip
                samples[label].append(time.perf_counter() - started)
                answer.raise_for_status()
                http.cookies.clear()
    return samples


# -- main ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20, help="of the query mix, one client")
    parser.add_argument("--requests", type=int, default=3000, help="in all, under load")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tomo-bench-api-") as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        tokens = asyncio.run(prepare(data_dir, args.apps, args.clients))
        print(f"set-up: {args.apps:,} apps, {args.clients} tokens in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        with tomo_serve(data_dir) as (url, pid):
            paired = asyncio.run(one_client(data_dir, url, tokens[0], args.rounds))
            load = asyncio.run(under_load(url, tokens, args.requests, pid))
            costs = asyncio.run(auth_costs(url, tokens[0], max(10, args.rounds)))
    report(args, paired, load, costs)
    return 0


def report(args: argparse.Namespace, paired: Paired, load: Load,
           costs: dict[str, list[float]]) -> None:  # fmt: skip
    base, endpoint = statistics.median(paired.in_process), statistics.median(paired.endpoint)
    ratio = endpoint / base
    print(f"\n1. one client, {len(paired.endpoint)} requests of a {len(QUERY_MIX)}-query mix, "
          "interleaved with the in-process call")  # fmt: skip
    rows = [["in-process search_apps", ms(base), ms(percentile(paired.in_process, 99)), "1.00x"],
            ["GET /api/marketplace/apps", ms(endpoint), ms(percentile(paired.endpoint, 99)),
             f"{ratio:.2f}x"]]  # fmt: skip
    print(table(rows, ["", "p50", "p99", "p50 ratio"]))
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(
        f"   endpoint p50 / in-process p50 = {ratio:.2f} (target <= {TARGET_RATIO:.0f}x: {verdict})"
    )
    rate = len(load.latencies) / load.seconds
    print(f"\n2. {args.clients} concurrent clients (a token and a connection each), "
          f"{len(load.latencies):,} requests, {load.failures} failed")  # fmt: skip
    print(f"   {rate:,.0f} requests/s; p50 {ms(percentile(load.latencies, 50))}, "
          f"p99 {ms(percentile(load.latencies, 99))}")  # fmt: skip
    print(f"   per request: server CPU {ms(load.server_cpu / len(load.latencies))}, "
          f"loader CPU {ms(load.loader_cpu / len(load.latencies))}; in-process call p50 "
          f"{ms(base)} (server CPU per request / in-process = "
          f"{load.server_cpu / len(load.latencies) / base:.2f}x)")  # fmt: skip
    health = statistics.median(next(iter(costs.values())))
    rows = [[label, ms(statistics.median(values)), f"{statistics.median(values) / health:.1f}x"]
            for label, values in costs.items()]  # fmt: skip
    print("\n3. what authentication costs (one client, p50, ratio to the route that needs none)")
    print(table(rows, ["", "p50", "ratio"]))


if __name__ == "__main__":
    sys.exit(main())
