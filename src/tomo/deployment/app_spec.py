"""From an app's definition to the containers to create: AppSpec.

Every app is built here, one service or several: each service becomes a
ContainerSpec, in dependency order, the main one named after the installation
and the others `<installation>-<service>`, all on the app's own network (when
it has several) where each is reachable by its service name. Settings are
resolved once for the app (the user's value, one kept from before, the default,
or a new generated secret) and put into the services' values wherever they say
`${NAME}`, as are tomo's built-ins (see definition.BUILTIN_VARIABLES).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from tomo.deployment.spec import (
    ENV_FILE_NAME,
    INSTANCE_NAME,
    ContainerSpec,
    InstallConfig,
    Mount,
    NamedMount,
    PublishedPort,
    chosen_ports,
    env_problems,
    generate_secret,
    hardening,
    installation_labels,
    missing_values,
    nesting_risks,
    placed_mounts,
    refused_values,
    unaccepted,
    unnamable,
)
from tomo.errors import InvalidInput, Refusal
from tomo.marketplace.definition import (
    CHOSEN_DEVICE,
    DEVICE,
    NAME_BUILTINS,
    REFERENCE,
    AppDefinition,
    AppEnvVar,
    AppFile,
    AppHook,
    AppVolume,
    DockerConfig,
    references,
    start_order,
)
from tomo.marketplace.risk import assess_risks
from tomo.servers.schemas import ServerPublic


@dataclass(frozen=True)
class ShippedFile:
    """A file of the store's to place in the installation's data directory."""

    host_path: str
    data: bytes = field(repr=False)
    mode: int
    owner: tuple[int, int] | None  # uid, gid: applied where tomo logs in as root


@dataclass(frozen=True)
class Exported:
    """A variable one installation gives the apps that require it (AppExport, its
    value worked out): a secret when made of a secret setting; `network` is the
    one the two share, where a host name is reachable."""

    value: str = field(repr=False)
    secret: bool
    network: str | None
    app: str = ""  # the app that exports it ("": none did, an optional import left empty)
    # A folder of that app's data directory (`${TOMO_DATA_DIR}/sub`), which the apps
    # that require it may mount (AppVolume.imported_folder); `writable_above`: a
    # folder of its own mounts that holds it, writable by one of its containers.
    folder: bool = False
    writable_above: str | None = None


@dataclass(frozen=True)
class AppSpec:
    """Every container of one installation, in the order they are created."""

    name: str  # the installation's
    instance_dir: str
    containers: list[ContainerSpec]
    network: str | None = None  # the app's own network (several services only)
    volumes: list[str] = field(default_factory=list)  # named volumes it uses
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # kept in the record's config
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)  # sealed there
    risks: list[str] = field(default_factory=list)
    generated: dict[str, str] = field(default_factory=dict, repr=False)  # new: shown once
    files: list[ShippedFile] = field(default_factory=list)  # placed where none is yet
    exports: dict[str, Exported] = field(default_factory=dict, repr=False)
    hooks: list[AppHook] = field(default_factory=list)  # run by steps.run_hooks

    def hooks_at(self, *moments: str) -> list[AppHook]:
        return [hook for hook in self.hooks if hook.runs in moments]

    @property
    def main(self) -> ContainerSpec:
        return next(c for c in self.containers if c.name == self.name)

    @property
    def images(self) -> list[str]:
        return list(dict.fromkeys(c.image for c in self.containers))

    def named(self, container: str) -> ContainerSpec:
        return next(c for c in self.containers if c.name == container)


@dataclass(frozen=True)
class Named:
    """The name an installation is reached by through its server's front door (its
    first hostname), and how the front door serves it."""

    hostname: str
    tls: bool
    port: int  # the front door's HTTPS port with TLS, else its HTTP port

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def address(self) -> str:
        """host[:port], the port left out when it is the scheme's own."""
        default = 443 if self.tls else 80
        return self.hostname if self.port == default else f"{self.hostname}:{self.port}"


def named_on(server: ServerPublic, hostnames: Sequence[str]) -> Named | None:
    """How an installation with these hostnames is reached on `server` by name
    (None: it has none)."""
    if not hostnames:
        return None
    tls = server.tls_mode != "off"
    return Named(hostnames[0], tls, server.proxy_https_port if tls else server.proxy_http_port)


