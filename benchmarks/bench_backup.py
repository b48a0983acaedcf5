"""Backup benchmark: tomo's backup and restore of an app's data vs the same bytes by hand.

Run as root from the project root, holding the tests' Docker lock:

    flock /tmp/tomo-docker-tests.lock .venv/bin/python -m benchmarks.bench_backup

TOMO_BENCH_BACKUP_MB (or --mb) sets the size of the app's data (default 1024 MiB).

Uses the test harness: a real sshd on loopback in front of this machine's Docker
engine (tests/sshd.py, tests/services.py), a registry with the busybox test images
(tests/registry.py) and a catalog repo (tests/gitrepo.py). One app is installed with
a folder (./data, filled with random bytes) and a named volume. Every figure is a
ratio against a baseline measured in the same run (issue 22): `ssh server docker
container cp … | restic backup --stdin` into a fresh folder repository, and `restic
dump … | ssh server docker container cp -` back. Nothing is asserted; it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import SecretStr
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages, local_registry, push_test_images
from tests.services import docker_daemon, free_port
from tests.sshd import Sshd, SshUsers, prepare_users

from tomo.backups.transfer import copy_out_argv, stream_in, stream_out
from tomo.config import Settings
from tomo.deployment.spec import InstallConfig
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime, open_runtime
from tomo.servers.schemas import ServerCreate

MIB = 1 << 20
FILES = 4  # the data is a few large files, as a database's or a media app's are
NAME = "vault"  # the installation, and so its container
PASSWORD = "bench"  # noqa: S105 -- the by-hand repositories' (thrown away with the run)
COPY_OUT = ["docker", "container", "cp", "--archive", f"{NAME}:/data", "-"]  # as tomo's
DISCARD = ["dd", "of=/dev/null", "bs=1M", "status=none"]
# The folder and the volume, each a part of tomo's backup; by hand streams /data.
VOLUMES = [{"host_path": "./data", "container_path": "/data"},
           {"volume": "store", "container_path": "/store"}]  # fmt: skip


@dataclass(frozen=True)
class Sample:
    wall: float
    own_cpu: float  # this process (tomo in-process: the pump, asyncssh's crypto)
    children_cpu: float  # processes it started and waited for (restic, ssh, the CLI)


@dataclass
class Bench:
    """The server, the installed app and where everything of the run is kept."""

    runtime: Runtime
    sshd: Sshd
    users: SshUsers
    work: Path
    images: TestImages
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    steps: dict[str, list[float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def clock(self, figure: str) -> Iterator[None]:
        """Wall time and CPU of the body, kept under `figure`."""
        own, children = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN
        before = (time.perf_counter(), _cpu(own), _cpu(children))
        yield
        after = (time.perf_counter(), _cpu(own), _cpu(children))
        sample = Sample(*(b - a for a, b in zip(before, after, strict=True)))
        self.samples.setdefault(figure, []).append(sample)

    def median(self, figure: str, what: str = "wall") -> float:
        return statistics.median(getattr(s, what) for s in self.samples[figure])

    @property
    def tomo_repository(self) -> Path:
        return self.runtime.settings.data_dir / "backups" / "default"


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# -- by hand: OpenSSH and restic, as a person pipes them ------------------------


def ssh_command(sshd: Sshd, users: SshUsers) -> list[str]:
    """The OpenSSH client as a person runs it: the test user's key, the host's key
    pinned, no configuration of this machine's."""
    known = users.root / f"known-{sshd.port}"
    known.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{sshd.host_key}.pub').read_text()}")
    return ["ssh", "-q", "-F", "/dev/null", "-p", str(sshd.port), "-i", str(users.key),
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known}",
            f"{users.user}@127.0.0.1"]  # fmt: skip


def restic_command(repository: Path, *args: str) -> list[str]:
    # --no-cache as tomo runs restic (restic.py), so both do the same work.
    return ["restic", "--repo", str(repository), "--no-cache", "--quiet", *args]


def restic_env() -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    return {**kept, "RESTIC_PASSWORD": PASSWORD}


