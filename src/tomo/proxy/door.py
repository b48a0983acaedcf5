"""A server's front door: tomo's Caddy container, its network and its volume, driven
through tomo's remote Docker (every command an argv, quoted by the SSH layer).

    network  tomo-proxy       the front door's own (its way out, for ACME); no app
    networks of apps          the front door joins the own network of each app with
                              a name (tomo-<installation>, which no other app is
                              on); an app named after its install, still on
                              tomo's isolated network (or, installed by an older
                              tomo, Docker's default bridge), instead shares one more,
    network  tomo-door-<app>  with the front door alone (internal: no way out).
                              Either way an app reaches no other app's container
                              through them, only through the front door, like anyone
    volume   tomo-proxy-data  at /data: Caddy's storage (keys, certificates, the
                              internal CA) and its autosaved config, so both
                              survive restarts and new images
    container tomo-proxy      `caddy run --resume`: after a restart (or a new
                              image) it runs the last config it accepted

A config is applied whole: the JSON (and a private ACME CA's root, when it has one)
goes into the volume with `docker container cp` (a one-file tar on stdin), then
`caddy reload` inside the container hands it to Caddy's admin API (localhost:2019
there, reachable from nowhere else), whose /load runs it or, when it cannot, keeps
the config it had. The image needs no shell: Caddy's binary is the only program
run in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import ipaddress
import json
import math
import re
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from tomo.backups.transfer import stream_in, stream_out
from tomo.deployment.remote import ISOLATED_NETWORK, Docker
from tomo.errors import CommandFailed, FrontDoorFailed, InvalidInput, Refusal
from tomo.proxy.caddy import ADMIN, DATA, ROOT_CERTIFICATE, STORAGE, acme_root_file, caddy_config
from tomo.proxy.routes import CONTAINER_NAME, FrontDoorConfig, container_problem
from tomo.servers.ssh import SSHService, docker_argv

if TYPE_CHECKING:
    from tomo.deployment.context import DeploymentContext

NETWORK = "tomo-proxy"
APP_NETWORK_LABEL = "tomo.front-door.app"  # its value: the routed container
VOLUME = "tomo-proxy-data"
CONTAINER = "tomo-proxy"
LABEL = "tomo.front-door"  # its value: the digest of how the container was made
STAGED = "tomo-proxy.json"  # in DATA: the config being applied
FIRST = "tomo-first.json"  # in DATA: what Caddy runs before tomo applied anything
AUTOSAVE = f"{DATA}/config/caddy/autosave.json"  # Caddy's copy of the config it runs
# Changes whenever the container's own arguments do, so that ensure() makes it anew.
RUN_VERSION = "1"
RELOAD_SECONDS = 60.0
ADMIN_WAIT_SECONDS = 10.0  # for Caddy's admin API to answer after a start
# For an ACME CA to sign (or refuse) a new name's certificate: a CA on the LAN takes
# a second, a public one up to about twenty.
ACME_WAIT_SECONDS = 30.0
CERTIFICATES = f"{STORAGE}/certificates"  # <issuer>/<name>/<name>.crt; issuer local: internal


class Inspected(NamedTuple):
    status: str  # created, running, exited…
    image: str
    made: str  # the LABEL: how it was made (see _made_as)


@dataclass(frozen=True)
class FrontDoorStatus:
    """What the front door is on its server now."""

    exists: bool
    running: bool
    image: str | None
    applied: dict[str, Any] | None  # the Caddy config it runs (its autosave); None: none yet

    def applies(self, config: FrontDoorConfig) -> bool:
        """Whether it runs exactly `config`."""
        return self.applied == caddy_config(config)


class FrontDoor:
    """The front door of one server. `owner` is put on what it makes as the label
    tomo.owner (Settings.owner_label), as installations' containers carry it."""

    def __init__(self, docker: Docker, ssh: SSHService, *, owner: str = "") -> None:
        self.docker = docker
        self.ssh = ssh
        self.owner = owner

    @property
    def server(self) -> str:
        return self.docker.server

    # -- the container -----------------------------------------------------------

    async def ensure(
        self, image: str, publish_address: str, http_port: int, https_port: int
    ) -> bool:
        """Network, volume and a running container made this way (made anew, with the
        same volume, when the image or the ports changed; started when stopped);
        whether the container was made (it is then on the networks it shares with an
        app alone; the caller joins it to the apps' own)."""
        _check_made(image, publish_address, http_port, https_port)
        await self._ensure_network()
        await self._ensure_volume()
        made = _made_as(image, publish_address, http_port, https_port)
        found = await self._inspect()
        if found is not None and found.made == made:
            if found.status != "running":
                await self.docker.run(["container", "start", CONTAINER])
            return False
        if found is not None:
            await self.docker.remove_container(CONTAINER, with_volumes=True)
        await self._create(image, _published(publish_address, http_port, https_port), made)
        return True

    async def status(self) -> FrontDoorStatus:
        found = await self._inspect()
        if found is None:
            return FrontDoorStatus(exists=False, running=False, image=None, applied=None)
        applied = await self._read(AUTOSAVE)
        return FrontDoorStatus(exists=True, running=found.status == "running", image=found.image,
                               applied=json.loads(applied) if applied else None)  # fmt: skip

    async def remove(self, *, with_volume: bool = False) -> None:
        """The container and the networks go (apps still on them are disconnected
        first); the volume, with its certificates and CA, only when asked."""
        await self.docker.remove_container(CONTAINER, with_volumes=True)
        for network in await self._app_networks():
            await self._remove_network(network)
        if await self.docker.network_owner(NETWORK) is not None:
            await self._remove_network(NETWORK)
        if with_volume:
            left = await self.docker.remove_volumes([VOLUME])
            if left:
                raise FrontDoorFailed(self.server, f"volume {VOLUME} is still in use")

    # -- the config ----------------------------------------------------------------

    async def apply(self, config: FrontDoorConfig) -> None:
        """Run `config` whole, or raise FrontDoorFailed with Caddy's reason, the
        running config left as it was."""
        extra: dict[str, bytes] = {}
        if config.acme_ca_root is not None:
            extra[acme_root_file(config.acme_ca_root)] = config.acme_ca_root.encode()
        await self._load(json.dumps(caddy_config(config), indent=1).encode(), extra)

    async def apply_document(self, document: dict[str, Any]) -> None:
        """A Caddy config as it is (apply() makes one from a FrontDoorConfig): for a
        config tomo cannot express yet, and for tests of what Caddy refuses."""
        await self._load(json.dumps(document).encode())

    async def root_certificate(self) -> str:
        """The PEM of the internal CA's root, which clients trust for tls internal."""
        pem = await self._read(ROOT_CERTIFICATE)
        if pem is None:
            raise FrontDoorFailed(self.server, "the front door has no internal root "
                                  "certificate yet: Caddy makes it once a config with tls "
                                  "internal runs")  # fmt: skip
        return pem.decode("ascii")

    async def certificates(
        self, names: Sequence[str], began: float, ca: str | None
    ) -> dict[str, str | None]:
        """How each name's ACME certificate went since `began` (a time.monotonic()
        before the config was applied) from the ACME directory `ca` (None: Caddy's
        public CAs), waiting up to ACME_WAIT_SECONDS for all to be known: "" the
        front door has one, Caddy's reason it could not get one (it tries again
        later), or None: still asking."""
        deadline = began + ACME_WAIT_SECONDS
        while True:
            outcomes = await self._certificates_now(names, began, ca)
            if None not in outcomes.values() or time.monotonic() > deadline:
                return outcomes
            await asyncio.sleep(0.5)

    # -- apps on their networks -------------------------------------------------------

    async def connect(self, container: str, alias: str, own: str | None = None) -> list[str]:
        """Have the front door reach the app's container: on `own`, the app's own
        network, when the container is on it (the front door joins it); else on a
        network the two share alone, where the container is `alias` (already so:
        nothing changes). The other networks the container is on (`bridge`: Docker's
        default), where others may reach it (none do on tomo's isolated one)."""
        problem = container_problem(alias)
        if problem:
            raise InvalidInput([Refusal(f"alias '{alias}' {problem}", ("alias",))])
        _check_container(container)
        network = app_network(container)
        joined = await self._networks_of(container)
        if NETWORK in joined:  # where tomo put every app before: each reached the others
            await self._leave(NETWORK, container)
        others = sorted(set(joined) - {NETWORK, network, own, ISOLATED_NETWORK})
        if own is not None and own in joined:
            await self._join(own)
            await self._remove_app_network(network, container)  # named on the default
            return others  # bridge before, and updated since
        await self._ensure_app_network(network, container)
        if alias in joined.get(network, ()):
            return others
        if network in joined:
            await self._leave(network, container)
        await self.docker.run(["network", "connect", "--alias", alias, network, container])
        return others

    async def disconnect(self, container: str, own: str | None = None) -> None:
        """Take the container off the front door (gone or never on it: nothing to
        do): the front door leaves `own`, the app's own network, and the network the
        two shared alone goes."""
        _check_container(container)
        await self._leave(NETWORK, container)
        if own is not None:
            await self._leave(own, CONTAINER)
        await self._remove_app_network(app_network(container), container)

    async def forget_departed(self) -> list[str]:
        """The networks the front door shared with one container alone, that container
        gone or no longer on it (an update that put the app on a network of its own
        and routes another of its services, a container removed by hand): they go.
        Their names."""
        gone = []
        for network in await self._app_networks():
            container = ((await self._network_labels(network)) or {}).get(APP_NETWORK_LABEL)
            if container and network not in await self._configured_networks(container):
                await self._remove_network(network)
                gone.append(network)
        return gone

    # -- below ----------------------------------------------------------------------

    async def _ensure_network(self) -> None:
        if await self.docker.network_owner(NETWORK) is None:
            await self.docker.run(["network", "create", *self._labels("1"), NETWORK])

    async def _ensure_app_network(self, network: str, container: str) -> None:
        """The app's network with the front door, made when missing, the front door
        on it. One of that name that tomo did not make for this is refused."""
        labels = await self._network_labels(network)
        if labels is None:
            labelled = [*self._labels("1"), "--label", f"{APP_NETWORK_LABEL}={container}"]
            await self.docker.run(["network", "create", "--internal", *labelled, network])
        elif labels.get(APP_NETWORK_LABEL) != container:
            raise FrontDoorFailed(self.server, f"network {network} is there and is not the one "
                                  f"tomo makes for {container} and the front door: rename the "
                                  "installation or remove that network")  # fmt: skip
        await self._join(network)

    async def _remove_app_network(self, network: str, container: str) -> None:
        """The network the front door shared with `container` alone, when tomo made it
        (one of that name that it did not make stays)."""
        labels = await self._network_labels(network)
        if labels is not None and labels.get(APP_NETWORK_LABEL) == container:
            await self._remove_network(network)

    async def _join(self, network: str) -> None:
        """The front door on `network` (there already: nothing to do)."""
        if network not in await self._networks_of(CONTAINER):
            await self.docker.run(["network", "connect", network, CONTAINER])

    async def _network_labels(self, network: str) -> dict[str, str] | None:
        """The network's labels; None when there is no such network."""
        args = ["network", "inspect", "--format", "{{json .Labels}}", network]
        result = await self.docker.ssh.run_docker(self.docker.target, args, check=False)
        if result.exit_code != 0:
            if "not found" in result.stderr.lower() or "no such" in result.stderr.lower():
                return None
            raise CommandFailed(self.server, f"docker network inspect {network}",
                                result.exit_code, result.stderr)  # fmt: skip
        return json.loads(result.stdout or "null") or {}

    async def _app_networks(self) -> list[str]:
        """The networks the front door shares with one container alone (of this
        tomo's, when several share the engine)."""
        owned = ["--filter", f"label=tomo.owner={self.owner}"] if self.owner else []
        args = ["network", "ls", "--filter", f"label={APP_NETWORK_LABEL}", *owned, "--format",
                "{{.Name}}"]  # fmt: skip
        return [name for name in (await self.docker.run(args)).split("\n") if name.strip()]

    async def _leave(self, network: str, container: str) -> None:
        """Take `container` off `network` (either gone, or not on it: nothing to do)."""
        args = ["network", "disconnect", "--force", network, container]
        result = await self.docker.ssh.run_docker(self.docker.target, args, check=False)
        quiet = ("is not connected", "no such container", "not found")
        if result.exit_code != 0 and not any(q in result.stderr.lower() for q in quiet):
            raise CommandFailed(self.server, f"docker network disconnect {network} {container}",
                                result.exit_code, result.stderr)  # fmt: skip

    async def _remove_network(self, network: str) -> None:
        """Everything off `network`, then the network (gone already: nothing to do)."""
        for container in await self._attached(network):
            await self._leave(network, container)
        args = ["network", "rm", network]
        result = await self.docker.ssh.run_docker(self.docker.target, args, check=False)
        if result.exit_code != 0 and "not found" not in result.stderr.lower():
            raise CommandFailed(self.server, f"docker network rm {network}",
                                result.exit_code, result.stderr)  # fmt: skip

    async def _ensure_volume(self) -> None:
        if not await self.docker.volume_exists(VOLUME):
            await self.docker.run(["volume", "create", *self._labels("1"), VOLUME])

    def _labels(self, value: str) -> list[str]:
        labels = {LABEL: value} | ({"tomo.owner": self.owner} if self.owner else {})
        return [item for key, text in labels.items() for item in ("--label", f"{key}={text}")]

    async def _create(self, image: str, published: list[str], made: str) -> None:
        """Create, give it its first config, start; a container that cannot start
        (a port taken, an image that is not Caddy) is removed again."""
        args = ["container", "create", "--name", CONTAINER, *self._labels(made),
                "--restart", "unless-stopped", "--network", NETWORK,
                "--volume", f"{VOLUME}:{DATA}", "--env", f"XDG_DATA_HOME={DATA}",
                "--env", f"XDG_CONFIG_HOME={DATA}/config", *published,
                "--security-opt", "no-new-privileges", "--entrypoint", "caddy", image,
                "run", "--resume", "--config", f"{DATA}/{FIRST}"]  # fmt: skip
        await self.docker.run(args, time_limit=600)  # pulls the image when missing
        try:
            for network in await self._app_networks():  # those it shares with an app alone
                await self.docker.run(["network", "connect", network, CONTAINER])
            await self._upload(FIRST, json.dumps(_first_config()).encode())
            await self.docker.run(["container", "start", CONTAINER])
            await self._check_running()
        except BaseException:
            await self.docker.remove_container(CONTAINER, with_volumes=True)
            raise

    async def _load(self, document: bytes, files: dict[str, bytes] | None = None) -> None:
        """Put `files` (name -> content, in the volume) and then the config there,
        and have Caddy run it."""
        found = await self._inspect()
        if found is None:
            raise FrontDoorFailed(self.server, _NOT_THERE)
        if found.status != "running":
            raise FrontDoorFailed(self.server, f"the front door ({CONTAINER}) is {found.status}, "
                                  "not running: ensure it first")  # fmt: skip
        for name, content in (files or {}).items():
            await self._upload(name, content)
        await self._upload(STAGED, document)
        await self._reload(f"{DATA}/{STAGED}")

    async def _check_running(self) -> None:
        found = await self._inspect()
        if found is None or found.status != "running":
            said = " | ".join(await self.docker.output_tail(CONTAINER, 5)) or "no output"
            raise FrontDoorFailed(self.server, f"the front door did not start: {said}")

    async def _inspect(self) -> Inspected | None:
        """The container as Docker sees it, or None when there is none."""
        fields = (
            f'{{{{.State.Status}}}}\t{{{{.Config.Image}}}}\t{{{{index .Config.Labels "{LABEL}"}}}}'
        )
        args = ["container", "inspect", "--format", fields, CONTAINER]
        result = await self.docker.ssh.run_docker(self.docker.target, args, check=False)
        if result.exit_code != 0:
            if "no such" in result.stderr.lower():
                return None
            raise CommandFailed(self.server, f"docker container inspect {CONTAINER}",
                                result.exit_code, result.stderr)  # fmt: skip
        status, image, made = [*result.stdout.rstrip("\n").split("\t"), "", "", ""][:3]
        return Inspected(status, image, made)

    async def _upload(self, name: str, content: bytes) -> None:
        """One file into the volume, as a tar on the stdin of `docker container cp`."""
        source = asyncio.StreamReader()
        source.feed_data(_one_file_tar(name, content))
        source.feed_eof()
        argv = docker_argv(self.docker.target, ["container", "cp", "-", f"{CONTAINER}:{DATA}"])
        try:
            await stream_in(self.ssh, self.docker.target, argv, source)
        except CommandFailed as exc:
            raise self._missing_or(exc) from None

    async def _read(self, path: str) -> bytes | None:
        """A file of the container's (None when it is not there), through a tar on the
        stdout of `docker container cp`: the image has no shell to `cat` with."""
        archive = await self._copied_out(path)
        if archive is None:
            return None
        content = _only_file(archive)
        if content is None:
            raise FrontDoorFailed(self.server, f"docker container cp {CONTAINER}:{path} gave "
                                  "no file")  # fmt: skip
        return content

    async def _copied_out(self, path: str) -> bytes | None:
        """A file or folder of the container's as the tar `docker container cp` writes
        (None when it is not there)."""
        received: list[bytes] = []

        async def keep(chunk: bytes) -> None:
            received.append(chunk)

        argv = docker_argv(self.docker.target, ["container", "cp", f"{CONTAINER}:{path}", "-"])
        try:
            await stream_out(self.ssh, self.docker.target, argv, keep)
        except CommandFailed as exc:
            if "could not find the file" in exc.stderr.lower():
                return None
            raise self._missing_or(exc) from None
        return b"".join(received)

    async def _reload(self, path: str) -> None:
        """`caddy reload` inside the container; its admin API may need a moment after
        a start, so a refused connection is tried again for a few seconds."""
        args = ["container", "exec", CONTAINER, "caddy", "reload", "--config", path,
                "--address", ADMIN]  # fmt: skip
        deadline = time.monotonic() + ADMIN_WAIT_SECONDS
        for _ in range(100):
            result = await self.docker.ssh.run_docker(self.docker.target, args, check=False,
                                                      time_limit=RELOAD_SECONDS)  # fmt: skip
            if result.exit_code == 0:
                return
            reason = caddy_reason(result.stderr)
            if "connection refused" not in reason or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        raise FrontDoorFailed(self.server, not_reloaded(reason))

    async def _certificates_now(
        self, names: Sequence[str], began: float, ca: str | None
    ) -> dict[str, str | None]:
        """A failure since `began` before a certificate in storage: one from another
        CA (the one before a change) is there, yet not served."""
        failed = await self._obtain_failures(math.ceil(time.monotonic() - began) + 1, ca)
        held = await self._acme_certified()
        return {name: failed.get(name, "" if name in held else None) for name in names}

    async def _obtain_failures(self, seconds: int, ca: str | None) -> dict[str, str]:
        """name -> why Caddy last failed to get its certificate from `ca`, in the
        last `seconds` of its log (JSON lines on stderr; the newest failure wins).

        A failure logged after the latest config load (Caddy's admin API logs each
        /load it receives) is the running config's. One from before counts only when
        it names the same CA: Caddy waits before it asks a CA that failed again, so
        the running config may have made no attempt of its own yet. An attempt cut
        short ("context canceled") is a config's that a load stopped."""
        args = ["container", "logs", "--since", f"{seconds}s", CONTAINER]
        result = await self.docker.ssh.run_docker(self.docker.target, args, check=False)
        before: dict[str, str] = {}
        failed: dict[str, str] = {}
        for line in result.stderr.splitlines():
            entry = _log_entry(line)
            if entry.get("msg") == "received request" and entry.get("uri") == "/load":
                before |= failed
                failed = {}
                continue
            reason = str(entry.get("error", "no reason given"))
            stopped = reason.endswith("context canceled")
            if entry.get("msg") == "could not get certificate from issuer" and not stopped:
                failed[str(entry.get("identifier"))] = reason
        same_ca = {name: reason for name, reason in before.items() if ca and ca in reason}
        return same_ca | failed

    async def certificates_held(self) -> dict[str, HeldCertificate]:
        """name -> the certificate the front door holds for it (from its storage)."""
        archive = await self._copied_out(CERTIFICATES)
        return held_certificates(archive) if archive is not None else {}

    async def _acme_certified(self) -> set[str]:
        """The names the front door holds a certificate for from an ACME CA."""
        archive = await self._copied_out(CERTIFICATES)
        if archive is None:
            return set()
        try:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                paths = [member.name.split("/") for member in tar.getmembers() if member.isfile()]
        except tarfile.TarError:
            return set()
        # certificates/<issuer>/<name>/<name>.crt, the internal CA's issuer being "local"
        return {
            path[2]
            for path in paths
            if len(path) == 4 and path[1] != "local" and path[3] == f"{path[2]}.crt"
        }

    async def _networks_of(self, container: str) -> dict[str, list[str]]:
        """The networks the container is on, each with its aliases there."""
        args = ["container", "inspect", "--format", "{{json .NetworkSettings.Networks}}",
                container]  # fmt: skip
        networks = json.loads(await self.docker.run(args) or "null") or {}
        return {name: list(endpoint.get("Aliases") or []) for name, endpoint in networks.items()}

    async def _configured_networks(self, container: str) -> set[str]:
        """The networks a container is on, running or stopped (Docker keeps them with
        it); none when there is no such container."""
        args = ["container", "inspect", "--format", "{{json .NetworkSettings.Networks}}",
                container]  # fmt: skip
        result = await self.docker.ssh.run_docker(self.docker.target, args, check=False)
        if result.exit_code != 0:
            if "no such" in result.stderr.lower():
                return set()
            raise CommandFailed(self.server, f"docker container inspect {container}",
                                result.exit_code, result.stderr)  # fmt: skip
        return set(json.loads(result.stdout or "null") or {})

    async def _attached(self, network: str) -> list[str]:
        args = ["network", "inspect", "--format",
                "{{range .Containers}}{{.Name}}\n{{end}}", network]  # fmt: skip
        return [name for name in (await self.docker.run(args)).split("\n") if name.strip()]

    def _missing_or(self, exc: CommandFailed) -> Exception:
        if "no such container" in exc.stderr.lower():
            return FrontDoorFailed(self.server, _NOT_THERE)
        return exc


