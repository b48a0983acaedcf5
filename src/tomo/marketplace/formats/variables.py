"""The other stores' variables, mapped to tomo's notions, and compose interpolation.

A compose file names values the store fills in at install time (`$AppID`,
`${APP_DATA_DIR}`, `${APP_PASSWORD}`, …). Each store's `VariableTable` says
what every such variable means for tomo; docs/catalog-formats.md shows the
same table with the reason for each line (a test keeps the two in step).

A variable means one of:

* `DataDir` — the installation's data directory: `./rest` in a volume source,
  `${TOMO_DATA_DIR}` in an environment value;
* `Builtin` — one of tomo's own values (`${TOMO_SERVER_HOST}`, …);
* `Fixed` — a value known when the catalog is read;
* `Setting` — a value the user gives (or tomo generates) once per app;
* `HostFolder` — a folder on the server the user may pick at install (tomo
  gives the installation a folder of its own until they do);
* `Unsupported` — something tomo cannot provide: the app is not installable.

A variable no table knows becomes a setting too: with the compose default when
it has one, else required. Nothing is ever replaced by an empty string silently.

Where a value lands decides what can be written there. Environment values may
refer to settings and built-ins (`Interpolator.value`); every other field must
be written out when the catalog is read (`Interpolator.literal`), so a setting
there is fixed to its default (a warning) or, without one, blocks the app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PASS\b|_PASS|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SEED")


@dataclass(frozen=True)
class DataDir:
    """The installation's own data directory, or a path `below` it."""

    below: str = ""


@dataclass(frozen=True)
class Builtin:
    name: str  # a key of tomo.marketplace.definition.BUILTIN_VARIABLES


@dataclass(frozen=True)
class Fixed:
    value: str


@dataclass(frozen=True)
class Setting:
    description: str
    default: str | None = None
    secret: bool = False
    generate: Literal["password", "hex", "uuid"] | None = None
    choices: tuple[str, ...] = ()  # the only values the store's form offers
    length: int | None = None  # of a generated password or hex, when the store asks


@dataclass(frozen=True)
class HostFolder:
    """A folder on the server. `under`: the sub-paths that are such folders
    (None: any); a path elsewhere is `elsewhere`, a reason the app cannot be installed."""

    description: str
    under: tuple[str, ...] | None = None
    elsewhere: str = ""


@dataclass(frozen=True)
class Unsupported:
    reason: str


@dataclass(frozen=True)
class Imported:
    """Exported by an app this one requires (Umbrel's `dependencies`): a `${NAME}`
    whose value the required installation gives at install (definition.requires);
    app "": by whichever app it requires gives it, else empty (optional_imports)."""

    app: str


Meaning = DataDir | Builtin | Fixed | Setting | HostFolder | Unsupported | Imported


@dataclass(frozen=True)
class VariableTable:
    """What a store's variables mean. `paths` maps literal host-path prefixes of
    volume sources (CasaOS's `/DATA/AppData/<app>`); `fallback` names whole
    families of variables (Umbrel's `APP_<OTHER_APP>_…`)."""

    variables: Mapping[str, Meaning] = field(default_factory=dict)
    paths: Mapping[str, Meaning] = field(default_factory=dict)
    fallback: Callable[[str], Meaning | None] | None = None

    def meaning(self, name: str) -> Meaning | None:
        found = self.variables.get(name)
        if found is None and self.fallback is not None:
            return self.fallback(name)
        return found

    def path_meaning(self, path: str) -> tuple[Meaning, str] | None:
        """The meaning of the longest prefix of `path` in `paths`, and the rest."""
        for prefix in sorted(self.paths, key=len, reverse=True):
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return self.paths[prefix], path[len(prefix) :].strip("/")
        return None

    def extend(
        self,
        variables: Mapping[str, Meaning] | None = None,
        *,
        paths: Mapping[str, Meaning] | None = None,
        fallback: Callable[[str], Meaning | None] | None = None,
    ) -> VariableTable:
        """This table with more entries (a store's own on top of the base ones)."""
        return replace(
            self,
            variables={**self.variables, **(variables or {})},
            paths={**self.paths, **(paths or {})},
            fallback=fallback or self.fallback,
        )


