"""What every format's tests do with a catalog: read a fixture repository from
disk, and take one app through a format the way a sync does (index files, find
the sources, read each source's files, parse)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tomo.marketplace.formats.base import CatalogFormat, Found, Parsed, SourceSpec

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_tree(*parts: str) -> dict[str, bytes]:
    """A fixture repository: every file's bytes by its path in the repository."""
    root = FIXTURES.joinpath(*parts)
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def discover(fmt: CatalogFormat, files: dict[str, bytes]) -> Found:
    """What a sync does before parsing: read the index files, then find the apps."""
    indexes = {path: files[path] for path in fmt.index_files(list(files))}
    return fmt.find_sources(list(files), indexes)


def parse_source(
    fmt: CatalogFormat,
    files: dict[str, bytes],
    chosen: Callable[[SourceSpec], bool],
    *,
    max_bytes: int,
) -> Parsed:
    """The first source `chosen` picks, parsed from the files it names."""
    spec = next(s for s in discover(fmt, files).sources if chosen(s))
    read = {path: files[path] for path in (*spec.members, *spec.optional) if path in files}
    return fmt.parse(spec, read, max_bytes=max_bytes)


def keyed(key: str) -> Callable[[SourceSpec], bool]:
    return lambda spec: spec.key == key
