"""Which catalog format a repository is in: set by its owner, or detected."""

from __future__ import annotations

from collections.abc import Collection

from tomo.errors import InvalidInput
from tomo.marketplace.formats.base import CatalogFormat
from tomo.marketplace.formats.casaos import CasaOSFormat
from tomo.marketplace.formats.portainer import PortainerFormat
from tomo.marketplace.formats.runtipi import RuntipiFormat
from tomo.marketplace.formats.tomo import TomoFormat
from tomo.marketplace.formats.umbrel import UmbrelFormat


def _formats() -> list[CatalogFormat]:
    """In the order detection tries them: the most specific layout first (a Runtipi
    tree also has YAML files under apps/, which tomo's own format would take)."""
    return [RuntipiFormat(), CasaOSFormat(), UmbrelFormat(), PortainerFormat(), TomoFormat()]


FORMATS: dict[str, CatalogFormat] = {fmt.name: fmt for fmt in _formats()}
FORMAT_NAMES = tuple(FORMATS)


def format_named(name: str) -> CatalogFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput(
            f"'{name}' is not a catalog format ({', '.join(FORMAT_NAMES)})"
        ) from None


def detect_format(paths: Collection[str]) -> CatalogFormat | None:
    return next((fmt for fmt in FORMATS.values() if fmt.detect(paths)), None)


def describe_formats() -> str:
    return "; ".join(f"{fmt.title} ({fmt.name})" for fmt in FORMATS.values())
