"""Portainer app templates: one JSON file that lists many apps.

Two shapes are in use:

* `{"version": "2" | "3", "templates": [...]}` with `"type"` 1 (container),
  2 (Swarm stack), 3 (Compose stack) or 4 (Edge stack); version 3 adds a numeric
  `id` per template;
* the first format, a bare list of templates typed `"container"` or `"stack"`,
  whose volumes are strings and whose preset env values are given as `set`.

Each template is one app: its key is `<file>#<index>` and `part` its index. A
container template becomes a single-container app; a stack's compose file goes
through `convert_compose` when it is a file of this repository. The file is
parsed once per content (see `_TemplateCache`), not once per template.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tomo.errors import InvalidDefinition
from tomo.marketplace.formats.base import Found, Parsed, SourceSpec
from tomo.marketplace.formats.runtipi import clip, load_json, one_line, validate_definition
from tomo.marketplace.parse import format_validation_error
from tomo.slugs import SLUG, slugify

# Where templates files live in the repositories that publish them: at the root
# (`templates.json`, `templates-2.0.json`) or one folder down (`Template/template.json`).
_CANDIDATE_WORDS = ("template", "portainer")
_MAX_DEPTH = 2
# A dict keyed by the file's bytes: CPython caches a bytes object's hash, and the
# sync hands the same object for every template of a file, so a hit costs no hashing.
_CACHED_FILES = 4

# What `type` says, in both shapes.
CONTAINER, SWARM, COMPOSE, EDGE = "container", "swarm", "compose", "edge"
_TYPES = {1: CONTAINER, 2: SWARM, 3: COMPOSE, 4: EDGE, "container": CONTAINER, "stack": COMPOSE}
# A stack whose compose file is not in this tree is listed with this stand-in
# service: AppDefinition needs one, and `not_installable` keeps it from installing.
PLACEHOLDER_IMAGE = "scratch"


class _Strict(BaseModel):
    """A template as Portainer (Go's JSON decoder) reads it: types must match."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class SelectOption(_Strict):
    text: str = ""
    value: str
    default: bool = False


class TemplateEnv(_Strict):
    name: str
    label: str = ""
    description: str = ""
    default: str | None = None
    preset: bool = False
    set: str | None = None  # the first format's preset value
    type: str | None = None  # the first format's `container` picker
    select: list[SelectOption] = []


class TemplateVolume(_Strict):
    container: str
    bind: str | None = None
    readonly: bool = False


class Label(_Strict):
    name: str
    value: str = ""


class Repository(_Strict):
    url: str = ""
    stackfile: str


class Template(_Strict):
    title: str
    name: str = ""
    description: str = ""
    note: str = ""
    categories: list[str] = []
    platform: str = ""
    logo: str = ""
    registry: str = ""
    image: str = ""
    command: str = ""
    env: list[TemplateEnv] = []
    network: str = ""
    volumes: list[TemplateVolume | str] = []
    ports: list[str] = []
    labels: list[Label] = []
    privileged: bool = False
    interactive: bool = False
    restart_policy: str = ""
    hostname: str = ""
    repository: Repository | None = None


@dataclass(frozen=True)
class TemplatesFile:
    """A templates file, parsed: its raw templates and the id each one gets."""

    version: str  # "1" for the bare list
    templates: list[Any]
    ids: list[str]
    clashes: dict[int, str]  # index -> why its id was changed


class PortainerFormat:
    name = "portainer"
    title = "Portainer app templates"

    def __init__(self) -> None:
        self._cache = _TemplateCache()

    def detect(self, paths: Collection[str]) -> bool:
        return bool(candidate_files(paths))

    def index_files(self, paths: Collection[str]) -> list[str]:
        return candidate_files(paths)

    def find_sources(self, paths: Collection[str], indexes: Mapping[str, bytes]) -> Found:
        present = set(paths)
        found = Found()
        for path, data in sorted(indexes.items()):
            try:
                catalog = self._cache.get(path, data, max_bytes=len(data))
            except InvalidDefinition as exc:
                found.errors[path] = exc.reason
                continue
            for index, template in enumerate(catalog.templates):
                stack = stack_file(template)
                members = (path, stack) if stack in present else (path,)
                found.sources.append(SourceSpec(f"{path}#{index}", members, part=index))
        return found

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        path = source.members[0]
        catalog = self._cache.get(path, files[path], max_bytes=max_bytes)
        index = source.part if source.part is not None else -1
        if not 0 <= index < len(catalog.templates):
            raise InvalidDefinition(source.key, f"{path} has no template #{index}")
        builder = _AppBuilder(source.key, catalog, index, files, max_bytes)
        return Parsed(builder.definition(), builder.warnings)


def candidate_files(paths: Collection[str]) -> list[str]:
    """JSON files at the root or one folder down whose path says they hold templates."""
    return sorted(
        path
        for path in paths
        if path.lower().endswith(".json")
        and len(parts := path.split("/")) <= _MAX_DEPTH
        and not any(part.startswith(".") for part in parts)
        and any(word in path.lower() for word in _CANDIDATE_WORDS)
    )


def stack_file(template: Any) -> str | None:
    """The repository path a stack template's `repository.stackfile` names."""
    if not isinstance(template, dict) or not isinstance(template.get("repository"), dict):
        return None
    stackfile = template["repository"].get("stackfile")
    if not isinstance(stackfile, str) or not stackfile.strip():
        return None
    normal = posixpath.normpath(stackfile.strip().lstrip("/"))
    return None if normal == "." or normal.startswith("../") else normal


class _TemplateCache:
    """Parsed templates files, the last few by content."""

    def __init__(self) -> None:
        self._files: OrderedDict[tuple[str, bytes], TemplatesFile] = OrderedDict()

    def get(self, path: str, data: bytes, *, max_bytes: int) -> TemplatesFile:
        if len(data) > max_bytes:  # checked before the cache: limits may differ per call
            raise InvalidDefinition(
                path, f"file is {len(data)} bytes, larger than the {max_bytes}-byte limit"
            )
        key = (path, data)
        if key in self._files:
            self._files.move_to_end(key)
            return self._files[key]
        parsed = read_templates(path, data, max_bytes=max_bytes)
        self._files[key] = parsed
        if len(self._files) > _CACHED_FILES:
            self._files.popitem(last=False)
        return parsed


def read_templates(path: str, data: bytes, *, max_bytes: int) -> TemplatesFile:
    raw = load_json(path, data, max_bytes=max_bytes)
    if isinstance(raw, list):
        version, templates = "1", raw
    elif isinstance(raw, dict) and isinstance(raw.get("templates"), list):
        version, templates = str(raw.get("version", "")), raw["templates"]
        if version not in ("2", "3"):
            raise InvalidDefinition(path, f"version: '{version}' is not a templates version "
                                    "tomo reads (2 or 3)")  # fmt: skip
    else:
        raise InvalidDefinition(path, 'not a Portainer templates file (expected {"version": '
                                '"2", "templates": [...]} or a list of templates)')  # fmt: skip
    ids, clashes = settle_ids([wanted_id(t, i) for i, t in enumerate(templates)])
    return TemplatesFile(version, templates, ids, clashes)


def wanted_id(template: Any, index: int) -> str:
    """`name` when it is a valid id, else the title made into one."""
    if not isinstance(template, dict):
        return f"template-{index + 1}"
    name, title = template.get("name"), template.get("title")
    if isinstance(name, str) and SLUG.fullmatch(name.strip()):
        return name.strip()
    for text in (title, name):
        if isinstance(text, str) and text.strip():
            return slugify(text)
    return f"template-{index + 1}"


def settle_ids(wanted: list[str]) -> tuple[list[str], dict[int, str]]:
    """Unique ids in file order. A repeated id gets `-2`, `-3`, …, skipping ids
    other templates ask for, so a template's own name is never taken from it."""
    asked = set(wanted)
    seen: set[str] = set()
    ids: list[str] = []
    clashes: dict[int, str] = {}
    for index, app_id in enumerate(wanted):
        chosen = app_id
        number = 2
        while chosen in seen or (chosen != app_id and chosen in asked):
            chosen = f"{app_id[:60].rstrip('-')}-{number}"
            number += 1
        if chosen != app_id:
            clashes[index] = f"id '{app_id}' is taken by an earlier template; listed as '{chosen}'"
        seen.add(chosen)
        ids.append(chosen)
    return ids, clashes


class _AppBuilder:
    """One template's definition input."""

    def __init__(
        self,
        key: str,
        catalog: TemplatesFile,
        index: int,
        files: Mapping[str, bytes],
        max_bytes: int,
    ) -> None:
        self.key = key
        self.catalog = catalog
        self.index = index
        self.files = files
        self.max_bytes = max_bytes
        self.where = f"templates[{index}]"
        self.warnings: list[str] = []
        if index in catalog.clashes:
            self.warnings.append(catalog.clashes[index])

    def definition(self) -> Any:
        raw = self.catalog.templates[self.index]
        if not isinstance(raw, dict):
            raise InvalidDefinition(self.key, f"{self.where}: must be an object of fields")
        kind = self.kind(raw.get("type"))
        template = self.template(raw)
        fields = {**self.metadata(template), **self.runtime(kind, template)}
        reasons = self.not_installable(kind, template)
        if reasons:
            fields["not_installable"] = "; ".join(reasons)
        return validate_definition(self.key, fields)

    def kind(self, given: Any) -> str:
        if given is None and self.catalog.version == "1":
            return CONTAINER  # the first format's default
        if isinstance(given, str) and given.strip().isdigit():
            given = int(given)  # the 2.x documentation spells types as strings
        kind = _TYPES.get(given) if isinstance(given, int | str) else None
        if kind is None:
            raise InvalidDefinition(self.key, f"{self.where}.type: {given!r} is not a template "
                                    "type (1 container, 2 Swarm stack, 3 Compose stack, "
                                    "4 Edge stack)")  # fmt: skip
        return kind

    def template(self, raw: dict[str, Any]) -> Template:
        try:
            return Template.model_validate(raw)
        except ValidationError as exc:
            problems = format_validation_error(exc)
            raise InvalidDefinition(self.key, f"{self.where}: {problems}") from None

    def metadata(self, template: Template) -> dict[str, Any]:
        texts = (template.description.strip(), note_text(template.note))
        fields: dict[str, Any] = {
            "id": self.catalog.ids[self.index],
            "name": clip(one_line(template.title), 128, "title", self.warnings),
            "tagline": clip(one_line(template.description), 256, "description", self.warnings),
            "description": clip("\n\n".join(filter(None, texts)), 8000, "note", self.warnings),
            **categories(template.categories),
        }
        icon = self.icon(template.logo)
        if icon:
            fields["icon"] = icon
        return fields

    def icon(self, logo: str) -> str | None:
        logo = logo.strip()
        if not logo:
            return None
        if re.fullmatch(r"https?://\S+", logo, re.IGNORECASE):
            return logo
        self.warnings.append(f"logo '{logo}' is not an http(s) URL; ignored")
        return None

    def runtime(self, kind: str, template: Template) -> dict[str, Any]:
        if kind == CONTAINER:
            return self.container(template)
        return {"version": "latest", "docker": {"image": PLACEHOLDER_IMAGE}}

    def container(self, template: Template) -> dict[str, Any]:
        image = image_reference(template)
        if not image:
            raise InvalidDefinition(self.key, f"{self.where}.image: is required")
        docker: dict[str, Any] = {
            "image": image,
            "ports": [self.port(i, text) for i, text in enumerate(template.ports)],
            "volumes": [self.volume(i, volume) for i, volume in enumerate(template.volumes)],
            "environment": [self.env(variable) for variable in template.env],
            # Portainer's default; tomo's own would be unless-stopped.
            "restart_policy": template.restart_policy.strip() or "always",
            "privileged": template.privileged,
            **self.network(template.network),
        }
        if template.command.strip():
            docker["command"] = template.command
        self.report_ignored(template)
        return {"version": image_tag(image), "docker": docker}

    def port(self, position: int, text: str) -> dict[str, Any]:
        try:
            port, address = parse_port(text)
        except ValueError as exc:
            raise InvalidDefinition(self.key, f"{self.where}.ports[{position}]: {exc}") from None
        if address:
            self.warnings.append(f"ports[{position}]: address {address} ignored; tomo publishes "
                                 "ports on the address it is configured with")  # fmt: skip
        return port

    def volume(self, position: int, volume: TemplateVolume | str) -> dict[str, Any]:
        if isinstance(volume, str):  # the first format: "/container" or "/host:/container[:ro]"
            volume = volume_from_text(volume)
        result: dict[str, Any] = {"container_path": volume.container, "readonly": volume.readonly}
        bind = (volume.bind or "").strip()
        if not bind:
            return result  # a volume Portainer would create: tomo chooses a folder
        if bind.startswith(("/", "./")):
            return {**result, "host_path": bind}
        if SLUG.fullmatch(bind):
            return {**result, "volume": bind}  # Docker reads a bare name as a named volume
        raise InvalidDefinition(self.key, f"{self.where}.volumes[{position}].bind: '{bind}' is "
                                "neither an absolute path nor a volume name")  # fmt: skip

    def env(self, variable: TemplateEnv) -> dict[str, Any]:
        """An env input: the label and description describe it, a preset or the
        default option of a select gives its value."""
        if variable.type == "container":
            self.warnings.append(f"env.{variable.name}: Portainer's container picker is not "
                                 "supported; give the container's name yourself")  # fmt: skip
        default = env_default(variable)
        preset = variable.preset or variable.set is not None
        entry: dict[str, Any] = {
            "name": variable.name,
            "description": env_description(variable, preset=preset),
            # Portainer shows an input for it and nothing fills it in.
            "required": default is None and not preset,
        }
        if default is not None:
            entry["default"] = default
        return entry

    def network(self, network: str) -> dict[str, Any]:
        network = network.strip()
        if network in ("host", "none"):
            return {"network_mode": network}
        if network and network != "bridge":
            self.warnings.append(f"network '{network}': tomo attaches the container to its "
                                 "own network")  # fmt: skip
        return {}

    def report_ignored(self, template: Template) -> None:
        ignored = [
            key
            for key, given in (("hostname", template.hostname), ("labels", template.labels))
            if given
        ]
        self.warnings += [f"{key}: not supported, ignored" for key in ignored]
        if template.interactive:
            self.warnings.append("interactive: tomo starts containers without a terminal")

    def not_installable(self, kind: str, template: Template) -> list[str]:
        reasons = []
        if template.platform.strip().lower() == "windows":
            reasons.append("it is a Windows container; tomo installs Linux containers")
        if kind == EDGE:
            reasons.append("it is an Edge stack template, deployed by Portainer to its edge "
                           "agents")  # fmt: skip
        elif kind != CONTAINER:
            reasons.append("stack templates are not supported yet")
        return reasons


def categories(names: list[str]) -> dict[str, Any]:
    slugs = list(dict.fromkeys(slugify(name) for name in names if name.strip()))
    return {"category": slugs[0], "tags": slugs[:32]} if slugs else {}


def note_text(note: str) -> str:
    """A note's text without its HTML (Portainer shows it as HTML)."""
    text = re.sub(r"<br\s*/?>|</p>", "\n", note, flags=re.IGNORECASE)
    text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def image_reference(template: Template) -> str:
    image, registry = template.image.strip(), template.registry.strip().rstrip("/")
    if registry and image and not image.startswith(f"{registry}/"):
        return f"{registry}/{image}"
    return image


def image_tag(image: str) -> str:
    """The tag of an image reference (its version here), or `latest`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


_PORT = re.compile(
    r"(?:(?P<ip>[0-9]+(?:\.[0-9]+){3}|\[[0-9a-fA-F:]+\]):)?(?:(?P<host>[0-9]+)?:)?"
    r"(?P<container>[0-9]+)"
    r"(?:/(?P<protocol>tcp|udp))?"
)


def parse_port(text: str) -> tuple[dict[str, Any], str | None]:
    """`"8080:80/tcp"`, `"80/udp"` or `"127.0.0.1:8080:80"` → the AppPort form, and
    the host address if one is given."""
    match = _PORT.fullmatch(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a port ([host:]container[/tcp|udp]; ranges are "
                         "not supported)")  # fmt: skip
    port: dict[str, Any] = {"container": int(match["container"])}
    if match["host"]:
        port["host"] = int(match["host"])
    if match["protocol"]:
        port["protocol"] = match["protocol"]
    return port, match["ip"]


def volume_from_text(text: str) -> TemplateVolume:
    parts = text.strip().split(":")
    readonly = len(parts) > 1 and parts[-1] in ("ro", "rw")
    if readonly:
        readonly, parts = parts[-1] == "ro", parts[:-1]
    if len(parts) == 1:
        return TemplateVolume(container=parts[0], readonly=readonly)
    return TemplateVolume(container=parts[-1], bind=":".join(parts[:-1]), readonly=readonly)


def env_default(variable: TemplateEnv) -> str | None:
    if variable.set is not None:
        return variable.set
    if variable.default is not None:
        return variable.default
    if variable.select:
        chosen = next((option for option in variable.select if option.default), None)
        return (chosen or variable.select[0]).value
    return None


def env_description(variable: TemplateEnv, *, preset: bool) -> str:
    parts = [one_line(t) for t in (variable.label, variable.description) if t.strip()]
    text = " — ".join(dict.fromkeys(parts))
    if variable.select:
        choices = ", ".join(
            f"{o.value} ({one_line(o.text)})" if o.text.strip() and o.text != o.value else o.value
            for o in variable.select
        )
        text = f"{text} (one of: {choices})" if text else f"One of: {choices}"
    if preset:
        text = f"{text} (set by the template)" if text else "Set by the template"
    return text