def name_builtins(named: Named | None, server_host: str, port: int | None) -> dict[str, str]:
    """The built-ins that say how people reach the app: by its name through the front
    door, else by the server's address and the port the app publishes (`port`)."""
    if named is not None:
        hostname, address, scheme, exposed = named.hostname, named.address, named.scheme, "true"
    else:
        host = f"[{server_host}]" if ":" in server_host else server_host
        hostname, scheme, exposed = server_host, "http", "false"
        address = f"{host}:{port}" if port is not None else host
    return {"TOMO_HOSTNAME": hostname, "TOMO_ADDRESS": address, "TOMO_SCHEME": scheme,
            "TOMO_URL": f"{scheme}://{address}", "TOMO_EXPOSED": exposed}  # fmt: skip


def container_names(definition: AppDefinition, instance: str) -> dict[str, str]:
    """service -> container name, in start order (the main service's is the
    installation's own name, so one-container apps keep theirs)."""
    every = definition.all_services
    return {
        service: instance if service == definition.main_service else f"{instance}-{service}"
        for service in start_order(every)
    }


# A store's network modes that ask for a bridge and no more: the app's own network,
# else tomo's isolated one (see _network_mode).
BRIDGE_MODES = ("bridge", "default")


def network_name(definition: AppDefinition, instance: str, *, named: bool) -> str | None:
    """The installation's own network, through which its services reach each
    other, the apps that require it its services by name, and the front door the
    app with a name (`named`), which is then on no network other apps are on; a
    one-container app without a name that exports no host has none (it is on tomo's
    isolated network, remote.ISOLATED_NETWORK, where no container reaches another)."""
    shares = any(export.host is not None for export in definition.exports)
    own = definition.is_multi_container or shares or named
    return f"tomo-{instance}" if own else None


def user_variables(definition: AppDefinition) -> list[AppEnvVar]:
    """What the user is asked for: an app with settings asks for those (its
    services' variables are made from them); else its main container's variables,
    but those made of what the apps it requires give (worked out at install)."""
    if definition.settings:
        return list(definition.settings)
    worked_out = definition.imported_names | NAME_BUILTINS
    return [v for v in definition.docker.environment
            if not set(references(v.default or "")) & worked_out]  # fmt: skip


def build_app_spec(
    definition: AppDefinition,
    config: InstallConfig,
    *,
    repo_id: str,
    installation_id: str,
    data_root: str,
    server_host: str = "",
    images: dict[str, str] | None = None,
    generated: dict[str, str] | None = None,
    owner: str = "",
    imports: dict[str, Exported] | None = None,
    named: Named | None = None,
) -> AppSpec:
    """Validate everything and return the containers to create; InvalidInput lists
    every problem. `images` replaces services' images (an update to another tag);
    `generated` carries the secrets kept from before (AppSpec.secret_env);
    `imports` what the installations it requires export (see dependencies.py);
    `named` its name through the front door (named_on), None: it has none."""
    labels = installation_labels(definition.id, repo_id, installation_id, owner)
    return _Builder(definition, config, labels, data_root, server_host, images or {},
                    generated or {}, imports or {}, named).build()  # fmt: skip


Source = Literal["given", "kept", "default", "generated"]


