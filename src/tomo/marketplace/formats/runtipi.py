"""Runtipi app stores: `apps/<id>/config.json` beside the app's compose file.

Layout, as Runtipi publishes it:

    apps/<id>/config.json               name, port, categories, form fields, ...
    apps/<id>/docker-compose.json       "dynamic compose": services with isMain,
                                        internalPort, key/value environment, ...
    apps/<id>/docker-compose.yml        the older plain compose file
    apps/<id>/metadata/logo.jpg         the icon
    apps/<id>/metadata/description.md   the long description

A dynamic compose file is rewritten into the compose document Runtipi would
generate from it, and both kinds go through `convert_compose`, so every compose
rule lives in one place. Runtipi's variables (`${APP_DATA_DIR}`, `${APP_PORT}`,
…) and the app's form fields are read through `runtipi_table`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import MAX_SHIPPED_FILES, AppDefinition
from tomo.marketplace.formats.base import Found, Parsed, SourceSpec
from tomo.marketplace.formats.common import (
    clip,
    load_json,
    one_line,
    shipped_files,
    url_or_none,
    web_path,
)
from tomo.marketplace.formats.compose import (
    ComposeApp,
    build_definition,
    convert_compose,
    not_installable_text,
)
from tomo.marketplace.formats.templates import Templates, merged_settings, read_templates
from tomo.marketplace.formats.variables import (
    BASE_TABLE,
    Builtin,
    DataDir,
    Fixed,
    HostFolder,
    Meaning,
    Setting,
    Unsupported,
    VariableTable,
    looks_secret,
)
from tomo.marketplace.parse import format_validation_error
from tomo.marketplace.safe_yaml import YamlLoadError, load_yaml
from tomo.slugs import SLUG, slugify

APPS_DIR = "apps"
CONFIG = "config.json"
DYNAMIC_COMPOSE = "docker-compose.json"
COMPOSE = "docker-compose.yml"
LOGO = "metadata/logo.jpg"
DESCRIPTION = "metadata/description.md"
SEED_DIR = "data"
MAX_SEED_FILES = MAX_SHIPPED_FILES + 1  # one more than tomo copies: enough to say so
TEMPLATE = ".template"
# The network of Runtipi's reverse proxy, declared external by every plain compose file.
PROXY_NETWORK = "tipi_main_network"

# How long AppDefinition lets each text be; longer store texts are cut, not refused.
_LIMITS = {"name": 128, "tagline": 256, "description": 8000, "author": 128, "version": 64}
MAX_TAGS = 32
# What Runtipi generates for a `random` field without `min` (hex of a SHA-256).
RANDOM_LENGTH = 32
MIN_RANDOM, MAX_RANDOM = 4, 256  # what tomo generates (AppEnvVar.length)


class _Strict(BaseModel):
    """Runtipi's own schemas check JSON types without coercion; so does tomo."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class FormOption(_Strict):
    label: str
    value: str


class FormField(_Strict):
    type: str
    label: str = ""
    hint: str = ""
    required: bool = False
    default: bool | int | float | str | None = None
    env_variable: str
    min: int | float | None = None
    encoding: str | None = None
    options: list[FormOption] = []


class RuntipiConfig(_Strict):
    """The keys of config.json that tomo reads (docs/catalog-formats.md says how)."""

    id: str | None = None  # Runtipi wants the folder's name; that is the default here
    name: str
    available: bool = True
    deprecated: bool = False
    short_desc: str = ""
    description: str = ""
    author: str = ""
    source: str = ""
    categories: list[str] = []
    version: str = "latest"
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    supported_architectures: list[str] = []
    form_fields: list[FormField] = []
    dynamic_config: bool = False
    exposable: bool = False
    force_expose: bool = False
    https: bool = False  # its port speaks HTTPS (Runtipi's proxy talks TLS to it)
    generate_vapid_keys: bool = False
    url_suffix: str = ""
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
        seeds = seed_files_by_folder(paths)
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
            optional = (f"{folder}/{LOGO}", f"{folder}/{DESCRIPTION}", *seeds.get(folder, []))
            found.sources.append(SourceSpec(config, (config, *composes), optional))
        return found

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        config = read_config(source.key, files[source.key], max_bytes=max_bytes)
        app = _AppBuilder(source.key, config, files, max_bytes)
        definition = app.definition()
        return Parsed(definition, app.warnings)


