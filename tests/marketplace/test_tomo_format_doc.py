"""docs/tomo-format.md holds to the model: every key a catalog author can write is
named (in backticks) in the section of the model it belongs to, and every YAML
example loads with tomo's own format reader and builds into containers."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices, BaseModel

from tomo.deployment.app_spec import AppSpec, Exported, Named, build_app_spec, user_variables
from tomo.deployment.spec import InstallConfig
from tomo.marketplace.definition import (
    AppBackup,
    AppDefinition,
    AppEnvVar,
    AppExport,
    AppFile,
    AppHook,
    AppPort,
    AppProxy,
    AppRequirement,
    AppRequirements,
    AppVolume,
    BackupDump,
    DockerConfig,
    HealthCheck,
)
from tomo.marketplace.formats.base import Parsed, SourceSpec
from tomo.marketplace.formats.tomo import TomoFormat
from tomo.marketplace.keys import EXTRA_KEYS
from tomo.marketplace.risk import app_risks

DOC = Path(__file__).resolve().parents[2] / "docs" / "tomo-format.md"
REQUIRES_AND_EXPORTS = "Other apps: `requires` and `exports`"
# The heading of the section that describes each model of the definition.
SECTIONS: dict[type[BaseModel], str] = {
    AppDefinition: "Top-level keys",
    DockerConfig: "One container: `docker:`",
    AppPort: "Ports",
    AppVolume: "Volumes",
    AppEnvVar: "Environment variables",
    HealthCheck: "Health checks",
    AppRequirements: "Requirements",
    AppRequirement: REQUIRES_AND_EXPORTS,
    AppExport: REQUIRES_AND_EXPORTS,
    AppHook: "Hooks",
    AppFile: "Shipped files",
    AppBackup: "Backups",
    BackupDump: "Backups",
    AppProxy: "Names: `proxy`",
}
_HEADING = re.compile(r"#{1,6} (?P<title>.+)")
_FENCE = re.compile(r"```(?P<language>\w*)")
_BACKTICKED = re.compile(r"`([^`\n]+)`")


def definition_models() -> list[type[BaseModel]]:
    """AppDefinition and every model its fields hold, however nested (lists,
    mappings, optional, annotated)."""
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [AppDefinition]
    while pending:
        model = pending.pop(0)
        if model in found:
            continue
        found.append(model)
        for field in model.model_fields.values():
            pending += _models_in(field.annotation)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def author_keys(model: type[BaseModel]) -> list[str]:
    """The keys an author may write for a model: each field's name, or every one of
    its alternative names, and the keys read before validation (keys.EXTRA_KEYS)."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            keys += [choice for choice in alias.choices if isinstance(choice, str)]
        else:
            keys.append(name)
    return keys + sorted(EXTRA_KEYS.get(model, set()))


