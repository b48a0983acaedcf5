"""What a person at the keyboard waits for: whole `tomo` commands, start-up included.

Each command runs as a fresh process (as typed in a shell), `--repeat` times,
interleaved with `python -c pass` so that both see the same machine load; the
figure is the median of each minus the median of bare Python start-up (target:
within 0.25 s for `tomo --help` and `tomo app search x`). The in-process cost
of the search itself is printed beside it, and so is what the same search costs
through the full runtime (settings, SQLAlchemy, migrations check).

    .venv/bin/python -m benchmarks.bench_cli [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tomo.config import Settings
from tomo.marketplace.search.catalog import run_search
from tomo.marketplace.search.reader import StdlibSql
from tomo.runtime import open_runtime

TARGET = 0.25
COMMANDS = {
    "tomo --help": ["--help"],
    "tomo app search x": ["app", "search", "x"],
    "tomo app search x --json": ["app", "search", "x", "--json"],
    "tomo app search jellyfin": ["app", "search", "jellyfin"],
    "tomo job list": ["job", "list"],
}


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=60)  # fmt: skip
    return time.perf_counter() - started


def measure(data_dir: Path, repeat: int) -> dict[str, float]:
    env = {**os.environ, "TOMO_DATA_DIR": str(data_dir), "COLUMNS": "120"}
    tomo = [sys.executable, "-m", "tomo"]
    samples: dict[str, list[float]] = {"python -c pass": [], **{name: [] for name in COMMANDS}}
    for _ in range(repeat):  # interleaved: every round sees the same load
        samples["python -c pass"].append(timed([sys.executable, "-c", "pass"], env))
        for name, args in COMMANDS.items():
            samples[name].append(timed([*tomo, *args], env))
    return {name: statistics.median(values) for name, values in samples.items()}


def in_process(data_dir: Path, repeat: int) -> tuple[float, float]:
    """The search call itself on sqlite3, and the same search through the full
    runtime (opened fresh each time, as a command would)."""
    connection = sqlite3.connect(data_dir / "tomo.db")
    quick = []
    for _ in range(repeat):
        started = time.perf_counter()
        run_search(StdlibSql(connection), "sqlite", text="x")
        quick.append(time.perf_counter() - started)
    connection.close()

    async def full() -> float:
        started = time.perf_counter()
        async with open_runtime(Settings(data_dir=data_dir)) as runtime:
            await runtime.marketplace.search_apps("x")
        return time.perf_counter() - started

    full_times = [asyncio.run(full()) for _ in range(repeat)]
    return statistics.median(quick), statistics.median(full_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tomo-bench-cli-") as scratch:
        data_dir = Path(scratch) / "data"
        # The first command makes the database and the built-in catalog (as a new user's would).
        subprocess.run([sys.executable, "-m", "tomo", "--data-dir", str(data_dir), "repo", "list"],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        medians = measure(data_dir, args.repeat)
        quick, full = in_process(data_dir, max(3, args.repeat // 4))
    bare = medians.pop("python -c pass")
    start_up = f"{bare * 1000:.0f} ms"
    print(f"whole commands, median of {args.repeat}, minus bare Python start-up ({start_up})")
    verdicts = []
    for name, median in medians.items():
        extra = median - bare
        checked = name in ("tomo --help", "tomo app search x")
        verdict = ("met" if extra <= TARGET else "NOT met") if checked else ""
        if checked:
            verdicts.append(extra <= TARGET)
        print(
            f"  {name:<28} {median * 1000:6.0f} ms  = python + {extra * 1000:4.0f} ms"
            + (f"  (target ≤ {TARGET * 1000:.0f} ms: {verdict})" if checked else "")
        )
    print("in-process")
    print(f"  the search itself (sqlite3, `x` on the built-in catalog): {quick * 1000:6.1f} ms")
    print(
        f"  through the full runtime, opened fresh (what the quick path skips): "
        f"{full * 1000:6.0f} ms"
    )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
