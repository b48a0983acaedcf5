"""Unknown keys in a definition that look like misspelt known ones.

Definitions may carry keys tomo does not use (other stores' extras), so unknown
keys are ignored. One that is close to a key tomo knows (`enviroment`,
`restart_polcy`) is almost always a mistake that silently drops a setting, so
the sync reports it as a warning, with the key it probably meant.

A sync asks this of every mapping of every file (about a hundred thousand for a
large catalog), so what a model's fields are is worked out once per model class
(`_plan`), and the close match of an unknown key once per model and key: the same
extras come back in file after file of a store.
"""

from __future__ import annotations

import difflib
import functools
import types
import typing
from dataclasses import dataclass
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
# Distinct (model, unknown key) pairs whose close match is remembered; a catalog
# with more distinct extras than this only costs difflib again.
CLOSE_MATCHES_KEPT = 4096


@dataclass(frozen=True)
class _Nested:
    """A field that holds a definition model (or a list of them)."""

    name: str
    keys: tuple[str, ...]  # the names it may be given under, in the model's order
    model: type[BaseModel]
    is_list: bool


@dataclass(frozen=True)
class _Plan:
    """What the walk needs of one model: the keys it knows and its nested fields."""

    names: frozenset[str]
    nested: tuple[_Nested, ...]


def misspelt_keys(raw: dict[str, Any]) -> list[str]:
    """'where: unknown key 'x' ignored (did you mean 'y'?)' for each likely typo."""
    found: list[str] = []
    _walk(raw, AppDefinition, "", found)
    top_check = raw.get("healthcheck")
    if isinstance(top_check, dict):
        _walk(top_check, HealthCheck, "healthcheck", found)
    return found


def _walk(raw: dict[str, Any], model: type[BaseModel], where: str, found: list[str]) -> None:
    plan = _plan(model)
    for key in raw:
        if isinstance(key, str) and key not in plan.names:
            close = _close_match(model, key)
            if close is not None:
                at = f"{where}." if where else ""
                found.append(f"{at}{key}: unknown key, ignored (did you mean '{close}'?)")
    for field in plan.nested:
        value = next((raw[k] for k in field.keys if k in raw), None)
        if value is not None:
            _walk_nested(value, field, f"{where}.{field.name}" if where else field.name, found)


def _walk_nested(value: Any, field: _Nested, place: str, found: list[str]) -> None:
    if field.is_list and isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                _walk(item, field.model, f"{place}[{index}]", found)
    elif not field.is_list and isinstance(value, dict):
        _walk(value, field.model, place, found)


@functools.cache  # per model class: a handful in all
def _plan(model: type[BaseModel]) -> _Plan:
    names = set(EXTRA_KEYS.get(model, set()))
    nested = []
    for name, field in model.model_fields.items():
        keys = _field_names(name, field.validation_alias)
        names.update(keys)
        inner, is_list = _nested_model(field.annotation)
        if inner is not None:
            nested.append(_Nested(name, tuple(keys), inner, is_list))
    return _Plan(frozenset(names), tuple(nested))


@functools.lru_cache(maxsize=CLOSE_MATCHES_KEPT)
def _close_match(model: type[BaseModel], key: str) -> str | None:
    """The known key of `model` that `key` is most likely a misspelling of, if any."""
    cutoff = SIMILARITY_SHORT if len(key) < 4 else SIMILARITY
    close = difflib.get_close_matches(key, sorted(_plan(model).names), n=1, cutoff=cutoff)
    return close[0] if close else None


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