def config_paths(paths: Collection[str]) -> list[str]:
    """Every `apps/<id>/config.json` (hidden folders skipped)."""
    return sorted(
        path
        for path in paths
        if len(parts := path.split("/")) == 3
        and parts[0] == APPS_DIR
        and parts[2] == CONFIG
        and not parts[1].startswith(".")
    )


def seed_files_by_folder(paths: Collection[str]) -> dict[str, list[str]]:
    """seed_files of every app folder, the tree walked once."""
    grouped: dict[str, list[str]] = {}
    for path in paths:
        parts = path.split("/", 3)
        if len(parts) == 4 and parts[0] == APPS_DIR and parts[2] == SEED_DIR:
            grouped.setdefault(f"{parts[0]}/{parts[1]}", []).append(path)
    return {folder: seed_files(folder, found) for folder, found in grouped.items()}


def seed_files(folder: str, paths: Collection[str]) -> list[str]:
    """Files Runtipi copies from the app's `data/` folder into its data directory
    before the app starts (placeholders such as `.gitkeep` aside), as many as tomo
    copies and one more (to tell there are too many)."""
    prefix = f"{folder}/{SEED_DIR}/"
    found = (p for p in paths if p.startswith(prefix) and not posixpath.basename(p).startswith("."))
    return sorted(found)[:MAX_SEED_FILES]


# --- Reading files (Portainer's templates use these too) ------------------------------


def without_empty(raw: Any, required: Collection[str]) -> Any:
    """An object's optional keys left empty ("", null, [], {}) as if absent: Runtipi
    reads them so (its app generator asks `if (value)`), and store files have many."""
    if not isinstance(raw, dict):
        return raw
    return {key: value for key, value in raw.items()
            if key in required or value not in ("", None, [], {})}  # fmt: skip


def read_config(path: str, data: bytes, *, max_bytes: int) -> RuntipiConfig:
    raw = load_json(path, data, max_bytes=max_bytes)
    if not isinstance(raw, dict):
        raise InvalidDefinition(path, "the top level must be an object of fields")
    raw = without_empty(raw, {"name"})
    if isinstance(raw.get("form_fields"), list):
        raw["form_fields"] = [without_empty(field, {"type", "env_variable", "default"})
                              for field in raw["form_fields"]]  # fmt: skip
    try:
        return RuntipiConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidDefinition(path, format_validation_error(exc)) from None


