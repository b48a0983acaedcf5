"""A store's template files (`*.template`: Umbrel's beside the app, Runtipi's in
its data/ folder), which the store fills in with the app's values as it copies
them into the data directory. tomo does the same: each becomes a definition
file (`template: true`) in tomo's template form, filled in with the
installation's values when it is placed (deployment.app_spec).

Each placeholder is read through the format's variable table, exactly as the
compose file's values are: a setting is asked for, a built-in is tomo's, a
value tomo cannot give keeps the app not installable, saying which.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tomo.marketplace.formats.variables import Interpolator, VariableTable

SUFFIX = ".template"
# Umbrel's templates are filled in by envsubst: `$NAME` and `${NAME}`; any other `$`
# is text. Runtipi's by mustache: `{{NAME}}`, and every `$` is text.
Placeholders = Literal["envsubst", "mustache"]
_LONE_DOLLAR = re.compile(r"\$(?![A-Za-z_{])")
_MUSTACHE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class Templates:
    """The definition files made of a store's templates, and what reading them found."""

    files: list[dict[str, Any]] = field(default_factory=list)
    settings: list[dict[str, Any]] = field(default_factory=list)  # they ask for
    imports: dict[str, list[str]] = field(default_factory=dict)  # other apps' variables
    blockers: list[str] = field(default_factory=list)


def read_templates(
    texts: Mapping[str, bytes], *, folder: str, into: str, table: VariableTable,
    placeholders: Placeholders, owner: str | None = None, data_prefix: str = "",
) -> Templates:  # fmt: skip
    """The templates under `folder` (paths of `texts`), placed at `./{into}<path
    below folder, without .template>`."""
    found = Templates()
    interpolator = Interpolator(table, data_prefix=data_prefix)
    for path in sorted(texts):
        relative = path[len(folder.rstrip("/")) + 1 :]
        try:
            text = _template_form(texts[path].decode("utf-8"), placeholders)
            filled = interpolator.value(text, relative)
        except (UnicodeDecodeError, ValueError) as exc:
            found.blockers.append(f"{relative}: tomo cannot read it as a template ({exc})")
            continue
        found.files.append({
            "path": f"./{into}{relative.removesuffix(SUFFIX)}",
            "content": base64.b64encode(filled.encode()).decode(),
            "mode": "0755" if filled.startswith("#!") else "0644", "template": True,
            **({"owner": owner} if owner else {}),
        })  # fmt: skip
    found.settings = list(interpolator.settings.values())
    found.imports = interpolator.imports
    found.blockers += interpolator.blockers
    return found


def _holds_dollar(fields: dict[str, Any]) -> bool:
    """Whether a value of the (only) service holds a `$`."""
    for service in fields.get("services", {}).values():
        texts = [v.get("default") or "" for v in service.get("environment", [])]
        for key in ("command", "entrypoint"):
            items = service.get(key)
            texts += [items] if isinstance(items, str) else list(items or [])
        if any("$" in text for text in texts):
            return True
    return False


def _template_form(text: str, placeholders: Placeholders) -> str:
    """The text with the store's placeholders as `${NAME}` and every other `$` as `$$`."""
    if placeholders == "envsubst":
        return _LONE_DOLLAR.sub(lambda _: "$$", text)
    return _MUSTACHE.sub(r"${\1}", text.replace("$", "$$"))


def merged_settings(
    fields: dict[str, Any], templates: Templates, where: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The app's settings with those its templates ask for. A template makes every
    value of the app a template (definition.is_templated): an app whose values were
    read as written (one container without settings) becomes `templated` when none
    of them holds a `$` (so none reads differently); else a blocker."""
    known = {s["name"] for s in fields.get("settings", [])}
    new = [s for s in templates.settings if s["name"] not in known]
    as_written = not known and len(fields.get("services", {})) <= 1 and not fields.get(
        "templated")  # fmt: skip
    if templates.files and as_written and _holds_dollar(fields):
        return list(fields.get("settings", [])), [
            f"{where}: its templates would make tomo read the compose file's values, which "
            "hold a $, as templates"]  # fmt: skip
    if templates.files and as_written:
        fields["templated"] = True
    return [*fields.get("settings", []), *new], []
