"""A docker-compose document → tomo's services form, for every store that publishes one.

`convert_compose` maps what the definition model has (image, command, ports,
volumes, environment, health checks, dependencies, …) and judges every other
key by name: a *warning* when leaving it out changes nothing that matters (tomo
names containers itself, keeps Docker's default logging, …), a *blocker* when
its absence would change what runs or give the app more power than it asked
for (build, secrets, security_opt, cap_drop, …): the app is then listed but
not installable. docs/catalog-formats.md gives the reason for every key.

Variables are read through the store's VariableTable (variables.py). Names by
which compose lets services reach each other but tomo's network does not
(container_name, network aliases, fixed addresses, Umbrel's `<app>_<svc>_1`)
are rewritten to the service's name in the other services' values.
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tomo.errors import InvalidDefinition
from tomo.marketplace.container_options import read_option
from tomo.marketplace.definition import (
    CHOSEN_DEVICE,
    DEPENDENCY_CONDITIONS,
    DURATION,
    FILE_MODE,
    FILE_OWNER,
    IMAGE_REFERENCE,
    MAX_REPLICAS,
    MAX_STOP_SECONDS,
    REFERENCE,
    AppDefinition,
    DockerConfig,
    check_sysctl,
    duration_seconds,
    references,
)
from tomo.marketplace.formats.variables import (
    Interpolator,
    Ref,
    Setting,
    Source,
    VariableTable,
    parse_template,
)
from tomo.marketplace.parse import format_validation_error
from tomo.slugs import SLUG

MAX_PORT_RANGE = 16  # a longer range of published ports blocks the app
MAX_NOT_INSTALLABLE = 2000

# Keys whose absence changes nothing that matters: warned about, then left out.
WARNED: dict[str, str] = {
    "container_name": "tomo names containers itself",
    "hostname": "the container keeps Docker's default host name",
    "domainname": "the container keeps Docker's default domain name",
    "labels": "tomo sets its own labels",
    "label_file": "tomo sets its own labels",
    "annotations": "tomo sets its own labels",
    "logging": "tomo keeps Docker's default logging",
    "deploy": "placement and other limits are not applied",
    "memswap_limit": "resource limits are not applied",
    "mem_swappiness": "resource limits are not applied",
    "cpu_count": "resource limits are not applied",
    "cpu_percent": "resource limits are not applied",
    "cpu_shares": "resource limits are not applied",
    "cpu_quota": "resource limits are not applied",
    "cpu_period": "resource limits are not applied",
    "cpu_rt_runtime": "resource limits are not applied",
    "cpu_rt_period": "resource limits are not applied",
    "cpuset": "resource limits are not applied",
    "blkio_config": "resource limits are not applied",
    "pids_limit": "resource limits are not applied",
    "oom_score_adj": "resource limits are not applied",
    "oom_kill_disable": "resource limits are not applied",
    "tty": "the container runs without a terminal",
    "stdin_open": "the container runs without standard input",
    "platform": "Docker pulls the image for the server's own platform",
    "pull_policy": "tomo pulls images itself",
    "expose": "services of an app reach each other on the installation's network anyway",
    "dns": "the container uses Docker's DNS settings",
    "dns_search": "the container uses Docker's DNS settings",
    "dns_opt": "the container uses Docker's DNS settings",
    "mac_address": "Docker chooses the container's MAC address",
    "group_add": "the container's user gets no extra groups",
    "scale": "tomo runs one container per service",
    "develop": "compose's development mode does not apply",
}
# Keys whose absence would change what runs, or give the app more power: blockers.
BLOCKED: dict[str, str] = {
    "build": "tomo pulls images; it does not build them",
    "secrets": "tomo does not provide compose secrets",
    "extends": "tomo does not merge services from other files",
    "profiles": "tomo would start a service compose starts only on request",
    "security_opt": "options other than no-new-privileges can switch protections off",
    "userns_mode": "tomo does not change user namespaces",
    "uts": "tomo does not share the host's UTS namespace",
    "cgroup": "tomo does not change the container's cgroup namespace",
    "cgroup_parent": "tomo does not change the container's cgroup",
    "device_cgroup_rules": "tomo does not grant device access by cgroup rules",
    "isolation": "tomo runs containers with Docker's default isolation",
    "storage_opt": "tomo does not set storage options",
    "volumes_from": "tomo does not share volumes between containers this way",
    "external_links": "the app reaches containers outside itself",
    "credential_spec": "tomo does not manage credential specs",
    "post_start": "tomo does not run lifecycle hooks",
    "pre_stop": "tomo does not run lifecycle hooks",
    "use_api_socket": "the container would need the Docker engine's socket",
    "models": "tomo does not provide AI models",
    "provider": "tomo does not run compose providers",
}
_TOP_LEVEL_WARNED = {
    "secrets": "not supported, ignored (a service that uses them says so)",
}
# Where compose's configs (the ones written out in the file) are placed, under the
# installation's data directory, each mounted read-only where a service asks.
CONFIGS_DIR = "compose-configs"
_CONFIG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TOP_LEVEL_BLOCKED = {"include": "tomo does not read other compose files"}
_QUIET_VOLUME_MODES = {"ro", "rw", "nocopy", "cached", "delegated", "consistent"}
_ALIAS_EDGE = r"(?<![A-Za-z0-9_.-]){}(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9])(?!://)"


@dataclass
class ComposeApp:
    fields: dict[str, Any]  # "services", "main", "settings": merge into the definition's input
    warnings: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)  # any: the app is not installable
    # Where the app's data lives under the installation's data directory: "" or "data/"
    # when the app mounts the whole directory (see convert_compose).
    data_prefix: str = ""
    # The variables of other apps its values use, by app (variables.Imported).
    imports: dict[str, list[str]] = field(default_factory=dict)

    @property
    def not_installable(self) -> str | None:
        return not_installable_text(self.blockers)


def not_installable_text(blockers: list[str]) -> str | None:
    if not blockers:
        return None
    text = "; ".join(dict.fromkeys(blockers))
    return text if len(text) <= MAX_NOT_INSTALLABLE else text[: MAX_NOT_INSTALLABLE - 1] + "…"


def convert_compose(
    doc: object,
    *,
    where: str,
    table: VariableTable,
    main: str | None = None,
    skip: Collection[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> ComposeApp:
    """The services form of a loaded compose document. `skip`: services to leave
    out; `main`: the main service when the store names it; `aliases`: other names
    that reach a service (name -> service). ValueError: not a usable compose file (its
    message does not start with `where`: the caller names the file)."""
    return _convert(compose_document(doc), where, table, main, skip, aliases or {})


def _convert(
    doc: dict[str, Any],
    where: str,
    table: VariableTable,
    main: str | None,
    skip: Collection[str],
    aliases: Mapping[str, str],
) -> ComposeApp:
    def conversion(data_prefix: str) -> _Conversion:
        return _Conversion(doc, where=where, table=table, skip=skip, aliases=aliases,
                           data_prefix=data_prefix)  # fmt: skip

    result, root_mounted = conversion("").run(main)
    if root_mounted:  # the data directory itself is mounted: keep the app's data one level down
        result, _ = conversion("data/").run(main)
        result.warnings.append(f"{_prefix(where)}volumes: the app mounts its whole data "
                               "directory; tomo keeps its own files there, so the app's data "
                               "lives under ./data")  # fmt: skip
    return result


def compose_document(doc: object) -> dict[str, Any]:
    """The document, checked to be a compose file at all."""
    if not isinstance(doc, dict):
        raise ValueError("not a compose file: the top level must be a mapping")
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        raise ValueError("not a compose file: 'services' must map service names to services")
    return doc


def service_slug(name: str) -> str:
    """A compose service name as tomo names services (`web_ui` → `web-ui`)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def shipped_env_files(data: dict[str, Any]) -> dict[str, Any]:
    """Each service's `env_file` as the paths the store ships with the app (its
    `files`, placed in the data directory at install). One it does not ship keeps
    the app not installable, saying so, unless compose's `required: false` says it
    may be missing (then it is left out)."""
    shipped = {f.get("path") for f in data.get("files") or [] if isinstance(f, dict)}
    services = {"": data.get("docker"), **(data.get("services") or {})}
    blockers = []
    for name, service in services.items():
        if not isinstance(service, dict) or "env_file" not in service:
            continue
        kept = []
        for entry in service["env_file"]:
            if not isinstance(entry, dict):
                kept.append(entry)  # a definition's own: plain paths, checked by the model
            elif entry["path"] in shipped:
                kept.append(entry["path"])
            elif entry["required"]:
                where = f"services.{name}.env_file" if name else "env_file"
                blockers.append(f"{where}: {entry['path']} is not a file the store ships with "
                                "the app")  # fmt: skip
        service["env_file"] = kept
    if blockers:
        data["not_installable"] = not_installable_text(
            [*filter(None, [data.get("not_installable")]), *blockers]
        )
    return data


