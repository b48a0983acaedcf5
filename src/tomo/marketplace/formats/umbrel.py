"""Umbrel app stores: `<app-id>/umbrel-app.yml` beside `<app-id>/docker-compose.yml`.

The manifest says what the app is (id, name, version, tagline, description,
developer, gallery, dependencies on other Umbrel apps, the `port` users open).
The compose file has an `app_proxy` service, Umbrel's own login proxy: its
environment names the main container (`APP_HOST: <app-id>_<service>_1`) and
the port it listens on (`APP_PORT`). tomo leaves the proxy out, publishes
APP_PORT of that service on the manifest's port itself, and gives its front door
what the proxy did (definition `proxy`: that port, the login and its open and
closed paths), for the app's name.

Umbrel also runs what tomo does not: the app's `exports.sh` (its literal
exports are read as fixed values), hook scripts and `*.template` files rendered
into the data directory; an app that needs those, or another Umbrel app, is
listed but not installable. The app folder's own files, which umbrelOS copies
into the data directory, are placed there by tomo too (definition `files`).
docs/catalog-formats.md lists every key.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Mapping
from typing import Any

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import (
    MAX_HOOK_BYTES,
    MAX_IGNORED,
    MAX_PATH_PATTERNS,
    MAX_SHIPPED_FILES,
    PATH_PATTERN,
    check_ignore_pattern,
)
from tomo.marketplace.formats.base import Found, Parsed, SourceSpec
from tomo.marketplace.formats.common import (
    clip,
    is_url,
    one_line,
    shipped_files,
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
    not_installable_text,
)
from tomo.marketplace.formats.templates import SUFFIX as TEMPLATE_SUFFIX
from tomo.marketplace.formats.templates import Templates, merged_settings, read_templates
from tomo.marketplace.formats.variables import (
    DataDir,
    Interpolator,
    Meaning,
    Setting,
    VariableTable,
    own_prefix,
    umbrel_table,
)
from tomo.marketplace.github import github_repository
from tomo.marketplace.parse import load_mapping
from tomo.marketplace.safe_yaml import YamlLoadError, load_yaml
from tomo.slugs import slugify

MANIFEST = "umbrel-app.yml"
COMPOSE = "docker-compose.yml"
EXPORTS = "exports.sh"
STORE_FILE = "umbrel-app-store.yml"
TOR_TEMPLATE = "torrc.template"
PROXY = "app_proxy"
MAX_SCREENSHOTS = 16
MAX_SHIPPED = MAX_SHIPPED_FILES + 1  # files of an app folder read: one more than tomo places
_KNOWN_MANIFEST_VERSIONS = ("1", "1.1")
_IMAGE = re.compile(r".+\.(?:png|jpe?g|svg|webp|gif)", re.IGNORECASE)
_NOT_SHIPPED = re.compile(r"(?:.*/)?(?:\.gitkeep|README[^/]*|LICENSE[^/]*)", re.IGNORECASE)
_ADDRESS_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_EXPORT = re.compile(r"\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)")
_LITERAL = re.compile(r"""'([^']*)'|"([^"$`\\]*)"|([^\s"'$`\\;&|<>()]*)""")


def _app_folder(path: str) -> str | None:
    """`<folder>` of `<folder>/umbrel-app.yml`, else None."""
    folder, _, name = path.partition("/")
    return folder if name == MANIFEST and folder and not folder.startswith(".") else None


class UmbrelFormat:
    name = "umbrel"
    title = "Umbrel App Store"

    def detect(self, paths: Collection[str]) -> bool:
        return STORE_FILE in paths or any(_app_folder(path) for path in paths)

    def index_files(self, paths: Collection[str]) -> list[str]:
        return []

    def find_sources(self, paths: Collection[str], indexes: Mapping[str, bytes]) -> Found:
        found = Found()
        every = set(paths)
        by_folder: dict[str, list[str]] = {}
        for path in every:  # the tree walked once, not once per app
            by_folder.setdefault(path.split("/", 1)[0], []).append(path)
        for manifest in sorted(p for p in every if _app_folder(p)):
            folder = manifest.split("/")[0]
            compose = f"{folder}/{COMPOSE}"
            if compose not in every:
                found.errors[manifest] = f"{folder} has no {COMPOSE} beside {MANIFEST}"
                continue
            extra = sorted(p for p in by_folder.get(folder, []) if _shipped(p, folder))
            found.sources.append(SourceSpec(manifest, (manifest, compose),
                                            tuple(extra[:MAX_SHIPPED])))  # fmt: skip
        return found

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        manifest = load_mapping(source.key, files[source.key], max_bytes=max_bytes)
        compose_path = source.members[1]
        try:
            doc = compose_document(load_yaml(files[compose_path], max_bytes=max_bytes))
        except (YamlLoadError, ValueError) as exc:
            raise InvalidDefinition(source.key, f"{COMPOSE}: {exc}") from None
        shipped = {path: data for path, data in files.items() if path in source.optional}
        try:
            return _UmbrelApp(source.key, manifest, doc, shipped).parsed()
        except ValueError as exc:
            raise InvalidDefinition(source.key, str(exc)) from None


def _shipped(path: str, folder: str) -> bool:
    """A file of the app folder besides its manifest and compose file: exports.sh,
    hooks, templates, and files Umbrel copies into the data directory."""
    relative = path[len(folder) + 1 :]
    return relative not in (MANIFEST, COMPOSE) and not _NOT_SHIPPED.fullmatch(relative) and (
        relative == EXPORTS or not _IMAGE.fullmatch(relative))  # fmt: skip


class _UmbrelApp:
    def __init__(
        self, path: str, manifest: dict[str, Any], doc: dict[str, Any], shipped: dict[str, bytes]
    ) -> None:
        self.path, self.manifest, self.doc = path, manifest, doc
        self.folder = path.split("/")[0]
        self.app_id = _required_text(manifest, "id")
        self.shipped = {p[len(self.folder) + 1 :]: data for p, data in shipped.items()}
        self.warnings: list[str] = []
        self.blockers: list[str] = []

    def parsed(self) -> Parsed:
        dependencies = text_list(self.manifest.get("dependencies"), "dependencies")
        exports = self._exports()
        table = umbrel_table(self.app_id, version=_required_text(self.manifest, "version"),
                             exports=exports,
                             dependencies={own_prefix(d): d for d in dependencies},
                             hosts=self._addressed_services({}))  # fmt: skip
        proxy = _proxy_environment(self.doc)
        main, port = (self._proxy_target(proxy, table, exports) if proxy is not None
                      else (None, None))  # fmt: skip
        try:
            compose = convert_compose(self.doc, where=COMPOSE, table=table, main=main,
                                      skip=(PROXY,), aliases=self._aliases())  # fmt: skip
        except ValueError as exc:
            raise ValueError(f"{COMPOSE}: {exc}") from None
        self._publish(compose, port)
        self._judge(compose, proxy)
        # Without a port tomo can publish the app is not installable: no front door either.
        front_door = self._front_door(proxy, port) if proxy and port is not None else None
        files = [*self._files(compose), *compose.fields.get("files", [])]  # + compose's configs
        templates = self._templates(compose, table)
        fields = dict(compose.fields)
        fields["settings"], unasked = merged_settings(fields, templates, "templates")
        if not unasked:  # umbrelOS renders templates after copying: one wins over a file
            rendered = {file["path"] for file in templates.files}  # of the same name
            files = [file for file in files if file["path"] not in rendered] + templates.files
        hooks = self._hooks()
        blockers = not_installable_text([*compose.blockers, *self.blockers,
                                         *templates.blockers, *unasked])  # fmt: skip
        imported = {app: list(dict.fromkeys([*compose.imports.get(app, []),
                                             *templates.imports.get(app, [])]))
                    for app in dependencies}  # fmt: skip
        data = {**self._metadata(), **fields, "not_installable": blockers,
                "requires": [{"app": app, "imports": imported[app]} for app in dependencies],
                "exports": self._exported(exports, compose),
                "optional_imports": self._optional_imports(compose, templates)}  # fmt: skip
        if files:
            data["files"] = files
        if front_door is not None:
            data["proxy"] = front_door
        if hooks:
            data["hooks"] = hooks
        ignored = self._backup_ignore(compose)
        if ignored:
            data["backup"] = {"ignore": ignored}
        return Parsed(build_definition(self.path, data), [*compose.warnings, *self.warnings])

    # --- the compose side --------------------------------------------------------------

    def _exports(self) -> dict[str, str | Meaning | None]:
        script = self.shipped.get(EXPORTS)
        return read_exports(script.decode("utf-8", "replace")) if script is not None else {}

    def _exported(
        self, exports: dict[str, str | Meaning | None], compose: ComposeApp
    ) -> list[dict[str, str]]:
        """What the apps that depend on this one get (definition.exports): an address a
        service is given (`ipv4_address: $APP_BITCOIN_NODE_IP`) is that service's host
        name; another literal export its value; a derived secret the setting it is (when
        the app uses it), a folder of its data directory that folder. What exports.sh
        computes otherwise is not known, and an app that imports it is told so."""
        hosts = self._addressed_services(exports)
        services = set(compose.fields["services"])
        settings = {setting["name"] for setting in compose.fields.get("settings", [])}
        found = []
        for name, value in exports.items():
            host = hosts.get(name)
            if host is not None and host in services:
                found.append({"name": name, "host": host})
            elif isinstance(value, str):
                found.append({"name": name, "value": value.replace("$", "$$")})
            elif isinstance(value, Setting) and name in settings:
                found.append({"name": name, "value": f"${{{name}}}"})
            elif isinstance(value, DataDir):
                below = f"/{value.below}" if value.below else ""
                found.append({"name": name, "value": "${TOMO_DATA_DIR}" + below})
        return found

    def _optional_imports(self, compose: ComposeApp, templates: Templates) -> list[str]:
        """Other apps' variables the app uses without naming those apps among its
        dependencies: a dependency's dependency's (APP_BITCOIN_NETWORK of an app that
        requires lightning), or an app's umbrelOS gives only while it is installed."""
        names = list(dict.fromkeys([*compose.imports.get("", []),
                                    *templates.imports.get("", [])]))  # fmt: skip
        if names:
            self.warnings.append(f"{', '.join(names)}: exported by apps this one does not "
                                 "list among its dependencies: taken from the apps it "
                                 "requires (or theirs) that export them, else empty, as "
                                 "umbrelOS leaves the values of an app not installed")  # fmt: skip
        return names

    def _addressed_services(self, exports: dict[str, str | Meaning | None]) -> dict[str, str]:
        """export name -> the service whose fixed address it is: an address written as
        the variable (`$APP_X_IP`, `${APP_X_IP}`; every such variable when `exports` is
        empty) or as the export's literal value."""
        found: dict[str, str] = {}
        for service, config in self.doc["services"].items():
            networks = config.get("networks") if isinstance(config, dict) else None
            for network in (networks or {}).values() if isinstance(networks, dict) else []:
                address = str((network or {}).get("ipv4_address", "")) if isinstance(
                    network, dict) else ""  # fmt: skip
                variable = _ADDRESS_VARIABLE.fullmatch(address)
                if variable and not exports and service != PROXY:
                    found.setdefault(variable.group(1) or variable.group(2), str(service))
                for name, value in exports.items():
                    named = address.strip("${}") == name or address == f"${{{name}}}"
                    if address and (named or address == value):
                        found.setdefault(name, str(service))
        return found

    def _aliases(self) -> dict[str, str]:
        """Umbrel's container names (`<app-id>_<service>_1`), which other services use
        as host names; tomo's network knows the services by name."""
        aliases = {}
        for name in self.doc["services"]:
            if name != PROXY:
                aliases[f"{self.app_id}_{name}_1"] = name
                aliases[f"{self.app_id}-{name}-1"] = name
        return aliases

    def _proxy_target(
        self, proxy: dict[str, Any], table: VariableTable,
        exports: dict[str, str | Meaning | None],
    ) -> tuple[str | None, str | None]:  # fmt: skip
        """(main service, its port) from app_proxy's APP_HOST and APP_PORT. APP_HOST
        names a container, or is the fixed address one of the services is given
        (`APP_HOST: $APP_BITCOIN_IP` beside `ipv4_address: $APP_BITCOIN_IP`)."""
        where = f"{COMPOSE}: services.{PROXY}.environment"
        host = proxy.get("APP_HOST")
        if not isinstance(host, str) or not host:
            raise ValueError(f"{where}.APP_HOST: is required (it names the app's main container)")
        main = _service_named(host, self.app_id, self.doc["services"])
        if main is None:  # the service given that address, exported or not (kollider's
            variable = host.strip().lstrip("$").strip("{}")  # exports.sh lost its own)
            main = self._addressed_services({variable: exports.get(variable)}).get(variable)
        others = [name for name in self.doc["services"] if name != PROXY]
        if main is None and len(others) == 1:  # a name umbrelOS would not find either
            main = others[0]
            self.warnings.append(f"{where}.APP_HOST: '{host}' names no service of the app; "
                                 f"its only service, {main}, is taken")  # fmt: skip
        if main is None:
            raise ValueError(f"{where}.APP_HOST: '{host}' names no service of the app")
        given = proxy.get("APP_PORT")
        port = Interpolator(table).published(str(given)) if given is not None else None
        if port is None or not port.isdigit():
            self.blockers.append(f"{where}.APP_PORT: '{given}' is not a port tomo can publish")
            return main, None
        return main, port

    def _publish(self, compose: ComposeApp, port: str | None) -> None:
        """The main service's APP_PORT on the manifest's port, as Umbrel's proxy does."""
        if port is None:
            return
        host = self.manifest.get("port")
        if not isinstance(host, str) or not host.isdigit():
            raise ValueError(f"port: must be a port number, got {host!r}")
        main = compose.fields["services"][compose.fields["main"]]
        published = {"container": port, "host": host, "protocol": "tcp",
                     "description": "Web interface (Umbrel's app proxy port)"}  # fmt: skip
        others = [p for p in main.get("ports", [])
                  if (p.get("host") or p["container"], p["protocol"]) != (host, "tcp")]  # fmt: skip
        main["ports"] = [published, *others]

    def _front_door(self, proxy: dict[str, Any], port: str) -> dict[str, Any]:
        """What Umbrel's proxy does, for tomo's front door: the main service's APP_PORT,
        the login unless PROXY_AUTH_ADD is "false", the paths it never asks about
        (PROXY_AUTH_WHITELIST) and those it always asks about (PROXY_AUTH_BLACKLIST)."""
        where = f"{COMPOSE}: services.{PROXY}.environment"
        found: dict[str, Any] = {"port": port, "login": _login(proxy)}
        closed, closed_ok = _path_patterns(proxy, "PROXY_AUTH_BLACKLIST", where, self.warnings)
        opened, _ = _path_patterns(proxy, "PROXY_AUTH_WHITELIST", where, self.warnings)
        if not closed_ok and opened:
            # A closed path left out could be inside an open one: nothing is left open.
            self.warnings.append(f"{where}.PROXY_AUTH_WHITELIST: ignored too; the login "
                                 "stands before every path")  # fmt: skip
            opened = []
        found["open_paths"], found["closed_paths"] = opened, closed
        return found

    def _judge(self, compose: ComposeApp, proxy: dict[str, Any] | None) -> None:
        if proxy is not None and _login(proxy):
            self.warnings.append(f"{COMPOSE}: services.{PROXY}: Umbrel asks for the user's "
                                 "Umbrel password before showing this app; tomo asks for a "
                                 "tomo login on the app's name only, its port stays open on "
                                 "the LAN without one")  # fmt: skip
        self._judge_shipped(compose)

    def _judge_shipped(self, compose: ComposeApp) -> None:
        if TOR_TEMPLATE in self.shipped:  # read by umbrelOS's Tor service, not by the app
            self.warnings.append(f"{TOR_TEMPLATE}: umbrelOS's Tor service offers the app as "
                                 "a hidden service with it; tomo runs no Tor, so it is "
                                 "left out")  # fmt: skip

    def _hooks(self) -> list[dict[str, Any]]:
        """The hook scripts tomo can run as umbrelOS would, in a one-shot container of
        the app's image with its data directory (definition.AppHook); one that needs
        umbrelOS itself, or runs when tomo runs none, keeps the app not installable."""
        hooks = []
        for path in sorted(p for p in self.shipped if p.startswith("hooks/")):
            text = runnable_hook(self.shipped[path].decode("utf-8", "replace"))
            if path == "hooks/post-update" and _only_restarts(text):
                self.warnings.append(f"{path}: left out: it only restarts the app after an "
                                     "update, and tomo's update has just started each of its "
                                     "containers afresh, in order")  # fmt: skip
                continue
            moment, why = _HOOK_MOMENTS.get(path[len("hooks/") :]), _hook_problem(text)
            if moment is None:
                why = (
                    "umbrelOS runs it when tomo runs no hook (tomo runs them at install, "
                    "update and start)"
                )
            if why:
                self.blockers.append(f"{path}: {why}")
                continue
            bash = text.startswith("#!") and "bash" in text.splitlines()[0]
            hooks.append({"name": path[len("hooks/"):], "runs": moment, "script": text,
                          "interpreter": "bash" if bash else "sh"})  # fmt: skip
        return hooks

    def _templates(self, compose: ComposeApp, table: VariableTable) -> Templates:
        """The folder's `*.template` files, which umbrelOS fills in (envsubst: `$NAME`,
        `${NAME}`) beside themselves in the data directory: tomo fills them in as it
        places them."""
        texts = {f"{self.folder}/{path}": data for path, data in self.shipped.items()
                 if path.endswith(TEMPLATE_SUFFIX) and path != TOR_TEMPLATE
                 and not path.startswith("hooks/")}  # fmt: skip
        if not texts:
            return Templates()
        return read_templates(texts, folder=self.folder, into=compose.data_prefix,
                              table=table, placeholders="envsubst", owner="1000:1000",
                              data_prefix=compose.data_prefix)  # fmt: skip

    def _files(self, compose: ComposeApp) -> list[dict[str, Any]]:
        """The app folder's own files, which umbrelOS copies into the app's data
        directory at install (hooks, templates and exports.sh aside), placed the same
        way; umbrelOS's apps run as its user 1000."""
        copied = {f"{self.folder}/{path}": data for path, data in self.shipped.items()
                  if path != EXPORTS and not path.startswith("hooks/")
                  and not path.endswith(".template")}  # fmt: skip
        files, too_many = shipped_files(copied, self.folder, into=compose.data_prefix,
                                        owner="1000:1000")  # fmt: skip
        self.blockers += too_many
        return files

    def _backup_ignore(self, compose: ComposeApp) -> list[str]:
        """`backupIgnore`: globs relative to the app's data directory, which is where
        tomo puts `${APP_DATA_DIR}` and `./` (under `data/` when the app mounts the
        whole directory: compose.data_prefix); one that reaches elsewhere is dropped."""
        kept = []
        for entry in text_list(self.manifest.get("backupIgnore"), "backupIgnore"):
            relative = entry.removeprefix("${APP_DATA_DIR}/").removeprefix("./")
            pattern = compose.data_prefix + relative
            try:
                kept.append(check_ignore_pattern(pattern))
            except ValueError:
                self.warnings.append(f"backupIgnore: '{entry}' is not a path under the app's "
                                     "data directory, ignored")  # fmt: skip
        if len(kept) > MAX_IGNORED:
            self.warnings.append(f"backupIgnore: only the first {MAX_IGNORED} are kept")
        return kept[:MAX_IGNORED]

    # --- the manifest side -------------------------------------------------------------

    def _metadata(self) -> dict[str, Any]:
        if self.app_id != self.folder:
            self.warnings.append(f"id: '{self.app_id}' differs from the folder '{self.folder}'")
        self._notes()
        notes = self._optional("releaseNotes")
        data: dict[str, Any] = {
            "id": self.app_id,
            "name": self._line("name", 128, required=True),
            "version": _required_text(self.manifest, "version"),
            "tagline": self._line("tagline", 256),
            "description": clip(self._description(), 8000, "description", self.warnings),
            "release_notes": clip(notes, 8000, "releaseNotes", self.warnings),
            "category": slugify(self._optional("category") or "other"),
            "author": self._optional("developer"),
            "maintainers": [s for s in [self._optional("submitter")] if s],
            "screenshots": self._screenshots(),
        }
        for key, field in (("icon", "icon"), ("repo", "repository")):
            url = url_or_none(self._optional(key), key, self.warnings)
            if url:
                data[field] = url
        data |= web_path(self.manifest.get("path"), "path", self.warnings)
        # Umbrel's store shows `<app folder>/icon.svg` of its gallery (umbrel_gallery_image)
        # for an app whose manifest names no icon; a repository may keep its own there.
        data.setdefault("icon", f"{self.folder}/icon.svg")
        return data

    def _line(self, key: str, limit: int, *, required: bool = False) -> str:
        text = _required_text(self.manifest, key) if required else self._optional(key)
        return clip(one_line(text), limit, key, self.warnings)

    def _optional(self, key: str) -> str:
        """An optional text of the manifest. Stores derived from Umbrel's write some as
        mappings (`developer: {name, website}`, `repo: {url}`): their name or URL is
        taken; any other value is left out with a warning, never costing the app."""
        value = self.manifest.get(key)
        if isinstance(value, dict):
            value = value.get("name", value.get("url"))
        if value is None or isinstance(value, str):
            return (value or "").strip()
        self.warnings.append(f"{key}: must be text, ignored")
        return ""

    def _description(self) -> str:
        """The description, then what Umbrel shows beside it: the first login."""
        user = self._optional("defaultUsername")
        password = self._optional("defaultPassword")
        login = [f"Default username: {user}." if user else "",
                 f"Default password: {password}." if password else ""]  # fmt: skip
        if str(self.manifest.get("deterministicPassword")) == "true":
            login.append("The password is the app's generated setting APP_PASSWORD.")
        parts = [self._optional("description"), " ".join(p for p in login if p)]
        return "\n\n".join(part for part in parts if part)

    def _screenshots(self) -> list[str]:
        """Gallery images: URLs as they are, file names as paths of the app folder."""
        shots = []
        for name in text_list(self.manifest.get("gallery"), "gallery"):
            if is_url(name):
                shots.append(name)
            elif _IMAGE.fullmatch(name) and ".." not in name.split("/"):
                shots.append(posixpath.join(self.folder, name.lstrip("./")))
            else:
                self.warnings.append(f"gallery: '{name}' is not an image, ignored")
        if len(shots) > MAX_SCREENSHOTS:
            self.warnings.append(f"gallery: only the first {MAX_SCREENSHOTS} images are kept")
        return shots[:MAX_SCREENSHOTS]

    def _notes(self) -> None:
        version = str(self.manifest.get("manifestVersion", "1"))
        if version not in _KNOWN_MANIFEST_VERSIONS:
            self.warnings.append(f"manifestVersion: {version} is newer than tomo knows "
                                 f"({', '.join(_KNOWN_MANIFEST_VERSIONS)})")  # fmt: skip
        if str(self.manifest.get("torOnly")) == "true":
            self.warnings.append("torOnly: Umbrel offers this app over Tor only; tomo "
                                 "publishes its port like any other")  # fmt: skip
        permissions = text_list(self.manifest.get("permissions"), "permissions")
        if permissions:
            self.warnings.append(f"permissions: {', '.join(permissions)} are not granted; "
                                 "folders the app shares are chosen at install")  # fmt: skip


# Umbrel's hooks by name, and when tomo runs each (definition.HookMoment).
_HOOK_MOMENTS = {
    "pre-install": "before-install", "post-install": "after-install",
    "pre-start": "before-start", "post-start": "after-start",
    "pre-update": "before-update", "post-update": "after-update",
}  # fmt: skip
# What exists only on umbrelOS itself, not in a container of the app's image.
_HOST_ONLY = re.compile(r"(?<![\w.-])docker(?![\w.-])|UMBREL_ROOT|scripts/app\b|"
                        r"\bsystemctl\b|\bsudo\b|TOR_DATA_DIR|/home/umbrel")  # fmt: skip
# A hook finding the app's folder from where it lies: `$(readlink -f $(dirname
# "${BASH_SOURCE[0]}")/..)` (with or without readlink) is the app's data directory.
_SELF_LOCATED = re.compile(
    r"""\$\(\s*(?:readlink\s+-f\s+)?\$\(\s*dirname\s+"?\$\{BASH_SOURCE\[0\]\}"?\s*\)/\.\.(?P<rest>[^)"'\s]*)\s*\)"""
    r"""|\$\(\s*dirname\s+"?\$\{BASH_SOURCE\[0\]\}"?\s*\)/\.\.(?P<plain>[^)"'\s]*)"""
)  # fmt: skip


def runnable_hook(script: str) -> str:
    """The script as tomo runs it: where it finds the app's folder from its own path,
    `${APP_DATA_DIR}` (tomo sets it: the installation's data directory)."""

    def replace(match: re.Match[str]) -> str:
        return "${APP_DATA_DIR}" + (match.group("rest") or match.group("plain") or "")

    return _SELF_LOCATED.sub(replace, script)


# A hook line that restarts the app through umbrelOS's app script, or waits first.
_RESTART_LINE = re.compile(r'sleep\s+[0-9]+|"?\$\{?UMBREL_ROOT\}?/scripts/app"?\s+restart\s+'
                           r'"?\$\{?APP_ID\}?"?\s*&?')  # fmt: skip


def _only_restarts(script: str) -> bool:
    """Whether all the hook does is restart the app (Immich's post-update, so that
    its database migrations run at a second start)."""
    lines = [line.strip() for line in script.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip
    return any("restart" in line for line in lines) and all(
        _RESTART_LINE.fullmatch(line) for line in lines
    )


def _hook_problem(script: str) -> str | None:
    """Why a hook cannot run in a container of the app's image, or None."""
    first = script.splitlines()[0] if script else ""
    if first.startswith("#!") and not re.search(r"\b(ba)?sh\b", first):
        return f"it is written for {first[2:].strip()}, tomo runs shell hooks"
    if len(script.encode()) > MAX_HOOK_BYTES:
        return f"it is longer than {MAX_HOOK_BYTES} bytes"
    code = "\n".join(line.split(" #")[0] for line in script.splitlines()
                     if not line.lstrip().startswith("#"))  # fmt: skip
    found = _HOST_ONLY.search(code)
    if found:
        return (f"it uses {found.group(0)}, which exists on umbrelOS itself, not in the "
                "app's container where tomo runs hooks")  # fmt: skip
    if "BASH_SOURCE" in code:
        return ("it finds files from where the script itself lies (BASH_SOURCE), which "
                "tomo does not keep on the server")  # fmt: skip
    return None


def read_exports(script: str) -> dict[str, str | Meaning | None]:
    """`export NAME=value` lines of an exports.sh: the literal values; what tomo makes
    of the values umbrelOS derives in ways it knows (`derived_export`); None for a
    value the script computes otherwise (it reads a file, runs a program, …)."""
    found: dict[str, str | Meaning | None] = {}
    for line in script.splitlines():
        match = _EXPORT.fullmatch(line.split(" #", 1)[0].rstrip())
        if match is None:
            continue
        value = match.group(2).strip()
        literal = _LITERAL.fullmatch(value)
        found[match.group(1)] = (
            next(g for g in literal.groups() if g is not None)
            if literal else derived_export(match.group(1), value)
        )  # fmt: skip
    return found


# What umbrelOS's exports.sh scripts derive, read without running them:
# `$(derive_entropy "…" [| head -cN])`: a secret from the device's seed (an HMAC-SHA256
# in hex, 64 characters);
_ENTROPY = re.compile(r'"?\$\(derive_entropy\s+"[^"`$]*(?:\$\{?[A-Za-z_]+\}?[^"`$]*)*"'
                      r'\s*(?:\|\s*head\s+-c\s*([0-9]+)\s*)?\)"?')  # fmt: skip
# `"${EXPORTS_APP_DIR}/data/x"`: a folder of the app's own data directory;
_IN_APP_DIR = re.compile(r'"?\$\{?EXPORTS_APP_DIR\}?(/[A-Za-z0-9._/-]*)?"?')
# `$(cat "FILE" 2>/dev/null || echo "notyetset.onion")`: a file umbrelOS's own services
# write (Tor's hostname files); until they do, and always under tomo, the fallback.
_FALLBACK = re.compile(
    r'"?\$\(cat\s+(?:"[^"`]*"|[^\s|()`]+)\s+2>\s*/dev/null\s*\|\|\s*'
    r"""echo\s+(?:"([^"$`\\]*)"|'([^']*)'|([^\s"'$`\\;&|<>()]+))\s*\)"?"""
)


def derived_export(name: str, value: str) -> Meaning | str | None:
    """What an export umbrelOS derives is for tomo, or None when tomo cannot know."""
    entropy = _ENTROPY.fullmatch(value)
    if entropy:
        length = min(int(entropy.group(1) or 64), 64)  # hex of a SHA-256: 64 at most
        return Setting(f"Secret the app derives from its device ({name})", secret=True,
                       generate="hex", length=max(length, 4))  # fmt: skip
    in_app_dir = _IN_APP_DIR.fullmatch(value)
    if in_app_dir and ".." not in (in_app_dir.group(1) or "").split("/"):
        return DataDir((in_app_dir.group(1) or "").strip("/"))
    fallback = _FALLBACK.fullmatch(value)
    if fallback:
        return next(g for g in fallback.groups() if g is not None)
    return None


def _proxy_environment(doc: dict[str, Any]) -> dict[str, Any] | None:
    proxy = doc["services"].get(PROXY)
    if proxy is None:
        return None
    environment = proxy.get("environment") if isinstance(proxy, dict) else None
    if isinstance(environment, list):
        pairs = (str(item).partition("=") for item in environment)
        return {name: value for name, _, value in pairs}
    if not isinstance(environment, dict):
        raise ValueError(f"{COMPOSE}: services.{PROXY}.environment: must give APP_HOST and "
                         "APP_PORT")  # fmt: skip
    return environment


def _login(proxy: dict[str, Any]) -> bool:
    """Whether Umbrel's proxy asks for the user's password (unless told not to)."""
    return str(proxy.get("PROXY_AUTH_ADD", "true")).strip().lower() != "false"


def _path_patterns(
    proxy: dict[str, Any], key: str, where: str, warnings: list[str]
) -> tuple[list[str], bool]:
    """Umbrel's comma-separated path patterns (`/api/*,/public/*`; `*` is every
    path) as the front door takes them, and whether every one could be taken (one
    that cannot is left out, with a warning)."""
    value, where = proxy.get(key), f"{where}.{key}"
    if value is None:
        return [], True
    patterns, whole = [], True
    for entry in (part.strip() for part in str(value).split(",")):
        pattern = "/*" if entry == "*" else entry
        if not entry:
            continue
        if not PATH_PATTERN.fullmatch(pattern):
            warnings.append(f"{where}: '{entry}' is not a path pattern (it starts with '/' "
                            "and holds no space or '%'), left out")  # fmt: skip
            whole = False
        elif pattern not in patterns:
            patterns.append(pattern)
    if len(patterns) > MAX_PATH_PATTERNS:
        warnings.append(f"{where}: only the first {MAX_PATH_PATTERNS} patterns are kept")
        whole = False
    return patterns[:MAX_PATH_PATTERNS], whole


def _service_named(host: str, app_id: str, services: dict[str, Any]) -> str | None:
    """The service APP_HOST names: `<app-id>_<service>_1` (compose v1's container
    name), `<app-id>-<service>-1` (v2's), or the service's own name."""
    candidates = [name for name in services if name != PROXY and host in (
        name, f"{app_id}_{name}_1", f"{app_id}-{name}-1")]  # fmt: skip
    if not candidates:  # a community store's id may differ from the folder's
        candidates = [name for name in services if name != PROXY
                      and re.search(rf"[_-]{re.escape(name)}[_-]1$", host)]  # fmt: skip
    return max(candidates, key=len) if candidates else None


def _text(manifest: dict[str, Any], key: str) -> str:
    return text_of(manifest, key, key)


def _required_text(manifest: dict[str, Any], key: str) -> str:
    value = _text(manifest, key)
    if not value:
        raise ValueError(f"{key}: is required")
    return value


# The official store's icons and gallery images are not in its repository: its
# app store loads them from this site, by app folder and file name.
UMBREL_GALLERY = "https://getumbrel.github.io/umbrel-apps-gallery"
OFFICIAL_STORE = ("getumbrel", "umbrel-apps")
_GALLERY_FILE = re.compile(r"[a-z0-9][a-z0-9-]*/[\w.-]+\.(?:png|jpe?g|webp|gif|svg)")


def umbrel_gallery_image(repo_url: str, path: str) -> str | None:
    """The gallery site's address of an image `path` (`<app folder>/<file>`) of the
    official Umbrel store at `repo_url`; None for another repository or path."""
    if github_repository(repo_url) == OFFICIAL_STORE and _GALLERY_FILE.fullmatch(path):
        return f"{UMBREL_GALLERY}/{path}"
    return None
