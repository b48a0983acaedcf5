"""A Docker engine of its own per simulated server, for fleet tests and benchmarks.

Each DockerHost is a separate dockerd (own data root, exec root, containerd,
socket and bridge network), so ten "servers" on this machine do not share an
engine, an image store or a daemon lock as they would not on real hosts. An
sshd started with `sshd_config()` points its sessions' `docker` at this engine
through DOCKER_HOST. Needs root.

They still share this machine's cores. To model separate machines, the engine
(dockerd, containerd, shims, containers) and an sshd started with `launcher()`
run in a CPU cgroup of their own, which `limit_cpu` can cap at a fraction of a
core: ten hosts capped at 0.15 core each are ten small machines side by side.
That needs the cgroup v1 cpu controller (as on this machine); without it the
engine runs uncapped and `limit_cpu` says why it cannot.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests import lanes
from tests.services import unavailable

# The networks of the engines started here (their default bridges are 10.213.<n>.0/24):
# apart from the machine's engine's, so that what lets their containers meet
# (tests/services.py, worker_engine) never reaches the machine's engine's networks.
ADDRESS_POOLS = ("100.64.0.0/10", "10.213.0.0/16")
CPU_CGROUPS = Path("/sys/fs/cgroup/cpu")  # cgroup v1 cpu controller, as on this machine
PERIOD_US = 100_000
# Joins the cgroup whose cgroup.procs is $0, then becomes the command.
JOIN_CGROUP = 'echo $$ > "$0" && exec "$@"'


class DockerHost:
    """One dockerd listening on a unix socket of its own, bridged on 10.213.<n>.0/24,
    its networks (/26s) in a /20 of its own under ADDRESS_POOLS."""

    def __init__(self, number: int) -> None:
        if number < 240:  # a test's engine: numbered apart from other workers' (lanes.py)
            number += lanes.OFFSET
        if not 0 <= number < 250:
            raise ValueError("a DockerHost number is 0-249")
        self.number = number
        self.bridge = f"tomobr{number}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"tomo-dockerhost-{number}-"))
        self.socket = self.dir / "docker.sock"
        self.cgroup = CPU_CGROUPS / f"tomo-host-{number}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address_pool(self) -> str:
        """Sixty-four /26 networks of this engine's, apart from every other engine's (a
        worker's engine serves all of its lane's tests: sixteen /24s ran out in CI)."""
        return f"100.{64 + self.number // 16}.{self.number % 16 * 16}.0/20"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def sshd_config(self) -> str:
        """sshd_config lines making every session's `docker` talk to this engine."""
        return f"SetEnv DOCKER_HOST={self.docker_host}\n"

    def launcher(self) -> list[str]:
        """An argv prefix that runs a command inside this host's CPU cgroup (if any)."""
        if not CPU_CGROUPS.is_dir():
            return []
        return ["sh", "-c", JOIN_CGROUP, str(self.cgroup / "cgroup.procs")]

    def limit_cpu(self, cores: float | None) -> None:
        """Cap everything in this host at `cores` of a CPU (None: no cap)."""
        if not CPU_CGROUPS.is_dir():
            raise RuntimeError(f"no cgroup v1 cpu controller at {CPU_CGROUPS}: cannot cap CPU")
        quota = -1 if cores is None else max(1000, int(cores * PERIOD_US))
        (self.cgroup / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (self.cgroup / "cpu.cfs_quota_us").write_text(str(quota))

    def start(self) -> DockerHost:
        dockerd = shutil.which("dockerd")
        if dockerd is None or os.geteuid() != 0:
            unavailable("a DockerHost needs dockerd and root (apt-get install docker.io)")
        if CPU_CGROUPS.is_dir():
            self.cgroup.mkdir(exist_ok=True)
        _ip("link", "del", self.bridge, check=False)  # left by a run that was killed
        self._remove_stale_bridges()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"10.213.{self.number}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        os.chmod(self.dir, 0o755)  # noqa: S103  the ssh user must reach the socket
        launcher = self.launcher()
        self.process = subprocess.Popen(
            [*launcher, dockerd,
             *(["--cgroup-parent", f"/{self.cgroup.name}"] if launcher else []),
             "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
             "--pidfile", str(self.dir / "dockerd.pid"), "--host", self.docker_host,
             "--bridge", self.bridge, "--iptables=false", "--ip6tables=false",
             "--default-address-pool", f"base={self.address_pool},size=26"],
            stdout=subprocess.DEVNULL, stderr=(self.dir / "dockerd.log").open("wb"),
        )  # fmt: skip
        self._wait_until_answering()
        return self

    def docker(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "DOCKER_HOST": self.docker_host}
        return subprocess.run(["docker", *args], input=stdin, capture_output=True, env=env,
                              check=False)  # fmt: skip

    def stop_daemon(self) -> None:
        """Stop dockerd as `systemctl stop docker` would; its containers stop with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)

    def remove(self) -> None:
        """Stop the engine and remove its containers, data, bridge and cgroups."""
        if self.process is not None and self.process.poll() is None:
            for container in self.docker("ps", "-aq").stdout.split():
                self.docker("rm", "-f", container.decode())
            # Removed by the engine, or their bridges outlive it on this machine and hold
            # its address ranges: the next engine of this number finds none free.
            networks = self.docker("network", "ls", "-q", "--filter", "type=custom").stdout
            if networks.split():
                self.docker("network", "rm", *(n.decode() for n in networks.split()))
        self.stop_daemon()
        _ip("link", "del", self.bridge, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        # dockerd made one under each controller for --cgroup-parent; busy ones stay.
        for cgroup in self.cgroup.parent.parent.glob(f"*/{self.cgroup.name}"):
            with contextlib.suppress(OSError):
                cgroup.rmdir()

    def _remove_stale_bridges(self) -> None:
        """Bridges of networks an earlier engine of this number left on the machine (a
        run killed, or from before engines removed their networks): no engine of this
        number runs now, so any bridge in its address range is stale, and Docker would
        find those ranges taken."""
        pool = ipaddress.ip_network(self.address_pool)
        listed = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                                text=True, check=False).stdout  # fmt: skip
        for line in listed.splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[1].startswith("br-"):
                address = ipaddress.ip_interface(fields[3]).ip
                if address in pool:
                    _ip("link", "del", fields[1], check=False)

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.docker("version", "--format", "{{.Server.Version}}").returncode == 0:
                return
            time.sleep(0.25)
        log = (self.dir / "dockerd.log").read_text(errors="replace")[-500:]
        self.remove()
        raise RuntimeError(f"dockerd for {self.bridge} did not answer: {log}")


def _ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
