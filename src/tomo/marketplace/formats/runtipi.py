"""Runtipi app stores: `apps/<id>/config.json` beside the app's compose file.

Layout, as Runtipi publishes it:

    apps/<id>/config.json               name, port, categories, form fields, ...
    apps/<id>/docker-compose.json       "dynamic compose" (services with isMain,
                                        internalPort, key/value environment, ...)
    apps/<id>/docker-compose.yml        the older plain compose file
    apps/<id>/metadata/logo.jpg         the icon
    apps/<id>/metadata/description.md   the long description

The dynamic compose file is rewritten into a plain compose document and both
kinds go through `convert_compose`, so every compose rule lives in one place.
Runtipi's variables (`${APP_DATA_DIR}`, `${APP_PORT}`, ...) map to tomo's notions
in `runtipi_table`; form fields become the app's settings.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.formats.base import Found, Parsed, SourceSpec
from tomo.marketplace.parse import format_validation_error
from tomo.slugs import SLUG, slugify

APPS_DIR = "apps"
CONFIG = "config.json"
DYNAMIC_COMPOSE = "docker-compose.json"
COMPOSE = "docker-compose.yml"
LOGO = "metadata/logo.jpg"
DESCRIPTION = "metadata/description.md"

# How long AppDefinition lets each text be; longer store texts are cut, not refused.
_LIMITS = {"name": 128, "tagline": 256, "description": 8000, "author": 128}
_MAX_TAGS = 32
# What Runtipi generates for a `random` field without `min` (hex of a SHA-256).
RANDOM_LENGTH = 32


class _Strict(BaseModel):
    """config.json as Runtipi's own schema checks it: JSON types, no coercion."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class FormOption(_Strict):
    label: str
    value: str


class FormField(_Strict):
    type: str
    label: str = ""
    hint: str = ""
    placeholder: str = ""
    required: bool = False
    default: bool | int | float | str | None = None
    env_variable: str
    min: int | float | None = None
    max: int | float | None = None
    encoding: str | None = None
    options: list[FormOption] = []


class RuntipiConfig(_Strict):
    """The keys of config.json that tomo reads (see docs/catalog-formats.md)."""

    id: str | None = None
    name: str
    available: bool = True
    deprecated: bool = False
    short_desc: str = ""
    description: str = ""
    author: str = ""
    source: str = ""
    website: str = ""
    categories: list[str] = []
    version: str = "latest"
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    supported_architectures: list[str] = []
    form_fields: list[FormField] = []
    dynamic_config: bool = False
    force_expose: bool = False
    generate_vapid_keys: bool = False
    url_suffix: str = ""
    no_gui: bool = False
    uid: int | None = None
    gid: int | None = None


class RuntipiFormat:
    name = "runtipi"
    title = "Runtipi app store"

    def detect(self, paths: Collection[str]) -> bool:
        return bool(config_paths(paths))

    def index_files(self, paths: Collection[str]) -> list[str]:
        return []

    def find_sources(self, paths: Collection[str], indexes: Mapping[str, bytes]) -> Found:
        present = set(paths)
        found = Found()
        for config in config_paths(paths):
            folder = posixpath.dirname(config)
            composes = tuple(
                path
                for path in (f"{folder}/{DYNAMIC_COMPOSE}", f"{folder}/{COMPOSE}")
                if path in present
            )
            if not composes:
                found.errors[config] = f"no {DYNAMIC_COMPOSE} or {COMPOSE} beside it"
                continue
            optional = (f"{folder}/{LOGO}", f"{folder}/{DESCRIPTION}")
            found.sources.append(SourceSpec(config, (config, *composes), optional))
        return found

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        config = read_config(source.key, files[source.key], max_bytes=max_bytes)
        app = _AppBuilder(source.key, config, files, max_bytes)
        return Parsed(app.definition(), app.warnings)


def config_paths(paths: Collection[str]) -> list[str]:
    """Every `apps/<id>/config.json` (hidden folders skipped)."""
    return sorted(
        path
        for path in paths
        if (parts := path.split("/"))
        and len(parts) == 3
        and parts[0] == APPS_DIR
        and parts[2] == CONFIG
        and not parts[1].startswith(".")
    )


