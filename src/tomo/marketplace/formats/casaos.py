"""CasaOS app stores: `Apps/<Name>/docker-compose.yml`, metadata under `x-casaos`.

Each app is one compose file (`.yaml` is accepted too). CasaOS keeps its store
metadata in the compose extension `x-casaos`, at the top level (title, tagline,
description and tips as texts by locale such as `en_US`; main, port_map,
architectures, category, author, developer, icon, screenshot_link, version, …)
and per service (descriptions of its envs, ports and volumes). The compose part
goes through `convert_compose` with CasaOS's variables (variables.casaos_table).
docs/catalog-formats.md lists what is mapped, warned about and blocking.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Mapping
from typing import Any

from tomo.architectures import ARCHITECTURES
from tomo.errors import InvalidDefinition
from tomo.marketplace.formats.base import Found, Parsed, SourceSpec
from tomo.marketplace.formats.common import (
    clip,
    is_url,
    one_line,
    text_list,
    text_of,
    url_or_none,
    web_path,
)
from tomo.marketplace.formats.compose import (
    ComposeApp,
    build_definition,
    compose_document,
    convert_compose,
    image_tag,
    not_installable_text,
    service_slug,
)
from tomo.marketplace.formats.variables import casaos_table, unknown_description
from tomo.marketplace.safe_yaml import YamlLoadError, load_yaml
from tomo.slugs import SLUG, slugify

APPS_DIR = "Apps"
COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml")
MAX_SCREENSHOTS = 16
_IMAGE_FILE = re.compile(r"[^/]+\.(?:png|jpe?g|svg|webp|gif)", re.IGNORECASE)
# x-casaos keys that run commands on the host around an install (a CasaOS fork's).
_COMMANDS = ("pre-install-cmd", "post-install-cmd")
# CasaOS passes every app the same default password, which its tips often quote.
_GENERATED_LOGIN_NOTE = ("tomo generates the default password for each installation: it is "
                       "the app's setting DefaultPassword.")  # fmt: skip


def _compose_path(path: str) -> tuple[str, str] | None:
    """(folder, file name) of `Apps/<Name>/docker-compose.yml`, else None."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == APPS_DIR and parts[2] in COMPOSE_NAMES and parts[1]:
        return parts[1], parts[2]
    return None


class CasaOSFormat:
    name = "casaos"
    title = "CasaOS AppStore"

    def detect(self, paths: Collection[str]) -> bool:
        return any(_compose_path(path) for path in paths)

    def index_files(self, paths: Collection[str]) -> list[str]:
        return []

    def find_sources(self, paths: Collection[str], indexes: Mapping[str, bytes]) -> Found:
        found = Found()
        by_folder: dict[str, list[str]] = {}
        for path in sorted(paths):
            if _compose_path(path):
                by_folder.setdefault(path.rsplit("/", 1)[0], []).append(path)
        for folder in sorted(by_folder):
            # docker-compose.yml first, as CasaOS reads it first
            ordered = sorted(
                by_folder[folder], key=lambda p: COMPOSE_NAMES.index(p[len(folder) + 1 :])
            )
            chosen, *others = ordered
            found.sources.append(SourceSpec(chosen, (chosen,)))
            for other in others:
                found.errors[other] = f"{folder} has two compose files; {chosen} is the one read"
        return found

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        try:
            doc = load_yaml(files[source.key], max_bytes=max_bytes)
            return _CasaOSApp(source.key, compose_document(doc)).parsed()
        except (YamlLoadError, ValueError) as exc:
            raise InvalidDefinition(source.key, str(exc)) from None


