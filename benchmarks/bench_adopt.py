"""Adoption benchmark: `tomo adopt` of 50 containers vs one `docker inspect` of all of them.

Run as root from the project root:  .venv/bin/python -m benchmarks.bench_adopt [--containers 50]

The issue's target: adopting 50 containers on one server takes at most twice one
`docker inspect` of all of them by hand. Uses the install benchmark's set-up
(benchmarks/bench_install.py): a real sshd in front of a Docker engine of its
own, on loopback. Each round makes fresh containers by hand (`docker run`), then
times, alternately:

* by hand: `ssh server docker container inspect c1 … c50` with OpenSSH, as a
  person reads what they would have to record (the baseline);
* tomo in process: DeploymentService.adopt of the 50, as the API runs it;
* the whole `tomo adopt SERVER c1 … c50 --json` command: start-up, SSH login,
  the catalog commit and sync, all.

Prints medians and the ratios against the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.gitrepo import app_definition
from tests.registry import local_registry, push_test_images
from tests.services import docker_daemon
from tests.sshd import SshUsers, prepare_users

import tomo
from benchmarks.bench_install import Host, bench_runtime, ssh_command, start_host
from benchmarks.common import as_installed
from tomo.deployment.schemas import AdoptRequest
from tomo.runtime import Runtime

TARGET = 2.0


def make_containers(host: Host, image: str, count: int) -> list[str]:
    names = [f"adopt-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for name in names:
        host.engine.docker("run", "-d", "--name", name, "-e", "GREETING=hello",
                           "-e", "API_TOKEN=not-so-secret", image)  # fmt: skip
    return names


def by_hand(host: Host, users: SshUsers, names: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*ssh_command(host, users), "docker", "container", "inspect", *names],
                   check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - started


async def in_process(runtime: Runtime, names: list[str], profile: bool) -> float:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    adopted = await runtime.deployment.adopt("s0", [AdoptRequest(container=n) for n in names])
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    if sorted(a.installation.name for a in adopted) != sorted(names):
        raise SystemExit("tomo did not adopt every container")
    return elapsed


def with_cli(data_dir: Path, names: list[str]) -> float:
    argv = [sys.executable, "-m", "tomo", "--data-dir", str(data_dir), "adopt", "s0", *names,
            "--json"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(argv, env=cli_env(), check=True, capture_output=True, timeout=300)
    return time.perf_counter() - started


def cli_env() -> dict[str, str]:
    """As an installed tomo's command runs: bytecode beside the sources (Python's and
    pip's compiled files used, tomo's compiled once beforehand)."""
    return {**as_installed(), "TOMO_BUILTIN_CATALOG": "false"}


def compile_once() -> None:
    """tomo's modules compiled beforehand, as pip compiles an installed package's."""
    compileall = [sys.executable, "-m", "compileall", "-q", *tomo.__path__]
    subprocess.run(compileall, env=cli_env(), check=True, capture_output=True, timeout=300)


async def main_async(args: argparse.Namespace) -> int:
    users = prepare_users()
    work = Path(tempfile.mkdtemp(prefix="tomo-bench-adopt-"))
    host: Host | None = None
    try:
        with docker_daemon(), local_registry() as registry:
            image = push_test_images(registry).web_v1
            host = start_host(users, 0)
            host.engine.docker("pull", "-q", image)
            definition = app_definition("web", docker={"image": image})
            async with bench_runtime(work, definition, [host], users) as runtime:
                hand, tomo, cli = [], [], []
                compile_once()
                for _ in range(args.repeat):
                    names = make_containers(host, image, args.containers)
                    hand.append(by_hand(host, users, names))
                    tomo.append(await in_process(runtime, names, args.profile))
                    names = make_containers(host, image, args.containers)
                    hand.append(by_hand(host, users, names))
                    cli.append(with_cli(runtime.settings.data_dir, names))
                report(args.containers, hand, tomo, cli)
    finally:
        if host is not None:
            host.remove()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(count: int, hand: list[float], tomo: list[float], cli: list[float]) -> None:
    baseline = statistics.median(hand)
    print(f"adopting {count} containers on one server, medians of {len(tomo)} rounds")
    print(f"  by hand: one `ssh … docker container inspect` of all {count}: {baseline:.3f} s")
    for label, times in (("tomo, in process", tomo), ("the whole `tomo adopt` command", cli)):
        median = statistics.median(times)
        ratio = median / baseline
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"  {label}: {median:.3f} s = {ratio:.2f}x by hand (target <= {TARGET}: {verdict})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile tomo in process")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