class _ServicesOnly(BaseModel):
    """Checks services one by one, so that errors name `services.<name>.<key>`."""

    model_config = ConfigDict(extra="ignore")
    services: dict[str, DockerConfig]


def build_definition(key: str, data: dict[str, Any]) -> AppDefinition:
    """Validate a definition built by a format; InvalidDefinition names each problem."""
    data = shipped_env_files(data)
    try:
        return AppDefinition.model_validate(data)
    except ValidationError as exc:
        problem = exc
    try:  # again, service by service, so that errors name `services.<name>.<key>`
        _ServicesOnly.model_validate({"services": data.get("services", {})})
    except ValidationError as precise:
        problem = precise
    raise InvalidDefinition(key, format_validation_error(problem)) from None


class _Conversion:
    def __init__(
        self,
        doc: dict[str, Any],
        *,
        where: str,
        table: VariableTable,
        skip: Collection[str],
        aliases: Mapping[str, str],
        data_prefix: str,
    ) -> None:
        self.doc, self.where, self.skip = doc, where, set(skip)
        self.data_prefix = data_prefix
        self.vars = Interpolator(table, prefix=_prefix(where), data_prefix=data_prefix)
        self.services: dict[str, Any] = doc["services"]
        self.names = self._service_names(self.services)
        self.given_aliases = {alias: service_slug(name) for alias, name in aliases.items()}
        self.found_aliases: dict[str, str] = {}
        self.named_volumes: dict[str, str] = {}
        self.root_mounted = False
        # Compose's configs: name -> content in tomo's template form; those not usable,
        # with why (said where a service uses one); the files those used make.
        self.configs: dict[str, str] = {}
        self.unusable_configs: dict[str, str] = {}
        self.config_files: dict[str, dict[str, Any]] = {}

    def _service_names(self, services: dict[str, Any]) -> dict[str, str]:
        names: dict[str, str] = {}
        for name in services:
            slug = service_slug(name)
            if not SLUG.fullmatch(slug):
                raise ValueError(f"services.{name}: cannot name a service of tomo")
            clash = next((other for other, s in names.items() if s == slug), None)
            if clash is not None:
                raise ValueError(f"services.{name}: its name and '{clash}' both become '{slug}'")
            names[name] = slug
        return names

    def warn(self, where: str, text: str) -> None:
        self.vars.warn(where, text)

    def block(self, where: str, text: str) -> None:
        self.vars.block(where, text)

    def run(self, main: str | None) -> tuple[ComposeApp, bool]:
        self._top_level()
        converted: dict[str, dict[str, Any]] = {}
        for name, service in self.services.items():
            if name not in self.skip:
                converted[self.names[name]] = self._service(name, service)
        if not converted:
            raise ValueError("services: no service is left to run")
        self._rewrite_aliases(converted)
        fields = {"services": converted, "main": self._main(main, converted),
                  "settings": list(self.vars.settings.values())}  # fmt: skip
        if self.config_files:
            fields["files"] = list(self.config_files.values())
        self._as_written(fields)
        app = ComposeApp(fields, self.vars.warnings, self.vars.blockers, self.data_prefix,
                         self.vars.imports)  # fmt: skip
        return app, self.root_mounted

    # --- top level ---------------------------------------------------------------------

    def _top_level(self) -> None:
        for key, value in self.doc.items():
            if key in ("version", "name", "services") or key.startswith("x-"):
                continue  # the store's own metadata is read by its format
            if key == "volumes":
                self._declared_volumes(value)
            elif key == "networks":
                self._declared_networks(value)
            elif key == "configs":
                self._declared_configs(value)
            elif key in _TOP_LEVEL_BLOCKED:
                self.block(key, f"not supported ({_TOP_LEVEL_BLOCKED[key]})")
            else:
                self.warn(key, _TOP_LEVEL_WARNED.get(key, "not a compose key, ignored"))

    def _declared_volumes(self, volumes: object) -> None:
        if volumes is None:
            return
        if not isinstance(volumes, dict):
            raise ValueError("volumes: must map volume names to their settings")
        for name, config in volumes.items():
            self.named_volumes[name] = service_slug(name) or "data"
            self._volume_config(f"volumes.{name}", config)

    def _volume_config(self, where: str, config: object) -> None:
        if config is None:
            return
        if not isinstance(config, dict):
            raise ValueError(f"{where}: must be a mapping")
        for key, value in config.items():
            if key == "external" and (_is_true(value) or isinstance(value, dict)):
                self.block(where, "an external volume, made outside the app")
            elif key == "driver" and value not in ("local", None):
                self.block(f"{where}.driver", f"the volume driver '{value}' is not supported")
            elif key == "driver_opts" and value:
                self.block(f"{where}.driver_opts", "tomo makes plain local volumes")
            elif key in ("name", "labels"):
                self.warn(f"{where}.{key}", "tomo names and labels the volume itself")

    def _declared_networks(self, networks: object) -> None:
        if networks is None:
            return
        if not isinstance(networks, dict):
            raise ValueError("networks: must map network names to their settings")
        for name, config in networks.items():
            external = config.get("external") if isinstance(config, dict) else None
            if _is_true(external) or isinstance(external, dict):
                self.block(f"networks.{name}", "an external network, made outside the app")
            elif config:
                self.warn(f"networks.{name}", "tomo gives each installation one network of its "
                                              "own; its settings are ignored")  # fmt: skip

    def _declared_configs(self, configs: object) -> None:
        """Configs written out in the file (`content:`) are files tomo places; one read
        from elsewhere (a file, the environment, the Swarm) is not usable."""
        if configs is None:
            return
        if not isinstance(configs, dict):
            raise ValueError("configs: must map config names to their settings")
        for name, config in configs.items():
            where = f"configs.{name}"
            content = config.get("content") if isinstance(config, dict) else None
            if not _CONFIG_NAME.fullmatch(str(name)):
                self.warn(where, "a config tomo cannot name as a file, left out")
                self.unusable_configs[str(name)] = "named unlike a file tomo can place"
            elif isinstance(content, str):
                self.configs[str(name)] = self.vars.value(content, f"{where}.content")
            else:
                self.unusable_configs[str(name)] = "not written out in the file"
                self.warn(where, "only a config written out in the file (content) is "
                                 "supported; a service that uses this one says so")  # fmt: skip

    # --- one service -------------------------------------------------------------------

    def _service(self, name: str, service: object) -> dict[str, Any]:
        where = f"services.{name}"
        if not isinstance(service, dict):
            raise ValueError(f"{where}: must be a mapping of settings")
        if "image" not in service:
            built = " (compose builds it, tomo does not)" if "build" in service else ""
            raise ValueError(f"{where}.image: is required{built}")
        result: dict[str, Any] = {}
        for key, value in service.items():
            if key != "configs":
                self._key(name, result, key, value, f"{where}.{key}")
        if "configs" in service:  # after volumes: its mounts join theirs
            self._configs(result, service["configs"], f"{where}.configs")
        return result

    def _configs(self, result: dict[str, Any], value: Any, where: str) -> None:
        """Each config used, mounted read-only from its file (compose's default target
        is /<name>; mode, uid and gid are the file's)."""
        for i, entry in enumerate(_as_list(value, where)):
            at = f"{where}[{i}]"
            used = entry if isinstance(entry, dict) else {"source": entry}
            name = str(used.get("source", ""))
            if name not in self.configs:
                why = self.unusable_configs.get(name, "not declared under the top level's configs")
                self.block(at, f"the config '{name}' is {why}")
                continue
            target = self._written(used.get("target", f"/{name}"), f"{at}.target")
            if target is None:
                continue
            self.config_files.setdefault(name, self._config_file(name, used, at))
            mount = {"host_path": f"./{CONFIGS_DIR}/{name}", "container_path": target,
                     "readonly": True}  # fmt: skip
            result.setdefault("volumes", []).append(mount)

    def _config_file(self, name: str, used: dict[str, Any], where: str) -> dict[str, Any]:
        content = base64.b64encode(self.configs[name].encode()).decode()
        placed: dict[str, Any] = {"path": f"./{CONFIGS_DIR}/{name}", "template": True,
                                  "content": content}  # fmt: skip
        mode = used.get("mode", 0o444)
        if isinstance(mode, int) and 0 <= mode <= 0o777:
            placed["mode"] = f"0{mode:03o}"  # YAML reads compose's 0440 as the number
        elif isinstance(mode, str) and FILE_MODE.fullmatch(mode):
            placed["mode"] = mode
        else:
            self.warn(f"{where}.mode", f"'{mode}' is not a file mode; the file is 0444")
            placed["mode"] = "0444"
        if "uid" not in used and "gid" not in used:
            return placed  # root's, as compose makes it
        owner = f"{used.get('uid', 0)}:{used.get('gid', 0)}"
        if FILE_OWNER.fullmatch(owner):
            placed["owner"] = owner
        else:
            self.warn(where, f"'{owner}' is not a numeric uid:gid; the file is root's")
        return placed

    def _key(self, name: str, result: dict[str, Any], key: str, value: Any, where: str) -> None:
        handler = _HANDLERS.get(key)
        if handler is not None:
            handler(self, result, value, where)
        elif key == "container_name":
            self._container_name(name, value, where)
        elif key.startswith("x-"):
            self.warn(where, "extension, ignored")
        elif key in WARNED:
            self.warn(where, f"not supported, ignored ({WARNED[key]})")
        elif key in BLOCKED:
            self.block(where, f"not supported ({BLOCKED[key]})")
        else:
            self.warn(where, "not a compose key, ignored")

    def _text(self, value: Any, where: str) -> str:
        """Text as YAML gives it; JSON's numbers and booleans (Runtipi) as compose reads them."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise ValueError(f"{where}: must be text, got {_kind(value)}")
        return value

    def _literal(self, value: Any, where: str) -> str:
        """The value written out; "" where a variable blocks the app (recorded)."""
        written = self.vars.literal(self._text(value, where), where)
        return "" if written is None else written

    def _written(self, value: Any, where: str) -> str | None:
        """The value written out; None where a variable blocks the app (recorded):
        left out, so the app is listed as not installable, saying why, rather than
        its file refused for a value made empty."""
        return self.vars.literal(self._text(value, where), where)

    def _image(self, result: dict[str, Any], value: Any, where: str) -> None:
        image = self.vars.literal(self._text(value, where), where)
        if image is None:
            raise ValueError(f"{where}: '{value}' must name an image without the store's "
                             "variables (tomo pulls it when the app is installed)")  # fmt: skip
        result["image"] = image

    def _environment(self, result: dict[str, Any], value: Any, where: str) -> None:
        result["environment"] = [self._variable(name, given, f"{where}.{name}")
                                 for name, given in _environment_items(value, where)]  # fmt: skip

    def _variable(self, name: str, given: Any, where: str) -> dict[str, Any]:
        if given is None:  # `- NAME` alone: compose passes the user's own value, if any
            return {"name": name}
        value = self.vars.value(self._text(given, where), where)
        secret = any(self.vars.settings.get(ref, {}).get("secret") for ref in references(value))
        return {"name": name, "default": value, **({"secret": True} if secret else {})}

    # --- ports -------------------------------------------------------------------------

    def _ports(self, result: dict[str, Any], value: Any, where: str) -> None:
        ports: list[dict[str, Any]] = []
        for i, port in enumerate(_as_list(value, where)):
            ports += self._port(port, f"{where}[{i}]")
        result["ports"] = ports

    def _port(self, port: Any, where: str) -> list[dict[str, Any]]:
        if isinstance(port, dict):
            return self._long_port(port, where)
        address, host, container = _split_port(self._text(port, where), where)
        container, _, protocol = container.partition("/")
        if address:
            self._ignored_address(address, where)
        return self._published(host, container, protocol or "tcp", where)

    def _long_port(self, port: dict[str, Any], where: str) -> list[dict[str, Any]]:
        if "target" not in port:
            raise ValueError(f"{where}.target: is required")
        if port.get("host_ip"):
            self._ignored_address(str(port["host_ip"]), where)
        protocol = self._text(port.get("protocol") or "tcp", f"{where}.protocol")
        published = port.get("published")
        host = None if published is None else self._text(published, f"{where}.published")
        return self._published(host, self._text(port["target"], f"{where}.target"), protocol,
                               where)  # fmt: skip

    def _ignored_address(self, address: str, where: str) -> None:
        self.warn(where, f"the address {address} is ignored: tomo publishes ports on the "
                         "address it is set up with")  # fmt: skip

    def _published(
        self, host: str | None, container: str, protocol: str, where: str
    ) -> list[dict[str, Any]]:
        if protocol not in ("tcp", "udp"):
            self.block(where, f"the protocol {protocol} is not supported (tcp and udp are)")
            return []
        inside = self.vars.literal(container, where)
        if inside is None:
            return []
        outside = None if host in (None, "") else self.vars.published(host)
        if host and outside is None:
            self.warn(where, f"the host port '{host}' depends on a value tomo does not know; "
                             "tomo publishes the container's port number, the user may choose "
                             "another at install")  # fmt: skip
        return self._expand(outside, inside, protocol, where)

    def _expand(
        self, host: str | None, container: str, protocol: str, where: str
    ) -> list[dict[str, Any]]:
        inside = _port_range(container, where)
        outside = _port_range(host, where) if host else None
        if outside is not None and len(outside) not in (1, len(inside)):
            raise ValueError(f"{where}: the host range {host} and the container range "
                             f"{container} differ in length")  # fmt: skip
        if len(inside) > MAX_PORT_RANGE:
            self.block(where, f"publishes {len(inside)} ports (tomo publishes ranges of at "
                              f"most {MAX_PORT_RANGE})")  # fmt: skip
            return []
        ports = []
        for i, number in enumerate(inside):
            port: dict[str, Any] = {"container": str(number), "protocol": protocol}
            if outside is not None:
                port["host"] = str(outside[i] if len(outside) > 1 else outside[0])
            ports.append(port)
        return ports

    # --- volumes -----------------------------------------------------------------------

    def _volumes(self, result: dict[str, Any], value: Any, where: str) -> None:
        volumes = []
        for i, volume in enumerate(_as_list(value, where)):
            converted = self._volume(volume, f"{where}[{i}]")
            if converted is not None:
                volumes.append(converted)
        result["volumes"] = volumes

    def _volume(self, volume: Any, where: str) -> dict[str, Any] | None:
        if isinstance(volume, dict):
            return self._long_volume(volume, where)
        source, target, modes = _split_volume(self._text(volume, where), where)
        readonly = "ro" in modes
        for mode in sorted(modes - _QUIET_VOLUME_MODES):
            self.warn(where, f"the mode '{mode}' is ignored")
        return self._mount(source, target, readonly, where)

    def _long_volume(self, volume: dict[str, Any], where: str) -> dict[str, Any] | None:
        kind = volume.get("type")
        if kind == "tmpfs":
            self.warn(where, "a tmpfs mount is left out: the path stays in the container's "
                             "own filesystem")  # fmt: skip
            return None
        if kind not in (None, "bind", "volume"):
            self.block(where, f"a volume of type '{kind}' is not supported")
            return None
        if "target" not in volume:
            raise ValueError(f"{where}.target: is required")
        self._volume_options(volume, where)
        source = volume.get("source")
        if source is not None:
            source = self._text(source, f"{where}.source")
            if kind == "bind" and source[:1] not in ("/", ".", "~", "$"):
                source = f"./{source}"  # a bind's relative source, as compose reads it
        target = self._text(volume["target"], f"{where}.target")
        return self._mount(source, target, _is_true(volume.get("read_only")), where)

    def _volume_options(self, volume: dict[str, Any], where: str) -> None:
        bind = volume.get("bind") or {}
        if isinstance(bind, dict) and bind.get("propagation") not in (None, "rprivate"):
            self.block(f"{where}.bind.propagation", "tomo does not share mounts with the host")
        if isinstance(bind, dict) and bind.get("selinux"):
            self.warn(f"{where}.bind.selinux", "ignored")
        options = volume.get("volume") or {}
        if isinstance(options, dict) and options.get("subpath"):
            self.block(f"{where}.volume.subpath", "tomo mounts whole volumes only")

    def _mount(
        self, source: str | None, target: str, readonly: bool, where: str
    ) -> dict[str, Any] | None:
        container = self.vars.literal(target, where)
        if container is None:
            return None
        mount: dict[str, Any] = {"container_path": container}
        if readonly:
            mount["readonly"] = True
        if source is None:
            return mount  # an anonymous volume: tomo gives it a directory of the installation
        if source[:1] in ("/", ".", "~", "$"):
            return self._bind(mount, source, where)
        if source not in self.named_volumes:
            raise ValueError(f"{where}: the volume '{source}' is not declared under the top "
                             "level's volumes")  # fmt: skip
        return {**mount, "volume": self.named_volumes[source]}

    def _bind(self, mount: dict[str, Any], source: str, where: str) -> dict[str, Any] | None:
        found = self.vars.source(source, where)
        if found.kind == "blocked":
            return None
        if found.kind == "folder":
            self.warn(where, f"'{source}' is {found.note}: tomo gives the installation a folder "
                             "of its own, the user may choose another at install")  # fmt: skip
            return {**mount, "description": f"the store's folder {source}"}
        if found.kind == "imported":
            return {**mount, "imported_folder": found.path}
        return self._bind_path(mount, found, where)

    def _bind_path(self, mount: dict[str, Any], found: Source, where: str) -> dict[str, Any] | None:
        path = found.path
        if found.kind == "path" and path.startswith("~"):
            self.block(where, f"'{path}' is in a user's home folder on the store's own system")
            return None
        if found.kind == "path" and path.startswith("/"):
            if posixpath.normpath(path) in ("/", "//"):
                self.block(where, "mounts the server's whole filesystem")
                return None
            return {**mount, "host_path": path}
        relative = posixpath.normpath(path) if path else "."
        if relative == ".." or relative.startswith(("../", "/")):
            self.block(where, f"'{path}' reaches outside the app's folder")
            return None
        return {**mount, "host_path": self._data_path(relative)}

    def _data_path(self, relative: str) -> str:
        """`./…` under the installation's data directory ("." is the directory itself:
        see convert_compose)."""
        if relative == ".":
            self.root_mounted = True
        path = (self.data_prefix + ("" if relative == "." else relative)).strip("/")
        return f"./{path or 'data'}"

    # --- everything else ---------------------------------------------------------------

    def _network_mode(self, result: dict[str, Any], value: Any, where: str) -> None:
        mode = self._literal(value, where)
        other = mode.removeprefix("service:")
        if other != mode:
            if other in self.skip or other not in self.names:
                self.block(where, f"shares the network of '{other}', which tomo leaves out")
                return
            mode = f"service:{self.names[other]}"
        elif mode.startswith("container:"):
            self.block(where, "shares the network of a container outside the app")
            return
        result["network_mode"] = mode

    def _pid(self, result: dict[str, Any], value: Any, where: str) -> None:
        mode = self._literal(value, where)
        if mode == "host":
            result["pid_mode"] = mode
        else:
            self.block(where, f"the process namespace '{mode}' is not supported")

    def _ipc(self, result: dict[str, Any], value: Any, where: str) -> None:
        mode = self._literal(value, where)
        if mode in ("host", "private", "shareable"):
            result["ipc_mode"] = mode
        else:
            self.block(where, f"the IPC namespace '{mode}' is not supported")

    def _stop_grace_period(self, result: dict[str, Any], value: Any, where: str) -> None:
        """A grace longer than tomo waits for a stop is capped at that, with a warning:
        it only shapes how the app stops (bitcoin asks 15m30s to flush its chain)."""
        written = self._written(value, where) if value is not None else None
        if written is None:
            return
        if DURATION.fullmatch(written) and duration_seconds(written) > MAX_STOP_SECONDS:
            cap = f"{MAX_STOP_SECONDS // 60}m"
            self.warn(where, f"'{written}' is capped at {cap}, the longest tomo waits for an "
                             "app to stop before Docker kills it")  # fmt: skip
            written = cap
        result["stop_grace_period"] = written

    def _devices(self, result: dict[str, Any], value: Any, where: str) -> None:
        devices = []
        for i, device in enumerate(_as_list(value, where)):
            if isinstance(device, dict):  # the long form: source, target, permissions
                device = ":".join(str(device[k]) for k in ("source", "target", "permissions")
                                  if device.get(k))  # fmt: skip
            text = self._text(device, f"{where}[{i}]")
            written = (self._chosen_device(text, f"{where}[{i}]") if text.startswith("$")
                       else self._written(text, f"{where}[{i}]"))  # fmt: skip
            devices += [written] if written is not None else []
        result["devices"] = devices

    def _chosen_device(self, text: str, where: str) -> str | None:
        """`${SERIAL}:/dev/ttyACM0`, where SERIAL is a setting: the device is chosen at
        install (definition.CHOSEN_DEVICE); a fixed value is written out as usual."""
        parts = parse_template(text)
        first = parts[0] if parts else None
        meaning = self.vars.table.meaning(first.name) if isinstance(first, Ref) else None
        chosen = isinstance(first, Ref) and not first.op and (
            meaning is None or isinstance(meaning, Setting))  # fmt: skip
        if not chosen:
            return self._written(text, where)
        value = self.vars.value(text, where)
        return value if CHOSEN_DEVICE.fullmatch(value) else self._written(text, where)

    def _healthcheck(self, result: dict[str, Any], value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: must be a mapping")
        test = value.get("test")
        if _is_true(value.get("disable")) or (
            isinstance(test, list) and test[:1] == ["NONE"]
        ):  # fmt: skip
            self.warn(where, "disabled here; the image's own health check still runs")
            return
        check: dict[str, Any] = {}
        if isinstance(test, str):  # compose runs a string through the shell
            check["test"] = ["CMD-SHELL", self._literal(test, f"{where}.test")]
        elif test is not None:
            items = _as_list(test, f"{where}.test")
            check["test"] = [self._literal(t, f"{where}.test[{i}]") for i, t in enumerate(items)]
        for key in ("interval", "timeout", "retries", "start_period"):
            if value.get(key) is not None:
                check[key] = self._literal(value[key], f"{where}.{key}")
        if "start_interval" in value:
            self.warn(f"{where}.start_interval", "not supported, ignored")
        if check:
            result["healthcheck"] = check

    def _depends_on(self, result: dict[str, Any], value: Any, where: str) -> None:
        if isinstance(value, str | list):
            wanted: dict[str, Any] = {name: "started" for name in _as_list(value, where)}
        elif isinstance(value, dict):
            wanted = {name: _condition(detail) for name, detail in value.items()}
        else:
            raise ValueError(f"{where}: must be a list of services or a mapping")
        result["depends_on"] = {self.names.get(name, name): condition
                                for name, condition in wanted.items()
                                if name not in self.skip}  # fmt: skip

    def _networks(self, result: dict[str, Any], value: Any, where: str) -> None:
        service = where.split(".")[1]
        if isinstance(value, list) or value is None:
            if value and value != ["default"]:
                self.warn(where, "tomo puts every service on the installation's own network")
            return
        if not isinstance(value, dict):
            raise ValueError(f"{where}: must be a list or a mapping of networks")
        for network, config in value.items():
            if isinstance(config, dict):
                self._network_names(service, config, f"{where}.{network}")
        if set(value) != {"default"}:
            self.warn(where, "tomo puts every service on the installation's own network")

    def _network_names(self, service: str, config: dict[str, Any], where: str) -> None:
        """Aliases and fixed addresses name the service for the others."""
        names = [str(a) for a in _as_list(config.get("aliases"), f"{where}.aliases")]
        for key in ("ipv4_address", "ipv6_address"):
            if config.get(key):
                address = self.vars.literal(str(config[key]), f"{where}.{key}")
                names += [address] if address else []
                self.warn(f"{where}.{key}", "ignored: tomo's network gives addresses itself")
        for name in names:
            self.found_aliases[name] = self.names[service]

    def _links(self, result: dict[str, Any], value: Any, where: str) -> None:
        service = where.split(".")[1]
        for link in _as_list(value, where):
            target, _, alias = str(link).partition(":")
            if target not in self.names:
                self.block(where, f"links to '{target}', which is not a service of the app")
            elif alias and alias != target:
                self.found_aliases[alias] = self.names[target]
        self.warn(where, f"ignored: services reach '{service}' and each other by name anyway")

    def _container_name(self, name: str, value: Any, where: str) -> None:
        self.warn(where, f"not supported, ignored ({WARNED['container_name']})")
        written = self.vars.literal(self._text(value, where), where)
        if written and written != self.names[name]:
            self.found_aliases[written] = self.names[name]

    def _read_only(self, result: dict[str, Any], value: Any, where: str) -> None:
        result["read_only"] = _is_true(value)

    def _security_opt(self, result: dict[str, Any], value: Any, where: str) -> None:
        """no-new-privileges is kept; any other option could switch protections off."""
        options = value if isinstance(value, list) else [value]
        texts = [self._literal(option, where) for option in options]
        kept = [t for t in texts if t and t.split(":")[0].split("=")[0] == "no-new-privileges"]
        if len(kept) < len(texts):
            self.block(where, f"not supported ({BLOCKED['security_opt']})")
        result["security_opt"] = kept

    def _sysctls(self, result: dict[str, Any], value: Any, where: str) -> None:
        """`net.ipv4.ip_forward=1` (a list) or a mapping: the container's own network
        and IPC parameters are set (definition checks which); others block the app."""
        if isinstance(value, dict):
            items = [(str(name), given) for name, given in value.items()]
        else:
            items = [(str(i).partition("=")[0], str(i).partition("=")[2])
                     for i in _as_list(value, where)]  # fmt: skip
        kept: dict[str, str] = {}
        for name, given in items:
            written = self._written(given, f"{where}.{name}")
            if written is None:
                continue
            try:
                check_sysctl(name, written)
            except ValueError as exc:
                self.block(f"{where}.{name}", str(exc))
                continue
            kept[name] = written
        if kept:
            result["sysctls"] = kept

    def _option(self, result: dict[str, Any], key: str, value: Any, where: str) -> None:
        """A limit or option Docker gives the container (container_options, the
        definition's `key`), written out and read as the definition reads it; one Docker
        would not take is left out with a warning, not a reason to refuse the app."""
        written = self._written_tree(value, where)
        if written is None:
            return
        try:
            read_option(key, written)
        except ValueError as exc:
            self.warn(where, f"not applied: {exc}")
            return
        result[key] = written

    def _written_tree(self, value: Any, where: str) -> Any:
        """Each text of a value, list or mapping written out; None where a variable
        blocks the app (recorded)."""
        if isinstance(value, dict):
            items = {k: self._written_tree(v, f"{where}.{k}") for k, v in value.items()}
            return None if None in items.values() else items
        if isinstance(value, list):
            listed = [self._written_tree(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return None if None in listed else listed
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return self._written(value, where)

    def _env_file(self, result: dict[str, Any], value: Any, where: str) -> None:
        """Environment files in the app's own folder: Docker reads each from the
        installation's data directory at every start (`--env-file`). Whether the
        store ships the file is settled with the app's files (`shipped_env_files`):
        entries are kept as {path, required} until then."""
        entries = value if isinstance(value, list) else [value]
        found = []
        for index, entry in enumerate(entries):
            spot = f"{where}[{index}]" if isinstance(value, list) else where
            given = entry.get("path") if isinstance(entry, dict) else entry
            required = not isinstance(entry, dict) or _is_true(entry.get("required", True))
            if not isinstance(given, str) or not given.strip():
                raise ValueError(f"{spot}: must be a path, or {{path, required}}")
            path = self._env_file_path(given, spot)
            if path is None:
                return
            found.append({"path": path, "required": required})
        result["env_file"] = found

    def _env_file_path(self, given: str, where: str) -> str | None:
        source = given if given[:1] in ("/", ".", "~", "$") else f"./{given}"
        found = self.vars.source(self._text(source, where), where)
        if found.kind == "blocked":
            return None
        if found.kind == "folder" or found.path.startswith(("/", "~")):
            self.block(where, f"'{given}' is a file of the store's own system, not one of the "
                              "app's folder")  # fmt: skip
            return None
        relative = posixpath.normpath(found.path) if found.path else "."
        if relative in (".", "..") or relative.startswith("../"):
            self.block(where, f"'{given}' reaches outside the app's folder")
            return None
        return self._data_path(relative)

    def _deploy(self, result: dict[str, Any], value: Any, where: str) -> None:
        """GPUs reserved as devices are given (`gpus`), memory and CPU limits and the
        memory reservation as compose gives them to a container, and the replicas a
        Swarm runs; placement and other limits are not."""
        resources = value.get("resources") if isinstance(value, dict) else None
        reserved = resources.get("reservations") if isinstance(resources, dict) else None
        devices = reserved.get("devices") if isinstance(reserved, dict) else None
        if devices:
            self._gpu_request(result, devices, f"{where}.resources.reservations.devices")
        limits = resources.get("limits") if isinstance(resources, dict) else None
        for part, name, key, key_where in ((limits, "memory", "mem_limit", "limits.memory"),
                                           (limits, "cpus", "cpus", "limits.cpus"),
                                           (reserved, "memory", "mem_reservation",
                                            "reservations.memory")):  # fmt: skip
            if isinstance(part, dict) and part.get(name) is not None and key not in result:
                self._option(result, key, part[name], f"{where}.resources.{key_where}")
        replicas = value.get("replicas") if isinstance(value, dict) else None
        if replicas is not None:
            self._replicas(result, replicas, f"{where}.replicas")
        if _unapplied(value):
            self.warn(where, f"not supported, ignored ({WARNED['deploy']})")

    def _replicas(self, result: dict[str, Any], value: Any, where: str) -> None:
        """The tasks a Swarm runs of a service without data (see DockerConfig)."""
        count = str(value).strip()
        if count.isdigit() and 1 <= int(count) <= MAX_REPLICAS:
            result["replicas"] = int(count)
        else:
            self.warn(where, f"'{value}' is not from 1 to {MAX_REPLICAS}, ignored (one task runs)")

    def _gpus(self, result: dict[str, Any], value: Any, where: str) -> None:
        """compose's `gpus: all`, or a list of device requests as under `deploy`."""
        if isinstance(value, list):
            self._gpu_request(result, value, where)
        elif self._literal(value, where) == "all":
            result["gpus"] = "all"
        else:
            self.block(where, f"'{value}' is not a GPU request tomo reads (all, or a list)")

    def _gpu_request(self, result: dict[str, Any], requests: Any, where: str) -> None:
        """One request for NVIDIA GPUs (all, a count, or device ids) becomes Docker's
        `--gpus`; devices of any other driver are not given, and block the app."""
        request = requests[0] if isinstance(requests, list) and len(requests) == 1 else None
        if not isinstance(request, dict):
            self.block(where, "tomo gives one request for NVIDIA GPUs, not several requests")
            return
        driver = request.get("driver")
        capabilities = request.get("capabilities") or []
        if driver not in (None, "nvidia") or (driver is None and "gpu" not in capabilities):
            self.block(where, f"devices of driver '{driver}' are not given by tomo (NVIDIA "
                       "GPUs are)")  # fmt: skip
            return
        ids = [self._literal(i, where) for i in request.get("device_ids") or []]
        count = self._literal(request.get("count", "all"), where)
        result["gpus"] = f"device={','.join(ids)}" if ids else (
            "all" if count in ("all", "-1") else count)  # fmt: skip

    def _runtime(self, result: dict[str, Any], value: Any, where: str) -> None:
        """NVIDIA's runtime (CasaOS's GPU apps) is how the app gets the GPUs: `gpus`."""
        if self._literal(value, where) == "nvidia":
            result.setdefault("gpus", "all")
        elif self._literal(value, where) not in ("runc", ""):
            self.block(where, "not supported (tomo runs containers with Docker's default "
                       "runtime, or NVIDIA's for GPUs)")  # fmt: skip

    def _cap_drop(self, result: dict[str, Any], value: Any, where: str) -> None:
        result["cap_drop"] = [self._literal(v, where) for v in (value or [])]

    # --- the whole app -----------------------------------------------------------------

    def _main(self, main: str | None, services: dict[str, dict[str, Any]]) -> str:
        if main is not None:
            if main not in self.names or main in self.skip:
                kept = ", ".join(name for name in self.names if name not in self.skip)
                raise ValueError(f"main: '{main}' is not one of the services ({kept})")
            return self.names[main]
        return next((n for n, s in services.items() if s.get("ports")), next(iter(services)))

    def _rewrite_aliases(self, services: dict[str, dict[str, Any]]) -> None:
        renamed = {old: new for old, new in self.names.items() if old != new}
        told = {**renamed, **self.found_aliases}
        aliases = {**told, **self.given_aliases}
        aliases = {alias: name for alias, name in aliases.items() if alias != name}
        if not aliases:
            return
        pattern = re.compile("|".join(_ALIAS_EDGE.format(re.escape(a))
                                      for a in sorted(aliases, key=len, reverse=True)))  # fmt: skip
        used: set[str] = set()

        def replace(match: re.Match[str]) -> str:
            used.add(match.group())
            return aliases[match.group()]

        def rewrite(text: str) -> str:
            return _outside_references(text, lambda piece: pattern.sub(replace, piece))

        for service in services.values():
            _rewrite_values(service, rewrite)
        for alias in sorted(used & set(told)):
            self.warn("services", f"values that name '{alias}' now name the service "
                                  f"'{aliases[alias]}' (tomo's network knows services by "
                                  "their names)")  # fmt: skip

    def _as_written(self, fields: dict[str, Any]) -> None:
        """A one-container app without settings takes its values as written (see the
        model): `$$` must be a plain `$` there, and a built-in cannot be replaced. One
        that uses other apps' variables reads them as templates (definition.requires),
        and so does one with configs (files filled in as templates)."""
        if fields["settings"] or len(fields["services"]) > 1 or self.vars.imports:
            return
        if self.config_files:
            return
        service, config = next(iter(fields["services"].items()))
        if _uses_references(config):  # tomo's built-ins: its values stay templates
            fields["templated"] = True
            return
        for variable in config.get("environment", []):
            value = variable.get("default")
            if value is None:
                continue
            self._block_references(f"services.{service}.environment.{variable['name']}", value)
            variable["default"] = value.replace("$$", "$")
        for key in ("command", "entrypoint"):
            items = config.get(key)
            if isinstance(items, str):
                self._block_references(f"services.{service}.{key}", items)
                config[key] = items.replace("$$", "$")
            elif isinstance(items, list):
                for item in items:
                    self._block_references(f"services.{service}.{key}", item)
                config[key] = [item.replace("$$", "$") for item in items]

    def _block_references(self, where: str, value: str) -> None:
        for name in references(value):
            self.block(where, f"${{{name}}} would not be replaced: tomo reads the values of "
                              "a one-container app without settings as written")  # fmt: skip


# How one key of a service is converted: (conversion, the service converted so far,
# the key's value, where it is).
Handler = Callable[[_Conversion, dict[str, Any], Any, str], None]


def _literal_field(key: str) -> Handler:
    def convert(conversion: _Conversion, result: dict[str, Any], value: Any, where: str) -> None:
        written = conversion._written(value, where) if value is not None else None
        if written is not None:
            result[key] = written

    return convert


def _option_field(key: str) -> Handler:
    def convert(conversion: _Conversion, result: dict[str, Any], value: Any, where: str) -> None:
        conversion._option(result, key, value, where)

    return convert


def _list_field(key: str) -> Handler:
    def convert(conversion: _Conversion, result: dict[str, Any], value: Any, where: str) -> None:
        items = [conversion._written(item, f"{where}[{i}]")
                 for i, item in enumerate(_as_list(value, where))]  # fmt: skip
        result[key] = [item for item in items if item is not None]

    return convert


def _command_field(key: str) -> Handler:
    """A list, or a string the model splits as compose does."""

    def convert(conversion: _Conversion, result: dict[str, Any], value: Any, where: str) -> None:
        # As environment values: settings stay `${NAME}`, put in at install.
        if isinstance(value, list):
            result[key] = [conversion.vars.value(conversion._text(v, f"{where}[{i}]"), where)
                           for i, v in enumerate(value)]  # fmt: skip
        elif value is not None:
            result[key] = conversion.vars.value(conversion._text(value, where), where)

    return convert


# The keys of a service tomo maps, and how. Made once, not per conversion: bound
# methods kept on a conversion refer back to it, a cycle per app that left each
# conversion (and the document it read) to the cyclic collector.
_HANDLERS: dict[str, Handler] = {
    "image": _Conversion._image, "command": _command_field("command"),
    "entrypoint": _command_field("entrypoint"),
    "environment": _Conversion._environment, "ports": _Conversion._ports,
    "volumes": _Conversion._volumes, "restart": _literal_field("restart_policy"),
    "network_mode": _Conversion._network_mode, "pid": _Conversion._pid,
    "ipc": _Conversion._ipc, "privileged": _literal_field("privileged"),
    "cap_add": _list_field("capabilities"), "devices": _Conversion._devices,
    "user": _literal_field("user"), "working_dir": _literal_field("working_dir"),
    "healthcheck": _Conversion._healthcheck, "depends_on": _Conversion._depends_on,
    "networks": _Conversion._networks, "links": _Conversion._links,
    "read_only": _Conversion._read_only, "cap_drop": _Conversion._cap_drop,
    "deploy": _Conversion._deploy, "gpus": _Conversion._gpus, "runtime": _Conversion._runtime,
    "security_opt": _Conversion._security_opt, "stop_signal": _literal_field("stop_signal"),
    "sysctls": _Conversion._sysctls,
    "stop_grace_period": _Conversion._stop_grace_period,
    **{key: _option_field(key) for key in ("mem_limit", "mem_reservation", "cpus",
                                           "shm_size", "ulimits", "extra_hosts", "tmpfs")},
    "init": _literal_field("init"),
    "env_file": _Conversion._env_file,
}  # fmt: skip


def _uses_references(service: dict[str, Any]) -> bool:
    """Whether a converted service's values refer to `${NAME}` (a built-in)."""
    texts = [v.get("default") or "" for v in service.get("environment", [])]
    for key in ("command", "entrypoint"):
        items = service.get(key)
        texts += [items] if isinstance(items, str) else list(items or [])
    return any(references(text) for text in texts)


def _rewrite_values(service: dict[str, Any], rewrite: Callable[[str], str]) -> None:
    for variable in service.get("environment", []):
        if variable.get("default"):
            variable["default"] = rewrite(variable["default"])
    for key in ("command", "entrypoint"):
        if isinstance(service.get(key), list):
            service[key] = [rewrite(item) for item in service[key]]
        elif isinstance(service.get(key), str):
            service[key] = rewrite(service[key])
    check = service.get("healthcheck") or {}
    if check.get("test"):
        check["test"] = [rewrite(item) for item in check["test"]]


def _outside_references(text: str, change: Callable[[str], str]) -> str:
    """Apply `change` to the text between `${NAME}` references and `$$` escapes."""
    pieces, last = [], 0
    for match in REFERENCE.finditer(text):
        pieces += [change(text[last : match.start()]), match.group()]
        last = match.end()
    return "".join([*pieces, change(text[last:])])


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value), "text")


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ValueError(f"{where}: must be a list, got {_kind(value)}")
    return value


