"""tomo's own format: one YAML file per app under `apps/` (see scan.py for the
layouts), in either dialect definition.py reads. docs/tomo-format.md describes it.

In tomo's own files `$$` is a literal `$` in every value, as in compose. The model
takes a one-container app without settings as written (the other formats' readers
write its values out for it), so this reader writes such an app's `$$` out as `$`."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from tomo.marketplace.definition import AppDefinition, AppEnvVar, DockerConfig
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
        return Parsed(dollars_written_out(definition), warnings)


def dollars_written_out(definition: AppDefinition) -> AppDefinition:
    """An app whose values are taken as written, with each `$$` of its values a `$`
    (an app whose values are templates reads `$$` as `$` when it is installed)."""
    docker = definition.docker
    if definition.is_templated or not any("$$" in text for text in _values(docker)):
        return definition  # most apps: nothing to write out, no copy made
    written = docker.model_copy(update={
        "environment": [_default_written_out(v) for v in docker.environment],
        "command": _written_out(docker.command),
        "entrypoint": _written_out(docker.entrypoint),
    })  # fmt: skip
    return definition.model_copy(update={"docker": written})


def _values(docker: DockerConfig) -> list[str]:
    defaults = [v.default for v in docker.environment if v.default is not None]
    return [*defaults, *(docker.command or []), *(docker.entrypoint or [])]


def _default_written_out(variable: AppEnvVar) -> AppEnvVar:
    if variable.default is None or "$$" not in variable.default:
        return variable
    return variable.model_copy(update={"default": variable.default.replace("$$", "$")})


def _written_out(items: list[str] | None) -> list[str] | None:
    return None if items is None else [item.replace("$$", "$") for item in items]
