"""Unknown keys in a definition that look like misspelt known ones.

Definitions may carry keys tomo does not use (other stores' extras), so unknown
keys are ignored. One that is close to a key tomo knows (`enviroment`,
`restart_polcy`) is almost always a mistake that silently drops a setting, so
the sync reports it as a warning, with the key it probably meant.
"""

from __future__ import annotations

import difflib
import functools
import types
import typing
from typing import Any

from pydantic import AliasChoices, BaseModel

from tomo.marketplace.definition import AppDefinition, AppVolume, HealthCheck

# difflib ratios: 'enviroment' → 'environment' 0.95, 'nmae' → 'name' 0.75; short keys
# need more ('tag' → 'tags' 0.86 is a typo, 'uid' → 'id' 0.8 is another store's field).
SIMILARITY = 0.75
SIMILARITY_SHORT = 0.85
# Accepted where the model does not list them: moved or translated before validation.
EXTRA_KEYS: dict[type[BaseModel], set[str]] = {
    AppDefinition: {"command", "healthcheck"},
    AppVolume: {"mode"},
}


def misspelt_keys(raw: dict[str, Any]) -> list[str]:
    """'where: unknown key 'x' ignored (did you mean 'y'?)' for each likely typo."""
    found: list[str] = []
    _walk(raw, AppDefinition, "", found)
    top_check = raw.get("healthcheck")
    if isinstance(top_check, dict):
        _walk(top_check, HealthCheck, "healthcheck", found)
    return found


def _walk(raw: dict[str, Any], model: type[BaseModel], where: str, found: list[str]) -> None:
    names = _names(model)
    for key in raw:
        if not isinstance(key, str) or key in names:
            continue
        cutoff = SIMILARITY_SHORT if len(key) < 4 else SIMILARITY
        close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=cutoff)
        if close:
            at = f"{where}." if where else ""
            found.append(f"{at}{key}: unknown key, ignored (did you mean '{close[0]}'?)")
    for name, field in model.model_fields.items():
        value = next((raw[k] for k in _field_names(name, field.validation_alias) if k in raw), None)
        nested, is_list = _nested_model(field.annotation)
        if nested is None or value is None:
            continue
        place = f"{where}.{name}" if where else name
        if is_list and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    _walk(item, nested, f"{place}[{index}]", found)
        elif not is_list and isinstance(value, dict):
            _walk(value, nested, place, found)


@functools.cache  # per model class; asked for every mapping of every file
def _names(model: type[BaseModel]) -> frozenset[str]:
    names = set(EXTRA_KEYS.get(model, set()))
    for name, field in model.model_fields.items():
        names.update(_field_names(name, field.validation_alias))
    return frozenset(names)


def _field_names(name: str, alias: object) -> list[str]:
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [name]


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The definition model inside a field's type, and whether it comes in a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        inner, _ = _nested_model(args[0])
        return inner, inner is not None
    if origin in (typing.Annotated, typing.Union, types.UnionType):
        for arg in args:
            inner, is_list = _nested_model(arg)
            if inner is not None:
                return inner, is_list
    return None, False