def _unapplied(deploy: Any) -> Any:
    """A `deploy` mapping less what tomo applies of it: device reservations, memory
    and CPU limits, the memory reservation, the replicas (and `mode: replicated`,
    which says no more)."""
    if not isinstance(deploy, dict):
        return deploy
    deploy = {k: v for k, v in deploy.items() if k != "replicas"
              and (k, v) != ("mode", "replicated")}  # fmt: skip
    resources = deploy.get("resources")
    if not isinstance(resources, dict):
        return deploy
    applied = {"reservations": ("devices", "memory"), "limits": ("memory", "cpus")}
    resources = {part: {k: v for k, v in given.items() if k not in applied[part]}
                 if part in applied and isinstance(given, dict) else given
                 for part, given in resources.items()}  # fmt: skip
    resources = {k: v for k, v in resources.items() if v}
    return {k: v for k, v in {**deploy, "resources": resources}.items() if v}


def _environment_items(value: Any, where: str) -> list[tuple[str, Any]]:
    """Compose's `{NAME: value}` or `[NAME=value, NAME]` as (name, value or None)."""
    if value is None:
        return []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = []
        for i, entry in enumerate(value):
            if not isinstance(entry, str):
                raise ValueError(f"{where}[{i}]: must be NAME=value, got {_kind(entry)}")
            name, equals, given = entry.partition("=")
            items.append((name, given if equals else None))
    else:
        raise ValueError(f"{where}: must be a mapping or a list of NAME=value")
    for name, given in items:
        if isinstance(given, dict | list):
            raise ValueError(f"{where}.{name}: must be text, got {_kind(given)}")
    return items