class _Builder:
    """One installation's containers, every check made once for all of them.

    Values: a single container without settings takes its values as written (as
    AppDefinition checks them); in any other app a definition's values are
    templates, where `${NAME}` is a setting or a built-in and `$$` is `$`. What the
    user gives is always taken as written: it is kept as a template of itself
    (`$` doubled), so a value kept for an update reads back unchanged."""

    def __init__(
        self, definition: AppDefinition, config: InstallConfig, labels: dict[str, str],
        data_root: str, server_host: str, images: dict[str, str], kept: dict[str, str],
        imports: dict[str, Exported], named: Named | None,
    ) -> None:  # fmt: skip
        self.definition = definition
        self.config = config
        self.kept = kept
        self.name = config.name or definition.id
        self.data_root = data_root
        self.instance_dir = posixpath.join(data_root, self.name)
        self.images = images
        self.problems: list[Refusal] = []
        self.names = container_names(definition, self.name)
        self.network = network_name(definition, self.name, named=named is not None)
        self.labels = labels
        self.templated = definition.is_templated
        self.settings = {s.name for s in definition.settings}
        self.imports = imports
        self.builtins = {"TOMO_INSTANCE": self.name, "TOMO_DATA_DIR": self.instance_dir,
                         "TOMO_SERVER_HOST": server_host,
                         **name_builtins(named, server_host, self._published_port()),
                         **{name: found.value for name, found in imports.items()}}  # fmt: skip
        self.named = named
        self.env: dict[str, str] = {}  # the record's, shown: the user's variables' values
        self.secret_env: dict[str, str] = {}  # sealed, as templates: what no definition rederives
        self.generated: dict[str, str] = {}  # secrets made by this build

    def build(self) -> AppSpec:
        if self.config.name is None and not INSTANCE_NAME.fullmatch(self.name):
            self.problems.append(unnamable(self.name))
        values = self._settings()
        self._refuse_missing_imports()
        self._refuse_unnamed()
        self._refuse_unknown_replicas()
        every = self.definition.all_services
        containers = [self._container(service, every[service], values) for service in self.names]
        self._refuse_shared_host_ports(containers)
        every_mount = [m for c in containers for m in c.mounts]
        risks = sorted({flag for c in containers for flag in c.risks}
                       | nesting_risks(every_mount, self.instance_dir))  # fmt: skip
        missing = unaccepted(risks, self.config.accept_risks)
        if missing:
            self.problems.append(missing)
        if self.problems:
            raise InvalidInput(self.problems)
        volumes = sorted({m.volume for c in containers for m in c.named_volumes})
        return AppSpec(self.name, self.instance_dir, containers, self.network, volumes,
                       self.labels, self.env, self.secret_env, risks, self.generated,
                       self._shipped(values), self._exports(values, every_mount),
                       list(self.definition.hooks))  # fmt: skip

    def _refuse_missing_imports(self) -> None:
        for requirement in self.definition.requires:
            missing = [name for name in requirement.imports if name not in self.imports]
            if missing:
                self.problems.append(Refusal(
                    f"the app {requirement.app} it requires gives no {', '.join(missing)}"
                ))  # fmt: skip

    def _replicas(self, service: str, docker: DockerConfig) -> int:
        """As the install asked (by service; "" or the instance's name is the main
        one), else as defined."""
        asked = self.config.replicas
        main = service == self.definition.main_service
        of_main = asked.get("") or asked.get(self.name) if main else None
        return asked.get(service) or of_main or docker.replicas

    def _refuse_unknown_replicas(self) -> None:
        for service in self.config.replicas:
            if service not in (*self.names, "", self.name):
                self.problems.append(Refusal(
                    f"replicas: the app has no service '{service}' (it has "
                    f"{', '.join(self.names)})", ("replicas",)))  # fmt: skip

    def _refuse_unnamed(self) -> None:
        """An app served by name only, with none (an update to a definition that now
        asks for one): refused, naming the fix."""
        if self.definition.needs_hostname and self.named is None:
            self.problems.append(Refusal(
                f"{self.name} is served by its name only (its catalog says so) and has no "
                f"hostname: give it one first (tomo hostname add {self.name} NAME)",
                ("hostnames",),
            ))  # fmt: skip

    def _published_port(self) -> int | None:
        """The host port people reach the app at without a name: the one that
        publishes the front door's port, else the main service's first TCP port."""
        service, port = self.definition.routed
        every = self.definition.all_services
        main = self.definition.main_service
        found = []
        for name in dict.fromkeys((service, main)):
            config = self.config if name == main else InstallConfig()
            tcp = [p for p in chosen_ports(every[name], config, []) if p.protocol == "tcp"]
            found += [p.host for p in tcp if name == service and p.container == port]
            found += [p.host for p in tcp if name == main]
        return found[0] if found else None

    def _exports(self, values: dict[str, str], mounts: list[Mount]) -> dict[str, Exported]:
        """What it gives the apps that require it: host names on its network, and
        values made of its settings (secret when a secret setting is in them); a
        folder of its data directory is marked as one (`${TOMO_DATA_DIR}/sub`)."""
        secret_settings = {s.name for s in self.definition.settings if s.secret}
        found = {}
        for export in self.definition.exports:
            if export.host is not None:
                found[export.name] = Exported(self.names[export.host], False, self.network,
                                              self.definition.id)  # fmt: skip
                continue
            template = export.value or ""
            # a template in every app (AppExport), even one whose values are as written
            value = self._fill(template, values, f"exports: {export.name}", template=True)
            secret = bool(set(references(template)) & secret_settings)
            exported = Exported(value, secret, self.network, self.definition.id)
            if DATA_FOLDER.fullmatch(template):
                above = [m.host_path for m in mounts if not m.readonly and m.owned
                         and _strictly_inside(value, m.host_path)]  # fmt: skip
                if self.definition.hooks and _strictly_inside(value, self.instance_dir):
                    above.append(self.instance_dir)  # its hooks write the whole directory
                exported = replace(exported, folder=True, writable_above=min(above, default=None))
            found[export.name] = exported
        return found

    def _marked_shipped(self, mounts: list[Mount]) -> list[Mount]:
        """The mounts of a file the store ships (Runtipi's crowdsec mounts its
        data/crowdsec/acquis.yaml alone) marked as such: placed, not made a folder."""
        shipped = {posixpath.join(self.instance_dir, f.path[2:]) for f in self.definition.files}
        return [replace(m, shipped_file=True) if m.owned and m.host_path in shipped else m
                for m in mounts]  # fmt: skip

    def _shipped(self, values: dict[str, str]) -> list[ShippedFile]:
        return [self._placed(f, values) for f in self.definition.files]

    def _placed(self, shipped: AppFile, values: dict[str, str]) -> ShippedFile:
        """A store's file as placed: a template filled in with the installation's
        values; one that carries a secret is not left readable by everyone."""
        data, mode = shipped.data, int(shipped.mode, 8)
        if shipped.template:
            text = data.decode("utf-8", "replace")
            data = self._fill(text, values, f"file {shipped.path}").encode()
            secret = {s.name for s in self.definition.settings if s.secret}
            secret |= {name for name, found in self.imports.items() if found.secret}
            if set(references(text)) & secret:
                mode &= ~0o007
        return ShippedFile(posixpath.join(self.instance_dir, shipped.path[2:]), data, mode,
                           _ids(shipped.owner) if shipped.owner else None)  # fmt: skip

    # -- values ------------------------------------------------------------------

    def _settings(self) -> dict[str, str]:
        """Each setting's value; required ones missing are reported together."""
        values: dict[str, str] = {}
        missing = []
        self.problems += refused_values(self.definition.settings, self.config.env)
        for setting in self.definition.settings:
            found = self._value_of(setting, setting.name, given=True)
            if found is None:
                if setting.required:
                    missing.append(setting.name)
                continue
            values[setting.name] = self._fill(found[0], {}, f"setting {setting.name}")
            self._record(setting.name, values[setting.name], secret=setting.secret)
        if missing:
            self.problems.append(missing_values("settings", missing))
        self.problems += env_problems(values, "env.")
        return values

    def _value_of(self, variable: AppEnvVar, key: str, *, given: bool) -> tuple[str, Source] | None:
        """The value as a template, and where it came from: the user's (`given`), kept
        from before, the definition's default, or a secret generated now."""
        found: tuple[str, Source] | None = None
        if given and variable.name in self.config.env:
            found = (self._as_template(self.config.env[variable.name]), "given")
        elif key in self.kept:
            found = (self.kept[key], "kept")
        elif variable.default is not None:
            found = (variable.default, "default")
        elif variable.generate:
            self.generated[key] = generate_secret(variable.generate, variable.length)
            found = (self._as_template(self.generated[key]), "generated")
        if found is None or (found[0] == "" and variable.required):
            return None
        return found

    def _as_template(self, value: str) -> str:
        """A value that is taken as written, as a template that gives it back."""
        return value.replace("$", "$$") if self.templated else value

    def _record(self, name: str, value: str, *, secret: bool) -> None:
        """Keep a value of the user's variables on the installation (secrets sealed)."""
        if secret:
            self.secret_env[name] = self._as_template(value)
        else:
            self.env[name] = value

    def _fill(
        self, text: str, values: dict[str, str], where: str, *, template: bool = False
    ) -> str:
        """`${NAME}` replaced by the setting's or built-in's value; `$$` is `$` (in an
        app whose values are templates, or in a `template` wherever it is)."""
        if not (self.templated or template) or "$" not in text:
            return text
        known = {**self.builtins, **values}
        unknown = [n for n in references(text) if n not in known and n not in self.settings]
        if unknown:
            self.problems.append(
                Refusal(f"{where}: ${{{unknown[0]}}} is not a setting of this app")
            )

        def replace(match: re.Match[str]) -> str:
            name = match.group("name")
            # `$$`, or an optional setting left empty
            return "$" if name is None else known.get(name, "")

        return REFERENCE.sub(replace, text)

    def _fill_all(
        self, items: list[str] | None, values: dict[str, str], where: str
    ) -> list[str] | None:
        if items is None:
            return None
        return [self._fill(item, values, where) for item in items]

    # -- one service -------------------------------------------------------------

    def _container(
        self, service: str, docker: DockerConfig, values: dict[str, str]
    ) -> ContainerSpec:
        main = service == self.definition.main_service
        where = f"service {service}"
        config = self.config if main else InstallConfig()
        published = chosen_ports(docker, config, self.problems)
        folders, folder_risks = self._imported_folders(docker, where)
        placed = self._marked_shipped(placed_mounts(
            [folders.get(v.container_path, v) for v in docker.volumes if v.volume is None],
            config, self.instance_dir, self.problems, place_under="" if main else service,
        ))  # fmt: skip
        placed = [replace(m, of_required_app=True) if m.container_path in folders else m
                  for m in placed]  # fmt: skip
        env, secret_env = self._service_env(service, docker, values, main)
        # Another app's folder is judged by what it is (folder_risks), not by its path
        # under the server's folder of installations.
        effective = docker.model_copy(update={"volumes": [
            AppVolume(container_path=m.container_path, host_path=m.host_path, readonly=m.readonly)
            for m in placed if not m.owned and m.container_path not in folders
        ]})  # fmt: skip
        name = self.names[service]
        required = self._required_by(docker)
        return ContainerSpec(
            name=name, image=self.images.get(service, docker.image),
            labels={**self.labels, "tomo.service": service},
            ports=[PublishedPort(p.host, p.container, p.protocol) for p in published],
            mounts=placed, env=env, secret_env=secret_env,
            restart_policy=docker.restart_policy, network_mode=self._network_mode(docker),
            pid_mode=docker.pid_mode, ipc_mode=docker.ipc_mode, privileged=docker.privileged,
            capabilities=list(docker.capabilities), devices=self._devices(docker, values, where),
            gpus=docker.gpus,
            command=self._fill_all(docker.command, values, where),
            instance_dir=self.instance_dir,
            risks=sorted({*assess_risks(effective, data_root=self.data_root), *folder_risks,
                          *(f"app:{app.rpartition('/')[2]}" for app in required)}),
            extra_networks=sorted({n for n in required.values() if n and n != self.network}),
            accepted_risks=list(self.config.accept_risks), service=service,
            network=self.network, entrypoint=self._fill_all(docker.entrypoint, values, where),
            user=docker.user, working_dir=docker.working_dir, health=docker.healthcheck,
            named_volumes=[NamedMount(f"{self.name}_{v.volume}", v.container_path, v.readonly)
                           for v in docker.volumes if v.volume is not None],
            depends_on={self.names[d]: c for d, c in docker.depends_on.items()},
            one_shot=self._is_one_shot(service),
            env_file_name=ENV_FILE_NAME if main else f".tomo.{service}.env",
            replicas=self._replicas(service, docker),
            publish_mode=self.config.publish_mode, **hardening(docker),
            store_env_files=[posixpath.join(self.instance_dir, path[2:])
                             for path in docker.env_file],
        )  # fmt: skip

    def _imported_folders(
        self, docker: DockerConfig, where: str
    ) -> tuple[dict[str, AppVolume], set[str]]:
        """The volumes of folders of the apps it requires (`imported_folder`) as the
        server's paths, by container path; and their risk flags: `app-data:<app>`, and
        `nested-mount:<path>` where a container of that app can write the folder
        holding it (and so swap it for a link before Docker next resolves it)."""
        folders: dict[str, AppVolume] = {}
        risks: set[str] = set()
        for volume in docker.volumes:
            if volume.imported_folder is None:
                continue
            name, _, below = volume.imported_folder.partition("/")
            given = self.imports.get(name)
            if given is None or not given.folder:
                app = given.app if given is not None and given.app else "the app it requires"
                self.problems.append(Refusal(
                    f"{where}: volume {volume.container_path}: {app} gives {name}, which is "
                    "not a folder of its data directory", ("volumes",)))  # fmt: skip
                continue
            path = posixpath.join(given.value, below) if below else given.value
            folders[volume.container_path] = volume.model_copy(
                update={"imported_folder": None, "host_path": path})  # fmt: skip
            risks.add(f"app-data:{given.app}")
            if given.writable_above:
                risks.add(f"nested-mount:{path}")
        return folders, risks

    def _devices(self, docker: DockerConfig, values: dict[str, str], where: str) -> list[str]:
        """The devices, one chosen at install (`${SERIAL}:/dev/ttyACM0`) with the
        setting's value, which must name a device of the server and be the user's: a
        catalog's default (`/dev/sda`) is never taken for them."""
        devices = []
        for device in docker.devices:
            chosen = CHOSEN_DEVICE.fullmatch(device)
            if chosen is None:
                devices.append(device)
                continue
            if chosen.group("setting") not in self.config.env:
                self.problems.append(Refusal(
                    f"{where}: give {chosen.group('setting')}, the server's device the app "
                    "gets (a catalog's default is not taken for it)",
                    (f"env.{chosen.group('setting')}",),
                ))  # fmt: skip
                continue
            filled = device.replace("${" + chosen.group("setting") + "}",
                                    values.get(chosen.group("setting"), ""), 1)  # fmt: skip
            if not DEVICE.fullmatch(filled) or ".." in filled.split("/"):
                self.problems.append(Refusal(
                    f"{where}: {chosen.group('setting')} must name a device of the server "
                    f"(/dev/…), not '{values.get(chosen.group('setting'), '')}'",
                    (f"env.{chosen.group('setting')}",),
                ))  # fmt: skip
                continue
            devices.append(filled)
        return devices

    def _required_by(self, docker: DockerConfig) -> dict[str, str | None]:
        """The apps whose variables a service's values use, with the network it
        joins to reach them (so it reaches their containers: a risk flag says so)."""
        texts = [v.default or "" for v in docker.environment]
        texts += [*(docker.command or []), *(docker.entrypoint or [])]
        used = {name for text in texts for name in references(text)} & set(self.imports)
        return {self.imports[name].app: self.imports[name].network for name in sorted(used)
                if self.imports[name].app}  # fmt: skip

    def _network_mode(self, docker: DockerConfig) -> str | None:
        """Docker's mode for the container; None for the app's own network or, when
        it has none, tomo's isolated one: a store's `bridge` (CasaOS writes it on most
        apps) asks for no more than that, and Docker's default bridge would let the
        app reach every other container on it."""
        mode = docker.network_mode
        if mode in BRIDGE_MODES:
            return None
        if mode is not None and mode.startswith("service:"):
            return f"container:{self.names[mode[8:]]}"
        return mode

    def _is_one_shot(self, service: str) -> bool:
        every = self.definition.all_services
        return any(other.depends_on.get(service) == "completed" for other in every.values())

    def _service_env(
        self, service: str, docker: DockerConfig, values: dict[str, str], main: bool
    ) -> tuple[dict[str, str], dict[str, str]]:
        """The service's variables with settings put in; a value that carries a
        secret setting is secret too. The main service takes the user's values: for
        an app without settings its variables are the ones the user is asked for."""
        asks_user = main and not self.definition.settings
        if asks_user:
            self.problems += refused_values(docker.environment, self.config.env)
        secret_settings = {s.name for s in self.definition.settings if s.secret}
        env: dict[str, str] = {}
        secret_env: dict[str, str] = {}
        templates: dict[str, str] = {}  # checked as written: a setting's value is checked as one
        missing = []
        for variable in docker.environment:
            key = variable.name if main else f"{service}.{variable.name}"
            found = self._value_of(variable, key, given=main)
            if found is None:
                missing += [variable.name] if variable.required else []
                continue
            template, source = found
            templates[variable.name] = template
            value = self._fill(template, values, f"service {service}: {variable.name}")
            secret = variable.secret or bool(set(references(template)) & secret_settings)
            secret = secret or any(self.imports[n].secret for n in references(template)
                                   if n in self.imports)  # fmt: skip
            (secret_env if secret else env)[variable.name] = value
            # Made of what a required app gives, or of its name: worked out again at each
            # update, not kept.
            worked_out = set(self.imports) | NAME_BUILTINS
            derived = source == "default" and bool(set(references(template)) & worked_out)
            if (asks_user and not derived) or (source == "given" and not secret):
                self._record(variable.name, value, secret=secret)
            elif source != "default" and (secret or variable.generate):
                self.secret_env[key] = template  # no definition gives it again: kept sealed
        if main:
            extra = self._undeclared(docker)
            env.update(extra)
            templates.update(extra)
        self._refuse_missing(service, missing, asks_user=asks_user)
        self.problems += env_problems(templates, "env." if main else "")
        return env, secret_env

    def _undeclared(self, docker: DockerConfig) -> dict[str, str]:
        """What the user gives that neither a setting nor a variable declares: the
        main service takes it as written, and the record keeps it."""
        declared = self.settings | {v.name for v in docker.environment}
        extra = {k: v for k, v in self.config.env.items() if k not in declared}
        self.env.update(extra)
        return extra

    def _refuse_missing(self, service: str, names: list[str], *, asks_user: bool) -> None:
        if names and asks_user:
            self.problems.append(missing_values("environment variables", names))
        elif names:
            self.problems += [Refusal(f"service {service}: {name} has no value")
                              for name in names]  # fmt: skip

    def _refuse_shared_host_ports(self, containers: list[ContainerSpec]) -> None:
        seen: dict[tuple[int, str], str] = {}
        for container in containers:
            for port in container.ports:
                key = (port.host, port.protocol)
                if key in seen and seen[key] != container.service:
                    self.problems.append(Refusal(
                        f"host port {port.host}/{port.protocol} is published by services "
                        f"{seen[key]} and {container.service}", ("ports",)
                    ))  # fmt: skip
                seen[key] = container.service