# --- The tables --------------------------------------------------------------------------

# Conventions of linuxserver.io images that every store passes on.
BASE_TABLE = VariableTable(
    {
        "PUID": Setting("User id the app's processes run as", default="1000"),
        "PGID": Setting("Group id the app's processes run as", default="1000"),
        "TZ": Setting("Time zone, such as Europe/Paris", default="UTC"),
    }
)


def casaos_table(app_id: str) -> VariableTable:
    """CasaOS: what CasaOS-AppManagement interpolates (its base map plus AppID)."""
    return BASE_TABLE.extend(
        {
            "AppID": Fixed(app_id),
            "DefaultUserName": Setting("User name for the app's first login", default="admin"),
            "DefaultPassword": Setting(
                "Password for the app's first login", secret=True, generate="password"
            ),
        },
        paths={
            f"/DATA/AppData/{app_id}": DataDir(),
            "/DATA": HostFolder("CasaOS's shared data folder"),
        },
    )


def umbrel_table(
    app_id: str,
    *,
    version: str,
    exports: Mapping[str, str | Meaning | None],
    dependencies: Mapping[str, str],
    hosts: Mapping[str, str] | None = None,
) -> VariableTable:
    """Umbrel: what umbrelOS's app script exports to an app's compose file.

    `exports`: the app's own exports.sh (name -> literal value, what tomo makes of
    a value the script derives (umbrel.read_exports), or None when the script
    computes it otherwise); `dependencies`: variable prefix -> other app's id;
    `hosts`: variable -> the service given it as its fixed address, which is that
    service's host name on tomo's network however exports.sh computes it."""
    own: dict[str, Meaning] = {
        name: Fixed(value) if isinstance(value, str)
        else value if value is not None else Unsupported(_COMPUTED)
        for name, value in exports.items()
    }  # fmt: skip
    own |= {name: Fixed(service) for name, service in (hosts or {}).items()
            if not isinstance(exports.get(name), str)}  # fmt: skip
    return BASE_TABLE.extend(
        {**_UMBREL, "APP_ID": Fixed(app_id), "APP_VERSION": Fixed(version), **own},
        fallback=lambda name: _other_umbrel_app(name, dependencies, own_prefix(app_id)),
    )


def own_prefix(app: str) -> str:
    """What the variables an Umbrel app exports start with (`core-lightning` →
    `APP_CORE_LIGHTNING_`)."""
    return "APP_" + re.sub(r"[^A-Z0-9]+", "_", app.upper()).strip("_") + "_"


_COMPUTED = "is computed by the app's exports.sh, a shell script tomo does not run"
_TOR = "is part of Umbrel's Tor service, which tomo does not run"
_UMBREL_NETWORK = "is an address of Umbrel's own Docker network"
_UMBREL: dict[str, Meaning] = {
    "APP_DATA_DIR": DataDir(),
    "APP_PASSWORD": Setting("Password of the app", secret=True, generate="password"),
    "APP_SEED": Setting("Secret seed of the app", secret=True, generate="hex"),
    "DEVICE_DOMAIN_NAME": Builtin("TOMO_SERVER_HOST"),
    "DEVICE_HOSTNAME": Builtin("TOMO_SERVER_HOST"),
    "APP_DOMAIN": Builtin("TOMO_SERVER_HOST"),
    "APP_HIDDEN_SERVICE": Fixed("not-enabled.onion"),
    "UMBREL_ROOT": HostFolder(
        "umbrelOS's shared storage folder",
        under=("data/storage",),
        elsewhere="reaches umbrelOS's own files",
    ),
    "TOR_DATA_DIR": Unsupported(_TOR),
    "TOR_PROXY_IP": Unsupported(_TOR),
    "TOR_PROXY_PORT": Unsupported(_TOR),
    "NETWORK_IP": Unsupported(_UMBREL_NETWORK),
    "GATEWAY_IP": Unsupported(_UMBREL_NETWORK),
    "MANAGER_IP": Unsupported(_UMBREL_NETWORK),
    "AUTH_PORT": Unsupported("is the port of umbrelOS's login service"),
    "APP_MANIFEST_FILE": Unsupported("is a file of umbrelOS's app installation"),
    "APP_PROXY_HOSTNAME": Unsupported("belongs to Umbrel's app proxy, which tomo leaves out"),
    "APP_PROXY_PORT": Unsupported("belongs to Umbrel's app proxy, which tomo leaves out"),
}


