"""Text that is not text: a lone UTF-16 surrogate.

JSON may spell one as an escape (`"\\ud800"`, or its raw bytes, which Python's
json module lets through), and a form may carry one (a multipart part declared
in UTF-7 decodes `+2AA-` to it). Python holds it in a `str`, but no UTF-8
database, log line or answer can: left alone it reaches the database and fails
there as an internal error. So every request is checked once, where its body is
read (the API's JSON here, the pages' forms in web/forms.py), before any model
or service sees it: refused as invalid input naming the field, the value never
repeated (it could not be written into the answer either).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

Location = tuple[str | int, ...]


def is_text(value: str) -> bool:
    """Whether `value` can be written as UTF-8 (it holds no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(value: str) -> str:
    """`value` with any lone surrogate spelt as an escape: safe to show or store."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def not_text_message(value: str) -> str:
    """Why `value` is refused, naming the first offending character (not the value)."""
    bad = next((c for c in value if not is_text(c)), "\ud800")
    return (
        f"is not valid text: it holds an unpaired surrogate (U+{ord(bad):04X}), which is half "
        "of a character; send the whole character, encoded as UTF-8"
    )


def first_non_text(value: Any, where: Location = ()) -> tuple[Location, str] | None:
    """The location and the text of the first string (key or value) in a decoded
    JSON document that is not text; None when every string is."""
    if isinstance(value, str):
        return None if is_text(value) else (where, value)
    if isinstance(value, dict):
        for key, item in value.items():
            if not is_text(key):
                return (*where, printable(key)), key
            found = first_non_text(item, (*where, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_non_text(item, (*where, index))
            if found is not None:
                return found
    return None


async def refuse_non_text_json(request: Request) -> None:
    """A router dependency: a JSON body holding a string that is not text is refused
    (422, naming the field) before the route's model or service sees it.

    It runs after the access check (the dependency before it), so a caller who may
    not make the request learns nothing of its body, and reads the body FastAPI has
    already decoded (a body that does not decode is FastAPI's to refuse)."""
    if not _json_body(request) or not await request.body():
        return
    try:
        document = await request.json()
    except (ValueError, RecursionError):
        return
    found = first_non_text(document)
    if found is not None:
        where, value = found
        raise RequestValidationError([{"type": "string_unicode", "loc": ("body", *where),
                                       "msg": not_text_message(value), "input": None}])  # fmt: skip


def _json_body(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in ("", "application/json") or kind.endswith("+json")
