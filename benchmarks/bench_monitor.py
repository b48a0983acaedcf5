"""Health monitor benchmark: one pass over 100 installations on 10 servers, and what
`tomo serve` costs in CPU while it watches them.

Run as root from the project root:  .venv/bin/python -m benchmarks.bench_monitor

The issue's targets: a health pass over 100 installations on 10 servers takes at
most 1.5x one `docker ps` round trip per server done in parallel, measured in the
same run; `tomo serve` watching 100 installations every 60 s uses under 1 % of one
core on average.

Set-up: 10 real sshd instances on loopback ports (tests/sshd.py), all in front of
this machine's one Docker engine, added to tomo as servers m0…m9; 100 small real
containers (the test image's busybox httpd, no port published) made with `docker
run`, ten per server, and adopted by tomo (real installations, one container each).
Everything made is removed at the end.

* The pass: `HealthMonitor.run_pass()` in process, after a first pass that takes note
  (as in `tomo serve`, whose SSH connections stay open between passes). It is timed
  alternately with the baseline: `docker ps` on the 10 servers at once
  (`asyncio.gather`) through the same pooled SSH layer. A third figure is the same
  10 round trips with fresh OpenSSH processes (connect and log in included). The
  pass's two halves are timed on their own too: its health probe (one `docker
  container inspect` a server) and the resource figures read beside it (one `docker
  stats --no-stream` a server, monitor/stats.py), and the pass with the latter
  replaced by a no-op. All 10 servers share one engine here, so each `docker stats`
  reads all 100 containers, where a real server's would read its own 10.
* CPU: a real `tomo serve` on the same data with TOMO_MONITOR_INTERVAL short (5 s),
  its utime+stime read from /proc/<pid>/stat over a window; then the same serve
  without the monitor (TOMO_MONITOR_INTERVAL=0) for its idle cost. The cost of one
  pass = (CPU with the monitor - idle CPU over the same time) / passes made; at the
  60 s interval: idle share + one pass per 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

from pydantic import SecretStr
from tests.registry import local_registry, push_test_images
from tests.services import docker_daemon, free_port, wait_until_serving
from tests.sshd import Sshd, SshUsers, prepare_users

from benchmarks.bench_ssh import fresh_ssh_argv
from tomo.config import Settings
from tomo.deployment.schemas import AdoptRequest
from tomo.monitor.monitor import HealthMonitor
from tomo.monitor.probe import inspect_all
from tomo.monitor.stats import read_stats
from tomo.runtime import Runtime, open_runtime
from tomo.servers.schemas import ServerCreate

TARGET_RATIO = 1.5
TARGET_CPU = 1.0  # % of one core at the 60 s interval
LABEL = f"tomo.bench=monitor-{uuid.uuid4().hex[:8]}"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Fleet:
    """The servers' sshd instances and the containers made for them."""

    servers: list[Sshd]
    containers: dict[str, list[str]]  # server name -> its containers

    def remove(self) -> None:
        listing = ["docker", "ps", "-aq", "--filter", f"label={LABEL}"]
        ids = subprocess.run(listing, capture_output=True, text=True, check=False).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)
        for sshd in self.servers:
            sshd.stop()


def make_containers(image: str, servers: int, per_server: int) -> dict[str, list[str]]:
    """`docker run -d` of each container, four at a time."""
    run = uuid.uuid4().hex[:6]
    made = {f"m{s}": [f"mon-{run}-{s}-{n}" for n in range(per_server)] for s in range(servers)}
    argvs = [["docker", "run", "-d", "--name", name, "--label", LABEL, "--restart", "no", image]
             for names in made.values() for name in names]  # fmt: skip

    async def all_of_them() -> None:
        gate = asyncio.Semaphore(4)

        async def one(argv: list[str]) -> None:
            async with gate:
                await asyncio.to_thread(subprocess.run, argv, check=True, capture_output=True)

        await asyncio.gather(*(one(argv) for argv in argvs))

    asyncio.run(all_of_them())
    return made