def _ids(owner: str) -> tuple[int, int]:
    uid, _, gid = owner.partition(":")
    return int(uid), int(gid)


def app_mounts(definition: AppDefinition, config: InstallConfig, instance_dir: str) -> list[Mount]:
    """Where every service's volumes are mounted from, for a config already
    validated (named volumes aside: they are Docker's, not folders; and the folders
    of the apps it requires: theirs, never this installation's to make or remove)."""
    found = []
    for service, docker in definition.all_services.items():
        main = service == definition.main_service
        found += placed_mounts(
            [v for v in docker.volumes if v.volume is None and v.imported_folder is None],
            config if main else InstallConfig(), instance_dir, [],
            place_under="" if main else service,
        )  # fmt: skip
    return found


def named_volumes(definition: AppDefinition, instance: str) -> list[str]:
    """The Docker volumes an installation's services share, by their server names."""
    return sorted({f"{instance}_{v.volume}" for docker in definition.all_services.values()
                   for v in docker.volumes if v.volume is not None})  # fmt: skip


def env_files(definition: AppDefinition, instance_dir: str) -> list[str]:
    """Every env file tomo may have written for the installation's containers."""
    return [
        posixpath.join(instance_dir, ENV_FILE_NAME if s == definition.main_service
                       else f".tomo.{s}.env")
        for s in definition.all_services
    ]  # fmt: skip


# An export that is a folder of the app's own data directory: `${TOMO_DATA_DIR}` or
# folders below it (none of them `.` or `..`: a folder's name starts otherwise).
DATA_FOLDER = re.compile(r"\$\{TOMO_DATA_DIR\}(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def _strictly_inside(path: str, folder: str) -> bool:
    """Whether `path` lies below `folder` (not at it)."""
    return path != folder and path.startswith(folder.rstrip("/") + "/")
