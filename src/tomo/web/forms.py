"""Forms: what a person typed, read into a service's request; its errors placed
beside the fields they concern, with what was typed kept."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from pydantic import ValidationError

from tomo.errors import TomoError
from tomo.http.problems import of_domain_error


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
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


async def form_lists(request: Request) -> dict[str, list[str]]:
    """Fields that may repeat (checkboxes, rows of a table), each with every value."""
    form = await request.form()
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
    return lists


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
        found.general.append(exc.message)
    return found


def form_status(exc: ValidationError | TomoError) -> int:
    """A form sent back to correct: 422, or the refusal's own status (409 for a name
    taken, 401 for a wrong password…); a server's failure is the form's problem too."""
    return exc.http_status if isinstance(exc, TomoError) and exc.http_status < 500 else 422
