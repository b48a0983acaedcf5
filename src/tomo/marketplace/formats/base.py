"""The contract every catalog format meets.

A format is detected from the repository's file paths alone, then asked which
apps the tree holds: each `SourceSpec` names the app's key path (what errors
and warnings are reported against, and what the catalog remembers) and every
file its definition is read from. `parse` gets those files' bytes and returns
one validated AppDefinition with warnings, or raises InvalidDefinition naming
the key path and every problem.

Formats are pure: no I/O, no clock, no network. The sync resolves symlinks
inside the tree, enforces size limits and reads the blobs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tomo.marketplace.definition import AppDefinition


@dataclass(frozen=True)
class SourceSpec:
    """One app in a tree: its key path and the files its definition is read from.

    `members[0]` is the main file. `optional` members are read when present
    (an icon, a second compose file) and simply absent otherwise. `part` picks
    one app out of a file holding several (Portainer: the template's index)."""

    key: str
    members: tuple[str, ...]
    optional: tuple[str, ...] = ()
    part: int | None = None


@dataclass
class Found:
    """What `find_sources` saw: the apps, and paths that look like apps but are
    not loadable as such (path -> why), reported as per-file errors."""

    sources: list[SourceSpec] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class CatalogFormat(Protocol):
    name: str  # "tomo", "casaos", "runtipi", "umbrel", "portainer"
    title: str  # for people: "CasaOS AppStore"

    def detect(self, paths: Collection[str]) -> bool:
        """Whether a tree with these file paths is in this format."""
        ...

    def index_files(self, paths: Collection[str]) -> list[str]:
        """Files the sync must read before `find_sources` (Portainer's templates
        file, whose content says which apps there are); [] for most formats."""
        ...

    def find_sources(self, paths: Collection[str], indexes: Mapping[str, bytes]) -> Found:
        """The apps of the tree; `indexes` holds the bytes of `index_files`."""
        ...

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        """One app from its files (`files` holds every member found, by path)."""
        ...


@dataclass(frozen=True)
class Parsed:
    definition: AppDefinition
    warnings: list[str] = field(default_factory=list)
