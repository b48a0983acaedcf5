"""The app's own pages, through the real app: health and the offline API docs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from tomo.app import create_app
from tomo.config import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


class _Links(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        linking = ("src", "href", "data-openapi-url")  # where Swagger UI finds the API
        self.found |= {value for name, value in attrs if name in linking and value}


def referenced_urls(page: str) -> set[str]:
    links = _Links()
    links.feed(page)
    return links.found


def test_health_answers_get_and_head(client: TestClient) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    probed = client.head("/api/health")
    assert (probed.status_code, probed.content) == (200, b"")


def test_docs_load_nothing_from_outside(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = referenced_urls(page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css",
            "/openapi.json", "/static/api-docs.js"} <= urls  # fmt: skip
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    assert "http://" not in page.text and "https://" not in page.text
    starter = client.get("/static/api-docs.js").text
    assert "validatorUrl: null" in starter  # no badge fetched from validator.swagger.io
    stylesheet = client.get("/docs/assets/swagger-ui.css").text
    assert {ref.strip("\"'")[:5] for ref in re.findall(r"url\(([^)]*)\)", stylesheet)} == {"data:"}


def test_no_page_loads_a_cdn(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page would
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "tomo"


@pytest.mark.parametrize("path", ["/api/health", "/api/no-such-route", "/api/servers"])
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    answer = client.get(path)  # a 200, a 404 and a 401 alike
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert answer.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in answer.headers  # plain http: HSTS means nothing


def test_https_answers_ask_browsers_to_stay_on_https(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url="https://tomo.lan") as client:
        answer = client.get("/api/health")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


def test_the_docs_page_may_run_only_its_own_scripts(client: TestClient) -> None:
    policy = client.get("/docs").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_docs_page_runs_no_inline_script(client: TestClient) -> None:
    page = client.get("/docs").text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
    assert len(scripts) == 2 and all('src="' in attrs and not body.strip()
                                     for attrs, body in scripts)  # fmt: skip
    policy = client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self';" in policy and "script-src 'self' 'unsafe-inline'" not in policy


def test_try_it_out_sends_the_sessions_csrf_token_with_writes(client: TestClient) -> None:
    """A cookie's write needs the X-CSRF-Token header (tomo.http.security): the docs
    page's script reads it from the cookie the login leaves for scripts, and adds it
    to writes bound for this tomo only. (tests/web/browser/test_account_forms.py runs it.)"""
    from tomo.http.security import CSRF_COOKIE, CSRF_HEADER

    starter = client.get("/static/api-docs.js")
    assert starter.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    script = starter.text
    assert f'CSRF_COOKIE = "{CSRF_COOKIE}"' in script
    assert f'CSRF_HEADER = "{CSRF_HEADER}"' in script
    assert "requestInterceptor: withCsrfToken" in script
    assert "sameOrigin(request.url)" in script  # never to a request bound elsewhere