def as_text(value: bool | int | float | str) -> str:
    """A JSON value as an environment value (`true`, `25`, not `True`, `25.0`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- One app -------------------------------------------------------------------------


class _AppBuilder:
    """One app's definition, from config.json and the files beside it."""

    def __init__(
        self, key: str, config: RuntipiConfig, files: Mapping[str, bytes], max_bytes: int
    ) -> None:
        self.key = key
        self.config = config
        self.files = files
        self.max_bytes = max_bytes
        self.folder = posixpath.dirname(key)
        self.warnings: list[str] = []
        # Runtipi's own id for the app (APP_ID): config.json's, else the folder's name.
        self.store_id = (config.id or posixpath.basename(self.folder)).strip()

    def definition(self) -> AppDefinition:
        fields = self.metadata()
        compose = self.compose()
        self.warnings += compose.warnings
        fields.update(compose.fields)
        files, too_many = self.shipped(compose.data_prefix)
        templates = self.templates(compose.data_prefix)
        fields["settings"], unasked = merged_settings(fields, templates, SEED_DIR)
        if not unasked:  # a filled-in template takes the place of a plain file of its name
            filled = {f["path"] for f in templates.files}
            files = [f for f in files if f["path"] not in filled] + templates.files
        files += compose.fields.get("files", [])  # compose's configs
        if files:
            fields["files"] = files
        proxy, unproxied = self.proxy(fields)
        if proxy is not None:
            fields["proxy"] = proxy
        reason = not_installable_text([*self.not_installable(), *too_many, *compose.blockers,
                                       *templates.blockers, *unasked, *unproxied])  # fmt: skip
        if reason:
            fields["not_installable"] = reason
        return build_definition(self.key, fields)

    def metadata(self) -> dict[str, Any]:
        config = self.config
        fields: dict[str, Any] = {
            "id": self.app_id(),
            "name": self.clip("name", one_line(config.name)),
            "tagline": self.clip("tagline", one_line(config.short_desc), "short_desc"),
            "description": self.clip("description", self.description()),
            "version": self.clip("version", one_line(config.version)) or "latest",
            "author": self.clip("author", one_line(config.author)),
            **self.categories(),
        }
        fields |= web_path(config.url_suffix, "url_suffix", self.warnings)
        repository = url_or_none(config.source, "source", self.warnings)
        if repository:
            fields["repository"] = repository
        logo = f"{self.folder}/{LOGO}"
        if logo in self.files:
            fields["icon"] = logo
        if config.supported_architectures:
            fields["requirements"] = {"architectures": config.supported_architectures}
        self.report_ignored()
        return fields

    def clip(self, field: str, text: str, written_as: str | None = None) -> str:
        return clip(text, _LIMITS[field], written_as or field, self.warnings)

    def app_id(self) -> str:
        folder_name = posixpath.basename(self.folder)
        if self.store_id != folder_name:
            self.warnings.append(f"id '{self.store_id}' differs from the folder name "
                                 f"'{folder_name}'")  # fmt: skip
        if SLUG.fullmatch(self.store_id):
            return self.store_id
        slug = slugify(self.store_id)
        self.warnings.append(f"id '{self.store_id}' is not a valid tomo id; listed as '{slug}'")
        return slug

    def description(self) -> str:
        """metadata/description.md (the store's long text), else config.json's."""
        path = f"{self.folder}/{DESCRIPTION}"
        if path not in self.files:
            return self.config.description
        try:
            return self.files[path].decode("utf-8-sig")
        except UnicodeDecodeError:
            self.warnings.append(f"{DESCRIPTION}: not valid UTF-8; config.json's description "
                                 "is shown")  # fmt: skip
            return self.config.description

    def categories(self) -> dict[str, Any]:
        slugs = list(dict.fromkeys(slugify(c) for c in self.config.categories if c.strip()))
        if not slugs:
            return {}
        if len(slugs) > MAX_TAGS:
            self.warnings.append(f"categories: more than {MAX_TAGS}; the first {MAX_TAGS} kept")
        return {"category": slugs[0], "tags": slugs[:MAX_TAGS]}

    def report_ignored(self) -> None:
        config = self.config
        if config.uid is not None or config.gid is not None:
            self.warnings.append("uid/gid: the files of data/ are given to them where tomo "
                                 "logs in as root; the rest of the data directory keeps its "
                                 "owner")  # fmt: skip

    def not_installable(self) -> list[str]:
        config = self.config
        reasons = []
        if not config.available:
            reasons.append("its store marks it unavailable")
        if config.deprecated:
            reasons.append("its store marks it deprecated (no longer maintained)")
        return reasons

    def proxy(self, fields: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
        """What Runtipi's reverse proxy does for an app it may expose: the front door
        sends its name to the main service's port (the one config.json's port
        publishes); an app it always exposes (`force_expose`) needs a name. A reason
        it cannot be installed when such an app has no TCP port to send requests to."""
        config = self.config
        if not (config.exposable or config.force_expose):
            return None, []
        main = fields["services"][fields["main"]]
        tcp = [p for p in main.get("ports", []) if p.get("protocol", "tcp") == "tcp"]
        if not tcp:
            unreachable = ("it is reached through Runtipi's reverse proxy only, and its main "
                           "service publishes no TCP port to send requests to")  # fmt: skip
            return None, [unreachable] if config.force_expose else []
        published = [p for p in tcp if str(p.get("host")) == str(config.port)]
        proxy = {"port": (published or tcp)[0]["container"],
                 "hostname": "required" if config.force_expose else "optional"}  # fmt: skip
        return proxy | ({"tls": True} if config.https else {}), []

    def templates(self, data_prefix: str) -> Templates:
        """data/'s `*.template` files, which Runtipi fills in with the app's values
        (`{{NAME}}`) as it copies the folder: tomo fills them in as it places them."""
        folder = f"{self.folder}/{SEED_DIR}"
        texts = {p: data for p, data in self.files.items()
                 if p.startswith(folder + "/") and p.endswith(TEMPLATE)}  # fmt: skip
        if not texts:
            return Templates()
        config = self.config
        owner = f"{config.uid or 0}:{config.gid or 0}" if config.uid or config.gid else None
        return read_templates(
            texts, folder=folder, into=f"{data_prefix}{SEED_DIR}/", owner=owner,
            table=runtipi_table(config, self.store_id, []), placeholders="mustache",
            data_prefix=data_prefix,
        )  # fmt: skip

    def shipped(self, data_prefix: str) -> tuple[list[dict[str, Any]], list[str]]:
        """The app's data/ folder, which Runtipi copies into its data directory before
        the app first starts (owned by config.json's uid:gid, when it gives them);
        under `data_prefix` where the app mounts its whole data directory there."""
        config = self.config
        owner = f"{config.uid or 0}:{config.gid or 0}" if config.uid or config.gid else None
        folder = f"{self.folder}/{SEED_DIR}"
        seeds = {p: data for p, data in self.files.items()
                 if p.startswith(folder + "/") and not p.endswith(TEMPLATE)}  # fmt: skip
        return shipped_files(seeds, folder, into=f"{data_prefix}{SEED_DIR}/", owner=owner)

    # The compose file

    def compose(self) -> ComposeApp:
        path = self.compose_path()
        name = posixpath.basename(path)
        if name == DYNAMIC_COMPOSE:
            dynamic = read_dynamic_compose(self.key, name, self.files[path], self.max_bytes)
            doc, main = dynamic_to_compose(self.key, dynamic, port=self.config.port,
                                           warnings=self.warnings)  # fmt: skip
        else:
            doc = self.plain_compose(path)
            main = guess_main(doc, self.store_id)
        table = runtipi_table(self.config, self.store_id, self.warnings)
        try:
            return convert_compose(doc, where=name, table=table, main=main)
        except ValueError as exc:
            raise InvalidDefinition(self.key, f"{name}: {exc}") from None

    def compose_path(self) -> str:
        """The file Runtipi would deploy: the dynamic one when config.json asks for
        it (or it is the only one), else docker-compose.yml."""
        dynamic, plain = f"{self.folder}/{DYNAMIC_COMPOSE}", f"{self.folder}/{COMPOSE}"
        if dynamic in self.files and (self.config.dynamic_config or plain not in self.files):
            return dynamic
        if self.config.dynamic_config:
            self.warnings.append(f"dynamic_config is set but there is no {DYNAMIC_COMPOSE}; "
                                 f"{COMPOSE} is used")  # fmt: skip
        return plain

    def plain_compose(self, path: str) -> Any:
        try:
            doc = load_yaml(self.files[path], max_bytes=self.max_bytes)
        except YamlLoadError as exc:
            raise InvalidDefinition(self.key, f"{COMPOSE}: {exc}") from None
        return without_proxy_network(doc)


def without_proxy_network(doc: Any) -> Any:
    """The compose document without Runtipi's proxy network: every app declares
    it (external), and tomo, with no proxy, leaves it out rather than refuse it."""
    if not isinstance(doc, dict):
        return doc
    result = dict(doc)
    networks = result.get("networks")
    if isinstance(networks, dict) and PROXY_NETWORK in networks:
        rest = {name: value for name, value in networks.items() if name != PROXY_NETWORK}
        result["networks"] = rest or None
    services = result.get("services")
    if isinstance(services, dict):
        result["services"] = {name: _leave_proxy(service) for name, service in services.items()}
    return result


def _leave_proxy(service: Any) -> Any:
    if not isinstance(service, dict):
        return service
    networks = service.get("networks")
    if isinstance(networks, list) and PROXY_NETWORK in networks:
        return {**service, "networks": [n for n in networks if n != PROXY_NETWORK]}
    if isinstance(networks, dict) and PROXY_NETWORK in networks:
        return {**service, "networks": {n: c for n, c in networks.items() if n != PROXY_NETWORK}}
    return service


def guess_main(doc: Any, store_id: str) -> str | None:
    """The main service of a plain compose file: the one publishing `${APP_PORT}`
    (Runtipi's link), else the one named like the app; None: convert_compose picks."""
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict):
        return None
    for name, service in services.items():
        ports = service.get("ports") if isinstance(service, dict) else None
        if isinstance(ports, list) and any("APP_PORT" in str(port) for port in ports):
            return str(name)
    return store_id if store_id in services else None


