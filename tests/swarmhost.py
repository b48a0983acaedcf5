"""A single-node Docker Swarm in a network namespace of its own, for Swarm deployments.

A Swarm publishes a service's port on every address of the node (host mode binds
0.0.0.0; there is no per-address publishing), so its engine must not share this
machine's network: `ip netns add`, then `nsenter --net=… dockerd` (`ip netns exec`
fails: "Devices cgroup isn't mounted"). Only the network is apart: the engine's
unix socket and the files it bind-mounts are this machine's, so an sshd here whose
sessions point `docker` at that socket is the Swarm manager's SSH, as on a real one.

Nothing in the namespace reaches the outside (it has only its loopback): images
come from a second registry process inside it, on the same port and over the same
storage as the test registry, so a catalog's image names pull alike on both sides.
The routing mesh needs IPVS, which the CI kernel lacks; tomo publishes in host
mode and resolves names by DNS round robin, which need none.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.registry import Registry
from tests.services import unavailable
from tests.sshd import Sshd, SshUsers


class SwarmHost:
    """dockerd in the network namespace `tomo-swarm-<n>`, the manager of its own Swarm."""

    def __init__(self, number: int | str, address: str = "127.0.0.1") -> None:
        self.netns = f"tomo-swarm-{number}"
        self.address = address  # what it advertises to the Swarm's other nodes
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.netns}-"))
        self.socket = self.dir / "docker.sock"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.node_id = ""

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def sshd_config(self) -> str:
        """sshd_config lines making every session's `docker` talk to this engine."""
        return f"SetEnv DOCKER_HOST={self.docker_host}\n"

    def inside(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}", *argv]

    def start(self, registry: Registry) -> SwarmHost:
        """A namespace, the engine and the registry, and a Swarm of its own."""
        self.make_namespace()
        self.start_engine(registry)
        self.rejoin()
        return self

    def make_namespace(self) -> None:
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        _run("ip", "netns", "add", self.netns)
        _run("ip", "-n", self.netns, "link", "set", "lo", "up")

    def start_engine(self, registry: Registry) -> None:
        dockerd, registry_binary = shutil.which("dockerd"), shutil.which("docker-registry")
        if dockerd is None or registry_binary is None or shutil.which("nsenter") is None:
            unavailable("a Swarm host needs dockerd, docker-registry and nsenter, as root")
            raise AssertionError
        self.dir.chmod(0o755)  # the ssh user must reach the socket
        log = (self.dir / "dockerd.log").open("wb")
        self.processes.append(subprocess.Popen(self.inside(
            dockerd, "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
            "--pidfile", str(self.dir / "dockerd.pid"), "--host", self.docker_host,
        ), stdout=subprocess.DEVNULL, stderr=log))  # fmt: skip
        self._until(lambda: self.docker("version").returncode == 0, "dockerd")
        self._serve_images(registry_binary, registry)

    def rejoin(self) -> None:
        """A Swarm of its own again (after a test made it leave): a new node id."""
        self.docker("swarm", "leave", "--force")
        # A heartbeat of a second: a node that stops answering is down in seconds.
        init = self.docker("swarm", "init", "--advertise-addr", self.address,
                           "--dispatcher-heartbeat", "1s")  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"swarm init failed: {init.stderr.decode()}")
        self.node_id = self._own_node_id()

    def join(self, manager: SwarmHost) -> None:
        """Join `manager`'s Swarm as a worker."""
        token = manager.docker("swarm", "join-token", "--quiet", "worker").stdout.decode().strip()
        joined = self.docker("swarm", "join", "--token", token, "--advertise-addr", self.address,
                             f"{manager.address}:2377")  # fmt: skip
        if joined.returncode != 0:
            raise RuntimeError(f"swarm join failed: {joined.stderr.decode()}")
        self.node_id = self._own_node_id()

    def _own_node_id(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.decode().strip()

    def _serve_images(self, binary: str, registry: Registry) -> None:
        """The test registry's images, served inside the namespace at the same address."""
        config = self.dir / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {registry.root / 'data'}\n"
            f"http:\n  addr: {registry.address}\n"
        )
        self.processes.append(subprocess.Popen(self.inside(binary, "serve", str(config)),
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))  # fmt: skip
        url = f"http://{registry.address}/v2/"
        self._until(lambda: self.fetch(url).returncode == 0, "the registry")

    def docker(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", "--host", self.docker_host, *args],
                              capture_output=True, check=False, timeout=120)  # fmt: skip

    def fetch(self, url: str) -> subprocess.CompletedProcess[str]:
        """busybox wget inside the namespace (where the Swarm's ports are), given up
        after 5 s (its own -T crashes)."""
        return subprocess.run(self.inside("timeout", "5", "busybox", "wget", "-q", "-O-", url),
                              capture_output=True, text=True, check=False, timeout=30)  # fmt: skip

    def _until(self, ready: object, what: str) -> None:
        assert callable(ready)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ready():
                return
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.25)
        log = (self.dir / "dockerd.log").read_text(errors="replace")[-800:]
        self.remove()
        raise RuntimeError(f"{what} in {self.netns} did not answer: {log}")

    def clear(self) -> None:
        """Every service, container, network and volume tomo made here: the next test
        finds the Swarm empty."""
        services = self.docker("service", "ls", "-q").stdout.decode().split()
        if services:
            self.docker("service", "rm", *services)
        deadline = time.monotonic() + 30
        while (left := self.docker("ps", "-aq").stdout.split()) and time.monotonic() < deadline:
            # A removed service's tasks go on their own, each given its grace period to
            # stop (busybox's httpd ignores SIGTERM: 10 s); a test does not wait for it.
            self.docker("rm", "-f", "-v", *(c.decode() for c in left))
            time.sleep(0.25)
        for listing, removal in ((["network", "ls", "-q"], ["network", "rm"]),
                                 (["volume", "ls", "-q"], ["volume", "rm", "-f"])):  # fmt: skip
            found = self.docker(*listing, "--filter", "label=tomo.installation").stdout.split()
            if found:
                self.docker(*removal, *(item.decode() for item in found))

    def remove(self) -> None:
        """Leave the Swarm, stop the engine and the registry, remove the namespace."""
        if self.processes and self.processes[0].poll() is None:
            self.docker("swarm", "leave", "--force")
            for container in self.docker("ps", "-aq").stdout.split():
                self.docker("rm", "-f", "-v", container.decode())
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class SwarmPair:
    """A Swarm of two nodes: a manager and a worker, each an engine in a network
    namespace of its own, the two joined by a veth pair (10.213.<lane>.1 and .2)."""

    def __init__(self, lane: int) -> None:
        self.manager = SwarmHost(f"{lane}-m", f"10.213.{lane}.1")
        self.worker = SwarmHost(f"{lane}-w", f"10.213.{lane}.2")
        self.hosts = (self.manager, self.worker)

    def start(self, registry: Registry) -> SwarmPair:
        try:
            for host in self.hosts:
                host.make_namespace()
            self._link()
            for host in self.hosts:
                host.start_engine(registry)
            self.manager.rejoin()
            self.worker.join(self.manager)
            self.manager._until(lambda: self.ready() == 2, "the worker's join")
        except BaseException:
            self.remove()
            raise
        return self

    def _link(self) -> None:
        (one, two), lane = self.hosts, self.manager.netns.rsplit("-", 2)[1]
        _run("ip", "link", "add", f"tsw{lane}m", "netns", one.netns, "type", "veth",
             "peer", "name", f"tsw{lane}w", "netns", two.netns)  # fmt: skip
        for host, device in ((one, f"tsw{lane}m"), (two, f"tsw{lane}w")):
            _run("ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", device)
            _run("ip", "-n", host.netns, "link", "set", device, "up")

    def cut_off(self, up: bool = False) -> None:
        """The worker's link down (as a machine that lost power, seen from the
        manager: no heartbeat), or (up) back."""
        lane = self.manager.netns.rsplit("-", 2)[1]
        _run("ip", "-n", self.worker.netns, "link", "set", f"tsw{lane}w", "up" if up else "down")

    def ready(self) -> int:
        """How many nodes the manager sees ready."""
        listed = self.manager.docker("node", "ls", "--format", "{{.Status}}").stdout.decode()
        return listed.split().count("Ready")

    def clear(self) -> None:
        self.manager.clear()
        self.worker.clear()

    def remove(self) -> None:
        for host in reversed(self.hosts):
            host.remove()


@contextlib.contextmanager
def manager_sshd(manager: SwarmHost, ssh_users: SshUsers) -> Iterator[Sshd]:
    """An sshd whose sessions' `docker` is the Swarm manager's."""
    sshd = Sshd(ssh_users, f"swarm-{uuid.uuid4().hex[:6]}", extra_config=manager.sshd_config())
    sshd.start()
    try:
        yield sshd
    finally:
        sshd.stop()


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
