"""The web UI through the real app (its lifespan, a real SQLite database) with
httpx, as a browser without JavaScript uses it: links, forms, cookies.
(tests/web/browser holds the tests that drive a real Chromium.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Api, users_of
from tomo.app import create_app
from tomo.auth.service import csrf_token_for
from tomo.config import Settings
from tomo.http.security import SESSION_COOKIE


class Page:
    """One browser's view of tomo: its own cookies, forms sent with the CSRF token
    the pages hand out (unless told not to)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        self.client.cookies.clear()
        headers = dict(options.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        answer = self.client.request(method, url, headers=headers, follow_redirects=False,
                                     **options)  # fmt: skip
        for name, value in answer.cookies.items():
            self.cookies[name] = value
        for header in answer.headers.get_list("set-cookie"):  # deleted cookies go
            name = header.split("=", 1)[0]
            if "max-age=0" in header.lower() or '=""' in header:
                self.cookies.pop(name, None)
        self.client.cookies.clear()
        return answer

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
             **options: Any) -> httpx.Response:  # fmt: skip
        form = dict(data or {})
        if csrf and SESSION_COOKIE in self.cookies:
            form.setdefault("csrf_token", csrf_token_for(self.cookies[SESSION_COOKIE]))
        return self.request("POST", url, data=form, **options)

    def follow(self, answer: httpx.Response) -> httpx.Response:
        """The page a See Other leads to."""
        assert answer.status_code == 303, (answer.status_code, answer.text[:2000])
        return self.get(answer.headers["location"])

    def log_in(self, username: str, password: str) -> httpx.Response:
        answer = self.post("/login", {"username": username, "password": password, "next": "/store"})
        assert answer.status_code == 303, answer.text[:2000]
        return answer


def text_of(answer: httpx.Response) -> str:
    """The page's visible text, roughly: tags dropped, whitespace folded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", answer.text, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()


@dataclass
class Web:
    """The app, its API users (for setting things up) and a page view per user."""

    api: Api
    client: TestClient

    def anonymous(self) -> Page:
        return Page(self.client)

    def admin(self) -> Page:
        page = Page(self.client)
        page.log_in("admin", ADMIN_PASSWORD)
        return page

    def viewer(self) -> Page:
        page = Page(self.client)
        page.log_in("vera", VIEWER_PASSWORD)
        return page


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """SQLite only: pages call the same services the API tests run on PostgreSQL too."""
    return Settings(data_dir=tmp_path / "data", builtin_catalog=False, git_timeout=20,
                    sync_interval=0)  # fmt: skip


@pytest.fixture
def fresh(settings: Settings) -> Iterator[TestClient]:
    """The app with no user yet (setup open)."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def web(settings: Settings) -> Iterator[Web]:
    with TestClient(create_app(settings)) as client:
        yield Web(users_of(client), client)