async def front_door(ctx: DeploymentContext, server_id: str) -> FrontDoor:
    """The front door of a server, through the deployment's Docker and SSH."""
    docker = await ctx.docker(server_id)
    return FrontDoor(docker, ctx.servers.ssh, owner=ctx.settings.owner_label)


def caddy_reason(stderr: str) -> str:
    """Caddy's own words in what `caddy reload` printed: the `error` its admin API
    answered with (`Error: … HTTP 400: {"error": "…"}`), or its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = next((line for line in reversed(lines) if line.startswith("Error:")), None)
    if said is None:
        return lines[-1] if lines else "no output"
    _, brace, answer = said.partition("{")
    if brace:
        try:
            return str(json.loads(brace + answer)["error"])
        except (ValueError, KeyError, TypeError):
            pass
    return said.removeprefix("Error:").strip()


def certificates_said(outcomes: dict[str, str | None]) -> str:
    """The names whose ACME certificate is missing, and why ("" when none is)."""
    said = []
    for name, reason in outcomes.items():
        if reason:
            said.append(f"the certificate for {name} was not obtained: {reason} "
                        "(Caddy tries again later)")  # fmt: skip
        elif reason is None:
            said.append(f"the certificate for {name} is not there after "
                        f"{ACME_WAIT_SECONDS:.0f} s (Caddy is still asking the CA)")  # fmt: skip
    return "; ".join(said)


def _log_entry(line: str) -> dict[str, Any]:
    """One line of Caddy's JSON log ({} when the line is not one)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return {}
    return entry if isinstance(entry, dict) else {}