def _other_umbrel_app(name: str, dependencies: Mapping[str, str], own: str) -> Meaning | None:
    """`APP_<OTHER>_…`: exported by another Umbrel app: one of its dependencies (the
    longest prefix: `APP_CORE_LIGHTNING_` before `APP_CORE_`), or none it names. One
    of its own prefix its exports.sh does not export plainly: the script computes it."""
    if not name.startswith("APP_"):
        return None
    owners: dict[str, str | None] = {**dependencies, own: None}  # None: the app itself
    for prefix, app in sorted(owners.items(), key=lambda item: -len(item[0])):
        if name.startswith(prefix):
            return Imported(app) if app is not None else Unsupported(_COMPUTED)
    # An app may export under a shorter prefix than its id gives (litecoin-core's
    # exports.sh exports APP_LITECOIN_NODE_IP): the one dependency it can be.
    shorter = {app for prefix, app in dependencies.items()
               if any(name.startswith(p) for p in _word_prefixes(prefix))}  # fmt: skip
    if len(shorter) == 1:
        return Imported(shorter.pop())
    # Another app's, not listed (a dependency's dependency, or an app umbrelOS gives
    # only when it is installed): taken from the apps it requires, else empty.
    return Imported("")


def _word_prefixes(prefix: str) -> list[str]:
    """`APP_LITECOIN_CORE_` → [`APP_LITECOIN_`]: its shorter prefixes, whole words."""
    words = prefix.strip("_").split("_")[1:]
    return ["APP_" + "_".join(words[:n]) + "_" for n in range(1, len(words))]


# --- Interpolation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """`$NAME` or `${NAME<op><arg>}` of a compose value."""

    name: str
    op: str = ""  # "", "-", ":-", "?", ":?", "+", ":+"
    arg: tuple[str | Ref, ...] = ()

    @property
    def has_default(self) -> bool:
        return self.op in ("-", ":-")


Part = str | Ref


def parse_template(text: str) -> list[Part]:
    """Split a compose value into literal text and variable references, as compose
    reads them: `$$` is a literal `$`; a `$` before anything else is an error."""
    if "$" not in text:  # most values of a catalog: read once per value, on every sync
        return [text] if text else []
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while (dollar := text.find("$", i)) >= 0:
        literal.append(text[i:dollar])  # the text up to the `$`, in one piece
        ref, i = _reference(text, dollar, literal)
        if ref is not None:
            _flush(literal, parts)
            parts.append(ref)
    literal.append(text[i:])
    _flush(literal, parts)
    return parts


def _flush(literal: list[str], parts: list[Part]) -> None:
    """The literal text gathered so far as one part (none when it is empty)."""
    text = "".join(literal)
    if text:
        parts.append(text)
    literal.clear()


def _reference(text: str, start: int, literal: list[str]) -> tuple[Ref | None, int]:
    following = text[start + 1 : start + 2]
    if following == "$":
        literal.append("$")
        return None, start + 2
    if following == "{":
        return _braced(text, start)
    name = ENV_NAME.match(text, start + 1)
    if name is None:
        raise ValueError(f"'{text}': '$' must start a variable such as $NAME or ${{NAME}} "
                         "(write $$ for a literal $)")  # fmt: skip
    return Ref(name.group()), name.end()


