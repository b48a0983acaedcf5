"""Multi-container install benchmark: a 3-service app with tomo vs the same by hand over ssh.

Run as root from the project root:  .venv/bin/python -m benchmarks.bench_multi_install

Uses bench_install's harness: one simulated server, a Docker engine of its own
(tests/dockerhost.py) behind a real sshd on loopback (tests/sshd.py), and a
registry on loopback with the busybox test images (tests/registry.py), pushed
through that same engine: the machine's own Docker engine is never used. The
image is removed from the server's engine before every attempt, so each
install really pulls. Prints ratios against the by-hand baseline measured in
the same run (see benchmarks/README.md).
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.registry import local_registry, push_test_images
from tests.services import free_port
from tests.sshd import SshUsers, prepare_users

from benchmarks.bench_install import (
    HandTimes,
    Host,
    bench_runtime,
    inspect_command,
    install_job,
    says,
    ssh_command,
    start_host,
    step_seconds,
    uninstall,
    with_tomo_cli,
)
from tomo.runtime import Runtime

TARGET = 1.5
# The simulated server's DockerHost number (its bridge tomobr<n>, 10.213.<n>.0/24):
# apart from bench_install's 0-9 and the tests' 200, so that they may run beside it.
HOST_NUMBER = 40
APP = "bench/trio"
# Each service as a person would start it by hand, in dependency order.
SERVICES = ("db", "api", "web")


def trio_definition(image: str) -> dict[str, Any]:
    """db, then api (once db has started), then web, the main service, whose port 80
    is published (tomo's own `services:` form, as in tests/deployment)."""
    return {
        "id": "trio", "name": "Trio", "version": "1.0.0", "author": "Bench",
        "description": "Three web services, each waiting for the one before it.",
        "main": "web",
        "services": {
            "db": {"image": image},
            "api": {"image": image, "depends_on": ["db"]},
            "web": {"image": image, "ports": [{"container": 80, "host": 8080}],
                    "depends_on": {"api": {"condition": "service_started"}}},
        },
    }  # fmt: skip


def by_hand(host: Host, users: SshUsers, image: str, name: str, port: int,
            stable: float) -> HandTimes:  # fmt: skip
    """Over ssh as a person would: pull, create a network, then each service with
    `docker run -d --network … --network-alias <service>` and `docker inspect` polled
    until it runs before the next one starts; then (like-for-like) look at all three
    again once the last one has been up for `stable` seconds."""
    ssh = ssh_command(host, users)
    containers = [f"{name}-{service}" for service in SERVICES]
    started = time.perf_counter()
    subprocess.run([*ssh, "docker", "pull", "-q", image], check=True, capture_output=True)
    subprocess.run([*ssh, "docker", "network", "create", name], check=True, capture_output=True)
    for service, container in zip(SERVICES, containers, strict=True):
        publish = ["-p", f"127.0.0.1:{port}:80"] if service == "web" else []
        subprocess.run([*ssh, "docker", "run", "-d", "--name", container, "--network", name,
                        "--network-alias", service, *publish, image],
                       check=True, capture_output=True)  # fmt: skip
        running_since = time.perf_counter()
        while not says([*ssh, inspect_command(container)]).startswith("running"):
            pass
    bare = time.perf_counter() - started
    time.sleep(max(0.0, stable - (time.perf_counter() - running_since)))
    states = says([*ssh, inspect_command(*containers)]).splitlines()
    if states != ["running 0"] * len(containers):
        raise SystemExit(f"{name}: the containers did not stay up: {states}")
    return HandTimes(bare, time.perf_counter() - started)


def remove_by_hand(host: Host, name: str) -> None:
    """The by-hand attempt's containers (with their anonymous volumes) and network."""
    host.engine.docker("rm", "-f", "-v", *(f"{name}-{service}" for service in SERVICES))
    host.engine.docker("network", "rm", name)


def leftovers(host: Host) -> list[str]:
    """Containers, networks and volumes still on the server's engine."""
    containers = host.engine.docker("ps", "-aq").stdout.split()
    networks = host.engine.docker("network", "ls", "-q", "--filter", "type=custom").stdout.split()
    volumes = host.engine.docker("volume", "ls", "-q").stdout.split()
    return [item.decode() for item in (*containers, *networks, *volumes)]


@contextmanager
def default_engine(host: Host) -> Iterator[None]:
    """`docker` in this process talks to the server's engine (for pushing the test
    images), never to the machine's own."""
    before = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = host.engine.docker_host
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST")
        else:
            os.environ["DOCKER_HOST"] = before


async def rounds(runtime: Runtime, host: Host, users: SshUsers, image: str, count: int,
                 verbose: bool) -> None:  # fmt: skip
    """By hand, the whole `tomo install` command, and the in-process install,
    alternating; everything they made is removed after each attempt."""
    stable = runtime.settings.install_stable_seconds
    hand: list[HandTimes] = []
    cli: list[float] = []
    in_process: list[float] = []
    steps: list[dict[str, float]] = []
    for n in range(count):
        host.forget_image(image)
        hand.append(await asyncio.to_thread(by_hand, host, users, image, f"hand-{n}",
                                            free_port(), stable))  # fmt: skip
        remove_by_hand(host, f"hand-{n}")
        host.forget_image(image)
        cli.append(await asyncio.to_thread(with_tomo_cli, runtime.settings.data_dir, "s0", APP,
                                           f"cli-{n}"))  # fmt: skip
        await uninstall(runtime, f"cli-{n}", "s0")
        host.forget_image(image)
        elapsed, view = await install_job(runtime, "s0", APP, f"tomo-{n}")
        in_process.append(elapsed)
        steps.append(step_seconds(view))
        await uninstall(runtime, f"tomo-{n}", "s0")
        host.engine.docker("volume", "prune", "-f")  # the image's anonymous /store volumes
        print(f"  round {n + 1}: by hand {hand[-1].bare:.2f} s (checked alike "
              f"{hand[-1].checked:.2f} s), tomo install command {cli[-1]:.2f} s, "
              f"in-process {in_process[-1]:.2f} s")  # fmt: skip
        if verbose:
            print(
                "    in-process steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps[-1].items())
            )
    left = leftovers(host)
    if left:
        raise SystemExit(f"left on the server after the rounds: {left}")
    report(hand, cli, in_process, steps, stable)


def report(hand: list[HandTimes], cli: list[float], in_process: list[float],
           steps: list[dict[str, float]], stable: float) -> None:  # fmt: skip
    bare = statistics.median(h.bare for h in hand)
    checked = statistics.median(h.checked for h in hand)
    whole, service = statistics.median(cli), statistics.median(in_process)
    count = len(hand)
    print(f"\ninstall of a 3-service app (db → api → web) from the local registry "
          f"(median of {count}, each pull real)")  # fmt: skip
    print(f"  by hand: pull, network create, 3 × (docker run -d, poll until running): "
          f"{bare:6.2f} s")  # fmt: skip
    print(f"  by hand, checked as tomo checks (all three still up, never restarted, "
          f"{stable:g} s after the last started): {checked:6.2f} s")  # fmt: skip
    print(f"  tomo install, the whole CLI command (start-up, login, all): {whole:6.2f} s")
    print(f"  tomo install in-process (install_app + run_job):            {service:6.2f} s")
    names = list(dict.fromkeys(name for job in steps for name in job))
    medians = {name: statistics.median(job.get(name, 0.0) for job in steps) for name in names}
    print("    steps (median): " + ", ".join(f"{k} {v:.2f} s" for k, v in medians.items()))
    for label, value in (("whole command", whole), ("in-process", service)):
        ratio = value / checked
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"  {label} / by hand checked alike = {ratio:.2f}  (target ≤ {TARGET}: {verdict})")
    print(f"  whole command / by hand unchecked = {whole / bare:.2f}; with tomo's {stable:g} s "
          f"window taken off: {(whole - stable) / bare:.2f}")  # fmt: skip
    print(f"  in-process / by hand unchecked = {service / bare:.2f}; with the window taken "
          f"off: {(service - stable) / bare:.2f}")  # fmt: skip


async def main_async(args: argparse.Namespace) -> int:
    users = prepare_users()
    work = Path(tempfile.mkdtemp(prefix="tomo-bench-multi-"))
    host: Host | None = None
    try:
        host = start_host(users, HOST_NUMBER)
        with local_registry() as registry:
            with default_engine(host):
                image = push_test_images(registry).web_v1
            async with bench_runtime(work, trio_definition(image), [host], users) as runtime:
                await rounds(runtime, host, users, image, args.rounds, args.verbose)
    finally:
        if host is not None:
            host.remove()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(users.root, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="attempts of each way")
    parser.add_argument("--verbose", action="store_true", help="print each install's step times")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
