"""Swarm benchmark (issue 24): a 3-service app installed on a single-node Swarm by
tomo vs `docker stack deploy` of the same compose file by hand plus waiting for
every task to run; and the status of many installations on a Swarm, read in one
round trip per manager.

Run as root from the project root:
    .venv/bin/python -m benchmarks.bench_swarm [--repeat 5] [--installations 50]

Uses the test harness: a Docker engine in a network namespace of its own, the
manager of its own Swarm (tests/swarmhost.py), a real sshd in front of it, and the
busybox test image from a registry on loopback. Every figure is measured in the same
run, alternating tomo and the baseline:

- by hand: `ssh manager mkdir -p <data folder> && docker stack deploy -c - <stack>`
  with the compose file on stdin (the same three services, overlay network, host-mode
  port, DNS round robin, data folder, placement and dependency order as tomo's), then
  `ssh manager docker stack services` polled until every service runs 1/1.
- tomo in process: the install job (`DeploymentService.install_app` + `run_job`).
- tomo's whole command: `python -m tomo install …` as a subprocess (start-up included).
- status: `tomo ps`'s refresh of N installations (`refresh_all`), its SSH commands
  counted, beside one `ssh manager docker service ls` by hand.

tomo's stable window is set to 0 here: the baseline waits until the tasks run, no
longer, and so does tomo then. Target: install at most 1.5 times the baseline.
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages, local_registry, push_test_images
from tests.services import docker_daemon, free_port
from tests.sshd import Sshd, SshUsers, prepare_users
from tests.swarmhost import SwarmHost

from benchmarks.common import table
from tomo.config import Settings
from tomo.deployment.spec import InstallConfig, PortOverride
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime, open_runtime
from tomo.servers.schemas import ServerCreate

NETNS_NUMBER = 90  # tests/swarmhost.py: apart from the test workers' (0-3)


def trio(images: TestImages) -> dict[str, Any]:
    """Three services: a web front with data and a port, an api it waits for, a cache."""
    return {
        "main": "web",
        "services": {
            "web": {"image": images.web_v1, "ports": [{"container": 80, "host": 8080}],
                    "volumes": [{"host_path": "./data", "container_path": "/data"}],
                    "depends_on": {"api": {"condition": "service_started"}}},
            "api": {"image": images.web_v1},
            "cache": {"image": images.web_v1},
        },
    }  # fmt: skip


def compose_of(images: TestImages, data_dir: str, port: int, node_id: str) -> str:
    """The same app as a stack file, written as a person would for `docker stack deploy`."""

    def service(**more: Any) -> dict[str, Any]:
        return {"image": images.web_v1, "networks": ["app"],
                "deploy": {"endpoint_mode": "dnsrr"}, **more}  # fmt: skip

    web = service(ports=[{"target": 80, "published": port, "mode": "host"}],
                  volumes=[f"{data_dir}:/data"], depends_on=["api"])  # fmt: skip
    web["deploy"]["placement"] = {"constraints": [f"node.id=={node_id}"]}
    stack = {"version": "3.8", "services": {"web": web, "api": service(), "cache": service()},
             "networks": {"app": {"driver": "overlay"}}}  # fmt: skip
    return yaml.safe_dump(stack)


def ssh_command(sshd: Sshd, users: SshUsers) -> list[str]:
    known = users.root / f"known-{sshd.port}"
    known.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{sshd.host_key}.pub').read_text()}")
    return ["ssh", "-q", "-F", "/dev/null", "-p", str(sshd.port), "-i", str(users.key),
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known}",
            f"{users.user}@127.0.0.1"]  # fmt: skip


def by_hand(ssh: list[str], compose: str, stack: str, data_dir: str) -> float:
    started = time.perf_counter()
    deployed = subprocess.run([*ssh, f"mkdir -p {data_dir} && docker stack deploy -c - {stack}"],
                              input=compose, text=True, capture_output=True)  # fmt: skip
    if deployed.returncode != 0:
        raise SystemExit(f"docker stack deploy {stack} failed: {deployed.stderr}")
    listing = [*ssh, f"docker stack services --format '{{{{.Replicas}}}}' {stack}"]
    deadline = time.monotonic() + 120
    while True:
        replicas = subprocess.run(listing, check=True, capture_output=True, text=True).stdout
        if replicas.split() == ["1/1"] * 3:
            return time.perf_counter() - started
        if time.monotonic() > deadline:
            raise SystemExit(f"{stack}: not running within 120 s ({replicas.split()})")


def remove_stack(ssh: list[str], host: SwarmHost, stack: str) -> None:
    subprocess.run([*ssh, f"docker stack rm {stack}"], check=True, capture_output=True)
    host.clear()


async def with_tomo(runtime: Runtime, app: str, name: str) -> float:
    started = time.perf_counter()
    begun = await runtime.deployment.install_app(
        "cluster", app, InstallConfig(name=name, ports=[PortOverride(container=80,
                                                                     host=free_port())]),
    )  # fmt: skip
    view = await runtime.deployment.run_job(begun.job_id)
    elapsed = time.perf_counter() - started
    if view.status != "done":
        raise SystemExit(f"tomo's install of {name} failed: {view.error}")
    return elapsed


def with_tomo_cli(data_dir: Path, app: str, name: str) -> float:
    env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "TOMO_INSTALL_STABLE_SECONDS": "0"}
    argv = [sys.executable, "-m", "tomo", "--data-dir", str(data_dir), "install", app,
            "--server", "cluster", "--name", name, "--port", f"{free_port()}:80",
            "--json"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise SystemExit(f"tomo install {name} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - started


async def uninstall(runtime: Runtime, name: str) -> None:
    prepared = await runtime.deployment.prepare_uninstall(name, remove_data=True)
    await prepared.run()


@asynccontextmanager
async def swarm_runtime(
    data_dir: Path, sshd: Sshd, users: SshUsers, data_root: Path, repo: CatalogRepo
) -> AsyncIterator[Runtime]:
    settings = Settings(data_dir=data_dir, builtin_catalog=False, sync_interval=0,
                        install_stable_seconds=0, install_wait_timeout=120)  # fmt: skip
    async with open_runtime(settings) as runtime:
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="test"))
        report = await runtime.marketplace.sync_repo("test")
        if report.errors:
            raise SystemExit(f"the catalog did not load: {report.errors}")
        await runtime.servers.add_server(ServerCreate(
            name="cluster", host="127.0.0.1", port=sshd.port, username=users.user,
            private_key=SecretStr(users.key.read_text()), fingerprint=sshd.fingerprint,
            data_root=str(data_root)))  # fmt: skip
        yield runtime


def service_ls_by_hand(ssh: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*ssh, "docker service ls"], check=True, capture_output=True)
    return time.perf_counter() - started


async def status_round_trips(runtime: Runtime, ssh: list[str], count: int) -> list[list[str]]:
    """`count` one-service installations; `tomo ps`'s refresh of them, its SSH commands
    counted, beside one `docker service ls` by hand (median of 5 each)."""
    for index in range(count):
        await with_tomo(runtime, "test/one", f"one-{index}")
    ssh_service = runtime.servers.ssh
    calls: list[int] = []
    original = ssh_service.run

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(*args, **kwargs)

    tomo_times, hand_times = [], []
    ssh_service.run = counted  # type: ignore[method-assign]
    try:
        for _ in range(5):
            calls.clear()
            started = time.perf_counter()
            await runtime.deployment.list_with_status("cluster")
            tomo_times.append(time.perf_counter() - started)
            hand_times.append(service_ls_by_hand(ssh))
    finally:
        ssh_service.run = original  # type: ignore[method-assign]
    listed = await runtime.deployment.list_installations()
    running = sum(1 for i in listed if i.status == "running")
    tomo, hand = statistics.median(tomo_times), statistics.median(hand_times)
    return [[f"status of {count} installations (tomo ps's refresh)", f"{tomo:.3f} s",
             f"{hand:.3f} s", f"{tomo / hand:.2f}×",
             f"{len(calls)} SSH command(s); {running}/{count} running"]]  # fmt: skip


async def main(repeat: int, installations: int) -> None:
    with docker_daemon(), local_registry() as registry:
        images = push_test_images(registry)
        host = SwarmHost(NETNS_NUMBER).start(registry)
        users = prepare_users()
        sshd = Sshd(users, "bench-swarm", extra_config=host.sshd_config()).start()
        work = Path(tempfile.mkdtemp(prefix="tomo-bench-swarm-"))
        work.chmod(0o755)  # the SSH user reaches the data root inside it
        data_root = work / "apps"
        data_root.mkdir()
        shutil.chown(data_root, user=users.user)
        try:
            await run_rounds(host, sshd, users, images, work, data_root, repeat, installations)
        finally:
            sshd.stop()
            host.remove()
            shutil.rmtree(work, ignore_errors=True)


async def run_rounds(
    host: SwarmHost, sshd: Sshd, users: SshUsers, images: TestImages, work: Path,
    data_root: Path, repeat: int, installations: int,
) -> None:  # fmt: skip
    repo = CatalogRepo.create(work / "catalog")
    three = app_definition("trio", **trio(images))
    del three["docker"]  # the services' form
    repo.write("apps/tools/trio.yaml", yaml.safe_dump(three))
    one = {"image": images.web_v1, "ports": [{"container": 80, "host": 8080}]}
    repo.write("apps/tools/one.yaml", yaml.safe_dump(app_definition("one", docker=one)))
    repo.commit()
    ssh = ssh_command(sshd, users)
    hand, tomo, cli = [], [], []
    async with swarm_runtime(work / "data", sshd, users, data_root, repo) as runtime:
        for round_ in range(repeat):
            stack = f"hand{round_}"
            folder = str(data_root / stack / "data")
            compose = compose_of(images, folder, free_port(), host.node_id)
            hand.append(by_hand(ssh, compose, stack, folder))
            remove_stack(ssh, host, stack)
            tomo.append(await with_tomo(runtime, "test/trio", f"trio{round_}"))
            await uninstall(runtime, f"trio{round_}")
            cli.append(with_tomo_cli(work / "data", "test/trio", f"cli{round_}"))
            await uninstall(runtime, f"cli{round_}")
            print(f"round {round_ + 1}: by hand {hand[-1]:.2f} s, tomo {tomo[-1]:.2f} s, "
                  f"command {cli[-1]:.2f} s", flush=True)  # fmt: skip
        status = await status_round_trips(runtime, ssh, installations) if installations else []
    base = statistics.median(hand)
    rows = [["3-service app: stack deploy by hand + wait", f"{base:.2f} s", "", "1.00×",
             f"range {min(hand):.2f}–{max(hand):.2f}"]]  # fmt: skip
    for label, times in (("tomo install, in process", tomo), ("tomo install, the command", cli)):
        value = statistics.median(times)
        rows.append([label, f"{value:.2f} s", f"{base:.2f} s", f"{value / base:.2f}×",
                     f"range {min(times):.2f}–{max(times):.2f}"])  # fmt: skip
    print(table(rows + status, ["figure", "median", "baseline", "ratio", "notes"]))
    print("target (issue 24): install ≤ 1.5× the baseline; status in 1 SSH command per manager")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--installations", type=int, default=50)
    return parser.parse_args()


if __name__ == "__main__":
    if os.geteuid() != 0:
        raise SystemExit("run as root: it starts a Docker engine, a registry and an sshd")
    arguments = parse()
    asyncio.run(main(arguments.repeat, arguments.installations))