class _CasaOSApp:
    def __init__(self, path: str, doc: dict[str, Any]) -> None:
        self.path = path
        self.folder = path.split("/")[1]
        self.meta = _mapping(doc.get("x-casaos"), "x-casaos")
        self.service_meta = _service_metadata(doc)
        self.doc = doc
        self.warnings: list[str] = []

    def parsed(self) -> Parsed:
        app_id = self._app_id()
        main = self.meta.get("main")
        if main is not None and main not in self.doc["services"]:
            raise ValueError(f"x-casaos.main: '{main}' is not one of the services "
                             f"({', '.join(self.doc['services'])})")  # fmt: skip
        compose = convert_compose(self.doc, where="", table=casaos_table(app_id), main=main)
        self._describe(compose.fields["services"], compose.fields["main"])
        _describe_settings(compose.fields)
        blockers = [*compose.blockers, *self._commands()]
        data = {
            "id": app_id,
            **self._texts(compose),
            "version": self._version(compose),
            **self._metadata(),
            **compose.fields,
            "not_installable": not_installable_text(blockers),
        }
        definition = build_definition(self.path, data)
        return Parsed(definition, [*compose.warnings, *self.warnings])

    def _app_id(self) -> str:
        """The compose project name when it is a valid id, else the folder's name."""
        name = self.doc.get("name")
        if isinstance(name, str) and SLUG.fullmatch(name):
            return name
        return slugify(self.folder)

    def _texts(self, compose: ComposeApp) -> dict[str, Any]:
        name = self._text("title") or self.doc.get("name") or self.folder
        tagline = one_line(self._text("tagline"))
        generated = any(s["name"] == "DefaultPassword" for s in compose.fields["settings"])
        note = _GENERATED_LOGIN_NOTE if generated else ""
        texts = (self._text("description"), self._tips(), note)
        description = "\n\n".join(text for text in texts if text)
        return {
            "name": clip(one_line(str(name)), 128, "x-casaos.title", self.warnings),
            "tagline": clip(tagline, 256, "x-casaos.tagline", self.warnings),
            "description": clip(description, 8000, "x-casaos.description", self.warnings),
        }

    def _text(self, key: str) -> str:
        return localized(self.meta.get(key), f"x-casaos.{key}")

    def _tips(self) -> str:
        """CasaOS shows tips before install (default accounts, first steps)."""
        tips = _mapping(self.meta.get("tips"), "x-casaos.tips")
        texts = [localized(value, f"x-casaos.tips.{key}") for key, value in tips.items()]
        return "\n\n".join(f"Before installing: {text}" for text in texts if text)

    def _version(self, compose: ComposeApp) -> str:
        """x-casaos.version, else the main service's image tag."""
        version = self.meta.get("version")
        if isinstance(version, str) and version.strip():
            return version.strip()
        main = compose.fields["services"][compose.fields["main"]]
        return image_tag(main.get("image", "")) or "latest"

    def _metadata(self) -> dict[str, Any]:
        author = _optional_text(self.meta, "author")
        developer = _optional_text(self.meta, "developer")
        data: dict[str, Any] = {
            "category": _category(_optional_text(self.meta, "category")),
            "author": developer or author,  # tomo's author is who made the app
            "maintainers": [author] if author else [],  # CasaOS's author packaged it
            "requirements": {"architectures": self._architectures()},
            "screenshots": self._screenshots(),
        }
        icon = self._asset(_optional_text(self.meta, "icon"), "x-casaos.icon")
        if icon:
            data["icon"] = icon
        data |= web_path(self.meta.get("index"), "x-casaos.index", self.warnings)
        if str(self.meta.get("scheme", "")).strip().lower() == "https":  # its web port's
            data["proxy"] = {"tls": True}
        for key, field in (("repo", "repository"), ("docs", "documentation")):
            url = url_or_none(_optional_text(self.meta, key), f"x-casaos.{key}", self.warnings)
            if url:
                data[field] = url
        return data

    def _architectures(self) -> list[str]:
        names = text_list(self.meta.get("architectures"), "x-casaos.architectures")
        known = [ARCHITECTURES[n.lower()] for n in names if n.lower() in ARCHITECTURES]
        for name in names:
            if name.lower() not in ARCHITECTURES:
                self.warnings.append(f"x-casaos.architectures: '{name}' is not an "
                                     "architecture tomo knows, ignored")  # fmt: skip
        return list(dict.fromkeys(known))

    def _screenshots(self) -> list[str]:
        links = text_list(self.meta.get("screenshot_link"), "x-casaos.screenshot_link")
        shots = [self._asset(link, "x-casaos.screenshot_link") for link in links]
        kept = [shot for shot in shots if shot]
        if len(kept) > MAX_SCREENSHOTS:
            self.warnings.append(f"x-casaos.screenshot_link: only the first {MAX_SCREENSHOTS} "
                                 "screenshots are kept")  # fmt: skip
        return kept[:MAX_SCREENSHOTS]

    def _asset(self, value: str, where: str) -> str | None:
        """A URL, or an image file of the app's folder (as a repository path)."""
        if not value:
            return None
        if is_url(value):
            return value
        relative = posixpath.normpath(value.strip())
        if _IMAGE_FILE.fullmatch(relative):
            return f"{APPS_DIR}/{self.folder}/{relative}"
        self.warnings.append(f"{where}: '{value}' is neither a URL nor an image of the app's "
                             "folder, ignored")  # fmt: skip
        return None

    def _commands(self) -> list[str]:
        return [f"x-casaos.{key}: runs a command on the server around the install, which tomo "
                "does not do" for key in _COMMANDS if self.meta.get(key)]  # fmt: skip

    def _describe(self, services: dict[str, dict[str, Any]], main: str) -> None:
        """Per-service x-casaos descriptions onto the env, port and volume they name;
        the web UI's port (port_map) first, as tomo links to an app's first port."""
        for name, meta in self.service_meta.items():
            service = services.get(service_slug(name))
            if service is not None:
                _describe_service(service, meta, f"services.{name}.x-casaos")
        port_map = self.meta.get("port_map")
        if isinstance(port_map, str | int):
            _web_port_first(services[main], str(port_map))