# --- Runtipi's variables and the app's form fields -------------------------------------

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

# Runtipi generates a web-push key pair for apps that ask; tomo cannot, so the user gives one.
VAPID_KEYS: dict[str, Meaning] = {
    "VAPID_PUBLIC_KEY": Setting("Web push (VAPID) public key"),
    "VAPID_PRIVATE_KEY": Setting("Web push (VAPID) private key", secret=True),
}
_RUNTIPI_ITSELF = "belongs to Runtipi itself"
_RUNTIPI_OWN = ("JWT_SECRET", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USERNAME",
                "POSTGRES_PASSWORD", "POSTGRES_DBNAME", "REDIS_HOST", "REDIS_PASSWORD")  # fmt: skip
# Runtipi's install folder: apps may use its media/ folder only.
_ROOT_FOLDER = HostFolder("Runtipi's shared media folder", under=("media",),
                          elsewhere="reaches Runtipi's own files")  # fmt: skip
# What Runtipi writes into every app's environment (its .env and app.env), for tomo.
# docs/catalog-formats-runtipi-portainer.md gives the reason for each line.
_RUNTIPI: dict[str, Meaning] = {
    "APP_DATA_DIR": DataDir(),
    # How the app is reached: by its name through tomo's front door, as Runtipi's
    # proxy exposes it, else by the server's address and the app's port.
    "APP_HOST": Builtin("TOMO_HOSTNAME"),
    "APP_DOMAIN": Builtin("TOMO_ADDRESS"),
    "APP_URL": Builtin("TOMO_URL"),
    "APP_PROTOCOL": Builtin("TOMO_SCHEME"),
    "APP_SCHEME": Builtin("TOMO_SCHEME"),
    "APP_EXPOSED": Builtin("TOMO_EXPOSED"),
    "INTERNAL_IP": Builtin("TOMO_SERVER_HOST"),
    "LOCAL_DOMAIN": Fixed("tipi.lan"),
    "DNS_IP": Fixed("9.9.9.9"),  # Runtipi's default
    "NETWORK_INTERFACE": Fixed("0.0.0.0"),  # noqa: S104 - an address Runtipi publishes on
    "ROOT_FOLDER_HOST": _ROOT_FOLDER,
    "STORAGE_PATH": _ROOT_FOLDER,
    "RUNTIPI_MEDIA_DIR": HostFolder("Runtipi's shared media folder"),
    # The user Runtipi runs as (who installed it; 1000 on a usual system), as PUID.
    "TIPI_UID": Setting("User id the app runs as (Runtipi's own user)", default="1000"),
    "TIPI_GID": Setting("Group id the app runs as (Runtipi's own group)", default="1000"),
    "ARCHITECTURE": Unsupported("is the server's architecture, which tomo does not pass on"),
    **{name: Unsupported(_RUNTIPI_ITSELF) for name in _RUNTIPI_OWN},
}


