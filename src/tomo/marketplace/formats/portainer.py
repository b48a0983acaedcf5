"""Portainer app templates: one JSON file that lists many apps.

Two shapes are in use:

* `{"version": "2" | "3", "templates": [...]}` with `"type"` 1 (container),
  2 (Swarm stack), 3 (Compose stack) or 4 (Edge stack); version 3 adds a numeric
  `id` per template;
* the first format, a bare list of templates typed `"container"` or `"stack"`,
  whose volumes are strings and whose preset env values are given as `set`.

Each template is one app: its key is `<file>#<index>` and `part` its index. A
container template is written as the one-service compose document Portainer
would run, and a stack's compose file (when it is a file of this repository) is
read as it is: both go through `convert_compose`, with the template's env inputs
as the app's settings. The templates file is parsed once per content
(`TemplateCache`), not once per template.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections import Counter, OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import IMAGE_REFERENCE, AppDefinition
from tomo.marketplace.formats.base import Found, Parsed, SourceSpec
from tomo.marketplace.formats.common import clip, load_json, one_line, url_or_none
from tomo.marketplace.formats.compose import (
    ComposeApp,
    build_definition,
    convert_compose,
    not_installable_text,
)
from tomo.marketplace.formats.variables import (
    BASE_TABLE,
    ENV_NAME,
    Fixed,
    Meaning,
    Setting,
    looks_secret,
)
from tomo.marketplace.parse import format_validation_error
from tomo.marketplace.safe_yaml import YamlLoadError, load_yaml
from tomo.slugs import SLUG, slugify

# Where templates files live in the repositories that publish them: at the root
# (`templates.json`, `templates-2.0.json`) or one folder down (`Template/template.json`).
_CANDIDATE_WORDS = ("template", "portainer")
_MAX_DEPTH = 2
_CACHED_FILES = 4
_FORMAT_RANK = {"1": 1, "2": 2, "3": 3}  # a templates file's version, oldest first
_NAMED_RELEASE = re.compile(r"-(\d+(?:\.\d+)*)\.json$", re.IGNORECASE)  # templates-1.20.0.json
MAX_TAGS = 32

# What `type` says, in both shapes.
CONTAINER, SWARM, COMPOSE, EDGE = "container", "swarm", "compose", "edge"
_TYPES: dict[int | str, str] = {
    1: CONTAINER, 2: SWARM, 3: COMPOSE, 4: EDGE, "container": CONTAINER, "stack": COMPOSE,
}  # fmt: skip
# A template tomo can only list (an Edge stack, a stack in another repository) has
# no service to describe; AppDefinition needs one, so it gets this stand-in, which
# `not_installable` keeps from ever being installed.
PLACEHOLDER_IMAGE = "scratch"


class _Strict(BaseModel):
    """A template as Portainer (Go's JSON decoder) reads it: types must match.

    Lists default through `default_factory`: pydantic deep-copies a `[]` default
    for every template that leaves the key out, which took half of the time spent
    validating them."""

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
    select: list[SelectOption] = Field(default_factory=list)


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
    categories: list[str] = Field(default_factory=list)
    platform: str = ""
    logo: str = ""
    registry: str = ""
    image: str = ""
    command: str = ""
    env: list[TemplateEnv] = Field(default_factory=list)
    network: str = ""
    volumes: list[TemplateVolume | str] = Field(default_factory=list)
    ports: list[str] = Field(default_factory=list)
    labels: list[Label] = Field(default_factory=list)
    privileged: bool = False
    interactive: bool = False
    restart_policy: str = ""
    hostname: str = ""
    repository: Repository | None = None
    stackfile: str = ""  # an Edge template's compose file, by address


@dataclass(frozen=True)
class TemplatesFile:
    """A templates file, parsed: its raw templates and the id each one gets."""

    version: str  # "1" for the bare list
    templates: list[Any]
    ids: list[str]
    clashes: dict[int, str]  # index -> why its id was changed
    copies: list[CopyKey]  # what makes a template the same as one of another file


class PortainerFormat:
    name = "portainer"
    title = "Portainer app templates"

    def __init__(self) -> None:
        self._cache = TemplateCache()

    def detect(self, paths: Collection[str]) -> bool:
        return bool(candidate_files(paths))

    def index_files(self, paths: Collection[str]) -> list[str]:
        return candidate_files(paths)

    def find_sources(self, paths: Collection[str], indexes: Mapping[str, bytes]) -> Found:
        """Every template, but where several files list the same one (Portainer keeps
        a file per format), only the copy in the newest format: its source carries
        the older files, so that its parse can say they were passed over."""
        present = set(paths)
        found = Found()
        catalogs: dict[str, TemplatesFile] = {}
        for path, data in sorted(indexes.items()):
            try:  # the sync read it within its size limit already
                catalogs[path] = self._cache.get(path, data, max_bytes=len(data))
            except InvalidDefinition as exc:
                found.errors[path] = exc.reason
        for path, catalog in catalogs.items():
            for index, template in enumerate(catalog.templates):
                older = older_copies(catalogs, path, index)
                if older is None:
                    continue  # a newer file lists it: that copy is the app
                stack = stack_file(template)
                members = (path, *([stack] if stack in present else []), *older)
                found.sources.append(SourceSpec(f"{path}#{index}", members, part=index))
        return found

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        path = source.members[0]
        # The sync bounds the templates file by its own, larger limit (a whole catalog).
        catalog = self._cache.get(path, files[path], max_bytes=max(max_bytes, len(files[path])))
        index = -1 if source.part is None else source.part
        if not 0 <= index < len(catalog.templates):
            raise InvalidDefinition(source.key, f"{path} has no template #{index}")
        builder = _AppBuilder(source.key, catalog, index, files, max_bytes)
        definition = builder.definition()
        return Parsed(definition, [*builder.warnings, *self._passed_over(source, files)])

    def _passed_over(self, source: SourceSpec, files: Mapping[str, bytes]) -> list[str]:
        """What find_sources passed over for this template: older files' copies."""
        said = []
        for other in source.members[1:]:
            if other in candidate_files([other]):
                data = files[other]
                version = self._cache.get(other, data, max_bytes=len(data)).version
                said.append(
                    f"{other} lists it too, in an older templates file (format version "
                    f"{version}); the copy in the newest file is the catalog's"
                )
        return said


def candidate_files(paths: Collection[str]) -> list[str]:
    """JSON files at the root or one folder down whose name says they hold templates."""
    return sorted(
        path
        for path in paths
        if path.lower().endswith(".json")
        and len(parts := path.split("/")) <= _MAX_DEPTH
        and not any(part.startswith(".") for part in parts)
        and any(word in parts[-1].lower() for word in _CANDIDATE_WORDS)
    )


def older_copies(catalogs: Mapping[str, TemplatesFile], path: str, index: int) -> list[str] | None:
    """The other templates files that list template `index` of `path` in an older file;
    None when a newer one lists it (that one is the app). A file lists it when it has
    a template of the same id (a newer file says what that id is), or the same copy
    of it under another id. Files as new as each other are left to the sync's rule
    for an id listed twice."""
    catalog = catalogs[path]
    app_id, copy, rank = catalog.ids[index], catalog.copies[index], file_rank(path, catalog)
    listing = {other: file_rank(other, c) for other, c in catalogs.items()
               if other != path and (app_id in c.ids or copy in c.copies)}  # fmt: skip
    if any(other_rank > rank for other_rank in listing.values()):
        return None
    return sorted(other for other, other_rank in listing.items() if other_rank < rank)


def file_rank(path: str, catalog: TemplatesFile) -> tuple[int, tuple[int, ...]]:
    """How new a templates file is: its format first, then the Portainer release its
    name is for. Portainer's repository kept `templates.json` and
    `templates-1.20.0.json` both as bare lists (format 1), the latter the newer."""
    named = _NAMED_RELEASE.search(posixpath.basename(path))
    release = tuple(int(part) for part in named.group(1).split(".")) if named else ()
    return _FORMAT_RANK[catalog.version], release


def stack_file(template: Any) -> str | None:
    """The repository path of a stack template's compose file: `repository.stackfile`,
    or an Edge template's `stackfile`, a raw.githubusercontent.com address (Portainer's
    own repository points into itself that way)."""
    if not isinstance(template, dict):
        return None
    repository = template.get("repository")
    stackfile = repository.get("stackfile") if isinstance(repository, dict) else None
    if stackfile is None:
        stackfile = raw_github_path(template.get("stackfile"))
    if not isinstance(stackfile, str) or not stackfile.strip():
        return None
    normal = posixpath.normpath(stackfile.strip().lstrip("/"))
    return None if normal in (".", "..") or normal.startswith("../") else normal


def raw_github_path(address: Any) -> str | None:
    """`stacks/x/docker-stack.yml` from https://raw.githubusercontent.com/OWNER/REPO/REF/
    stacks/x/docker-stack.yml. Whether it is this repository's file is left to the
    caller: it counts only when the repository holds that path."""
    if not isinstance(address, str):
        return None
    parts = urlsplit(address.strip())
    if parts.scheme != "https" or parts.hostname != "raw.githubusercontent.com":
        return None
    _owner, _repo, _ref, *path = parts.path.lstrip("/").split("/")
    return "/".join(path) or None


class TemplateCache:
    """The last few templates files parsed, by content. CPython caches a bytes
    object's hash, and the sync hands over the same object for every template of a
    file: once an entry holds that very object, a hit compares nothing at all."""

    def __init__(self) -> None:
        self._files: OrderedDict[tuple[str, int], tuple[bytes, TemplatesFile]] = OrderedDict()

    def get(self, path: str, data: bytes, *, max_bytes: int) -> TemplatesFile:
        if len(data) > max_bytes:  # before the cache: the limit may differ between calls
            raise InvalidDefinition(
                path, f"file is {len(data)} bytes, larger than the {max_bytes}-byte limit"
            )
        key = (path, hash(data))
        held = self._files.get(key)
        if held is not None and (held[0] is data or held[0] == data):
            if held[0] is not data:  # equal bytes, another object: keep this one
                self._files[key] = (data, held[1])
            return held[1]
        parsed = read_templates(path, data, max_bytes=max_bytes)
        self._files[key] = (data, parsed)
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
    wanted = [wanted_id(t, i) for i, t in enumerate(templates)]
    ids, clashes = settle_ids(wanted)
    return TemplatesFile(version, templates, ids, clashes, copy_keys(templates, wanted))


# A template of one file is a copy of one of another when both want the same id for
# the same kind of app (the n-th such, where a file lists several), whatever id each
# was settled on: Portainer's files list CockroachDB as a container, a stack and an
# Edge stack in one, a stack and an Edge stack in the next, so the Edge stack was
# `cockroachdb-3` in the first and `cockroachdb-2` in the second.
CopyKey = tuple[str, str, int]
_COPY_KINDS: dict[int | str, str] = {**_TYPES, "stack": SWARM}  # 1.x stacks were Swarm's


def copy_keys(templates: list[Any], wanted: list[str]) -> list[CopyKey]:
    seen: Counter[tuple[str, str]] = Counter()
    keys = []
    for template, app_id in zip(templates, wanted, strict=True):
        given = template.get("type", CONTAINER) if isinstance(template, dict) else None
        if isinstance(given, str) and given.strip().isdigit():
            given = int(given)
        kind = _COPY_KINDS.get(given, "?") if isinstance(given, int | str) else "?"
        keys.append((app_id, kind, seen[app_id, kind]))
        seen[app_id, kind] += 1
    return keys


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
    other templates ask for, so no template loses the id it names itself."""
    asked = set(wanted)
    seen: set[str] = set()
    ids: list[str] = []
    clashes: dict[int, str] = {}
    for index, app_id in enumerate(wanted):
        chosen, number = app_id, 2
        while chosen in seen or (chosen != app_id and chosen in asked):
            chosen = f"{app_id[:60].rstrip('-')}-{number}"
            number += 1
        if chosen != app_id:
            clashes[index] = f"id '{app_id}' is taken by an earlier template; listed as '{chosen}'"
        seen.add(chosen)
        ids.append(chosen)
    return ids, clashes


class _AppBuilder:
    """One template's definition."""

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
        self.app_id = catalog.ids[index]
        self.files = files
        self.max_bytes = max_bytes
        self.where = f"templates[{index}]"
        self.warnings: list[str] = []
        if index in catalog.clashes:
            self.warnings.append(catalog.clashes[index])

    def definition(self) -> AppDefinition:
        raw = self.catalog.templates[self.index]
        if not isinstance(raw, dict):
            raise InvalidDefinition(self.key, f"{self.where}: must be an object of fields")
        kind = self.kind(raw.get("type"))
        template = self.template(raw)
        fields = self.metadata(template)
        reasons = self.not_installable(kind, template)
        # A Windows container's paths (C:/…) are not Linux ones: listed, never read.
        windows = template.platform.strip().lower() == "windows"
        compose = None if windows else self.compose(kind, template)
        if compose is None and windows:
            image = image_reference(template) if kind == CONTAINER else ""
            shown = image if IMAGE_REFERENCE.fullmatch(image or "") else PLACEHOLDER_IMAGE
            fields.update(version="latest", docker={"image": shown})
        elif compose is None:
            fields.update(version="latest", docker={"image": PLACEHOLDER_IMAGE})
        else:
            self.warnings += compose.warnings
            reasons += compose.blockers
            fields.update(compose.fields, version=main_image_tag(compose.fields))
        reason = not_installable_text(reasons)
        if reason:
            fields["not_installable"] = reason
        return build_definition(self.key, fields)

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
            template = Template.model_validate(raw)
        except ValidationError as exc:
            problems = format_validation_error(exc)
            raise InvalidDefinition(self.key, f"{self.where}: {problems}") from None
        for position, variable in enumerate(template.env):
            if not ENV_NAME.fullmatch(variable.name):
                raise InvalidDefinition(self.key, f"{self.where}.env[{position}].name: "
                                        f"'{variable.name}' is not a valid environment "
                                        "variable name")  # fmt: skip
        return template

    # What the catalog shows

    def metadata(self, template: Template) -> dict[str, Any]:
        texts = (template.description.strip(), note_text(template.note))
        fields: dict[str, Any] = {
            "id": self.app_id,
            "name": clip(one_line(template.title), 128, "title", self.warnings),
            "tagline": clip(one_line(template.description), 256, "description", self.warnings),
            "description": clip("\n\n".join(filter(None, texts)), 8000, "note", self.warnings),
            **categories(template.categories),
        }
        icon = url_or_none(template.logo, "logo", self.warnings)
        if icon:
            fields["icon"] = icon
        return fields

    def not_installable(self, kind: str, template: Template) -> list[str]:
        """Why tomo can only list this template, whatever its services say."""
        reasons = []
        if template.platform.strip().lower() == "windows":
            reasons.append("it is a Windows container; tomo installs Linux containers")
        if kind == EDGE and self.stack_path(template) is None:
            where = template.stackfile.strip() or "not given"
            reasons.append(f"it is an Edge stack template whose compose file ({where}) is not "
                           "in this repository, which tomo does not fetch")  # fmt: skip
        elif kind != CONTAINER and self.stack_path(template) is None:
            repository = template.repository
            where = f"{repository.url}: {repository.stackfile}" if repository else "not given"
            reasons.append(f"its compose file is in another repository ({where}), which tomo "
                           "does not fetch")  # fmt: skip
        return reasons

    def stack_path(self, template: Template) -> str | None:
        """The stack's compose file, when this repository has it (the sync read it)."""
        path = stack_file(template.model_dump())
        return path if path is not None and path in self.files else None

    # What runs

    def compose(self, kind: str, template: Template) -> ComposeApp | None:
        """The services, or None for a stack whose compose file tomo does not have."""
        table = BASE_TABLE.extend({v.name: env_meaning(v) for v in template.env})
        if kind == CONTAINER:
            doc, where = self.container_compose(template), self.where
        else:
            path = self.stack_path(template)
            if path is None:
                return None
            doc, where = self.stack_compose(path), path
            if kind == SWARM:
                self.warnings.append("a Swarm stack: as Swarm services on a Swarm manager, "
                                     "as plain containers on any other server")  # fmt: skip
            elif kind == EDGE:  # Portainer's edge agent runs it with Compose, or on its Swarm
                self.warnings.append(
                    "an Edge stack: installed as its edge agent runs it, a Compose stack "
                    "(Swarm services on a Swarm manager)"
                )
        self.report_container_pickers(template)
        try:
            return convert_compose(doc, where=where, table=table)
        except ValueError as exc:
            raise InvalidDefinition(self.key, f"{where}: {exc}") from None

    def stack_compose(self, path: str) -> Any:
        try:
            return load_yaml(self.files[path], max_bytes=self.max_bytes)
        except YamlLoadError as exc:
            raise InvalidDefinition(self.key, f"{path}: {exc}") from None

    def container_compose(self, template: Template) -> dict[str, Any]:
        """The one-service compose document Portainer runs for a container template."""
        image = image_reference(template)
        if not image:
            raise InvalidDefinition(self.key, f"{self.where}.image: is required")
        service: dict[str, Any] = {
            "image": image,
            "restart": template.restart_policy.strip() or "always",  # Portainer's default
            "environment": {v.name: env_value(v) for v in template.env},
            "ports": list(template.ports),
            **self.network(template.network),
            **optional_keys(template),
        }
        volumes, named = self.volumes(template.volumes)
        doc: dict[str, Any] = {"services": {self.app_id: {**service, "volumes": volumes}}}
        if named:
            doc["volumes"] = dict.fromkeys(named)
        return doc

    def volumes(self, volumes: list[TemplateVolume | str]) -> tuple[list[str], list[str]]:
        """Compose's short syntax, and the named volumes among them. A volume without
        `bind` is one Portainer creates: tomo gives it a folder of the installation."""
        written, named = [], []
        for position, volume in enumerate(volumes):
            if isinstance(volume, str):  # the first format: already compose's short syntax
                written.append(volume)
                continue
            bind = (volume.bind or "").strip()
            if bind and not bind.startswith(("/", ".", "~", "$")):
                if not SLUG.fullmatch(bind):
                    raise InvalidDefinition(self.key, f"{self.where}.volumes[{position}].bind: "
                                            f"'{bind}' is neither an absolute path nor a "
                                            "volume name")  # fmt: skip
                named.append(bind)  # Docker reads a bare name as a named volume
            source = f"{bind}:" if bind else ""
            written.append(f"{source}{volume.container}" + (":ro" if volume.readonly else ""))
        return written, named

    def network(self, network: str) -> dict[str, Any]:
        network = network.strip()
        if network in ("host", "none"):
            return {"network_mode": network}
        if network and network != "bridge":
            self.warnings.append(f"network '{network}': tomo attaches the container to its "
                                 "own network")  # fmt: skip
        return {}

    def report_container_pickers(self, template: Template) -> None:
        self.warnings += [
            f"env.{v.name}: Portainer's container picker is not supported; give the "
            "container's name yourself"
            for v in template.env
            if v.type == "container"
        ]


def optional_keys(template: Template) -> dict[str, Any]:
    """The container template's other keys, by compose's names (compose judges them)."""
    keys: dict[str, Any] = {}
    if template.command.strip():
        keys["command"] = template.command
    if template.privileged:
        keys["privileged"] = "true"
    if template.hostname.strip():
        keys["hostname"] = template.hostname
    if template.labels:
        keys["labels"] = {label.name: label.value for label in template.labels}
    if template.interactive:
        keys.update(tty="true", stdin_open="true")
    return keys


def env_meaning(variable: TemplateEnv) -> Meaning:
    """A template's env input as a setting; a preset as the fixed value it is."""
    default = env_default(variable)
    if variable.preset or variable.set is not None:
        return Fixed(default or "")
    choices = tuple(option.value for option in variable.select)
    return Setting(env_description(variable), default=default, secret=looks_secret(variable.name),
                   choices=choices)  # fmt: skip


def env_value(variable: TemplateEnv) -> str:
    """The container's value: the setting, or (preset) the value itself, with `$`
    kept literal as Portainer passes it."""
    if variable.preset or variable.set is not None:
        return (env_default(variable) or "").replace("$", "$$")
    return f"${{{variable.name}}}"


def env_default(variable: TemplateEnv) -> str | None:
    if variable.set is not None:
        return variable.set
    if variable.default is not None:
        return variable.default
    if variable.select:
        chosen = next((option for option in variable.select if option.default), None)
        return (chosen or variable.select[0]).value
    return None


def env_description(variable: TemplateEnv) -> str:
    parts = [one_line(t) for t in (variable.label, variable.description) if t.strip()]
    text = " — ".join(dict.fromkeys(parts)) or variable.name
    if not variable.select:
        return text
    choices = ", ".join(
        f"{o.value} ({one_line(o.text)})" if o.text.strip() and o.text != o.value else o.value
        for o in variable.select
    )
    return f"{text} (one of: {choices})"


def categories(names: list[str]) -> dict[str, Any]:
    slugs = list(dict.fromkeys(slugify(name) for name in names if name.strip()))
    return {"category": slugs[0], "tags": slugs[:MAX_TAGS]} if slugs else {}


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


def main_image_tag(fields: dict[str, Any]) -> str:
    """The main service's image tag: a template's only notion of a version."""
    image = str(fields["services"][fields["main"]].get("image", ""))
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    return tag[:64] or "latest"
