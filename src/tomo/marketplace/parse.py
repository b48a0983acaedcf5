"""From the bytes of one definition file to a validated AppDefinition."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.keys import misspelt_keys
from tomo.marketplace.safe_yaml import YamlLoadError, load_yaml
from tomo.marketplace.scan import category_from_path, naming_warning

MAX_REPORTED_PROBLEMS = 8


def parse_definition(path: str, data: bytes, *, max_bytes: int) -> AppDefinition:
    """Load and validate one file; InvalidDefinition names the file and every problem."""
    return load_definition(path, data, max_bytes=max_bytes)[0]


def load_definition(path: str, data: bytes, *, max_bytes: int) -> tuple[AppDefinition, list[str]]:
    """parse_definition, plus warnings: keys that look misspelt (see keys.py), and a
    file named unlike its id (which still loads: the id inside is what counts)."""
    raw = load_mapping(path, data, max_bytes=max_bytes)
    category = category_from_path(path)
    if category and "category" not in raw:
        raw["category"] = category
    try:
        definition = AppDefinition.model_validate(raw)
    except ValidationError as exc:
        raise InvalidDefinition(path, format_validation_error(exc)) from None
    misnamed = naming_warning(path, definition.id)
    return definition, [*misspelt_keys(raw), *([misnamed] if misnamed else [])]


def load_mapping(path: str, data: bytes, *, max_bytes: int) -> dict[str, Any]:
    """A YAML file whose top level is a mapping, as every definition file is."""
    try:
        loaded = load_yaml(data, max_bytes=max_bytes)
    except YamlLoadError as exc:
        raise InvalidDefinition(path, str(exc)) from None
    if not isinstance(loaded, dict):
        raise InvalidDefinition(path, "the top level must be a mapping of fields")
    return loaded


def format_validation_error(exc: ValidationError) -> str:
    problems = [_describe(error) for error in exc.errors()]
    shown = problems[:MAX_REPORTED_PROBLEMS]
    if len(problems) > len(shown):
        shown.append(f"and {len(problems) - len(shown)} more")
    return "; ".join(shown)


def _describe(error: ErrorDetails) -> str:
    location = _location(error["loc"])
    message = _message(error)
    return f"{location}: {message}" if location else message


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "[" in part or "function-" in part:
            continue  # pydantic's internal step names, not the user's keys
        else:
            text += f".{part}" if text else part
    return text


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    given: Any = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"must be {expected}, got {given!r}"
    if kind in ("string_type", "str_type"):
        return f"must be text, got {type(given).__name__}"
    if kind == "list_type":
        return "must be a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a mapping of fields"
    context = error.get("ctx") or {}
    if kind in ("too_short", "string_too_short"):
        minimum = context.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"needs at least {minimum} characters/items"
    if kind in ("too_long", "string_too_long"):
        return f"is too long (at most {context.get('max_length')} characters/items)"
    return str(error["msg"]).removeprefix("Value error, ")
