"""One HTTP client for one tomo: JSON requests, text streams, and every failure as
one of tomo's own errors (a problem answer as its class; a connection that
fails as ServerUnreachable naming the tomo, exit 7 like any server problem).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr

from tomo.client.problems import error_of_problem
from tomo.errors import ServerTimeout, ServerUnreachable, TomoError, Unauthenticated

# A sync or a server's first login may take minutes (git and SSH have their own
# time limits on the server); a stream may stay quiet for as long as it likes.
REQUEST_TIMEOUT = httpx.Timeout(900.0, connect=10.0)
STREAM_TIMEOUT = httpx.Timeout(None, connect=10.0)
Params = Mapping[str, str | int | bool | list[str] | None]


def segment(value: str) -> str:
    """A value placed in a URL path (a name may hold spaces)."""
    return quote(value, safe="")


def revealed(model: BaseModel) -> dict[str, Any]:
    """A request's JSON with its secrets as they are (a JSON dump hides them)."""
    body = model.model_dump(mode="json")
    for name, value in model:
        if isinstance(value, SecretStr):
            body[name] = value.get_secret_value()
        elif isinstance(value, dict) and any(isinstance(v, SecretStr) for v in value.values()):
            body[name] = {key: v.get_secret_value() if isinstance(v, SecretStr) else v
                          for key, v in value.items()}  # fmt: skip
    return body


class Api:
    """tomo's REST API at `url` (without /api), with a bearer token once logged in."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=f"{url}/api", headers=headers,
                                      timeout=REQUEST_TIMEOUT)  # fmt: skip
        self.has_token = token is not None

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None for an empty one); a refusal raises its error."""
        try:
            answer = await self.http.request(method, path, json=body, params=_query(params),
                                             headers=headers)  # fmt: skip
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None
        if answer.is_error:
            raise self.refusal(answer)
        try:
            return answer.json() if answer.content else None
        except ValueError:  # a web page, say: the URL is not a tomo's
            raise ServerUnreachable(
                self.url, f"{method} {path} answered with something other than tomo's JSON"
            ) from None

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.call("GET", path, params=params)

    @asynccontextmanager
    async def stream(
        self, path: str, params: Params | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A GET whose answer is read as it comes (logs, a job's events)."""
        request = self.http.build_request("GET", path, params=_query(params),
                                          timeout=STREAM_TIMEOUT)  # fmt: skip
        try:
            answer = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None
        try:
            if answer.is_error:
                await answer.aread()
                raise self.refusal(answer)
            yield answer
        finally:
            await answer.aclose()

    async def lines(self, path: str, params: Params | None = None) -> AsyncGenerator[str, None]:
        """The lines of a text stream, as they arrive."""
        async with self.stream(path, params) as answer:
            try:
                async for line in answer.aiter_lines():
                    yield line
            except httpx.HTTPError as exc:
                raise self.unreachable(exc) from None

    def events(self, path: str) -> AsyncGenerator[tuple[str, str], None]:
        return server_sent_events(self.lines(path))

    def refusal(self, answer: httpx.Response) -> TomoError:
        try:
            problem = answer.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):  # not tomo speaking: a proxy, or no tomo at all
            asked = f"{answer.request.method} {answer.request.url.path}"
            said = f"{answer.status_code} {answer.reason_phrase}"
            problem = {"detail": f"{self.url}: {asked} answered {said}"}
        error = error_of_problem(problem, answer.status_code, where=self.url)
        if isinstance(error, Unauthenticated) and self.has_token:
            return Unauthenticated(
                f"{self.url} refused the stored token (revoked, or its user removed); "
                f"log in again: tomo login {self.url}"
            )
        return error

    def unreachable(self, exc: httpx.HTTPError) -> TomoError:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return ServerTimeout(self.url, f"tomo did not answer in time ({reason})")
        hint = "; `tomo logout` works locally again" if self.has_token else ""
        return ServerUnreachable(self.url, f"cannot reach tomo ({reason}){hint}")


def _query(params: Params | None) -> dict[str, Any] | None:
    """Query parameters without the absent ones (None means 'not given')."""
    if params is None:
        return None
    return {key: value for key, value in params.items() if value is not None}


async def server_sent_events(
    lines: AsyncGenerator[str, None],
) -> AsyncGenerator[tuple[str, str], None]:
    """(event name, data) of each Server-Sent Event; comments (keep-alives) skipped."""
    name = "message"
    data: list[str] = []
    async with aclosing(lines):  # a reader that stops early closes the stream at once
        async for line in lines:
            if not line:  # a blank line ends an event
                if data:
                    yield name, "\n".join(data)
                name, data = "message", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