@asynccontextmanager
async def bench_runtime(work: Path, fleet: Fleet, users: SshUsers) -> AsyncIterator[Runtime]:
    """tomo with each sshd as a server m<n>, and each server's containers adopted."""
    settings = Settings(data_dir=work / "data", builtin_catalog=False, sync_interval=0)
    async with open_runtime(settings) as runtime:
        for number, sshd in enumerate(fleet.servers):
            data_root = work / f"apps-{number}"
            data_root.mkdir()
            shutil.chown(data_root, user=users.user)
            await runtime.servers.add_server(ServerCreate(
                name=f"m{number}", host="127.0.0.1", port=sshd.port, username=users.user,
                private_key=SecretStr(users.key.read_text()), fingerprint=sshd.fingerprint,
                data_root=str(data_root),
            ))  # fmt: skip
        for server, names in fleet.containers.items():
            await runtime.deployment.adopt(server, [AdoptRequest(container=n) for n in names])
        yield runtime


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def compare_pass(runtime: Runtime, fleet: Fleet, users: SshUsers,
                       repeat: int) -> dict[str, list[float]]:  # fmt: skip
    """The pass, `docker ps` everywhere through tomo's SSH layer, and through fresh
    OpenSSH processes: each `repeat` times, alternately."""
    monitor = HealthMonitor(runtime.deployment, runtime.events, interval=0, time_limit=30)
    dockers = [await runtime.deployment.ctx.docker(server) for server in fleet.containers]
    argvs = [[*fresh_ssh_argv(sshd, users, users.root / f"known-monitor-{sshd.port}"), "docker",
              "ps"] for sshd in fleet.servers]  # fmt: skip

    async def ps_pooled() -> None:
        await asyncio.gather(*(d.ssh.run_docker(d.target, ["ps"]) for d in dockers))

    async def ps_fresh() -> None:
        await asyncio.gather(*(_process(argv) for argv in argvs))

    # The pass's two halves on their own: its health probe, and the resource figures
    # read beside it (monitor/stats.py).
    async def health_part() -> None:
        pairs = zip(dockers, fleet.containers.values(), strict=True)
        await asyncio.gather(*(inspect_all(docker, names) for docker, names in pairs))

    async def stats_part() -> None:
        await asyncio.gather(*(read_stats(d) for d in dockers))

    async def stats_of_one() -> None:  # what one `docker stats` costs, no other beside it
        await read_stats(dockers[0])

    async def pass_without_stats() -> None:  # the pass as it was before stats.py
        with patch("tomo.monitor.monitor.measure_server", _not_measured):
            await monitor.run_pass()

    await monitor.run_pass()  # takes note (and opens the connections), as serve's first
    await ps_pooled()
    rounds = {"pooled": ps_pooled, "pass": monitor.run_pass, "fresh": ps_fresh,
              "health": health_part, "stats": stats_part, "stats_one": stats_of_one,
              "no_stats": pass_without_stats}  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in rounds}
    for _ in range(repeat):
        for name, action in rounds.items():
            times[name].append(await timed(action))
            # What a pass began reading beside it ends long before the next pass at
            # serve's interval: it must not weigh on the next round here either.
            await monitor.figures_read()
    watched = await runtime.deployment.list_installations()
    if len(watched) != sum(len(names) for names in fleet.containers.values()):
        raise SystemExit("tomo does not have every container as an installation")
    return times


async def _not_measured(*_: object) -> bool:
    return False


