"""Forms: what a person typed, read into a service's request; its errors placed
beside the fields they concern, with what was typed kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote_plus, unquote_to_bytes

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from tomo.errors import HostKeyChanged, InvalidInput, NeededByOthers, PreflightFailed, TomoError
from tomo.http.problems import of_domain_error
from tomo.http.text import is_text, not_text_message, printable

# A request's field with an index (`ports[0]`, `volumes[1]`), as refusals name them
# (see tomo.errors.Refusal): the definition's first port, second folder.
INDEXED_FIELD = re.compile(r"(?P<kind>port|volume)s\[(?P<index>\d+)\]")


@dataclass
class FormErrors:
    """Messages by field name; `general` for those that name no field of the form."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, name: str, message: str, known: set[str]) -> None:
        if name in known and name not in self.fields:
            self.fields[name] = message
        else:
            self.general.append(message)


async def form_values(request: Request) -> dict[str, str]:
    """The form's fields, each with its (first) value; files are not taken."""
    return dict(await _text_fields(request))


async def form_lists(request: Request) -> dict[str, list[str]]:
    """Fields that may repeat (checkboxes, rows of a table), each with every value."""
    lists: dict[str, list[str]] = {}
    for key, value in await _text_fields(request):
        lists.setdefault(key, []).append(value)
    return lists


async def read_form(request: Request) -> FormData:
    """The form of a request, its bytes kept for `_text_fields` (Starlette keeps the
    parsed form: every later call, the CSRF check's or a page's, gets the same)."""
    await request.body()
    return await request.form()


async def _text_fields(request: Request) -> list[tuple[str, str]]:
    """Every text field of the form. A field that is not text is refused as invalid
    input naming it, before any page reads the form: one whose percent-escapes spell
    no UTF-8 (Starlette would put U+FFFD in its place, and the page store that), or
    one holding a lone surrogate (see http/text.py; a part in UTF-7 can spell one)."""
    form = await read_form(request)
    if _kind(request) == "application/x-www-form-urlencoded":
        _refuse_undecodable(await request.body())
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    for key, value in fields:
        if not is_text(key) or not is_text(value):
            bad = key if not is_text(key) else value
            raise InvalidInput(f"{printable(key)}: {not_text_message(bad)}")
    return fields


def _refuse_undecodable(body: bytes) -> None:
    for pair in body.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError as exc:
                field = unquote_plus(name.decode("latin-1"))  # as Starlette names it
                raise InvalidInput(
                    f"{field}: is not valid text: its escapes spell bytes that are not UTF-8 "
                    f"(byte {exc.start}); send it encoded as UTF-8"
                ) from None


def _kind(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def errors_of(exc: ValidationError | TomoError, known: set[str]) -> FormErrors:
    """An error from reading a request or from a service, sorted onto the form's
    fields (`known`); the rest shown above the form."""
    found = FormErrors()
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            found.add(name, str(error["msg"]).removeprefix("Value error, "), known)
        return found
    problem = of_domain_error(exc)
    for part in problem.errors or []:
        found.add(part.field, part.message, known)
    if not problem.errors:
        found.general.append(page_words(exc))
    return found


def page_words(exc: TomoError) -> str:
    """An error as a page says it: its message, but each refusal with the page's
    hint, never the command line's (a page names fields and boxes, not options)."""
    if isinstance(exc, PreflightFailed):
        return f"{exc.server}: " + "; ".join(problem.said_on_page for problem in exc.problems)
    if isinstance(exc, InvalidInput):
        return "; ".join(problem.said_on_page for problem in exc.problems)
    if isinstance(exc, NeededByOthers):
        them = ", ".join(exc.dependants)
        it = "them" if len(exc.dependants) > 1 else "it"
        return f"{exc.name} is needed by {them}: {exc.verb} {it} first"
    if isinstance(exc, HostKeyChanged) and not exc.expected:
        return (f"{exc.server}: host key changed: pinned {exc.pinned}, server presented "
                f"{exc.presented}; nothing will run there until the new key is trusted on "
                "the server's page")  # fmt: skip
    return exc.message


def form_status(exc: ValidationError | TomoError) -> int:
    """A form sent back to correct: 422, or the refusal's own status (409 for a name
    taken, 401 for a wrong password…); a server's failure is the form's problem too."""
    return exc.http_status if isinstance(exc, TomoError) and exc.http_status < 500 else 422


def as_sentence(message: str) -> str:
    """A message shown beside its field, as a sentence: a capital, a full stop (the
    services word their refusals as fragments, for the CLI's `error: ` line)."""
    text = with_stop(message)
    return text[:1].upper() + text[1:]


def with_stop(message: str) -> str:
    """A message that ends as a sentence does (its first word kept as it is: it may
    be a name, as `wiki` or `tomo`)."""
    text = message.strip()
    return text + ("" if not text or text.endswith((".", "!", "?", "…")) else ".")