def load_json(path: str, data: bytes, *, max_bytes: int) -> Any:
    """One JSON document under the size limit; duplicate keys and NaN refused
    (Python would silently keep the last key and accept NaN)."""
    if len(data) > max_bytes:
        raise InvalidDefinition(
            path, f"file is {len(data)} bytes, larger than the {max_bytes}-byte limit"
        )
    try:
        return json.loads(
            data.decode("utf-8-sig"),
            object_pairs_hook=_refuse_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as exc:
        raise InvalidDefinition(path, f"not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InvalidDefinition(
            path, f"invalid JSON, line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidDefinition(path, f"invalid JSON: {exc or 'nested too deeply'}") from None


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key '{key}'")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"'{name}' is not a JSON number")


def read_config(path: str, data: bytes, *, max_bytes: int) -> RuntipiConfig:
    raw = load_json(path, data, max_bytes=max_bytes)
    if not isinstance(raw, dict):
        raise InvalidDefinition(path, "the top level must be an object of fields")
    try:
        return RuntipiConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidDefinition(path, format_validation_error(exc)) from None


def validate_definition(path: str, raw: dict[str, Any]) -> AppDefinition:
    try:
        return AppDefinition.model_validate(raw)
    except ValidationError as exc:
        raise InvalidDefinition(path, format_validation_error(exc)) from None


def clip(text: str, limit: int, field: str, warnings: list[str]) -> str:
    """A store text cut to what AppDefinition accepts, saying so."""
    text = text.strip()
    if len(text) <= limit:
        return text
    warnings.append(f"{field}: longer than {limit} characters, cut")
    return text[: limit - 1].rstrip() + "…"


def one_line(text: str) -> str:
    return " ".join(text.split())


class _AppBuilder:
    """One app's definition input, built from config.json and its other files."""

    def __init__(
        self, key: str, config: RuntipiConfig, files: Mapping[str, bytes], max_bytes: int
    ) -> None:
        self.key = key
        self.config = config
        self.files = files
        self.max_bytes = max_bytes
        self.folder = posixpath.dirname(key)
        self.warnings: list[str] = []

    def definition(self) -> AppDefinition:
        raw = {**self.metadata(), "settings": self.settings()}
        reasons = self.not_installable()
        if reasons:
            raw["not_installable"] = "; ".join(reasons)
        return validate_definition(self.key, raw)

    def metadata(self) -> dict[str, Any]:
        config = self.config
        raw: dict[str, Any] = {
            "id": self.app_id(),
            "name": self.clip("name", one_line(config.name)),
            "tagline": self.clip("tagline", one_line(config.short_desc), "short_desc"),
            "description": self.clip("description", self.description()),
            "version": config.version.strip() or "latest",
            "author": self.clip("author", one_line(config.author)),
            **self.categories(),
        }
        if config.source.lower().startswith(("http://", "https://")):
            raw["repository"] = config.source.strip()
        logo = f"{self.folder}/{LOGO}"
        if logo in self.files:
            raw["icon"] = logo
        if config.supported_architectures:
            raw["requirements"] = {"architectures": config.supported_architectures}
        if config.url_suffix:
            self.warnings.append(f"url_suffix '{config.url_suffix}': tomo's link opens the "
                                 "root of the app's port")  # fmt: skip
        if config.uid is not None or config.gid is not None:
            self.warnings.append("uid/gid: tomo does not change the owner of the app's data "
                                 "directory; the app may need to")  # fmt: skip
        return raw

    def clip(self, field: str, text: str, written_as: str | None = None) -> str:
        return clip(text, _LIMITS[field], written_as or field, self.warnings)

    def app_id(self) -> str:
        """config.json's id; Runtipi wants it to be the folder's name."""
        folder_name = posixpath.basename(self.folder)
        wanted = (self.config.id or folder_name).strip()
        if wanted != folder_name:
            self.warnings.append(f"id '{wanted}' differs from the folder name '{folder_name}'")
        if SLUG.fullmatch(wanted):
            return wanted
        slug = slugify(wanted)
        self.warnings.append(f"id '{wanted}' is not a valid tomo id; listed as '{slug}'")
        return slug

    def description(self) -> str:
        path = f"{self.folder}/{DESCRIPTION}"
        if path not in self.files:
            return self.config.description
        try:
            return self.files[path].decode("utf-8-sig")
        except UnicodeDecodeError:
            self.warnings.append(f"{path}: not valid UTF-8; config.json's description used")
            return self.config.description

    def categories(self) -> dict[str, Any]:
        slugs = list(dict.fromkeys(slugify(c) for c in self.config.categories if c.strip()))
        if not slugs:
            return {}
        if len(slugs) > _MAX_TAGS:
            self.warnings.append(f"categories: more than {_MAX_TAGS}; the first kept")
        return {"category": slugs[0], "tags": slugs[:_MAX_TAGS]}

    def settings(self) -> list[dict[str, Any]]:
        settings = [form_field_setting(f, self.warnings) for f in self.config.form_fields]
        if self.config.generate_vapid_keys:
            settings += vapid_settings()
        return settings

    def not_installable(self) -> list[str]:
        config = self.config
        reasons = []
        if not config.available:
            reasons.append("its store marks it unavailable")
        if config.deprecated:
            reasons.append("its store marks it deprecated (no longer maintained)")
        if config.force_expose:
            reasons.append("it needs a domain name through Runtipi's reverse proxy, which "
                           "tomo does not provide")  # fmt: skip
        return reasons


# Form field types whose values are text the user types; Runtipi checks their shape.
_TYPE_HINTS = {
    "email": "an email address",
    "number": "a number",
    "fqdn": "a domain name",
    "ip": "an IP address",
    "fqdnip": "a domain name or IP address",
    "url": "a URL",
    "boolean": "true or false",
}
_KNOWN_TYPES = {"text", "password", "random", *_TYPE_HINTS}


def form_field_setting(field: FormField, warnings: list[str]) -> dict[str, Any]:
    """A Runtipi form field → one of the app's settings (named by env_variable)."""
    name = field.env_variable
    if field.type not in _KNOWN_TYPES:
        warnings.append(f"form_fields.{name}: type '{field.type}' is unknown; taken as text")
    setting: dict[str, Any] = {
        "name": name,
        "description": _field_description(field),
        "required": field.required,
    }
    if field.default is not None:
        setting["default"] = _text(field.default)
    if field.type == "password":
        setting["secret"] = True
    if field.type == "random":
        setting.update(_random_setting(field, warnings))
    return setting


def _field_description(field: FormField) -> str:
    parts = [one_line(part) for part in (field.label, field.hint) if part.strip()]
    text = " — ".join(dict.fromkeys(parts))
    if field.options:
        choices = ", ".join(f"{o.value} ({o.label})" if o.label != o.value else o.value
                            for o in field.options)  # fmt: skip
        text = f"{text} (one of: {choices})" if text else f"One of: {choices}"
    elif field.type in _TYPE_HINTS:
        text = f"{text} ({_TYPE_HINTS[field.type]})" if text else _TYPE_HINTS[field.type]
    return text


def _random_setting(field: FormField, warnings: list[str]) -> dict[str, Any]:
    """Runtipi fills a `random` field itself: a generated secret here. tomo's
    generator has fixed lengths, so a different `min` is reported."""
    if field.min is not None and field.min != RANDOM_LENGTH:
        warnings.append(f"form_fields.{field.env_variable}: random value of {field.min:g} "
                        f"characters asked; tomo generates {RANDOM_LENGTH}")  # fmt: skip
    kind = "password" if field.encoding == "base64" else "hex"
    # The user does not type a random field, so it is never "required" of them.
    return {"secret": True, "generate": kind, "required": False}


def vapid_settings() -> list[dict[str, Any]]:
    """Runtipi generates a web-push key pair for these apps; tomo cannot, so the
    user gives one."""
    return [
        {"name": "VAPID_PUBLIC_KEY", "description": "Web push (VAPID) public key",
         "required": True},
        {"name": "VAPID_PRIVATE_KEY", "description": "Web push (VAPID) private key",
         "required": True, "secret": True},
    ]  # fmt: skip


def _text(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- dynamic compose (docker-compose.json) -------------------------------------------


class DynamicPort(_Strict):
    containerPort: int | str
    hostPort: int | str
    tcp: bool = False
    udp: bool = False
    interface: str | None = None


class DynamicVolume(_Strict):
    hostPath: str
    containerPath: str
    readOnly: bool = False
    shared: bool = False
    private: bool = False
    bind: dict[str, str] | None = None


class DynamicEnv(_Strict):
    key: Annotated[str, Field(min_length=1)]
    value: str | int | float | bool


class DynamicHealthCheck(_Strict):
    test: str | list[str]
    interval: str | None = None
    timeout: str | None = None
    retries: int | None = None
    startInterval: str | None = None
    startPeriod: str | None = None


class DynamicService(BaseModel):
    """One service of a dynamic compose file. The keys read here change shape on
    the way to compose; every other key is renamed as `_COMPOSE_NAMES` says."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: Annotated[str, Field(min_length=1)]
    image: str
    isMain: bool = False
    internalPort: int | str | None = None
    addPorts: list[DynamicPort] = []
    volumes: list[DynamicVolume] = []
    environment: list[DynamicEnv] | dict[str, str | int | float | bool] = []
    healthCheck: DynamicHealthCheck | None = None
    dependsOn: str | list[str] | dict[str, Any] | None = None
    addToMainNetwork: bool = False  # joins Runtipi's proxy network: nothing to do here
    deploy: dict[str, Any] | None = None


class DynamicCompose(_Strict):
    schemaVersion: Literal[2] | None = None  # absent: version 1 (environment as a map)
    services: Annotated[list[DynamicService], Field(min_length=1)]
    overrides: list[Any] = []


# Dynamic compose keys whose values compose takes as they are, by compose's name.
_COMPOSE_NAMES = {
    "command": "command", "entrypoint": "entrypoint", "user": "user",
    "workingDir": "working_dir", "networkMode": "network_mode", "privileged": "privileged",
    "capAdd": "cap_add", "capDrop": "cap_drop", "devices": "devices", "hostname": "hostname",
    "pid": "pid", "tty": "tty", "shmSize": "shm_size", "logging": "logging",
    "readOnly": "read_only", "securityOpt": "security_opt", "stopSignal": "stop_signal",
    "stopGracePeriod": "stop_grace_period", "stdinOpen": "stdin_open", "sysctls": "sysctls",
    "ulimits": "ulimits", "extraHosts": "extra_hosts", "dns": "dns",
    "extraLabels": "labels", "restart": "restart",
}  # fmt: skip


def read_dynamic_compose(path: str, data: bytes, *, max_bytes: int) -> DynamicCompose:
    raw = load_json(path, data, max_bytes=max_bytes)
    if not isinstance(raw, dict):
        raise InvalidDefinition(path, "the top level must be an object with 'services'")
    try:
        return DynamicCompose.model_validate(raw)
    except ValidationError as exc:
        raise InvalidDefinition(path, format_validation_error(exc)) from None


def dynamic_to_compose(
    path: str, dynamic: DynamicCompose, *, port: int | None, warnings: list[str]
) -> tuple[dict[str, Any], str | None]:
    """A dynamic compose file as the compose document Runtipi would write for it,
    and its main service (the one marked isMain)."""
    services: dict[str, Any] = {}
    for service in dynamic.services:
        if service.name in services:
            raise InvalidDefinition(path, f"services: '{service.name}' is given twice")
        services[service.name] = compose_service(service, port=port, warnings=warnings)
    mains = [service.name for service in dynamic.services if service.isMain]
    if len(mains) > 1:
        raise InvalidDefinition(path, f"services: only one may be isMain ({', '.join(mains)})")
    if dynamic.overrides:
        warnings.append(f"{posixpath.basename(path)}: overrides per architecture ignored; "
                        "tomo installs the same services everywhere")  # fmt: skip
    return {"services": services}, (mains[0] if mains else None)


def compose_service(
    service: DynamicService, *, port: int | None, warnings: list[str]
) -> dict[str, Any]:
    result: dict[str, Any] = {"image": service.image, "restart": "unless-stopped"}
    for key, value in (service.model_extra or {}).items():
        if key in _COMPOSE_NAMES:
            result[_COMPOSE_NAMES[key]] = value
        else:
            warnings.append(f"services.{service.name}.{key}: not a dynamic compose key, ignored")
    result.update(_service_parts(service, port))
    if "network_mode" in result:
        result.pop("ports", None)  # Runtipi publishes nothing for a service in a network mode
    return result


def _service_parts(service: DynamicService, port: int | None) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    ports = _main_port(service, port) + [p for entry in service.addPorts for p in _ports(entry)]
    if ports:
        parts["ports"] = ports
    if service.volumes:
        parts["volumes"] = [_volume(volume) for volume in service.volumes]
    environment = _environment(service.environment)
    if environment:
        parts["environment"] = environment
    if service.healthCheck is not None:
        parts["healthcheck"] = _healthcheck(service.healthCheck)
    if service.dependsOn is not None:
        depends = service.dependsOn
        parts["depends_on"] = [depends] if isinstance(depends, str) else depends
    if service.deploy is not None:
        parts["deploy"] = _deploy(service.deploy)
    return parts


def _main_port(service: DynamicService, port: int | None) -> list[str]:
    """Runtipi publishes the main service's internalPort on config.json's port."""
    if not service.isMain or service.internalPort is None:
        return []
    return [f"{port or service.internalPort}:{service.internalPort}"]


def _ports(entry: DynamicPort) -> list[str]:
    mapping = f"{entry.hostPort}:{entry.containerPort}"
    if entry.interface:
        mapping = f"{entry.interface}:{mapping}"
    protocols = [p for p, wanted in (("tcp", entry.tcp), ("udp", entry.udp)) if wanted]
    return [f"{mapping}/{protocol}" for protocol in protocols] or [mapping]


def _volume(volume: DynamicVolume) -> str | dict[str, Any]:
    propagation = (volume.bind or {}).get("propagation") or (
        "shared" if volume.shared else "private" if volume.private else None
    )
    if propagation is None:
        return f"{volume.hostPath}:{volume.containerPath}" + (":ro" if volume.readOnly else "")
    return {"type": "bind", "source": volume.hostPath, "target": volume.containerPath,
            "read_only": volume.readOnly, "bind": {"propagation": propagation}}  # fmt: skip


def _environment(environment: list[DynamicEnv] | dict[str, Any]) -> dict[str, str]:
    pairs = (
        environment.items()
        if isinstance(environment, dict)
        else ((entry.key, entry.value) for entry in environment)
    )
    return {key: _text(value) for key, value in pairs}


def _healthcheck(check: DynamicHealthCheck) -> dict[str, Any]:
    names = {"startInterval": "start_interval", "startPeriod": "start_period"}
    fields = check.model_dump(exclude_none=True)
    return {names.get(key, key): value for key, value in fields.items()}


def _deploy(deploy: dict[str, Any]) -> dict[str, Any]:
    """Runtipi spells a GPU reservation's `device_ids` as `deviceIds`."""
    reservations = (deploy.get("resources") or {}).get("reservations")
    if not isinstance(reservations, dict) or not isinstance(reservations.get("devices"), list):
        return deploy
    devices = [
        {("device_ids" if key == "deviceIds" else key): value for key, value in device.items()}
        if isinstance(device, dict) else device
        for device in reservations["devices"]
    ]  # fmt: skip
    resources = {**deploy["resources"], "reservations": {**reservations, "devices": devices}}
    return {**deploy, "resources": resources}
