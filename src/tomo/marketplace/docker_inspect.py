"""A running container, read from `docker container inspect`, as the compose file
that makes it again: what an adoption puts into the personal catalog
(tomo.deployment.adopt), so that an adopted container is updated and removed
like any app.

Only what the container was given beyond its image is written: an environment
entry, command or label the image already has is left to the image, so a new
version of the image brings its own. Values are kept out of the file: each
environment value becomes a `${NAME}` reference answered by the installation's
config (secrets sealed there), never text in a git repository.

Docker volumes are not written either: an update carries every volume the
container mounts over by name (tomo.deployment.update._carry), so the data a
named or anonymous volume holds stays where it is. What compose has no key for,
or tomo does not run, is said in `left_out`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from tomo.marketplace.definition import SETTING_NAME

# Compose keeps these for itself; they name the project the container came from.
_COMPOSE_LABEL = "com.docker.compose."
_DEFAULT_NETWORKS = ("default", "bridge", "")
_DEFAULT_SHM = 64 * 1024 * 1024
_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


@dataclass
class Recreated:
    """The compose file, the values it references, and what it could not say."""

    compose: str
    env: dict[str, str] = field(default_factory=dict)  # `${NAME}` -> the container's value
    volumes: list[str] = field(default_factory=list)  # Docker volumes it mounts, carried over
    left_out: list[str] = field(default_factory=list)  # in words, for the user


def compose_of_inspect(container: dict[str, Any], image: dict[str, Any], service: str) -> Recreated:
    """The compose file of one service `service` that runs `container` again;
    ValueError when it cannot be made again (no image name to pull)."""
    config, host = container.get("Config") or {}, container.get("HostConfig") or {}
    reference = str(config.get("Image") or "")
    if not reference or _IMAGE_ID.fullmatch(reference):
        raise ValueError("it runs an image known only by its id: there is no name to pull it by")
    made = Recreated(compose="")
    spec: dict[str, Any] = {"image": reference}
    spec |= _own_settings(config, image)
    labels = sorted(
        name for name, value in (config.get("Labels") or {}).items()
        if not name.startswith(_COMPOSE_LABEL) and (image.get("Labels") or {}).get(name) != value
    )  # fmt: skip
    if labels:
        made.left_out.append(f"its labels {', '.join(labels)} (tomo sets its own)")
    environment = _environment(config.get("Env") or [], image.get("Env") or [], made)
    if environment:
        spec["environment"] = environment
    spec |= _host_settings(host, made)
    spec |= _network(host, container.get("NetworkSettings") or {}, made)
    spec |= _mounts(container.get("Mounts") or [], made)
    made.compose = yaml.safe_dump({"services": {service: spec}}, sort_keys=False)
    return made


def _own_settings(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """Command, entrypoint, user, working directory, health check and stop signal,
    where the container's differ from its image's."""
    spec: dict[str, Any] = {}
    for key, compose_key in (("Cmd", "command"), ("Entrypoint", "entrypoint"),
                             ("User", "user"), ("WorkingDir", "working_dir"),
                             ("StopSignal", "stop_signal")):  # fmt: skip
        value = config.get(key)
        if value and value != image.get(key):
            spec[compose_key] = _escaped(value)
    health = config.get("Healthcheck")
    if health and health != image.get("Healthcheck") and health.get("Test"):
        spec["healthcheck"] = _healthcheck(health)
    if config.get("StopTimeout"):
        spec["stop_grace_period"] = f"{config['StopTimeout']}s"
    return spec


def _environment(env: list[str], image_env: list[str], made: Recreated) -> dict[str, str]:
    """The entries the container was given: each a `${NAME}` reference when the name
    can be one (its value goes to the config), else the value itself, escaped."""
    inherited = set(image_env)
    given: dict[str, str] = {}
    for entry in env:
        if entry in inherited:
            continue
        name, _, value = entry.partition("=")
        if SETTING_NAME.fullmatch(name):
            given[name] = f"${{{name}}}"
            made.env[name] = value
        else:  # `discovery.type=single-node`: a name no variable can have
            given[name] = value.replace("$", "$$")
    return given


def _host_settings(host: dict[str, Any], made: Recreated) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    bindings = (host.get("PortBindings") or {}).items()
    ports = [_port(binding, published) for binding, bound in bindings
             for published in bound or [{}]]  # fmt: skip
    if ports:
        spec["ports"] = ports
    restart = (host.get("RestartPolicy") or {}).get("Name") or "no"
    if restart != "no":
        retries = (host.get("RestartPolicy") or {}).get("MaximumRetryCount")
        spec["restart"] = f"{restart}:{retries}" if restart == "on-failure" and retries else restart
    for key, compose_key in (("CapAdd", "cap_add"), ("CapDrop", "cap_drop")):
        if host.get(key):
            spec[compose_key] = [c.removeprefix("CAP_") for c in host[key]]
    for key, compose_key in (("ExtraHosts", "extra_hosts"), ("SecurityOpt", "security_opt"),
                             ("Dns", "dns"), ("GroupAdd", "group_add")):  # fmt: skip
        if host.get(key):
            spec[compose_key] = list(host[key])
    if host.get("Devices"):
        spec["devices"] = [f"{d['PathOnHost']}:{d['PathInContainer']}" for d in host["Devices"]]
    if host.get("Sysctls"):
        spec["sysctls"] = dict(host["Sysctls"])
    if host.get("Tmpfs"):
        spec["tmpfs"] = [f"{path}:{options}" if options else path
                         for path, options in sorted(host["Tmpfs"].items())]  # fmt: skip
    if host.get("Ulimits"):
        spec["ulimits"] = {u["Name"]: {"soft": u["Soft"], "hard": u["Hard"]}
                           for u in host["Ulimits"]}  # fmt: skip
    for key, compose_key in (("Privileged", "privileged"), ("ReadonlyRootfs", "read_only"),
                             ("Init", "init")):  # fmt: skip
        if host.get(key):
            spec[compose_key] = True
    for key, compose_key in (("PidMode", "pid"), ("IpcMode", "ipc"), ("UsernsMode", "userns_mode")):
        if host.get(key) == "host":
            spec[compose_key] = "host"
    if host.get("ShmSize") and host["ShmSize"] != _DEFAULT_SHM:
        spec["shm_size"] = str(host["ShmSize"])
    if host.get("Memory"):
        spec["mem_limit"] = str(host["Memory"])
    if host.get("MemoryReservation"):
        spec["mem_reservation"] = str(host["MemoryReservation"])
    if host.get("NanoCpus"):
        spec["cpus"] = host["NanoCpus"] / 1e9
    if any(r.get("Driver") == "nvidia" or ["gpu"] in (r.get("Capabilities") or [])
           for r in host.get("DeviceRequests") or []):  # fmt: skip
        spec["gpus"] = "all"
    if (host.get("LogConfig") or {}).get("Type") not in (None, "json-file"):
        driver = host["LogConfig"]["Type"]
        made.left_out.append(f"its log driver '{driver}' (tomo uses Docker's default)")
    return spec


def _port(binding: str, published: dict[str, Any]) -> str:
    """`53/udp` bound to host port 5353 as `5353:53/udp`. The address it was bound
    to is not written: tomo publishes on the address it is set up with."""
    port, _, protocol = binding.partition("/")
    host_port = published.get("HostPort") or ""
    text = f"{host_port}:{port}" if host_port else port
    return f"{text}/{protocol}" if protocol and protocol != "tcp" else text


def _network(host: dict[str, Any], settings: dict[str, Any], made: Recreated) -> dict[str, Any]:
    """Host networking is kept; a network of its own (a compose project's, one made
    by hand) is not: tomo gives the app its own, and says so."""
    mode = str(host.get("NetworkMode") or "")
    if mode in ("host", "none"):
        return {"network_mode": mode}
    if mode.startswith("container:"):
        made.left_out.append(f"its network mode '{mode}' (it shares another container's network)")
        return {}
    others = [n for n in (settings.get("Networks") or {}) if n not in _DEFAULT_NETWORKS]
    if others:
        made.left_out.append(
            f"its network{'s' if len(others) > 1 else ''} {', '.join(sorted(others))}: "
            "after an update it is on none of them (on its own network or tomo's isolated "
            "one), and other containers there no longer reach it"
        )
    return {}


def _mounts(mounts: list[dict[str, Any]], made: Recreated) -> dict[str, Any]:
    """Bind mounts as `host:container[:ro]`; Docker volumes listed, not written."""
    volumes = []
    for mount in mounts:
        if mount.get("Type") == "bind":
            read_only = "" if mount.get("RW", True) else ":ro"
            volumes.append(f"{mount['Source']}:{mount['Destination']}{read_only}")
        elif mount.get("Type") == "volume" and mount.get("Name"):
            made.volumes.append(str(mount["Name"]))
        else:
            made.left_out.append(f"its {mount.get('Type', 'unknown')} mount at "
                                 f"{mount.get('Destination', '?')}")  # fmt: skip
    return {"volumes": volumes} if volumes else {}


def _healthcheck(health: dict[str, Any]) -> dict[str, Any]:
    test = health["Test"]
    check: dict[str, Any] = {"test": _escaped(test)}
    for key, compose_key in (("Interval", "interval"), ("Timeout", "timeout"),
                             ("StartPeriod", "start_period")):  # fmt: skip
        if health.get(key):
            check[compose_key] = f"{health[key] // 1_000_000}ms"  # Docker keeps nanoseconds
    if health.get("Retries"):
        check["retries"] = health["Retries"]
    return check


def _escaped(value: Any) -> Any:
    """A literal for compose: `$` doubled, so no text of the container is read as a
    variable."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value