def piped(first: list[str], second: list[str]) -> None:
    """`first | second`, both checked (a pipefail of our own, no shell)."""
    env = restic_env()
    with subprocess.Popen(first, stdout=subprocess.PIPE, env=env) as source:
        assert source.stdout is not None
        with subprocess.Popen(second, stdin=source.stdout, env=env) as sink:
            source.stdout.close()  # the sink alone holds the pipe: its end ends the source
            sink.wait()
        source.wait()
    if source.returncode or sink.returncode:
        raise SystemExit(f"pipeline failed ({source.returncode}, {sink.returncode}): "
                         f"{first[-4:]} | {second[:1]}")  # fmt: skip


def fresh_repository(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(restic_command(path, "init"), env=restic_env(), check=True,
                   capture_output=True)  # fmt: skip
    return path


def hand_backup(bench: Bench, repository: Path) -> None:
    ssh = ssh_command(bench.sshd, bench.users)
    backup = restic_command(repository, "backup", "--stdin", "--stdin-filename", "data.tar")
    piped([*ssh, *COPY_OUT], backup)


def hand_restore(bench: Bench, repository: Path) -> None:
    ssh = ssh_command(bench.sshd, bench.users)
    dump = restic_command(repository, "dump", "latest", "/data.tar")
    piped(dump, [*ssh, "docker", "container", "cp", "--archive", "-", f"{NAME}:/"])


def local_tar(bench: Bench) -> list[str]:
    """The same folder as a tar made here (page-cached): a source with no SSH, no Docker."""
    return ["tar", "-C", str(bench.work / "apps" / NAME), "-cf", "-", "data"]


# -- tomo -------------------------------------------------------------------------


def cli_env(bench: Bench) -> dict[str, str]:
    return {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "TOMO_PUBLISH_ADDRESS": "127.0.0.1",
            "TOMO_HELPER_IMAGE": bench.images.helper}  # fmt: skip


def with_cli(bench: Bench, *args: str) -> dict[str, object]:
    """The whole command as a user types it (start-up, login, all); its JSON answer."""
    argv = [sys.executable, "-m", "tomo", "--data-dir", str(bench.runtime.settings.data_dir),
            *args, "--json"]  # fmt: skip
    done = subprocess.run(argv, env=cli_env(bench), capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"tomo {' '.join(args)} failed: {done.stderr[-800:]}")
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


async def tomo_backup(bench: Bench, figure: str) -> str:
    """BackupService's backup, prepared and run (timed as `figure`); its id (its job's)."""
    with bench.clock(figure):
        prepared = await bench.runtime.backups.prepare_backup(NAME)
        await prepared.run()
    await note_steps(bench, figure, prepared.job_id)
    return prepared.job_id


async def tomo_restore(bench: Bench, backup_id: str) -> None:
    with bench.clock("tomo restore"):
        prepared = await bench.runtime.backups.prepare_restore(backup_id)
        await prepared.run()
    await note_steps(bench, "tomo restore", prepared.job_id)


async def note_steps(bench: Bench, kind: str, job_id: str) -> None:
    """Each step's seconds, kept by `kind: step` for the breakdown."""
    view = await bench.runtime.deployment.get_job(job_id)
    for step in view.steps:
        if step.ended_at:
            seconds = (step.ended_at - step.started_at).total_seconds()
            bench.steps.setdefault(f"{kind}: {step.name}", []).append(seconds)


async def tomo_download(bench: Bench) -> None:
    """tomo's stream from the server alone (its pooled channel, its pump), thrown away."""
    docker = await bench.runtime.deployment.ctx.docker("s0")

    async def nowhere(chunk: bytes) -> None:
        pass

    await stream_out(bench.runtime.servers.ssh, docker.target,
                     copy_out_argv(docker.target, NAME, "/data"), nowhere)  # fmt: skip


async def tomo_upload(bench: Bench) -> None:
    """tomo's stream to the server alone: a local tar read as a restore reads `restic
    dump` (an asyncio subprocess pipe), sent to `dd` on the server."""
    docker = await bench.runtime.deployment.ctx.docker("s0")
    tar = await asyncio.create_subprocess_exec(*local_tar(bench), stdout=asyncio.subprocess.PIPE)
    assert tar.stdout is not None
    await stream_in(bench.runtime.servers.ssh, docker.target, DISCARD, tar.stdout)
    await tar.wait()


async def fresh_tomo_repository(bench: Bench) -> None:
    """Start tomo's default repository over (made before the clock starts), so a full
    backup finds nothing to deduplicate against, as the by-hand one does not."""
    shutil.rmtree(bench.tomo_repository, ignore_errors=True)
    await bench.runtime.backups.repositories.default()


# -- one round ----------------------------------------------------------------------


async def one_round(bench: Bench, n: int) -> None:
    hand = fresh_repository(bench.work / f"hand-{n}")
    with bench.clock("by hand backup"):
        await asyncio.to_thread(hand_backup, bench, hand)
    await fresh_tomo_repository(bench)
    await tomo_backup(bench, "tomo backup")
    await tomo_backup(bench, "tomo second backup")
    await fresh_tomo_repository(bench)
    with bench.clock("tomo backup command"):
        answer = await asyncio.to_thread(with_cli, bench, "backup", "create", NAME)
    backup_id = str(answer["job_id"])
    with bench.clock("by hand restore"):
        await asyncio.to_thread(hand_restore, bench, hand)
    await tomo_restore(bench, backup_id)
    with bench.clock("tomo restore command"):
        await asyncio.to_thread(with_cli, bench, "backup", "restore", backup_id)
    if n == 0:  # context, not a target: once is enough
        await parts_of_the_time(bench, hand)
    shutil.rmtree(hand, ignore_errors=True)


async def parts_of_the_time(bench: Bench, hand: Path) -> None:
    """Where the time goes: each stream alone (OpenSSH's, tomo's) and restic alone."""
    ssh = ssh_command(bench.sshd, bench.users)
    with bench.clock("download only, by hand"):
        await asyncio.to_thread(piped, [*ssh, *COPY_OUT], DISCARD)
    with bench.clock("download only, tomo"):
        await tomo_download(bench)
    with bench.clock("upload only, by hand"):
        await asyncio.to_thread(piped, local_tar(bench), [*ssh, *DISCARD])
    with bench.clock("upload only, tomo"):
        await tomo_upload(bench)
    alone = fresh_repository(bench.work / "alone")
    with bench.clock("restic backup alone"):
        await asyncio.to_thread(piped, local_tar(bench), restic_command(
            alone, "backup", "--stdin", "--stdin-filename", "d.tar"))  # fmt: skip
    shutil.rmtree(alone, ignore_errors=True)
    with bench.clock("restic dump alone"):
        await asyncio.to_thread(piped, restic_command(hand, "dump", "latest", "/data.tar"),
                                DISCARD)  # fmt: skip


# -- set-up -------------------------------------------------------------------------


@asynccontextmanager
async def bench_runtime(work: Path, images: TestImages, sshd: Sshd,
                        users: SshUsers) -> AsyncIterator[Runtime]:  # fmt: skip
    """tomo with a catalog of the one app, synced, and the sshd as server s0."""
    definition = app_definition("vault", docker={
        "image": images.web_v1, "ports": [{"container": 80, "host": free_port()}],
        "volumes": VOLUMES, "restart_policy": "unless-stopped",
    })  # fmt: skip
    repo = CatalogRepo.create(work / "catalog")
    repo.write("apps/tools/vault.yaml", yaml.safe_dump(definition))
    repo.commit()
    settings = Settings(data_dir=work / "data", builtin_catalog=False, sync_interval=0,
                        publish_address="127.0.0.1", helper_image=images.helper)  # fmt: skip
    async with open_runtime(settings) as runtime:
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="bench"))
        await runtime.marketplace.sync_repo("bench")
        await runtime.servers.add_server(ServerCreate(
            name="s0", host="127.0.0.1", port=sshd.port, username=users.user,
            private_key=SecretStr(users.key.read_text()), fingerprint=sshd.fingerprint,
            data_root=str(work / "apps"),
        ))  # fmt: skip
        yield runtime


