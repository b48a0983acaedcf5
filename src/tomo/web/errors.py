"""Errors as pages. A page that needs a login leads to it (to the first admin's
setup while there is none); anything else is a page that says what went wrong
and what to do: never a traceback, never a raw JSON error."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from tomo.errors import HostKeyChanged, InvalidInput, NeededByOthers, PreflightFailed, TomoError
from tomo.http.deps import get_auth
from tomo.http.middleware import note_outcome, note_refusal
from tomo.http.problems import Problem, answer_domain_error, of_domain_error
from tomo.http.security import clear_session_cookies
from tomo.web.forms import page_words
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
        return self.page(request, problem, headers, problem.problems or [])

    def page(
        self, request: Request, problem: Problem, headers: dict[str, str] | None,
        reasons: list[str],
    ) -> Response:  # fmt: skip
        """The error page: the problem's words (`reasons`, when it has several)."""
        context = {"problem": problem, "reasons": reasons,
                   "next_step": NEXT_STEP.get(problem.status, "")}  # fmt: skip
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


# The errors whose message holds the command line's words (`choose --name`,
# `--with-dependants`, `tomo server trust`): a page says them its own way
# (forms.page_words).
WORDED_FOR_PAGES = (InvalidInput, PreflightFailed, NeededByOthers, HostKeyChanged)


async def _worded_for_a_page(request: Request, exc: Exception) -> Response:
    """One of WORDED_FOR_PAGES: as a page, in a page's words; to the API, as every
    domain error (its `errors[]` carry the command line's hints as data)."""
    assert isinstance(exc, TomoError)
    note_refusal(request, exc)
    pages = ErrorPages()
    if not pages.claims(request):
        return answer_domain_error(exc)
    problem = of_domain_error(exc)
    problem.detail = page_words(exc)
    if isinstance(exc, PreflightFailed):
        problem.server = exc.server
    refusals = exc.problems if isinstance(exc, InvalidInput | PreflightFailed) else ()
    return pages.page(request, problem, None, [p.said_on_page for p in refusals])


def install_page_errors(app: FastAPI) -> None:
    for kind in WORDED_FOR_PAGES:
        app.add_exception_handler(kind, _worded_for_a_page)

    @app.exception_handler(LoginNeeded)
    async def login_needed(request: Request, _exc: LoginNeeded) -> Response:
        note_outcome(request, "401", "no live session: sent to log in")
        if await get_auth(request).setup_open():
            return RedirectResponse("/setup", status_code=303)
        return _to_login(request)
