"""The web UI's pages over real HTTP: a real `tomo serve` on SQLite, a browser's
session cookie, a catalog of `--apps` apps (the built-in one has about twenty).

    .venv/bin/python -m benchmarks.bench_pages [--apps 1000] [--rounds 30]

Each round asks every page once, with `GET /api/health` (no credentials, no
database) before each as the baseline of the same moment: the figure per page
is its p50 and p95, and the ratio of its p50 to the baseline's p50. The issue
asks for pages under 100 ms on the embedded database. The store page is also
set beside the in-process search it runs (one `search_apps` call), and the
whole login (POST /login, an argon2id hash) is timed as a user meets it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.bench_api import tomo_serve
from benchmarks.bench_search import fill_directly, vary_ratings
from benchmarks.common import ms, percentile, table
from tomo.auth.schemas import UserCreate
from tomo.config import Settings
from tomo.runtime import open_runtime

BUDGET = 0.100  # seconds, per page
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway user of a throwaway tomo
BASELINE = "/api/health"


async def prepare(data_dir: Path, size: int) -> str:
    """The catalog and an admin; the path of one app's page."""
    settings = Settings(data_dir=data_dir, builtin_catalog=False, sync_interval=0)
    async with open_runtime(settings) as runtime:
        await fill_directly(runtime.marketplace, size)
        await vary_ratings(runtime.marketplace)
        await runtime.auth.create_user(UserCreate(username="bench", password=PASSWORD,
                                                  role="admin"))  # fmt: skip
        first = (await runtime.marketplace.search_apps(limit=1)).items[0]
    return f"/apps/{first.repo_id}/{first.id}"


def pages(app_page: str) -> list[str]:
    return ["/store", "/store?q=media", "/store?category=media&sort=rating", "/store?page=3",
            app_page, f"{app_page}/install", "/installed", "/servers", "/repos", "/users",
            "/tokens", "/audit", "/account"]  # fmt: skip


async def in_process(data_dir: Path, rounds: int) -> list[float]:
    """The store page's search, called in this process."""
    settings = Settings(data_dir=data_dir, builtin_catalog=False, sync_interval=0)
    samples: list[float] = []
    async with open_runtime(settings) as runtime:
        await runtime.marketplace.search_apps(limit=24)
        for _ in range(rounds):
            started = time.perf_counter()
            await runtime.marketplace.search_apps(limit=24)
            samples.append(time.perf_counter() - started)
    return samples


async def browse(url: str, paths: list[str], rounds: int) -> tuple[dict[str, list[float]], float]:
    """Per path its times; and the login's."""
    samples: dict[str, list[float]] = {path: [] for path in [BASELINE, *paths]}
    async with httpx.AsyncClient(base_url=url) as http:
        started = time.perf_counter()
        login = await http.post("/login", data={"username": "bench", "password": PASSWORD})
        login_seconds = time.perf_counter() - started
        if login.status_code != 303:
            raise SystemExit(f"login refused: {login.status_code}")
        for path in paths:  # warm: connections, caches, templates compiled
            (await http.get(path)).raise_for_status()
        for _ in range(rounds):
            for path in paths:
                for asked in (BASELINE, path):
                    started = time.perf_counter()
                    answer = await http.get(asked)
                    samples[asked].append(time.perf_counter() - started)
                    answer.raise_for_status()
    return samples, login_seconds


def report(samples: dict[str, list[float]], login: float, search: list[float], size: int) -> None:
    base = statistics.median(samples[BASELINE])
    rows = []
    for path, values in samples.items():
        p95 = percentile(values, 95)
        verdict = "" if path == BASELINE else ("ok" if p95 <= BUDGET else "OVER")
        rows.append([path, ms(statistics.median(values)), ms(p95),
                     f"{statistics.median(values) / base:.1f}x", verdict])  # fmt: skip
    print(f"\npages with a session cookie, {size:,} apps, SQLite "
          f"(ratio: page p50 / {BASELINE} p50 of the same rounds)")  # fmt: skip
    print(table(rows, ["page", "p50", "p95", "ratio", f"p95 <= {ms(BUDGET)}"]))
    store, search_p50 = statistics.median(samples["/store"]), statistics.median(search)
    print(f"\n/store p50 {ms(store)} vs its search in-process p50 {ms(search_p50)}: "
          f"{store / search_p50:.1f}x")  # fmt: skip
    print(f"POST /login (argon2id), once: {ms(login)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tomo-bench-pages-") as tmp:
        data_dir = Path(tmp) / "data"
        app_page = asyncio.run(prepare(data_dir, args.apps))
        search = asyncio.run(in_process(data_dir, args.rounds))
        with tomo_serve(data_dir) as (url, _pid):
            samples, login = asyncio.run(browse(url, pages(app_page), args.rounds))
    report(samples, login, search, args.apps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
