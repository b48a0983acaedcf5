"""Install benchmark: tomo vs the same by hand; ten servers at once vs one.

Run as root from the project root:  .venv/bin/python -m benchmarks.bench_install

Uses the test harness (tests/sshd.py, tests/registry.py): real sshd instances
on loopback, the running Docker engine (started if needed) and a registry on
loopback with a small busybox image. Every pull is real: the image is removed
from the engine before each attempt. Prints ratios against baselines measured
in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from pydantic import SecretStr
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import local_registry, push_test_images
from tests.services import docker_daemon, free_port
from tests.sshd import Sshd, SshUsers, prepare_users

from tomo.config import Settings
from tomo.deployment.spec import InstallConfig, PortOverride
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime, open_runtime
from tomo.servers.schemas import ServerCreate

VERBOSE = False


def docker(*args: str) -> None:
    subprocess.run(["docker", *args], capture_output=True, check=False)


def by_hand(sshd: Sshd, users: SshUsers, image: str, name: str, port: int) -> float:
    """`ssh host docker pull` then `ssh host docker run -d`, as a person would."""
    known = users.root / f"known-{sshd.port}"
    known.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{sshd.host_key}.pub').read_text()}")
    ssh = ["ssh", "-q", "-F", "/dev/null", "-p", str(sshd.port), "-i", str(users.key),
           "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known}",
           f"{users.user}@127.0.0.1"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run([*ssh, "docker", "pull", "-q", image], check=True, capture_output=True)
    subprocess.run([*ssh, "docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80",
                    image], check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - started


async def with_tomo(runtime: Runtime, server: str, app: str, name: str) -> float:
    started = time.perf_counter()
    config = InstallConfig(name=name, ports=[PortOverride(host=free_port(), container=80)])
    install = await runtime.deployment.install_app(server, app, config)
    view = await runtime.deployment.run_job(install.job_id)
    elapsed = time.perf_counter() - started
    if view.status != "done":
        raise SystemExit(f"install failed: {view.error}")
    if VERBOSE:
        print("   ", ", ".join(f"{s.name} {(s.ended_at - s.started_at).total_seconds():.2f}s"
                                for s in view.steps if s.ended_at))  # fmt: skip
    return elapsed


async def main_async(args: argparse.Namespace) -> int:
    users = prepare_users()
    servers = [Sshd(users, f"install-{n}").start() for n in range(args.servers)]
    work = Path(tempfile.mkdtemp(prefix="tomo-bench-install-"))
    roots = []
    try:
        with docker_daemon(), local_registry() as registry:
            image = push_test_images(registry).web_v1
            repo = CatalogRepo.create(work / "catalog")
            definition = app_definition("web", docker={
                "image": image, "ports": [{"container": 80, "host": 80}],
                "volumes": [{"host_path": "./data", "container_path": "/data"}],
            })  # fmt: skip
            repo.write("apps/tools/web.yaml", yaml.safe_dump(definition))
            repo.commit()
            settings = Settings(data_dir=work / "data", builtin_catalog=False, sync_interval=0,
                                publish_address="127.0.0.1")  # fmt: skip
            async with open_runtime(settings) as runtime:
                await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="bench"))
                await runtime.marketplace.sync_repo("bench")
                for n, sshd in enumerate(servers):
                    root = Path(f"/tmp/tomo-bench-apps-{n}-{free_port()}")
                    root.mkdir()
                    shutil.chown(root, user=users.user)
                    roots.append(root)
                    await runtime.servers.add_server(ServerCreate(
                        name=f"s{n}", host="127.0.0.1", port=sshd.port, username=users.user,
                        private_key=SecretStr(users.key.read_text()), fingerprint=sshd.fingerprint,
                        data_root=str(root),
                    ))  # fmt: skip
                await compare_with_hand(runtime, servers[0], users, image, args.repeat)
                await compare_fleet(runtime, image, args.servers, args.repeat)
    finally:
        for sshd in servers:
            sshd.stop()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


async def compare_with_hand(runtime: Runtime, sshd: Sshd, users: SshUsers, image: str,
                            repeat: int) -> None:  # fmt: skip
    hand, tomo = [], []
    for n in range(repeat):
        docker("rmi", "-f", image)
        hand.append(await asyncio.to_thread(by_hand, sshd, users, image, f"hand-{n}", free_port()))
        docker("rm", "-f", f"hand-{n}")
        docker("rmi", "-f", image)
        tomo.append(await with_tomo(runtime, "s0", "bench/web", f"tomo-{n}"))
        await runtime.deployment.uninstall_app(f"tomo-{n}", "s0", remove_data=True)
    settle = runtime.settings.install_settle_seconds
    print(f"install of a small image from the local registry (median of {repeat}, each pull real)")
    print(f"  by hand (ssh docker pull + ssh docker run -d): {statistics.median(hand):6.2f} s")
    print(f"  tomo install (validate, preflight, pull, create, wait + {settle:g} s settle):"
          f" {statistics.median(tomo):6.2f} s")  # fmt: skip
    ratio = statistics.median(tomo) / statistics.median(hand)
    print(f"  tomo / by hand = {ratio:.2f}  (target < 1.3: {'met' if ratio < 1.3 else 'NOT met'})")


async def compare_fleet(runtime: Runtime, image: str, count: int, repeat: int) -> None:
    ratios = []
    for n in range(repeat):
        docker("rmi", "-f", image)
        one = await with_tomo(runtime, "s0", "bench/web", f"one-{n}")
        await runtime.deployment.uninstall_app(f"one-{n}", "s0", remove_data=True)
        docker("rmi", "-f", image)
        started = time.perf_counter()
        await asyncio.gather(*(with_tomo(runtime, f"s{k}", "bench/web", f"fleet-{n}-{k}")
                               for k in range(count)))  # fmt: skip
        ratios.append((time.perf_counter() - started) / one)
        for k in range(count):
            await runtime.deployment.uninstall_app(f"fleet-{n}-{k}", f"s{k}", remove_data=True)
    docker("rmi", "-f", image)
    started = time.perf_counter()
    for k in range(count):
        await with_tomo(runtime, f"s{k}", "bench/web", f"seq-{k}")
    sequential = time.perf_counter() - started
    for k in range(count):
        await runtime.deployment.uninstall_app(f"seq-{k}", f"s{k}", remove_data=True)
    median = statistics.median(ratios)
    print(f"\ninstall on {count} servers at once vs on one (median of {repeat})")
    print(f"  wall-time ratio = {median:.2f}  (target < 2: {'met' if median < 2 else 'NOT met'})")
    print(f"  the same {count} installs one after another took {sequential / one:.2f}x one install,"
          f" so at once is {sequential / (median * one):.1f}x faster than in turn")  # fmt: skip
    print(
        "  (the ten servers are sshd instances sharing this machine's one Docker engine and "
        "2 cores: `docker run` is CPU-bound in dockerd/containerd/runc)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="print each install's step times")
    args = parser.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
