"""Why tomo cannot install an app, in plain language.

A definition's `not_installable` is every blocker the format reader found, joined
with "; " (report.parts_of splits them), each led by where it is
("docker-compose.yml: services.web.volumes[1]: ${APP_DATA} is …"). An app page
shows the reasons without those paths, the same reason about several values said
once ("… (also ${B} and ${C})"), and the text as stored in a fold for whoever
wants to look at the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tomo.marketplace.report import parts_of

# "file.yml: dotted.path[0]: " or "hooks/pre-start: " at the start of a reason; a
# Portainer template's file is "templates.json#41".
_WHERE = re.compile(
    r"^(?:[\w./-]+\.(?:ya?ml|json|sh|template|env|toml)(?:#\d+)?|hooks/[\w.-]+)"
    r"(?::\s*[^\s:]+)?:\s+"
)
# What one reason is about: a ${VARIABLE}, a quoted value, or what a hook uses.
_SUBJECT = re.compile(r"\$\{[^}]*\}|'[^']*'|(?<= hook uses )[\w./-]+")
SHOWN_SUBJECTS = 3


@dataclass
class Reason:
    """One kind of reason: its first wording and every value it is about."""

    text: str
    subjects: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        others = self.subjects[1:]
        also = ""
        if others:
            shown = ", ".join(others[:SHOWN_SUBJECTS])
            more = len(others) - SHOWN_SUBJECTS
            also = f" (also {shown}{f' and {more} more' if more > 0 else ''})"
        return _sentence_case(self.text) + also + "."


def plain_reasons(not_installable: str) -> list[str]:
    """The reasons without file paths, one sentence per kind, in order of appearance."""
    kinds: dict[str, Reason] = {}
    for part in parts_of(not_installable):
        text = _without_where(part.strip()).rstrip(". ")
        if not text:
            continue
        subjects = _SUBJECT.findall(text)
        kind = _SUBJECT.sub("…", text)
        reason = kinds.setdefault(kind, Reason(text))
        for subject in subjects[:1]:
            if subject not in reason.subjects:
                reason.subjects.append(subject)
    return [reason.sentence() for reason in kinds.values()]


def _without_where(reason: str) -> str:
    """The reason without its file and path; a hook's reason keeps the hook's name
    ("hooks/pre-start: it uses docker, …" -> "its pre-start hook uses docker, …")."""
    where = _WHERE.match(reason)
    if where is None:
        return reason
    text = reason[where.end() :]
    hook = re.match(r"hooks/([\w.-]+)", where.group(0))
    if hook is not None and text.startswith("it "):
        return f"its {hook.group(1)} hook {text[3:]}"
    return text


def located_reasons(not_installable: str) -> list[str]:
    """Every reason as stored, where it is included: what the fold shows."""
    return [part.strip() for part in parts_of(not_installable) if part.strip()]


def _sentence_case(text: str) -> str:
    """A capital first letter, unless the text starts with a value (${X}, 'x', a name)."""
    return text[:1].upper() + text[1:] if text[:1].islower() else text
