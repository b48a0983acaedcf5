"""SSH benchmark: pooled connection vs fresh ssh processes; one server vs ten.

Run as root from the project root:  .venv/bin/python -m benchmarks.bench_ssh

Uses the test harness's real sshd instances on loopback ports and its test
users (tests/sshd.py), so it needs openssh-server and root. Prints ratios
against baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.sshd import Sshd, SshUsers, prepare_users

from tomo.servers.ssh import SSHCredentials, SSHService, SSHTarget


def target(sshd: Sshd, users: SshUsers) -> SSHTarget:
    return SSHTarget(
        key=f"bench-{sshd.port}", name=f"bench-{sshd.port}", host="127.0.0.1", port=sshd.port,
        username=users.user, credentials=SSHCredentials(private_key=users.key.read_text()),
        host_key=Path(f"{sshd.host_key}.pub").read_text().strip(),
    )  # fmt: skip


def fresh_ssh_argv(sshd: Sshd, users: SshUsers, known_hosts: Path) -> list[str]:
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{sshd.host_key}.pub').read_text()}")
    return [
        "ssh", "-q", "-p", str(sshd.port), "-i", str(users.key), "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "IdentitiesOnly=yes", "-F", "/dev/null", f"{users.user}@127.0.0.1",
    ]  # fmt: skip


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def pooled_vs_fresh(sshd: Sshd, users: SshUsers, count: int) -> tuple[float, float]:
    ssh = SSHService()
    server = target(sshd, users)
    await ssh.run(server, ["true"])  # the pool is warm, as in a running tomo

    async def pooled() -> None:
        for _ in range(count):
            await ssh.run(server, ["echo", "ok"])

    argv = fresh_ssh_argv(sshd, users, users.root / "bench_known_hosts")

    async def fresh() -> None:
        for _ in range(count):
            await asyncio.to_thread(subprocess.run, [*argv, "echo", "ok"], check=True,
                                    capture_output=True)  # fmt: skip

    pooled_time, fresh_time = await timed(pooled), await timed(fresh)
    await ssh.close()
    return pooled_time, fresh_time


async def one_vs_ten(servers: list[Sshd], users: SshUsers, argv: list[str], warm: bool) -> float:
    """Wall time on all servers at once divided by the time on one."""
    ssh = SSHService()
    targets = [target(sshd, users) for sshd in servers]
    if warm:
        await asyncio.gather(*(ssh.run(t, ["true"]) for t in targets))
    single = await timed(lambda: ssh.run(targets[0], argv))
    if not warm:
        await ssh.close()
        ssh = SSHService()
    fleet = await timed(lambda: asyncio.gather(*(ssh.run(t, argv) for t in targets)))
    await ssh.close()
    return fleet / single


def median_of(values: list[float]) -> float:
    return statistics.median(values)


async def main_async(args: argparse.Namespace) -> int:
    users = prepare_users()
    servers = [Sshd(users, f"bench-{n}").start() for n in range(args.servers)]
    try:
        pairs = [
            await pooled_vs_fresh(servers[0], users, args.commands) for _ in range(args.repeat)
        ]
        pooled = median_of([p for p, _ in pairs])
        fresh = median_of([f for _, f in pairs])
        print(f"{args.commands} short commands on one server (median of {args.repeat} runs)")
        print(f"  through tomo's pooled connection: {pooled * 1000:8.1f} ms")
        print(f"  {args.commands} fresh `ssh` processes:        {fresh * 1000:8.1f} ms")
        print(f"  fresh / pooled = {fresh / pooled:.1f}x faster pooled")

        print(f"\nthe same command on {args.servers} servers at once vs on one (wall time ratio)")
        cases = [
            ("`sleep 0.3`, warm pool", ["sleep", "0.3"], True),
            ("`echo ok`, warm pool", ["echo", "ok"], True),
            ("`sleep 0.3`, cold (connect + login included)", ["sleep", "0.3"], False),
        ]
        for label, argv, warm in cases:
            ratios = [await one_vs_ten(servers, users, argv, warm) for _ in range(args.repeat)]
            verdict = "met" if median_of(ratios) < 2 else "NOT met"
            print(f"  {label:<46} {median_of(ratios):5.2f}x  (target < 2: {verdict})")
        print("  (all sshd share this machine's 2 cores, so CPU-bound cases measure contention)")
    finally:
        for server in servers:
            server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
