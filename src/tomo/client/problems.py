"""Problem details (RFC 9457) back into tomo's own errors, so a command run through
the API fails with the class, message and exit code it has locally.

The API names each domain error `urn:tomo:problem:<kebab-case class name>`
(tomo/http/problems.py); reading that name back finds the class in
tomo.errors. An answer that is not a tomo problem (a proxy's 502, an old tomo
without the route) gets the general class of its status.
"""

from __future__ import annotations

from typing import Any

from tomo import errors
from tomo.errors import (
    InvalidInput,
    PreflightFailed,
    Refusal,
    RemoteError,
    TomoError,
    TooManyAttempts,
)

TYPE_PREFIX = "urn:tomo:problem:"
_BY_STATUS: dict[int, type[TomoError]] = {
    400: errors.InvalidInput, 401: errors.Unauthenticated, 403: errors.Forbidden,
    404: errors.NotFound, 405: errors.NotFound, 409: errors.Conflict, 422: errors.InvalidInput,
    429: errors.TooManyAttempts, 504: errors.ServerTimeout,
}  # fmt: skip


def error_of_problem(problem: dict[str, Any], status: int, *, where: str) -> TomoError:
    """The domain error a problem answer stands for; `where` names the tomo (for
    an answer that names no server of its own)."""
    kind = error_class(str(problem.get("type", "")), status)
    detail = str(problem.get("detail") or problem.get("title") or f"answered {status}")
    return rebuilt(kind, detail, server=problem.get("server") or where,
                   retry_after=problem.get("retry_after"),
                   fields=problem.get("errors"))  # fmt: skip


def error_class(problem_type: str, status: int) -> type[TomoError]:
    name = problem_type.removeprefix(TYPE_PREFIX)
    if name != problem_type:
        found = getattr(errors, "".join(part.capitalize() for part in name.split("-")), None)
        if isinstance(found, type) and issubclass(found, TomoError):
            return found
    return _BY_STATUS.get(status, errors.ServerUnreachable)


def rebuilt(
    kind: type[TomoError], message: str, *, server: str, retry_after: object = None,
    fields: object = None,
) -> TomoError:  # fmt: skip
    """An error of this class saying exactly `message`: the server wrote it whole,
    so the class's own constructor (which composes messages) is bypassed."""
    error = kind.__new__(kind)
    TomoError.__init__(error, message)
    if isinstance(error, RemoteError):
        error.server = server
        error.reason = message.removeprefix(f"{server}: ")
    if isinstance(error, TooManyAttempts):
        error.retry_after = retry_after if isinstance(retry_after, int) else 0
    if isinstance(error, InvalidInput | PreflightFailed):
        error.problems = refusals_of(fields, message)
    return error


def refusals_of(fields: object, message: str) -> tuple[Refusal, ...]:
    """A problem's `errors[]` as the refusals they were made from (one per field)."""
    parts = [part for part in fields if isinstance(part, dict)] if isinstance(fields, list) else []
    found = [Refusal(str(part.get("message", "")),
                     (str(part["field"]),) if part.get("field") else (),
                     str(part.get("hint") or "")) for part in parts]  # fmt: skip
    return tuple(found) or (Refusal(message),)
