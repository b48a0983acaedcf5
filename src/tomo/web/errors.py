"""Errors as pages. A page that needs a login leads to it (to the first admin's
setup while there is none); anything else is a page that says what went wrong
and what to do: never a traceback, never a raw JSON error."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from tomo.http.deps import get_auth
from tomo.http.middleware import note_outcome
from tomo.http.problems import Problem
from tomo.http.security import clear_session_cookies
from tomo.web.session import LoginNeeded
from tomo.web.templating import render

# What a person can do about each kind of answer.
NEXT_STEP = {
    401: "Log in again.",
    403: "Ask an admin of this tomo if you need this.",
    404: "Check the address, or start again from the store.",
    409: "Something else is under way or in the way; look at the page it concerns and try again.",
    422: "Go back, correct what the message names, and send the form again.",
    429: "Wait a little before trying again.",
    500: "This is a bug in tomo. The message names the entry in tomo's log with the details.",
}


class ErrorPages:
    """What tomo.http.problems asks of the web UI (see its Pages)."""

    def claims(self, request: Request) -> bool:
        """Requests answered as pages: everything but the API and its documentation."""
        path = request.url.path
        return not (path.startswith(("/api/", "/docs", "/static/"))
                    or path in ("/api", "/openapi.json"))  # fmt: skip

    def answer(
        self, request: Request, problem: Problem, headers: dict[str, str] | None
    ) -> Response:
        if problem.status == 401:
            return _to_login(request)
        context = {"problem": problem, "next_step": NEXT_STEP.get(problem.status, "")}
        response = render(request, "error.html", context, status=problem.status)
        for name, value in (headers or {}).items():
            if name.lower() in ("retry-after", "allow"):
                response.headers[name] = value
        return response


def _to_login(request: Request) -> Response:
    note_outcome(request, "401")  # whatever the See Other: the request was refused
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if request.cookies:  # an ended session's cookies are of no more use
        clear_session_cookies(response)
    return response


def install_page_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginNeeded)
    async def login_needed(request: Request, _exc: LoginNeeded) -> Response:
        note_outcome(request, "401", "no live session: sent to log in")
        if await get_auth(request).setup_open():
            return RedirectResponse("/setup", status_code=303)
        return _to_login(request)
