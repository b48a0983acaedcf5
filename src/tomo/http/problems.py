"""Errors as RFC 9457 problem details (`application/problem+json`).

Every domain error class has its own type and status (errors.py); a request
FastAPI cannot read names each field it could not (once the access check has
let it through: FastAPI reads a body before that check runs); anything else is
a bug: a 500 whose details go to tomo's log, never into the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from tomo.errors import (
    InvalidInput,
    PreflightFailed,
    Refusal,
    RemoteError,
    TomoError,
    TooManyAttempts,
    Unauthenticated,
)
from tomo.http.middleware import note_outcome, note_refusal
from tomo.http.security import check_access_first
from tomo.logs import log_internal_error

MEDIA_TYPE = "application/problem+json"
# What FastAPI answers by itself when a body cannot be read (or is too large).
_UNREADABLE_BODY = frozenset({400, 413})


class FieldProblem(BaseModel):
    """One field of a request that could not be read or was refused, and why ('' for
    a problem of the request as a whole); `hint`: how the command line mends it;
    `suggestion`: a value the field would take instead (a free port, a free name)."""

    field: str
    message: str
    hint: str | None = None
    suggestion: str | None = None


class Problem(BaseModel):
    """An error answer (RFC 9457), with what a client needs to act on it."""

    type: str  # a URN naming the kind of problem, e.g. urn:tomo:problem:installation-busy
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None  # the request's fields that were refused
    problems: list[str] | None = None  # a preflight's every reason
    server: str | None = None  # the server a remote problem concerns
    retry_after: int | None = None  # seconds, for 429


def problem_type(name: str) -> str:
    return "urn:tomo:problem:" + re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_title(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).capitalize()


def of_domain_error(exc: TomoError) -> Problem:
    name = type(exc).__name__
    problem = Problem(type=problem_type(name), title=problem_title(name),
                      status=exc.http_status, detail=exc.message)  # fmt: skip
    if isinstance(exc, PreflightFailed):
        problem.problems = [str(part) for part in exc.problems]
        problem.errors = _field_problems(exc.problems)
    elif isinstance(exc, InvalidInput):
        problem.errors = _field_problems(exc.problems)
    elif exc.fields:
        problem.errors = [FieldProblem(field=field, message=exc.message) for field in exc.fields]
    if isinstance(exc, RemoteError):
        problem.server = exc.server
    if isinstance(exc, TooManyAttempts):
        problem.retry_after = exc.retry_after
    return problem


def _field_problems(problems: Sequence[Refusal]) -> list[FieldProblem]:
    """One entry per field a problem concerns (one with field '' when it names none)."""
    return [FieldProblem(field=field, message=problem.text, hint=problem.hint or None,
                         suggestion=problem.suggestion or None)
            for problem in problems for field in problem.fields or ("",)]  # fmt: skip


def answer(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem.model_dump(exclude_none=True), status_code=problem.status,
                        media_type=MEDIA_TYPE, headers=headers)  # fmt: skip


def answer_domain_error(exc: TomoError) -> JSONResponse:
    return answer(of_domain_error(exc), _headers_of(exc))


def _headers_of(exc: TomoError) -> dict[str, str] | None:
    if isinstance(exc, TooManyAttempts):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, Unauthenticated):  # a 401 must name a way to authenticate (RFC 9110)
        return {"WWW-Authenticate": 'Bearer realm="tomo"'}
    return None


async def _refusal(request: Request) -> JSONResponse | None:
    """The access check's answer to a request refused for its body before the
    check could run (None: the request may be made, so its body is the problem)."""
    try:
        await check_access_first(request)
    except TomoError as refused:
        return answer_domain_error(refused)
    return None


class Pages(Protocol):
    """The web UI: which requests are its pages, and a problem shown as a page."""

    def claims(self, request: Request) -> bool: ...

    def answer(
        self, request: Request, problem: Problem, headers: dict[str, str] | None
    ) -> Response: ...


def install_problem_handlers(app: FastAPI, pages: Pages | None = None) -> None:
    def answered(
        request: Request, problem: Problem, headers: dict[str, str] | None = None
    ) -> Response:
        if pages is not None and pages.claims(request):
            return pages.answer(request, problem, headers)
        return answer(problem, headers)

    async def refused(request: Request) -> Response | None:
        """An API request refused for its body before its access check ran; a page
        reads its form itself, so only its query can be the problem."""
        if pages is not None and pages.claims(request):
            return None
        return await _refusal(request)

    @app.exception_handler(TomoError)
    async def domain_error(request: Request, exc: TomoError) -> Response:
        note_refusal(request, exc)  # the audit says why, and a page's 401 is a 401
        return answered(request, of_domain_error(exc), _headers_of(exc))

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, exc: RequestValidationError) -> Response:
        if refusal := await refused(request):
            return refusal
        errors = [FieldProblem(field=".".join(map(str, e["loc"])),
                               message=str(e["msg"]).removeprefix("Value error, "))
                  for e in exc.errors()]  # fmt: skip
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return answered(request, Problem(type=problem_type("InvalidInput"), title="Invalid input",
                                         status=422, detail=detail, errors=errors))  # fmt: skip

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code in _UNREADABLE_BODY and (refusal := await refused(request)):
            return refusal
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        headers, detail = dict(exc.headers or {}), str(exc.detail)
        if exc.status_code == 405:  # Starlette names only one route's methods
            headers["Allow"] = allowed = ", ".join(_allowed_methods(request))
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
        return answered(request, Problem(type="about:blank", title=title, status=exc.status_code,
                                         detail=detail), headers)  # fmt: skip

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        where = log_internal_error(exc)  # the traceback goes to tomo's log, never out
        note_outcome(request, "500", f"internal error; {where}")
        return answered(request, Problem(type=problem_type("InternalError"),
                                         title="Internal error", status=500,
                                         detail=f"internal error; {where}"))  # fmt: skip


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.matches(request.scope)[0] != Match.NONE:  # PARTIAL: the path, not the method
            methods |= route.methods or set()
    return sorted(methods)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route's error answers."""
    return {status: {"model": Problem, "description": DESCRIPTIONS.get(status, "Error"),
                     "content": {MEDIA_TYPE: {}}} for status in statuses}  # fmt: skip


DESCRIPTIONS = {
    400: "The body could not be read as JSON",
    401: "Not logged in, or the token or session is not valid",
    403: "The role does not allow it, or the CSRF token is missing", 404: "Not found",
    413: "The body is too large",
    409: "Conflict", 422: "Invalid input (each field named)",
    429: "Too many at once (failed logins, open log streams)",
    500: "A bug in tomo (details in its log)", 502: "A server or a git remote failed",
    503: "Unavailable", 504: "A server timed out",
}  # fmt: skip