_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}")
_NOT_THERE = f"there is no front door ({CONTAINER}) on this server: ensure it first"


def not_reloaded(reason: str) -> str:
    """Why a reload did not happen, in words that say whose fault it is."""
    if "is not running" in reason or "no such container" in reason.lower():
        return f"the front door ({CONTAINER}) is not running: ensure it first ({reason})"
    if "connection refused" in reason:
        return (
            f"Caddy's admin API in {CONTAINER} did not answer within "
            f"{ADMIN_WAIT_SECONDS:.0f} s ({reason})"
        )
    if found := _MISSING_DNS_MODULE.search(reason):
        provider = found["name"]
        return (f"the front door's image has no DNS provider module dns.providers.{provider}, "
                f"so Caddy kept the config it ran: build an image with it (`xcaddy build "
                f"--with github.com/caddy-dns/{provider}`, from Caddy's documentation) and set "
                "TOMO_PROXY_IMAGE to it")  # fmt: skip
    return f"Caddy refused the config and kept the one it ran: {reason}"


# Caddy's words for a DNS provider its build lacks (`caddy list-modules` has none).
_MISSING_DNS_MODULE = re.compile(r"unknown module: dns\.providers\.(?P<name>[a-z0-9_]+)")


def _first_config() -> dict[str, Any]:
    """What Caddy runs until tomo applies a config: its admin API and storage, no site."""
    return {"admin": {"listen": ADMIN}, "storage": {"module": "file_system", "root": STORAGE}}