def _braced(text: str, start: int) -> tuple[Ref, int]:
    name = ENV_NAME.match(text, start + 2)
    if name is None:
        raise ValueError(f"'{text}': '${{' must be followed by a variable name")
    after = name.end()
    if after == len(text):
        raise ValueError(f"'{text}': '${{' is never closed with '}}'")
    if text.startswith("}", after):
        return Ref(name.group()), after + 1
    op = next((o for o in _OPERATORS if text.startswith(o, after)), None)
    if op is None:
        raise ValueError(f"'{text}': ${{{name.group()}…}} is not a valid substitution "
                         "(use ${NAME}, ${NAME:-default} or ${NAME:?error})")  # fmt: skip
    close = _closing_brace(text, after + len(op))
    argument = tuple(parse_template(text[after + len(op) : close]))
    return Ref(name.group(), op, argument), close + 1


def _closing_brace(text: str, i: int) -> int:
    depth = 0
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise ValueError(f"'{text}': '${{' is never closed with '}}'")


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name.upper()))


@dataclass(frozen=True)
class Source:
    """Where a volume's files come from, once its variables are read."""

    kind: Literal["data", "path", "folder", "imported", "blocked"]
    # data: under the data directory ("" = itself); path: as written; imported: the
    # import's name and the folders below it (definition.AppVolume.imported_folder)
    path: str = ""
    note: str = ""  # folder: what the store meant by it ("under CasaOS's shared data folder")


