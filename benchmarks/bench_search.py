"""Search benchmark: a query mix against catalogs of 10,000 and 100,000 apps.

Run from the project root:  .venv/bin/python -m benchmarks.bench_search [--apps N ...]

Latencies are those of `MarketplaceService.search_apps` (count query + page
query + building the response). The baseline, measured interleaved in the
same run, is `get_app("<repo>/<id>")`: an indexed point lookup through the
same service. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from tests.services import drop_database, new_database, postgres_server

from benchmarks.common import (
    GeneratedApp,
    iter_apps,
    make_catalog_repo,
    median,
    ms,
    percentile,
    secs,
    table,
    timer,
    weighted_percentile,
)
from tomo.config import Settings
from tomo.db import table_of
from tomo.marketplace.models import MarketplaceAppRow, MarketplaceRepo
from tomo.marketplace.parse import parse_definition
from tomo.marketplace.schemas import RepoCreate
from tomo.marketplace.service import MarketplaceService
from tomo.marketplace.sync import app_row
from tomo.runtime import open_runtime

REPO_NAME = "bench"
TARGET_P95 = 0.020  # seconds, at 100,000 apps
LOOKUPS_PER_ROUND = 10
MIN_SAMPLES = 3
_COLUMN_LIST = re.compile(r"SELECT marketplace_apps\.pk, .*? \nFROM", re.S)

# (kind, search_apps keyword arguments). Words are placed in the generator's
# Zipf vocabulary: "server" is its 3rd most frequent word, "backup" its 50th,
# "zeppelin" its 2500th; "med" prefixes media, medium, medical, meditation.
QUERY_MIX: list[tuple[str, dict[str, Any]]] = [
    ("common word", {"search": "server"}),
    ("rare word", {"search": "zeppelin"}),
    ("prefix 'med'", {"search": "med"}),
    ("two words", {"search": "server backup"}),
    ("category only", {"category": "media"}),
    ("one tag", {"tags": ["self-hosted"]}),
    ("two tags", {"tags": ["self-hosted", "docker"]}),
    ("text+category", {"search": "backup", "category": "media"}),
    ("sort rating", {"sort": "rating"}),
    ("sort popularity", {"sort": "popularity"}),
    ("sort updated", {"sort": "updated"}),
    ("sort name", {"sort": "name"}),
    ("text page 10", {"search": "server", "offset": 180}),
    ("name page 50", {"sort": "name", "offset": 980}),
]


@dataclass
class SizeResult:
    size: int
    setup: list[tuple[str, float]]
    latencies: dict[str, list[float]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    lookups: list[float] = field(default_factory=list)

    def overall(self, q: float) -> float:
        """Percentile over the whole mix, each kind weighted equally (as in the mix)
        even when a slow kind ran in fewer rounds."""
        return weighted_percentile(
            [(t, 1 / len(values)) for values in self.latencies.values() for t in values], q
        )

    def kind(self, kind: str, q: float) -> float:
        return percentile(self.latencies[kind], q)

    @property
    def baseline(self) -> float:
        return median(self.lookups)


# -- catalog setup ---------------------------------------------------------------


Setup = tuple[list[GeneratedApp], list[tuple[str, float]]]


async def fill_by_sync(market: MarketplaceService, tmp: Path, size: int) -> Setup:
    """The real path: a generated git repo, added and synced."""
    catalog = await asyncio.to_thread(make_catalog_repo, tmp / f"catalog-{size}", size)
    await market.add_repo(RepoCreate(url=str(catalog.path), name=REPO_NAME))
    with timer() as syncing:
        report = await market.sync_repo(REPO_NAME)
    if report.app_count != size or report.errors:
        raise SystemExit(f"sync stored {report.app_count} apps, {len(report.errors)} errors")
    return catalog.apps, [
        ("generate files", catalog.generate_seconds),
        ("git add + commit", catalog.commit_seconds),
        ("tomo sync_repo", syncing.seconds),
    ]


async def fill_directly(market: MarketplaceService, size: int) -> Setup:
    """Without git: tomo's parser and `app_row`, inserted in one transaction.

    The repo row is registered through `add_repo` (never synced); app rows
    are inserted as `sync._insert_apps` does, so the FTS triggers and every
    index are maintained exactly as in a sync.
    """
    await market.add_repo(
        RepoCreate(url="https://example.org/bench.git", name=REPO_NAME, branch="main")
    )
    repo_id = (await market.get_repo(REPO_NAME)).id
    max_bytes = market.settings.max_definition_bytes
    now = datetime.now(UTC)
    with timer() as parsing:
        rows, generated = [], []
        for app, text in iter_apps(size):
            generated.append(app)
            definition = parse_definition(app.path, text.encode(), max_bytes=max_bytes)
            row = app_row(definition, repo_id=repo_id, path=app.path, blob=app.id, now=now)
            row.update(created_at=now, rating_sum=0, rating_count=0, avg_rating=0.0)
            rows.append({**row, "install_count": 0})
    apps = table_of(MarketplaceAppRow)
    with timer() as inserting:
        async with market.db.session() as session, session.begin():
            for start in range(0, len(rows), 5000):
                await session.execute(insert(apps), rows[start : start + 5000])
            await session.execute(
                update(table_of(MarketplaceRepo))
                .where(table_of(MarketplaceRepo).c.id == repo_id)
                .values(app_count=len(rows))
            )
    return generated, [
        ("generate + tomo parse_definition + app_row", parsing.seconds),
        ("insert apps (FTS triggers)", inserting.seconds),
    ]


async def vacuum(market: MarketplaceService) -> float:
    """PostgreSQL after a bulk load: statistics and the visibility map, as autovacuum
    leaves a table soon after a large sync."""
    with timer() as elapsed:
        autocommit = market.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as connection:
            await connection.exec_driver_sql("VACUUM ANALYZE marketplace_apps")
    return elapsed.seconds


async def vary_ratings(market: MarketplaceService, seed: int = 3) -> float:
    """Random avg_rating/rating_count/install_count/updated_at, by SQL UPDATE."""
    rng = random.Random(seed)
    apps = table_of(MarketplaceAppRow)
    now = datetime.now(UTC)
    with timer() as elapsed:
        async with market.db.session() as session, session.begin():
            pks = list(await session.scalars(select(apps.c.pk).order_by(apps.c.pk)))
            values = []
            for pk in pks:
                count = 0 if rng.random() < 0.3 else int(rng.paretovariate(1.2))
                average = round(rng.uniform(1.0, 5.0), 2) if count else 0.0
                values.append(
                    {
                        "row_pk": pk,
                        "rating_count": count,
                        "rating_sum": round(average * count),
                        "avg_rating": average,
                        "install_count": int(rng.paretovariate(1.1)) - 1,
                        "updated_at": now - timedelta(seconds=rng.randint(0, 365 * 86400)),
                    }
                )
            columns: dict[str, Any] = {key: bindparam(key) for key in values[0] if key != "row_pk"}
            await session.execute(
                update(apps).where(apps.c.pk == bindparam("row_pk")).values(columns),
                values,
                execution_options={"synchronize_session": False},
            )
    return elapsed.seconds


# -- measuring -------------------------------------------------------------------


async def measure(
    market: MarketplaceService,
    apps: Sequence[GeneratedApp],
    result: SizeResult,
    rounds: int,
    kind_budget: float,
) -> None:
    """Rounds of the shuffled mix, with get_app lookups interleaved as the baseline.

    A kind whose warm-up call takes longer than kind_budget / rounds runs in
    fewer rounds (at least MIN_SAMPLES), so one pathological query cannot
    stretch the run; the sample count of each kind is printed.
    """
    rng = random.Random(11)
    first: dict[str, float] = {}
    for kind, kwargs in QUERY_MIX:  # warm-up: page cache, compiled statements
        with timer() as elapsed:
            page = await market.search_apps(**kwargs)
        first[kind] = elapsed.seconds
        result.totals[kind] = page.total
        if elapsed.seconds < 1.0:
            await market.search_apps(**kwargs)
    samples = {
        kind: min(rounds, max(MIN_SAMPLES, int(kind_budget / max(seconds, 1e-9))))
        for kind, seconds in first.items()
    }
    for round_ in range(1, rounds + 1):
        work: list[tuple[str, dict[str, Any]]] = [
            (kind, kwargs) for kind, kwargs in QUERY_MIX if round_ <= samples[kind]
        ]
        work += [("lookup", {}) for _ in range(LOOKUPS_PER_ROUND)]
        rng.shuffle(work)
        for kind, kwargs in work:
            if kind == "lookup":
                ref = f"{REPO_NAME}/{rng.choice(apps).id}"
                with timer() as elapsed:
                    await market.get_app(ref)
                result.lookups.append(elapsed.seconds)
                continue
            with timer() as elapsed:
                await market.search_apps(**kwargs)
            result.latencies.setdefault(kind, []).append(elapsed.seconds)


async def run_size(
    tmp: Path, size: int, args: argparse.Namespace, database_url: str | None = None
) -> SizeResult:
    data_dir = tmp / f"data-{size}"
    settings = Settings(data_dir=data_dir, builtin_catalog=False, database_url=database_url)
    async with open_runtime(settings) as runtime:
        market = runtime.marketplace
        if size <= args.real_sync_max:
            method = "real sync"
            apps, setup = await fill_by_sync(market, tmp, size)
        else:
            method = "direct insert"
            apps, setup = await fill_directly(market, size)
        setup.append(
            ("randomise ratings/installs/updated_at (SQL UPDATE)", await vary_ratings(market))
        )
        if not market.db.is_sqlite:
            setup.append(("VACUUM ANALYZE (the state autovacuum keeps)", await vacuum(market)))
        result = SizeResult(size, [(f"[{method}] {label}", s) for label, s in setup])
        await measure(market, apps, result, args.rounds, args.kind_budget)
    return result


# -- output ----------------------------------------------------------------------


def print_size(result: SizeResult) -> None:
    base = result.baseline
    print(f"\n=== {result.size:,} apps ===")
    print("setup:")
    for label, seconds in result.setup:
        print(f"  {label}: {secs(seconds)}")
    print(f"  total: {secs(sum(s for _, s in result.setup))}")
    rows = []
    for kind, _ in QUERY_MIX:
        p95 = result.kind(kind, 95)
        rows.append(
            [
                kind,
                f"{result.totals[kind]:,}",
                len(result.latencies[kind]),
                ms(result.kind(kind, 50)),
                ms(p95),
                f"{p95 / base:.1f}x",
                "over" if p95 > TARGET_P95 else "",
            ]
        )
    p95 = result.overall(95)
    rows.append(
        [
            "ALL (mix)",
            "",
            sum(len(v) for v in result.latencies.values()),
            ms(result.overall(50)),
            ms(p95),
            f"{p95 / base:.1f}x",
            "over" if p95 > TARGET_P95 else "",
        ]
    )
    print(
        f"search_apps latencies (n = samples per kind); baseline get_app p50 = {ms(base)} "
        f"(n={len(result.lookups)}); p95/base = p95 / baseline p50"
    )
    print(table(rows, ["query kind", "matches", "n", "p50", "p95", "p95/base", "> 20 ms"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--apps", type=int, nargs="+", default=[10_000, 100_000], help="catalog sizes"
    )
    parser.add_argument("--rounds", type=int, default=30, help="rounds of the query mix")
    parser.add_argument(
        "--real-sync-max",
        type=int,
        default=10_000,
        help="largest catalog built by a real git sync; larger ones are inserted directly "
        "(faster to set up than generating and syncing a git repo)",
    )
    parser.add_argument(
        "--kind-budget",
        type=float,
        default=15.0,
        help="seconds per query kind and size; slower kinds get fewer rounds "
        f"(at least {MIN_SAMPLES})",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run against a throwaway PostgreSQL started here (root; apt-get install "
        "postgresql) instead of SQLite",
    )
    args = parser.parse_args(argv)
    print(
        f"tomo search benchmark ({'PostgreSQL' if args.postgres else 'SQLite'}): "
        f"sizes {args.apps}, {args.rounds} rounds, "
        f"{LOOKUPS_PER_ROUND} get_app lookups per round as baseline"
    )
    print(
        "note: avg_rating, rating_count, install_count and updated_at are set to seeded "
        "random values by SQL UPDATE before measuring"
    )
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="tomo-bench-search-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        server = stack.enter_context(postgres_server()) if args.postgres else None
        for size in args.apps:
            database = new_database(server) if server else None
            try:
                result = asyncio.run(run_size(Path(tmp), size, args, database))
            finally:
                if database:
                    drop_database(database)
            print_size(result)
            results.append(result)

    print("\n=== summary ===")
    rows = []
    for r in results:
        p95 = r.overall(95)
        rows.append(
            [
                f"{r.size:,}",
                ms(r.overall(50)),
                ms(p95),
                ms(r.baseline),
                f"{p95 / r.baseline:.1f}x",
            ]
        )
    print(table(rows, ["apps", "p50", "p95", "get_app p50", "p95/base"]))
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large.overall(95) / small.overall(95)
        print(f"p95 growth {small.size:,} -> {large.size:,} apps: {growth:.1f}x")
    largest = results[-1]
    p95 = largest.overall(95)
    verdict = "UNDER" if p95 < TARGET_P95 else "NOT under"
    print(f"p95 at {largest.size:,} apps: {ms(p95)} -> {verdict} 20 ms")
    slow = sorted(
        ((kind, percentile(v, 95)) for kind, v in largest.latencies.items()),
        key=lambda item: -item[1],
    )
    slow = [(kind, p95) for kind, p95 in slow if p95 > TARGET_P95]
    if slow:
        print("kinds with p95 > 20 ms: " + ", ".join(f"{k} ({ms(t)})" for k, t in slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