def _check_made(image: str, address: str, http_port: int, https_port: int) -> None:
    problems = []
    if not _IMAGE.fullmatch(image):  # never an option to `docker container create`
        problems.append(Refusal(f"'{image}' is not an image reference", ("image",)))
    try:
        ipaddress.ip_address(address)
    except ValueError:
        problems.append(Refusal(f"'{address}' is not an IP address", ("publish_address",)))
    for name, port in (("http_port", http_port), ("https_port", https_port)):
        if not 1 <= port <= 65535:
            problems.append(Refusal(f"port {port} is not between 1 and 65535", (name,)))
    if http_port == https_port:
        problems.append(Refusal(f"HTTP and HTTPS cannot share port {http_port}", ("https_port",)))
    if problems:
        raise InvalidInput(problems)


def app_network(container: str) -> str:
    """The network the app's routed container shares with the front door alone."""
    return f"tomo-door-{container}"


def _check_container(name: str) -> None:
    if not CONTAINER_NAME.fullmatch(name):
        raise InvalidInput([Refusal(f"'{name}' is not a container name", ("container",))])


def _published(address: str, http_port: int, https_port: int) -> list[str]:
    host = f"[{address}]" if ":" in address else address
    return ["--publish", f"{host}:{http_port}:80", "--publish", f"{host}:{https_port}:443"]