def _split_outside_braces(text: str, separator: str = ":") -> list[str]:
    """Split on `separator` except inside `${…}` (a default may hold one)."""
    if "${" not in text:  # most ports and volumes: no braces to look inside
        return text.split(separator)
    parts, depth, current, i = [], 0, [], 0
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            current.append("${")
            continue
        char = text[i]
        depth -= 1 if char == "}" and depth else 0
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    return [*parts, "".join(current)]


def _split_port(text: str, where: str) -> tuple[str, str | None, str]:
    """`[ADDRESS:][HOST:]CONTAINER[/PROTOCOL]` → (address, host or None, container)."""
    address = ""
    if text.startswith("["):  # an IPv6 address
        address, _, text = text[1:].partition("]")
        text = text.removeprefix(":")
    parts = _split_outside_braces(text)
    if len(parts) == 3 and not address:
        address = parts.pop(0)
    if len(parts) > 2 or not parts[-1]:
        raise ValueError(f"{where}: '{text}' is not a port ([ADDRESS:][HOST:]CONTAINER)")
    return address, parts[0] if len(parts) == 2 else None, parts[-1]


def _port_range(text: str, where: str) -> list[int]:
    first, dash, last = text.partition("-")
    if not first.isdigit() or (dash and not last.isdigit()):
        raise ValueError(f"{where}: '{text}' is not a port number or range")
    start, end = int(first), int(last) if dash else int(first)
    if end < start:
        raise ValueError(f"{where}: the range '{text}' ends before it starts")
    return list(range(start, end + 1))


def _split_volume(text: str, where: str) -> tuple[str | None, str, set[str]]:
    """`[SOURCE:]TARGET[:MODES]` → (source or None, target, modes)."""
    parts = _split_outside_braces(text)
    if len(parts) == 1:
        return None, parts[0], set()
    if len(parts) == 2:
        return parts[0], parts[1], set()
    if len(parts) == 3:
        return parts[0], parts[1], set(parts[2].split(","))
    raise ValueError(f"{where}: '{text}' is not a volume ([SOURCE:]TARGET[:MODE])")


def _is_true(value: Any) -> bool:
    return value is True or value == "true"


def _condition(detail: Any) -> Any:
    """tomo's name of a compose condition; an unknown one is left for the model to name."""
    condition = detail.get("condition", "started") if isinstance(detail, dict) else detail
    return DEPENDENCY_CONDITIONS.get(condition, condition) if condition else "started"


# --- helpers the formats share -------------------------------------------------------------


def image_tag(image: str) -> str | None:
    """The tag of an image reference (`nginx:1.27` → `1.27`), if it has one."""
    match = IMAGE_REFERENCE.fullmatch(image)
    return match.group("tag") if match else None