async def _process(argv: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    if await process.wait() != 0:
        raise SystemExit(f"{argv} failed")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def serve_cpu(data_dir: Path, interval: float, window: float) -> float:
    """CPU seconds a real `tomo serve` on `data_dir` spends over `window` seconds,
    from one interval after it answers (its first pass)."""
    env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "TOMO_SYNC_INTERVAL": "0",
           "TOMO_MONITOR_INTERVAL": f"{interval:g}"}  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tomo", "--data-dir", str(data_dir), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server)
        time.sleep(interval + 2 if interval else 2)  # start-up and the first pass are done
        before = cpu_seconds(server.pid)
        time.sleep(window)
        return cpu_seconds(server.pid) - before
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass(frozen=True)
class CpuFigures:
    watching: float  # CPU seconds over the window, monitor every `interval` s
    idle: float  # CPU seconds over the same window, monitor off
    window: float
    interval: float

    @property
    def per_pass(self) -> float:
        return max(0.0, self.watching - self.idle) / (self.window / self.interval)

    @property
    def at_60s(self) -> float:
        """% of one core at the 60 s interval: idle share plus one pass a minute."""
        return 100 * (self.idle / self.window + self.per_pass / 60)


def report(count: int, servers: int, times: dict[str, list[float]], cpu: CpuFigures) -> int:
    passed, pooled, fresh = (statistics.median(times[k]) for k in ("pass", "pooled", "fresh"))
    ratio = passed / pooled
    print(f"a health pass over {count} installations on {servers} servers "
          f"(medians of {len(times['pass'])} rounds)")  # fmt: skip
    print(f"  `docker ps` on every server at once, tomo's pooled SSH: {pooled * 1000:8.1f} ms")
    print(f"  the same with fresh `ssh` processes:                 {fresh * 1000:8.1f} ms")
    print(f"  HealthMonitor.run_pass():                            {passed * 1000:8.1f} ms")
    health, stats, one, bare = (statistics.median(times[k])
                                for k in ("health", "stats", "stats_one", "no_stats"))  # fmt: skip
    print(f"    its health probe alone (`docker container inspect`): {health * 1000:8.1f} ms")
    print(f"    its resource figures alone (`docker stats`):         {stats * 1000:8.1f} ms")
    print(f"    (`docker stats` of one server, none beside it:      {one * 1000:8.1f} ms)")
    print(f"  the pass without the resource figures:               {bare * 1000:8.1f} ms "
          f"= {bare / pooled:.2f}x pooled docker ps")  # fmt: skip
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"  pass / pooled docker ps = {ratio:.2f}x (target <= {TARGET_RATIO}: {verdict}); "
          f"pass / fresh ssh = {passed / fresh:.2f}x")  # fmt: skip
    print(f"\n`tomo serve` watching them: CPU over {cpu.window:g} s, from /proc/<pid>/stat")
    print(f"  monitor every {cpu.interval:g} s: {cpu.watching:.2f} s; "
          f"monitor off: {cpu.idle:.2f} s")  # fmt: skip
    print(f"  one pass: {cpu.per_pass * 1000:.0f} ms of CPU")
    cpu_verdict = "met" if cpu.at_60s < TARGET_CPU else "NOT met"
    print(f"  at the 60 s interval: {cpu.at_60s:.2f} % of one core "
          f"(target < {TARGET_CPU:g} %: {cpu_verdict})")  # fmt: skip
    return 0


async def measure_passes(work: Path, fleet: Fleet, users: SshUsers,
                         repeat: int) -> dict[str, list[float]]:  # fmt: skip
    async with bench_runtime(work, fleet, users) as runtime:
        return await compare_pass(runtime, fleet, users, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--per-server", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--interval", type=float, default=5.0, help="serve's, for the CPU")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of CPU measured")
    args = parser.parse_args(argv)
    users = prepare_users()
    work = Path(tempfile.mkdtemp(prefix="tomo-bench-monitor-"))
    fleet = Fleet([], {})
    try:
        with docker_daemon(), local_registry() as registry:
            image = push_test_images(registry).web_v1
            fleet.servers = [Sshd(users, f"monitor-{n}").start() for n in range(args.servers)]
            fleet.containers = make_containers(image, args.servers, args.per_server)
            times = asyncio.run(measure_passes(work, fleet, users, args.repeat))
            watching = serve_cpu(work / "data", args.interval, args.window)
            idle = serve_cpu(work / "data", 0, args.window)
            cpu = CpuFigures(watching, idle, args.window, args.interval)
            return report(args.servers * args.per_server, args.servers, times, cpu)
    finally:
        fleet.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
