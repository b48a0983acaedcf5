"""tomo's own format: one YAML file per app under `apps/` (see scan.py for the
layouts), in either dialect definition.py reads."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from tomo.marketplace.formats.base import Found, Parsed, SourceSpec
from tomo.marketplace.parse import load_definition
from tomo.marketplace.scan import definition_paths


class TomoFormat:
    name = "tomo"
    title = "tomo catalog"

    def detect(self, paths: Collection[str]) -> bool:
        return bool(definition_paths(paths))

    def index_files(self, paths: Collection[str]) -> list[str]:
        return []

    def find_sources(self, paths: Collection[str], indexes: Mapping[str, bytes]) -> Found:
        return Found(sources=[SourceSpec(path, (path,)) for path in definition_paths(paths)])

    def parse(self, source: SourceSpec, files: Mapping[str, bytes], *, max_bytes: int) -> Parsed:
        definition, warnings = load_definition(source.key, files[source.key], max_bytes=max_bytes)
        return Parsed(definition, warnings)