class Interpolator:
    """Reads compose values against a table, collecting the settings they declare,
    warnings, and blockers (why the app cannot be installed). Messages start with
    `prefix` and the key path given by the caller."""

    def __init__(self, table: VariableTable, *, prefix: str = "", data_prefix: str = "") -> None:
        self.table = table
        self.prefix = prefix
        self.data_prefix = data_prefix  # sub-directory of the data dir the app's data lives in
        self.settings: dict[str, dict[str, Any]] = {}
        self.imports: dict[str, list[str]] = {}  # required app -> the names used of it
        self.warnings: list[str] = []
        self.blockers: list[str] = []

    def warn(self, where: str, text: str) -> None:
        self.warnings.append(f"{self.prefix}{where}: {text}")

    def block(self, where: str, text: str) -> None:
        self.blockers.append(f"{self.prefix}{where}: {text}")

    # Environment values: references to settings and built-ins stay references.

    def value(self, text: str, where: str) -> str:
        """An environment value in tomo's form: `${NAME}` references, `$$` for `$`."""
        if "$" not in text:  # nothing to read or escape: most values of a catalog
            return text
        return "".join(self._value_part(part, where) for part in parse_template(text))

    def _value_part(self, part: Part, where: str) -> str:
        if isinstance(part, str):
            return part.replace("$", "$$")
        meaning = self.table.meaning(part.name)
        if part.op in ("+", ":+"):
            return self._conditional(part, meaning, where, quote=True) or ""
        if isinstance(meaning, Fixed):
            return self._fixed(part, meaning, where).replace("$", "$$")
        if isinstance(meaning, DataDir):
            below = "/".join(filter(None, (self.data_prefix.strip("/"), meaning.below)))
            return "${TOMO_DATA_DIR}" + (f"/{below}" if below else "")
        if isinstance(meaning, Builtin):
            return "${" + meaning.name + "}"
        if isinstance(meaning, Imported):
            used = self.imports.setdefault(meaning.app, [])
            used += [] if part.name in used else [part.name]
            return "${" + part.name + "}"
        if meaning is None or isinstance(meaning, Setting):
            self._declare(part, meaning, where)
            return "${" + part.name + "}"
        self.block(where, f"${{{part.name}}} {_reason(meaning)}")
        return ""

    def _declare(self, ref: Ref, meaning: Setting | None, where: str) -> None:
        default = self._default(ref, where)
        if default is None and meaning is not None:
            default = meaning.default
        known = self.settings.get(ref.name)
        if known is not None:
            if known["default"] is None and default is not None:
                known.update(default=default, required=False)
            return
        generate = meaning.generate if meaning else None
        choices = list(dict.fromkeys(meaning.choices)) if meaning else []
        if default not in (None, "", *choices):
            choices = []  # the compose file's own default is outside the list: any value
        self.settings[ref.name] = {
            "name": ref.name,
            "description": _setting_description(ref, meaning),
            "required": default is None and generate is None,
            "default": default,
            "secret": meaning.secret if meaning else looks_secret(ref.name),
            "generate": generate,
            **({"length": meaning.length} if meaning and meaning.length and generate else {}),
            **({"choices": choices} if choices else {}),
        }

    def _default(self, ref: Ref, where: str) -> str | None:
        if not ref.has_default:
            return None
        return self._literal_parts(list(ref.arg), where, quiet=True)

    # Everything else must be written out now.

    def literal(self, text: str, where: str) -> str | None:
        """The value with every variable replaced, or None (and a blocker) when one
        cannot be known before install."""
        if "$" not in text:  # no variable in it: most values of a catalog
            return text
        return self._literal_parts(parse_template(text), where, quiet=False)

    def _literal_parts(self, parts: list[Part], where: str, *, quiet: bool) -> str | None:
        pieces = [self._literal_part(part, where, quiet) for part in parts]
        if any(piece is None for piece in pieces):
            return None
        return "".join(piece for piece in pieces if piece is not None)

    def _literal_part(self, part: Part, where: str, quiet: bool) -> str | None:
        if isinstance(part, str):
            return part
        meaning = self.table.meaning(part.name)
        if part.op in ("+", ":+"):
            return self._conditional(part, meaning, where, quote=False, quiet=quiet)
        if isinstance(meaning, Fixed):
            return self._fixed(part, meaning, where)
        if meaning is None or isinstance(meaning, Setting):
            return self._setting_default(part, meaning, where, quiet)
        if not quiet:
            self.block(where, f"${{{part.name}}} {_reason(meaning, literal=True)}")
        return None

    def _fixed(self, ref: Ref, meaning: Fixed, where: str) -> str:
        """A fixed value; `${NAME:-default}` takes the default when it is empty."""
        if ref.op == ":-" and not meaning.value:
            return self._literal_parts(list(ref.arg), where, quiet=True) or ""
        return meaning.value

    def _setting_default(
        self, ref: Ref, meaning: Setting | None, where: str, quiet: bool
    ) -> str | None:
        value = self._literal_parts(list(ref.arg), where, quiet=quiet) if ref.has_default else None
        if value is None and meaning is not None:
            value = meaning.default
        if quiet:
            return value
        if value is None:
            self.block(where, f"${{{ref.name}}} has no value tomo could write here (it passes "
                              "the user's settings to environment values only)")  # fmt: skip
        else:
            self.warn(where, f"${{{ref.name}}} is fixed to its default '{value}' (tomo passes "
                             "the user's settings to environment values only)")  # fmt: skip
        return value

    def _conditional(
        self, ref: Ref, meaning: Meaning | None, where: str, *, quote: bool, quiet: bool = False
    ) -> str | None:
        """`${NAME:+alt}`: alt when NAME has a value. Known only for fixed values."""
        if isinstance(meaning, Fixed):
            if ref.op == ":+" and not meaning.value:
                return ""
            text = self._literal_parts(list(ref.arg), where, quiet=quiet)
            return text.replace("$", "$$") if quote and text is not None else text
        if not quiet:
            self.block(where, f"${{{ref.name}{ref.op}…}} depends on whether a value is given, "
                              "which tomo cannot express")  # fmt: skip
        return None

    # Volume sources and published ports.

    def source(self, text: str, where: str) -> Source:
        """A volume's source: under the data directory, a path, or a folder the user picks."""
        parts = parse_template(text)
        first = parts[0] if parts else ""
        if isinstance(first, Ref) and first.op not in ("+", ":+"):
            leading = self._leading_source(first, parts[1:], where, text)
            if leading is not None:
                return leading
        written = self.literal(text, where)
        if written is None:
            return Source("blocked")
        return self._path_source(written, where, text)

    def _leading_source(self, ref: Ref, rest: list[Part], where: str, text: str) -> Source | None:
        meaning = self.table.meaning(ref.name)
        if isinstance(meaning, DataDir | HostFolder):
            tail = self._literal_parts(rest, where, quiet=False)
            if tail is None:
                return Source("blocked")
            return self._meant_source(meaning, tail.strip("/"), where, text)
        if isinstance(meaning, Imported) and meaning.app and not ref.op:
            return self._imported_source(ref.name, meaning.app, rest, where)
        unset = meaning is None or (isinstance(meaning, Setting) and meaning.default is None)
        if unset and not ref.has_default:
            return Source("folder", note=f"a folder ${{{ref.name}}} leaves to the user")
        return None

    def _imported_source(self, name: str, app: str, rest: list[Part], where: str) -> Source:
        """A folder of the data of an app it requires (`${APP_BITCOIN_DATA_DIR}/sub`):
        whether the export is such a folder is known only at install."""
        tail = self._literal_parts(rest, where, quiet=False)
        if tail is None:
            return Source("blocked")
        below = [part for part in tail.split("/") if part not in ("", ".")]
        if ".." in below or (tail and not tail.startswith("/")):
            self.block(where, f"'${{{name}}}{tail}' reaches outside the folder {app} exports")
            return Source("blocked")
        used = self.imports.setdefault(app, [])
        used += [] if name in used else [name]
        return Source("imported", "/".join([name, *below]))

    def _path_source(self, path: str, where: str, text: str) -> Source:
        found = self.table.path_meaning(path) if path.startswith("/") else None
        if found is None:
            return Source("path", path)
        return self._meant_source(found[0], found[1], where, text)

    def _meant_source(self, meaning: Meaning, rest: str, where: str, text: str) -> Source:
        if isinstance(meaning, DataDir):
            return Source("data", "/".join(filter(None, (meaning.below, rest))))
        if isinstance(meaning, HostFolder):
            inside = meaning.under is None or any(
                rest == sub or rest.startswith(sub + "/") for sub in meaning.under
            )  # fmt: skip
            if inside:
                return Source("folder", note=f"under {meaning.description}")
            self.block(where, f"'{text}' {meaning.elsewhere}")
            return Source("blocked")
        self.block(where, f"'{text}' {_reason(meaning, literal=True)}")
        return Source("blocked")

    def published(self, text: str) -> str | None:
        """A published host port, or None when it depends on a value not known yet
        (tomo then publishes the container port's number; the user may choose)."""
        return self._literal_parts(parse_template(text), "", quiet=True)


def _setting_description(ref: Ref, meaning: Setting | None) -> str:
    if meaning is not None:
        return meaning.description
    if ref.op in ("?", ":?") and ref.arg:
        return "".join(p if isinstance(p, str) else f"${{{p.name}}}" for p in ref.arg)
    return unknown_description(ref.name)


def unknown_description(name: str) -> str:
    """What a setting made from a variable no table knows is described as."""
    return f"Value of ${{{name}}} in the app's compose file"


def _reason(meaning: Meaning, *, literal: bool = False) -> str:
    if isinstance(meaning, Unsupported):
        return meaning.reason
    if isinstance(meaning, HostFolder):
        return f"names {meaning.description}, which tomo passes only as a volume"
    if isinstance(meaning, Imported):
        owner = f"the app '{meaning.app}' it requires" if meaning.app else "another app"
        return (f"is exported by {owner}, known only at install: tomo puts such values into "
                "environment values only")  # fmt: skip
    what = "the data directory" if isinstance(meaning, DataDir) else "one of tomo's own values"
    if literal:  # known only at install: tomo writes such values into environment values only
        return f"is {what}, which tomo can put into environment values only"
    return f"is {what}"