def localized(value: Any, where: str) -> str:
    """A CasaOS text: plain, or by locale (`en_US`, `en_us`, any `en…`, else the first)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if not isinstance(value, dict) or not all(isinstance(v, str | None) for v in value.values()):
        raise ValueError(f"{where}: must be a text, or texts by language (en_US: …)")
    texts = {key: text for key, text in value.items() if text}
    for key in ("en_US", "en_us"):
        if key in texts:
            return str(texts[key]).strip()
    english = next((text for key, text in texts.items() if key.lower().startswith("en")), None)
    return str(english or next(iter(texts.values()), "")).strip()


def _service_metadata(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Take each service's x-casaos out of the compose part (this format reads it)."""
    found = {}
    for name, service in doc["services"].items():
        if isinstance(service, dict) and "x-casaos" in service:
            found[name] = _mapping(service.pop("x-casaos"), f"services.{name}.x-casaos")
    return found


def _describe_service(service: dict[str, Any], meta: dict[str, Any], where: str) -> None:
    described = {"envs": ("environment", "name"), "ports": ("ports", "container"),
                 "volumes": ("volumes", "container_path")}  # fmt: skip
    for key, (items, field) in described.items():
        texts = _descriptions(meta.get(key), f"{where}.{key}")
        for item in service.get(items, []):
            text = texts.get(str(item.get(field)))
            if text and item.get("description"):
                text = f"{text} ({item['description']})"
            if text:
                item["description"] = one_line(text)


def _describe_settings(fields: dict[str, Any]) -> None:
    """A setting the compose file made up (`${DB_PASSWORD}`) takes the description
    CasaOS gives the environment variable whose whole value it is."""
    settings = fields["settings"]
    made_up = {s["name"]: s for s in settings if s["description"] == unknown_description(s["name"])}
    for service in fields["services"].values():
        for variable in service.get("environment", []):
            name = (variable.get("default") or "").removeprefix("${").removesuffix("}")
            if name in made_up and variable.get("description"):
                made_up[name]["description"] = variable["description"]


def _descriptions(entries: Any, where: str) -> dict[str, str]:
    """`[{container: X, description: {en_us: …}}]` → {X: text}."""
    found = {}
    for i, entry in enumerate(_list(entries, where)):
        if not isinstance(entry, dict) or entry.get("container") is None:
            raise ValueError(f"{where}[{i}]: must be a mapping with 'container'")
        found[str(entry["container"])] = localized(entry.get("description"),
                                                   f"{where}[{i}].description")  # fmt: skip
    return found


def _web_port_first(service: dict[str, Any], port_map: str) -> None:
    ports = service.get("ports", [])
    web = [p for p in ports if str(p.get("host") or p["container"]) == port_map]
    service["ports"] = [*web, *(p for p in ports if p not in web)]


def _category(value: str) -> str:
    slug = slugify(value) if value else "other"
    return "other" if slug == "others" else slug


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be a mapping")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: must be a list")
    return value


def _optional_text(meta: dict[str, Any], key: str) -> str:
    return text_of(meta, key, f"x-casaos.{key}")