async def install(runtime: Runtime) -> None:
    started = await runtime.deployment.install_app("s0", "bench/vault", InstallConfig(name=NAME))
    view = await runtime.deployment.run_job(started.job_id)
    if view.status != "done":
        raise SystemExit(f"install failed: {view.error}")


def fill(folder: Path, size: int) -> None:
    """`size` bytes of random data (nothing for restic to deduplicate or compress)."""
    per_file = size // FILES
    for k in range(FILES):
        with (folder / f"blob-{k}").open("wb") as out:
            for _ in range(per_file // MIB):
                out.write(os.urandom(MIB))


@contextlib.contextmanager
def work_dirs(users: SshUsers) -> Iterator[Path]:
    """The run's folder; its `apps` (the server's data root) writable by the SSH user."""
    work = Path(tempfile.mkdtemp(prefix="tomo-bench-backup-"))
    work.chmod(0o755)  # the SSH user reaches apps/ through it
    (work / "apps").mkdir()
    shutil.chown(work / "apps", user=users.user)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def remove_app(runtime: Runtime) -> None:
    """Uninstall with its data; the container and volume by hand if that fails."""
    try:
        await (await runtime.deployment.prepare_uninstall(NAME, remove_data=True)).run()
    except Exception as exc:  # the run's own failure is what matters; this only tidies
        print(f"uninstall failed ({exc}); removing the container and volume directly")
        docker("rm", "-f", "-v", NAME)
        docker("volume", "rm", "-f", f"{NAME}_store")


def docker(*args: str) -> None:
    """A docker command of the set-up or clean-up, on this machine's engine; its
    failure is not the benchmark's (an image already gone, say)."""
    subprocess.run(["docker", *args], capture_output=True, check=False)


# -- report -------------------------------------------------------------------------


def report(bench: Bench, size: int, repeat: int) -> None:
    m = bench.median
    print(f"\n{size / MIB:.0f} MiB of random data in {FILES} files; medians of {repeat} "
          "(the parts alone: one run); each full backup into a fresh repository")  # fmt: skip
    print(f"  {'':<28} {'wall':>8} {'MiB/s':>6} {'own CPU':>8} {'children CPU':>13}  runs")
    for figure, samples in bench.samples.items():
        wall, own, children = (m(figure, what) for what in ("wall", "own_cpu", "children_cpu"))
        runs = ", ".join(f"{s.wall:.2f}" for s in samples)
        print(f"  {figure:<28} {wall:7.2f}s {size / MIB / wall:6.0f} {own:7.2f}s "
              f"{children:12.2f}s  {runs}")  # fmt: skip
    print("\nratios (issue 22's targets)")
    ratio(m("tomo backup"), m("by hand backup"), "backup in-process / by hand", 1.3)
    ratio(m("tomo backup command"), m("by hand backup"), "backup command / by hand", 1.3)
    ratio(m("tomo second backup"), m("tomo backup"), "second backup / first", 1.10)
    ratio(m("tomo restore"), m("by hand restore"), "restore in-process / by hand", 1.5)
    ratio(m("tomo restore command"), m("by hand restore"), "restore command / by hand", 1.5)
    print("\nsteps of tomo's in-process jobs (medians)")
    for step, seconds in bench.steps.items():
        print(f"  {step:<32} {statistics.median(seconds):6.2f} s")


def ratio(value: float, baseline: float, label: str, target: float) -> None:
    figure = value / baseline
    verdict = "met" if figure <= target else "NOT met"
    print(f"  {label:<30} {figure:5.2f}  (target ≤ {target:g}: {verdict})")


async def main_async(args: argparse.Namespace) -> int:
    users = prepare_users()
    size = args.mb * MIB
    try:
        with docker_daemon(), local_registry() as registry, work_dirs(users) as work:
            images = push_test_images(registry)
            # The restore's helper is pulled once here, not inside the first timed restore.
            docker("pull", "-q", images.helper)
            sshd = Sshd(users, "backup").start()
            try:
                async with bench_runtime(work, images, sshd, users) as runtime:
                    await run_rounds(Bench(runtime, sshd, users, work, images), size, args.repeat)
            finally:
                sshd.stop()
                docker("rmi", "-f", images.web_v1, images.helper)
    finally:
        shutil.rmtree(users.root, ignore_errors=True)
    return 0


async def run_rounds(bench: Bench, size: int, repeat: int) -> None:
    await install(bench.runtime)
    try:
        fill(bench.work / "apps" / NAME / "data", size)
        for n in range(repeat):
            print(f"round {n + 1} of {repeat}…", flush=True)
            await one_round(bench, n)
        report(bench, size, repeat)
    finally:
        await remove_app(bench.runtime)


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    default_mb = int(os.environ.get("TOMO_BENCH_BACKUP_MB", "1024"))
    parser.add_argument("--mb", type=int, default=default_mb,
                        help="MiB of app data (default: TOMO_BENCH_BACKUP_MB or 1024)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