def sections(text: str) -> dict[str, str]:
    """Each heading's own text, up to the next heading (code blocks included: a `#`
    line inside one is a YAML comment, not a heading)."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        heading = None if in_code else _HEADING.fullmatch(line)
        if heading:
            current = found.setdefault(heading.group("title").strip(), [])
        else:
            current.append(line)
    return {title: "\n".join(lines) for title, lines in found.items()}


def yaml_examples(text: str) -> list[str]:
    """The text of every ```yaml block."""
    examples: list[str] = []
    language: str | None = None  # of the open code block; None outside one
    lines: list[str] = []
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence and language is None:
            language, lines = fence.group("language"), []
        elif fence:
            if language == "yaml":
                examples.append("\n".join(lines) + "\n")
            language = None
        elif language is not None:
            lines.append(line)
    return examples


DOC_TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = yaml_examples(DOC_TEXT)


def example_id(example: str) -> str:
    found = re.search(r"^id: (\S+)$", example, re.MULTILINE)
    return found.group(1) if found else "(no id)"


def read(example: str) -> Parsed:
    path = f"apps/examples/{example_id(example)}.yaml"
    return TomoFormat().parse(SourceSpec(path, (path,)), {path: example.encode()},
                              max_bytes=256 * 1024)  # fmt: skip


def install(definition: AppDefinition) -> AppSpec:
    """The containers of an example, as an install with every required value given,
    every risk accepted, the required apps there and a name (when it needs one)
    would make them."""
    asked = [v for v in user_variables(definition)
             if v.required and v.default is None and not v.generate]  # fmt: skip
    imports = {name: Exported("value", False, "tomo-other") for name in definition.imported_names}
    config = InstallConfig(env={v.name: "given" for v in asked},
                           accept_risks=app_risks(definition))  # fmt: skip
    named = Named(f"{definition.id}.home.example", True, 443) if definition.needs_hostname else None
    return build_app_spec(definition, config, repo_id="examples", installation_id="i1",
                          data_root="/srv/apps", server_host="nas.local",
                          imports=imports, named=named)  # fmt: skip


def test_every_model_of_the_definition_has_a_section() -> None:
    headings = sections(DOC_TEXT)
    unplaced = [m.__name__ for m in definition_models() if m not in SECTIONS]
    assert not unplaced, f"no section of docs/tomo-format.md is set for {unplaced} (SECTIONS)"
    missing = sorted({title for title in SECTIONS.values() if title not in headings})
    assert not missing, f"docs/tomo-format.md has no heading {missing}"


def test_every_key_an_author_writes_is_named_in_its_models_section() -> None:
    headings = sections(DOC_TEXT)
    missing = []
    for model in definition_models():
        title = SECTIONS[model]
        named = set(_BACKTICKED.findall(headings.get(title, "")))
        missing += [f"`{key}` of {model.__name__} (section '{title}')"
                    for key in author_keys(model) if key not in named]  # fmt: skip
    assert not missing, "docs/tomo-format.md does not name: " + ", ".join(missing)


def test_the_walk_finds_every_nested_model_and_alternative_name() -> None:
    """What the two tests above rely on: the walk reaches models inside mappings and
    lists, and gives every name an author may write for a field."""
    assert set(definition_models()) == set(SECTIONS)
    assert {"memory", "min_ram", "arch"} <= set(author_keys(AppRequirements))
    assert {"container", "container_path", "mode"} <= set(author_keys(AppVolume))
    assert {"command", "healthcheck"} <= set(author_keys(AppDefinition))


def test_a_key_left_out_of_the_document_is_named() -> None:
    title = SECTIONS[AppPort]
    without = DOC_TEXT.replace("| `protocol` | `tcp` or `udp` |", "| proto | `tcp` or `udp` |")
    named = set(_BACKTICKED.findall(sections(without)[title]))
    assert without != DOC_TEXT and "protocol" not in named
    assert "protocol" in set(_BACKTICKED.findall(sections(DOC_TEXT)[title]))


def test_the_document_has_an_example_per_section() -> None:
    assert len(EXAMPLES) >= 12
    assert len({example_id(e) for e in EXAMPLES}) == len(EXAMPLES), "two examples share an id"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example_id(e) for e in EXAMPLES])
def test_every_yaml_example_loads_with_tomos_own_reader_and_installs(example: str) -> None:
    parsed = read(example)  # InvalidDefinition names the key when it does not load
    assert parsed.warnings == []
    assert parsed.definition.not_installable is None
    assert install(parsed.definition).containers


def test_what_the_document_says_of_dollars_is_what_the_container_gets() -> None:
    by_id = {example_id(e): e for e in EXAMPLES}
    counter = install(read(by_id["counter"]).definition).main
    assert counter.command is not None and counter.command[2].startswith(
        "i=0; while true; do i=$((i+1)); echo \"tick $i\";"
    )  # fmt: skip

    ticker = install(read(by_id["ticker"]).definition).named("ticker")
    assert ticker.command is not None
    assert 'i=$((i+1)); echo "${NAME} $i"' in ticker.command[2]
    assert ticker.env == {"NAME": "ticker on nas.local", "PRICE": "$5"}
