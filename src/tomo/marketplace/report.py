"""A sync report read at a glance: its problems grouped by kind.

A store's catalog gives the same note hundreds of times (`container_name`
ignored in 166 files), so the faces show one line per kind, the commonest
first, with a few of the files (or apps) it concerns, and keep every line for
whoever asks (`--verbose`, `--json`, the folds of a repository's page).

The groups are made from the report's lines each time they are shown, so a
report stored by an earlier tomo groups the same way.

A file's warnings and an app's reasons for not being installable are stored
joined by "; " (marketplace_sources.warning, the definition's not_installable);
a few of the messages hold "; " themselves, so `parts_of` joins those pieces
back together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.marketplace.models import MarketplaceAppRow
from tomo.marketplace.schemas import AppNotInstallable, ProblemKind, SyncReport, SyncSummary

MAX_EXAMPLES = 3  # files (or apps) named on a kind's line

# Where a message says its problem is: `docker-compose.yml: services.web.volumes[1]: `.
_PLACE = re.compile(r"(?:[\w.\-/\[\]{}$@*]+: )+")
# What starts the rest of a sentence that holds "; " (not a problem of its own).
_GOES_ON = re.compile(r"(?:tomo|the|its|it does|listed as|give|config\.json's|and \d+ more)\b")
_FILE = re.compile(r"\.(?:ya?ml|json|sh|template|env|txt|md)$")
_INDEX = re.compile(r"\[[^\]]*\]")
_VARIABLE_NAME = re.compile(r"[A-Z][A-Z0-9_]+")
# Keys whose keys are names each app gives (`sysctls.net.core.somaxconn`, `env.TZ`).
_NAMED = frozenset({"sysctls", "environment", "env", "form_fields", "labels", "networks",
                    "volumes", "extra_hosts", "secrets", "configs"})  # fmt: skip
# What differs from app to app in one kind of message: quoted values, variables,
# numbers, paths.
_QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)")
_REFERENCE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_]\w*")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_PATH = re.compile(r"(?<![\w'])(?:[\w.-]+/)+[\w.-]+")


@dataclass(frozen=True)
class Line:
    """One problem as the report holds it: where (a file, or an app) and what."""

    subject: str
    message: str


@dataclass(frozen=True)
class ProblemGroup:
    """Every problem of one kind, one part of a message each."""

    kind: str
    lines: list[Line]

    @property
    def count(self) -> int:
        """The files (or apps) with it: one file may have it several times."""
        return len(self.subjects)

    @property
    def subjects(self) -> list[str]:
        return list(dict.fromkeys(line.subject for line in self.lines))

    def line(self) -> ProblemKind:
        """What a summary says of the group."""
        return ProblemKind(kind=self.kind, count=self.count, examples=self.subjects[:MAX_EXAMPLES])


@dataclass(frozen=True)
class ReportGroups:
    """A report's problems by kind, the commonest first (None: a report from before
    tomo counted apps it cannot install)."""

    errors: list[ProblemGroup]
    warnings: list[ProblemGroup]
    not_installable: list[ProblemGroup] | None


def report_groups(report: SyncReport) -> ReportGroups:
    """Errors by the kind of their first problem (one line per file, whole);
    warnings and reasons part by part."""
    errors = group_lines((Line(e.path, e.message) for e in report.errors), whole=True)
    warnings = group_lines(Line(w.path, w.message) for w in report.warnings)
    blocked = report.not_installable
    reasons = None if blocked is None else group_lines(Line(a.app, a.reasons) for a in blocked)
    return ReportGroups(errors, warnings, reasons)


def summarize(report: SyncReport) -> SyncSummary:
    groups = report_groups(report)
    blocked = groups.not_installable
    return SyncSummary(
        errors=[group.line() for group in groups.errors],
        warnings=[group.line() for group in groups.warnings],
        not_installable=None if blocked is None else [group.line() for group in blocked],
    )


def group_lines(lines: Iterable[Line], *, whole: bool = False) -> list[ProblemGroup]:
    """Lines by kind; `whole`: each line stays whole, grouped by its first part."""
    found: dict[tuple[str, str], list[tuple[Line, str]]] = {}
    for line in lines:
        parts = parts_of(line.message)
        for part in parts[:1] if whole else parts:
            place, text = _place_and_text(part)
            shown = line if whole else Line(line.subject, part)
            found.setdefault((place, _masked(text)), []).append((shown, text))
    groups = [
        ProblemGroup(_kind_text(place, masked, [text for _, text in items]),
                     [shown for shown, _ in items])
        for (place, masked), items in found.items()
    ]  # fmt: skip
    return sorted(groups, key=lambda group: (-group.count, group.kind))


def parts_of(message: str) -> list[str]:
    """The problems a joined message holds, each whole."""
    parts: list[str] = []
    for piece in message.split("; "):
        if parts and _goes_on(parts[-1], piece):
            parts[-1] += f"; {piece}"
        else:
            parts.append(piece)
    return parts


def _goes_on(before: str, piece: str) -> bool:
    """Whether `piece` is the rest of the sentence `before` began."""
    if before.count("(") > before.count(")"):
        return True
    return _PLACE.match(piece) is None and _GOES_ON.match(piece) is not None


def _place_and_text(part: str) -> tuple[str, str]:
    """The key a part is about, as every app has it (`volumes`, `container_name`),
    and what it says there."""
    located = _PLACE.match(part)
    if located is None:
        return "", part
    last = located.group(0).removesuffix(": ").split(": ")[-1]
    return _key_of(last), part[located.end() :]


def _key_of(place: str) -> str:
    """`services.web.volumes[1]` -> `volumes`; a file -> "" (the file is the subject);
    the names an app chooses -> `…` (`sysctls.…`, `form_fields.…`)."""
    if _FILE.search(place):
        return ""
    keys = place.split(".")
    if keys[0] == "services" and len(keys) > 1:  # the service's name is the app's own
        keys = keys[2:] or ["services", "…"]
    kept: list[str] = []
    for index, key in enumerate(keys):
        kept.append("…" if _VARIABLE_NAME.fullmatch(key) else _INDEX.sub("", key))
        if key in _NAMED and index + 1 < len(keys):  # (`volumes[1]` is a list's item)
            kept.append("…")
            break
    return ".".join(kept)


def _masked(text: str) -> str:
    text = _PATH.sub("…", _QUOTED.sub("'…'", text))
    return _NUMBER.sub("…", _REFERENCE.sub("${…}", text))


def _kind_text(place: str, masked: str, texts: list[str]) -> str:
    """The kind in words: its text as written when every file says the same,
    else with what differs left out."""
    text = texts[0] if len(set(texts)) == 1 else masked
    return f"{place}: {text}" if place else text


async def not_installable_apps(session: AsyncSession, repo_id: str) -> list[AppNotInstallable]:
    """The repository's apps the catalog lists but tomo cannot install, with why."""
    apps = MarketplaceAppRow
    reasons = apps.details["not_installable"].as_string()
    rows = await session.execute(
        select(apps.id, reasons).where(apps.repo_id == repo_id, reasons.is_not(None))
        .order_by(apps.id)
    )  # fmt: skip
    return [AppNotInstallable(app=app_id, reasons=text) for app_id, text in rows if text]