def runtipi_table(config: RuntipiConfig, store_id: str, warnings: list[str]) -> VariableTable:
    """What Runtipi's variables mean for one app. Its form fields come last: a
    field that reuses a name Runtipi sets wins, as it does in Runtipi."""
    own = {field.env_variable: form_field_meaning(field, warnings) for field in config.form_fields}
    return BASE_TABLE.extend(
        {
            **_RUNTIPI,
            "APP_ID": Fixed(store_id),
            "APP_PORT": _port(config.port),
            **(VAPID_KEYS if config.generate_vapid_keys else {}),
            **own,
        }
    )


def _port(port: int | None) -> Meaning:
    """`APP_PORT`: the port Runtipi publishes the main service on."""
    if port is None:
        return Unsupported("is config.json's port, which this app does not give")
    return Fixed(str(port))


def form_field_meaning(field: FormField, warnings: list[str]) -> Setting:
    """A Runtipi form field → the setting its env_variable names."""
    if field.type not in _KNOWN_TYPES:
        warnings.append(f"form_fields.{field.env_variable}: type '{field.type}' is unknown; "
                        "taken as text")  # fmt: skip
    description = _field_description(field)
    if field.type == "random":
        return _random_setting(field, description, warnings)
    default = as_text(field.default) if field.default is not None else None
    if default is None and not field.required:
        default = ""  # Runtipi leaves an optional field unset: compose reads it as empty
    secret = field.type == "password" or looks_secret(field.env_variable)
    return Setting(description, default=default, secret=secret, choices=_choices(field))