def _made_as(image: str, address: str, http_port: int, https_port: int) -> str:
    """A digest of everything the container is made with: another one means anew."""
    text = "\n".join([RUN_VERSION, image, address, str(http_port), str(https_port)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _one_file_tar(name: str, content: bytes) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(content), 0o600, int(time.time())
        tar.addfile(info, io.BytesIO(content))
    return archive.getvalue()


@dataclass(frozen=True)
class HeldCertificate:
    """A certificate in the front door's storage: who signed it, until when."""

    issuer: str  # "internal" (tomo's CA) or "acme" (an ACME CA's)
    expires_at: datetime


def held_certificates(archive: bytes) -> dict[str, HeldCertificate]:
    """name -> its certificate, from a tar of Caddy's certificates folder
    (`<issuer>/<name>/<name>.crt`, the internal CA's issuer folder being "local");
    a file that is no certificate is left out."""
    from cryptography import x509

    held: dict[str, HeldCertificate] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                path = member.name.split("/")
                if not (member.isfile() and len(path) == 4 and path[3] == f"{path[2]}.crt"):
                    continue
                handle = tar.extractfile(member)
                try:
                    found = x509.load_pem_x509_certificate(handle.read() if handle else b"")
                except ValueError:
                    continue
                issuer = "internal" if path[1] == "local" else "acme"
                held[path[2]] = HeldCertificate(issuer, found.not_valid_after_utc)
    except tarfile.TarError:
        return {}
    return held


def _only_file(archive: bytes) -> bytes | None:
    """The content of the one regular file in a tar `docker container cp` wrote
    (None when it holds none, or is no tar)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    return extracted.read()
    except tarfile.TarError:
        return None
    return None
