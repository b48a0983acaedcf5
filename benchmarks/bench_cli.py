"""What a person at the keyboard waits for: whole `tomo` commands, start-up included.

Each command runs as a fresh process (as typed in a shell), `--repeat` times,
interleaved with `python -c pass` so that both see the same machine load; the
figure is the median of each minus the median of bare Python start-up, and the
median of each over bare Python's (the ratio). Target: every command within
0.25 s of bare Python. Beside each, the heavy stacks it loads (one run under
`python -X importtime`). The in-process cost of the search itself is printed
too, and so is what the same search costs through the full runtime (settings,
SQLAlchemy, migrations check).

The data directory is a new user's: the built-in catalog, no server, no
installation, no job. So `tomo ps` has nothing to ask a server about, which is
the case measured: with installations, ps asks each server's Docker for their
status over SSH (up to TOMO_SSH_STATUS_TIMEOUT), which is not start-up.

Python's compiled bytecode is kept between runs (in the scratch directory, by
PYTHONPYCACHEPREFIX), as it is for an installed tomo, even where the
environment says PYTHONDONTWRITEBYTECODE; `--as-environment` leaves that to the
environment (with PYTHONDONTWRITEBYTECODE=1 and no cache, each start compiles
every module of tomo it imports again). Every command runs once before the
timed rounds.

    .venv/bin/python -m benchmarks.bench_cli [--repeat 20] [--as-environment]
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
import threading
import time
from pathlib import Path

from benchmarks.common import as_installed
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
    "tomo app show jellyfin": ["app", "show", "jellyfin"],
    "tomo app show jellyfin --json": ["app", "show", "jellyfin", "--json"],
    "tomo repo list": ["repo", "list"],
    "tomo repo list --json": ["repo", "list", "--json"],
    "tomo server list": ["server", "list"],
    "tomo server list --json": ["server", "list", "--json"],
    "tomo ps": ["ps"],
    "tomo ps --json": ["ps", "--json"],
    "tomo job list": ["job", "list"],
    "tomo job list --json": ["job", "list", "--json"],
}
# What costs a command tens of milliseconds or more to import (top-level packages).
HEAVY = ("pydantic", "pydantic_settings", "rich", "sqlalchemy", "aiosqlite", "alembic",
         "asyncssh", "fastapi", "cryptography", "argon2", "yaml")  # fmt: skip


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit. A blocking wait: a wait with a timeout polls, with
    sleeps of up to 50 ms that would round every figure up to a step of them."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        code = process.wait()
    finally:
        watchdog.cancel()
    elapsed = time.perf_counter() - started
    if code != 0:
        raise subprocess.CalledProcessError(code, argv)
    return elapsed


def environment(data_dir: Path, bytecode: Path | None) -> dict[str, str]:
    env = {**os.environ, "TOMO_DATA_DIR": str(data_dir), "COLUMNS": "120"}
    return env if bytecode is None else as_installed(bytecode, env)


def measure(env: dict[str, str], repeat: int) -> dict[str, float]:
    tomo = [sys.executable, "-m", "tomo"]
    for args in COMMANDS.values():  # a first run (bytecode written, files read once)
        timed([*tomo, *args], env)
    samples: dict[str, list[float]] = {"python -c pass": [], **{name: [] for name in COMMANDS}}
    for _ in range(repeat):  # interleaved: every round sees the same load
        samples["python -c pass"].append(timed([sys.executable, "-c", "pass"], env))
        for name, args in COMMANDS.items():
            samples[name].append(timed([*tomo, *args], env))
    return {name: statistics.median(values) for name, values in samples.items()}


def heavy_imports(env: dict[str, str], args: list[str]) -> list[str]:
    """The heavy top-level packages one run of the command imports."""
    argv = [sys.executable, "-X", "importtime", "-m", "tomo", *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=60)
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if name in loaded]


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
    parser.add_argument(
        "--as-environment", action="store_true", help="Leave bytecode caching to the environment."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tomo-bench-cli-") as scratch:
        data_dir = Path(scratch) / "data"
        bytecode = None if args.as_environment else Path(scratch) / "bytecode"
        env = environment(data_dir, bytecode)
        # The first command makes the database and the built-in catalog (as a new user's would).
        subprocess.run([sys.executable, "-m", "tomo", "repo", "list"], env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        medians = measure(env, args.repeat)
        loads = {name: heavy_imports(env, argv) for name, argv in COMMANDS.items()}
        quick, full = in_process(data_dir, max(3, args.repeat // 4))
    bare = medians.pop("python -c pass")
    as_set = f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')}"
    cached = "kept between runs" if bytecode else f"as the environment says ({as_set})"
    print(f"whole commands, median of {args.repeat}, against bare Python start-up "
          f"({bare * 1000:.0f} ms); target: within {TARGET * 1000:.0f} ms of it; "
          f"bytecode {cached}")  # fmt: skip
    print(f"  {'command':<30} {'median':>7}  {'over python':>11}  {'ratio':>5}  target  loads")
    verdicts = []
    for name, median in medians.items():
        extra = median - bare
        verdicts.append(extra <= TARGET)
        print(
            f"  {name:<30} {median * 1000:4.0f} ms  {extra:+8.3f} s  {median / bare:5.1f}  "
            f"{'met' if extra <= TARGET else 'NOT met':<6}  {', '.join(loads[name]) or '-'}"
        )
    print("in-process")
    print(f"  the search itself (sqlite3, `x` on the built-in catalog): {quick * 1000:6.1f} ms")
    print(
        f"  through the full runtime, opened fresh (what the quick paths skip): "
        f"{full * 1000:6.0f} ms"
    )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
