"""Facts about a server, gathered over SSH by one fixed script and Docker probes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from tomo.architectures import normalize_architecture
from tomo.servers.docker_access import access_problem
from tomo.servers.swarm import SWARM_FORMAT, SwarmFacts, swarm_facts_of

if TYPE_CHECKING:  # SSH (and asyncio) load with the commands that reach a server
    from tomo.servers.ssh import CommandResult, SSHService, SSHTarget

# A constant script: the only outside value, the data root, arrives as "$1".
FACTS_SCRIPT = r"""
root="$1"
echo "os=$( (. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-}") )"
echo "kernel=$(uname -r)"
echo "machine=$(uname -m)"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null)"
awk '/^MemTotal:/ {print "mem_total_kb=" $2}
     /^MemAvailable:/ {print "mem_available_kb=" $2}' /proc/meminfo 2>/dev/null
dir="$root"
while [ ! -d "$dir" ]; do dir=$(dirname -- "$dir"); done
echo "disk_free_kb=$(df -Pk -- "$dir" 2>/dev/null | awk 'NR==2 {print $4}')"
# The root, or the parent mkdir -p would create it in, must take new entries.
writable=no
[ -w "$dir" ] && [ -x "$dir" ] && writable=yes
echo "data_root_writable=$writable"
"""
DOCKER_VERSION = ["version", "--format", "{{.Server.Version}}"]
# The runtimes Docker offers (runc, nvidia…), space-separated, then on a line of its
# own the engine's Swarm (swarm.py): one `docker info --format`.
RUNTIMES_FORMAT = "{{range $name, $_ := .Runtimes}}{{$name}} {{end}}"
INFO_FORMAT = f"{RUNTIMES_FORMAT}\n{SWARM_FORMAT}"


class ServerFacts(BaseModel):
    """What the last check found on a server."""

    os: str | None = None
    kernel: str | None = None
    architecture: str | None = None
    cpu_count: int | None = None
    memory_total_mb: int | None = None
    memory_available_mb: int | None = None
    disk_free_mb: int | None = None  # under the app data root (or its nearest existing parent)
    data_root_writable: bool | None = None  # by the SSH user (who creates app directories)
    docker_version: str | None = None
    docker_access: Literal["yes", "sudo", "no"] = "no"
    docker_problem: str | None = None
    docker_runtimes: list[str] | None = None  # None: not known (Docker out of reach)
    swarm: SwarmFacts | None = None  # None: in no Swarm (or not known: older facts)


async def gather_facts(ssh: SSHService, target: SSHTarget, data_root: str) -> ServerFacts:
    import asyncio

    system, docker = await asyncio.gather(
        ssh.run(target, ["sh", "-c", FACTS_SCRIPT, "tomo-facts", data_root]),
        probe_docker(ssh, target),
    )
    values = key_values(system.stdout)
    if docker[1] != "no":
        info = await ssh.run_docker(target, ["info", "--format", INFO_FORMAT], check=False)
        runtimes, _, swarm = (info.stdout if info.exit_code == 0 else "").partition("\n")
        values["docker_runtimes"], values["docker_swarm"] = runtimes, swarm
    return facts_from(values, docker)


DockerAccess = tuple[str | None, Literal["yes", "sudo", "no"], str | None]


def facts_from(values: dict[str, str], docker: DockerAccess) -> ServerFacts:
    """ServerFacts from FACTS_SCRIPT's key=value output and a Docker probe."""
    version, access, problem = docker
    return ServerFacts(
        os=values.get("os") or None,
        kernel=values.get("kernel") or None,
        architecture=normalize_architecture(values.get("machine")),
        cpu_count=_int(values.get("cpus")),
        memory_total_mb=_mb(values.get("mem_total_kb")),
        memory_available_mb=_mb(values.get("mem_available_kb")),
        disk_free_mb=_mb(values.get("disk_free_kb")),
        data_root_writable={"yes": True, "no": False}.get(values.get("data_root_writable", "")),
        docker_version=version, docker_access=access, docker_problem=problem,
        docker_runtimes=values["docker_runtimes"].split() if "docker_runtimes" in values else None,
        swarm=swarm_facts_of(values.get("docker_swarm", "")),
    )  # fmt: skip


def docker_access_of(username: str, exit_code: int, output: str, *, via_sudo: bool) -> DockerAccess:
    """What one `docker version` (direct, or through sudo after direct failed) says."""
    if exit_code == 0:
        return output.strip() or None, "sudo" if via_sudo else "yes", None
    return None, "no", access_problem(username, exit_code, output, sudo=via_sudo)


async def probe_docker(ssh: SSHService, target: SSHTarget) -> DockerAccess:
    """Whether the SSH user can use Docker, and if not, exactly what to fix."""
    direct = await ssh.run(target, ["docker", *DOCKER_VERSION], check=False)
    if direct.exit_code == 0 or not target.use_sudo:
        return docker_access_of(target.username, direct.exit_code, _said(direct), via_sudo=False)
    via_sudo = await ssh.run(target, ["sudo", "-n", "docker", *DOCKER_VERSION], check=False)
    return docker_access_of(target.username, via_sudo.exit_code, _said(via_sudo), via_sudo=True)


def _said(result: CommandResult) -> str:
    return result.stdout if result.exit_code == 0 else result.stderr


def key_values(output: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in output.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _mb(kilobytes: str | None) -> int | None:
    number = _int(kilobytes)
    return None if number is None else number // 1024