def _choices(field: FormField) -> tuple[str, ...]:
    """The values Runtipi's form offers: a list's options, a switch's two."""
    if field.options:
        return tuple(option.value for option in field.options)
    return ("true", "false") if field.type == "boolean" else ()


def _field_description(field: FormField) -> str:
    parts = [one_line(part) for part in (field.label, field.hint) if part.strip()]
    text = " — ".join(dict.fromkeys(parts)) or field.env_variable
    if field.options:
        choices = ", ".join(o.value if o.label == o.value else f"{o.value} ({o.label})"
                            for o in field.options)  # fmt: skip
        return f"{text} (one of: {choices})"
    if field.type in _TYPE_HINTS:
        return f"{text} ({_TYPE_HINTS[field.type]})"
    return text


def _random_setting(field: FormField, description: str, warnings: list[str]) -> Setting:
    """Runtipi fills a `random` field itself, `min` characters long: a secret tomo
    generates at install, as long."""
    kind: Literal["password", "hex"] = "password" if field.encoding == "base64" else "hex"
    length = None
    if field.min is not None and field.min != RANDOM_LENGTH:
        length = min(max(round(field.min), MIN_RANDOM), MAX_RANDOM)
        if length != field.min:
            warnings.append(f"form_fields.{field.env_variable}: a random value of {field.min:g} "
                            f"characters is asked; tomo generates {length}")  # fmt: skip
    return Setting(description, secret=True, generate=kind, length=length)


# --- Dynamic compose (docker-compose.json) -------------------------------------------


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
    """One service. The keys read here change shape on the way to compose; every
    other key is renamed as `_COMPOSE_NAMES` says (or reported)."""

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


