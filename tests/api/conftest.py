"""The real app (its lifespan, a real database) through httpx, as its users."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tomo.app import create_app
from tomo.config import Settings
from tomo.http.security import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE
from tomo.runtime import Runtime

ADMIN_PASSWORD = "admin password 1"
VIEWER_PASSWORD = "viewer password 1"
T = TypeVar("T")


class As:
    """Requests to the app with one user's bearer token (one TestClient, one event
    loop: the app's database connections belong to it)."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **options.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **options)

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> httpx.Response:
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options: Any) -> httpx.Response:
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options: Any) -> httpx.Response:
        return self.request("DELETE", url, **options)


class Browser:
    """A browser logged in with a password: its session cookie, and the CSRF token
    the login handed out. Both are sent by hand, not kept in the client's cookie
    jar, so several sessions can live side by side."""

    def __init__(self, client: TestClient, username: str, password: str) -> None:
        login = client.post("/api/auth/login", json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        self.client = client
        self.session_id = login.cookies[SESSION_COOKIE]
        self.csrf_token = str(login.json()["csrf_token"])
        client.cookies.clear()

    def request(
        self, method: str, url: str, *, csrf: bool = True, **options: Any
    ) -> httpx.Response:
        """With the session cookie and, for a write, the CSRF token (unless not `csrf`)."""
        headers = {"Cookie": f"{SESSION_COOKIE}={self.session_id}", **options.pop("headers", {})}
        if csrf and method not in SAFE_METHODS:
            headers[CSRF_HEADER] = self.csrf_token
        return self.client.request(method, url, headers=headers, **options)

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> httpx.Response:
        return self.request("PUT", url, **options)

    def delete(self, url: str, **options: Any) -> httpx.Response:
        return self.request("DELETE", url, **options)


@dataclass
class Api:
    """One app, and its users: anonymous (cookies, no token), admin, viewer."""

    anonymous: TestClient
    admin: As
    viewer: As

    @property
    def app(self) -> FastAPI:
        return cast(FastAPI, self.anonymous.app)

    def run(self, work: Callable[[Runtime], Awaitable[T]]) -> T:
        """`work(runtime)` on the app's event loop, where its database connections live."""
        portal = self.anonymous.portal
        assert portal is not None, "the TestClient is not running the app"
        return portal.call(work, self.app.state.runtime)

    def login(self, username: str, password: str) -> Browser:
        return Browser(self.anonymous, username, password)


def token_of(client: TestClient, username: str, password: str) -> str:
    """Log in (a session), make a token with the session's CSRF token, log out."""
    login = client.post("/api/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    made = client.post("/api/tokens", json={"name": f"{username} tests"}, headers=csrf)
    assert made.status_code == 201, made.text
    client.post("/api/auth/logout", headers=csrf)
    client.cookies.clear()
    return str(made.json()["token"])


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def api(api_settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(api_settings)) as client:
        yield users_of(client)


def users_of(client: TestClient) -> Api:
    """The first admin (by setup) and a viewer, each with an API token."""
    made = client.post("/api/setup", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert made.status_code == 201, made.text
    admin = As(client, token_of(client, "admin", ADMIN_PASSWORD))
    user = {"username": "vera", "password": VIEWER_PASSWORD, "role": "viewer"}
    assert admin.post("/api/users", json=user).status_code == 201
    return Api(client, admin, As(client, token_of(client, "vera", VIEWER_PASSWORD)))


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the hashes and verifications argon2 really does (a spy: each call
    still runs)."""
    calls: Counter[str] = Counter()

    def counted(name: str) -> Callable[..., Any]:
        real = getattr(PasswordHasher, name)

        def spy(self: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(self, *args, **kwargs)

        return spy

    for name in ("hash", "verify"):
        monkeypatch.setattr(PasswordHasher, name, counted(name))
    return calls