def read_dynamic_compose(key: str, name: str, data: bytes, max_bytes: int) -> DynamicCompose:
    raw = load_json(name, data, max_bytes=max_bytes)
    if not isinstance(raw, dict):
        raise InvalidDefinition(key, f"{name}: the top level must be an object with 'services'")
    if isinstance(raw.get("services"), list):
        raw["services"] = [_service_without_empty(service) for service in raw["services"]]
    try:
        return DynamicCompose.model_validate(raw)
    except ValidationError as exc:
        raise InvalidDefinition(key, f"{name}: {format_validation_error(exc)}") from None


def _service_without_empty(service: Any) -> Any:
    """A dynamic service's optional keys left empty as absent, its ports' and
    volumes' too (an environment value may be empty: that is a value)."""
    service = without_empty(service, {"name", "image", "environment"})
    if not isinstance(service, dict):
        return service
    for key, required in (("addPorts", {"containerPort", "hostPort"}),
                          ("volumes", {"hostPath", "containerPath"})):  # fmt: skip
        if isinstance(service.get(key), list):
            service[key] = [without_empty(item, required) for item in service[key]]
    return service


def dynamic_to_compose(
    key: str, dynamic: DynamicCompose, *, port: int | None, warnings: list[str]
) -> tuple[dict[str, Any], str | None]:
    """The compose document Runtipi would write for a dynamic compose file, and
    its main service (the one marked isMain)."""
    services: dict[str, Any] = {}
    for service in dynamic.services:
        if service.name in services:
            raise InvalidDefinition(key, f"{DYNAMIC_COMPOSE}: services: '{service.name}' is "
                                    "given twice")  # fmt: skip
        services[service.name] = compose_service(service, port=port, warnings=warnings)
    mains = [service.name for service in dynamic.services if service.isMain]
    if len(mains) > 1:
        raise InvalidDefinition(key, f"{DYNAMIC_COMPOSE}: services: only one may be isMain "
                                f"({', '.join(mains)})")  # fmt: skip
    if dynamic.overrides:
        warnings.append(f"{DYNAMIC_COMPOSE}: overrides: ignored; tomo installs the same "
                        "services on every architecture")  # fmt: skip
    return {"services": services}, (mains[0] if mains else None)


def compose_service(
    service: DynamicService, *, port: int | None, warnings: list[str]
) -> dict[str, Any]:
    # Runtipi gives every service this restart policy unless the file says otherwise.
    result: dict[str, Any] = {"image": service.image, "restart": "unless-stopped"}
    for key, value in (service.model_extra or {}).items():
        if key in _COMPOSE_NAMES:
            result[_COMPOSE_NAMES[key]] = value
        elif not key.startswith("$"):
            warnings.append(f"{DYNAMIC_COMPOSE}: services.{service.name}.{key}: not a dynamic "
                            "compose key, ignored")  # fmt: skip
    result.update(_service_parts(service, port))
    if "network_mode" in result:
        result.pop("ports", None)  # Runtipi publishes nothing for a service in a network mode
    written: dict[str, Any] = yaml_like(result)
    return written


def yaml_like(value: Any) -> Any:
    """JSON numbers and booleans as the text a YAML compose file holds (what
    `load_yaml` gives `convert_compose`: every scalar stays text)."""
    if isinstance(value, dict):
        return {key: yaml_like(item) for key, item in value.items()}
    if isinstance(value, list):
        return [yaml_like(item) for item in value]
    if isinstance(value, bool | int | float):
        return as_text(value)
    return value


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
        parts["deploy"] = service.deploy
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
    protocols = [name for name, wanted in (("tcp", entry.tcp), ("udp", entry.udp)) if wanted]
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
    return {key: as_text(value) for key, value in pairs}


def _healthcheck(check: DynamicHealthCheck) -> dict[str, Any]:
    names = {"startInterval": "start_interval", "startPeriod": "start_period"}
    given = check.model_dump(exclude_none=True)
    return {names.get(key, key): value for key, value in given.items()}
