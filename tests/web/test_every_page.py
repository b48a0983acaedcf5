"""Every page route of the web UI, found in the app itself: only setup and login
answer without a session; every other leads the anonymous to the login page,
refuses a viewer where it is for admins, and refuses a form sent without the
session's CSRF token. A page added later is held to the same rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from markupsafe import escape

from tests.api.test_security import instance_of
from tests.test_errors import all_errors
from tests.web.conftest import Web
from tomo.app import create_app
from tomo.config import Settings
from tomo.web.forms import page_words
from tomo.web.session import admin_signed_in, signed_in

# The front doors' question about a request for an app behind tomo's login comes with
# no tomo session: the browser's pass for that app decides (proxy/login.py).
PUBLIC_PAGES = {"web_home", "web_setup_form", "web_setup", "web_login_form", "web_login",
                "web_door_check"}  # fmt: skip


@dataclass(frozen=True)
class PageRoute:
    method: str
    path: str
    name: str
    needs: str  # "public", "viewer" or "admin"

    @property
    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", "nothing-here", self.path)


def page_routes(app: FastAPI) -> list[PageRoute]:
    found = []
    for route in iter_route_contexts(app.routes):
        name, path = route.name or "", route.path or ""
        if name.startswith("web_"):
            assert isinstance(route.original_route, APIRoute), route
            needs = _needs(route.original_route.dependant)
            found += [PageRoute(method, path, name, needs)
                      for method in sorted(route.methods or ()) if method != "HEAD"]  # fmt: skip
    return found


def _needs(dependant: Any) -> str:
    calls = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        calls.add(current.call)
        pending.extend(current.dependencies)
    if admin_signed_in in calls:
        return "admin"
    return "viewer" if signed_in in calls else "public"


def test_only_setup_and_login_are_pages_without_a_session(web: Web) -> None:
    routes = page_routes(web.client.app)  # type: ignore[arg-type]
    assert len(routes) > 40  # the pages are found
    assert {route.name for route in routes if route.needs == "public"} == PUBLIC_PAGES


def test_the_anonymous_are_led_to_the_login_page(web: Web) -> None:
    page = web.anonymous()
    for route in page_routes(web.client.app):  # type: ignore[arg-type]
        if route.needs != "public":
            answer = page.request(route.method, route.url)
            assert answer.status_code == 303, (route, answer.status_code)
            assert answer.headers["location"].startswith("/login?next="), route


def test_a_viewer_is_refused_every_admin_page(web: Web) -> None:
    page = web.viewer()
    admin_pages = [r for r in page_routes(web.client.app) if r.needs == "admin"]  # type: ignore[arg-type]
    assert {r.name for r in admin_pages} >= {"web_install", "web_users", "web_server_add",
                                             "web_repo_sync", "web_installation_verb"}  # fmt: skip
    for route in admin_pages:
        answer = page.post(route.url) if route.method == "POST" else page.get(route.url)
        assert answer.status_code == 403, (route, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html"), route


def test_a_form_without_the_sessions_csrf_token_is_refused(web: Web) -> None:
    page = web.admin()
    for route in page_routes(web.client.app):  # type: ignore[arg-type]
        if route.method == "POST" and route.needs != "public":
            answer = page.post(route.url, csrf=False)
            assert answer.status_code == 403, (route, answer.status_code)
            assert "reload the page" in answer.text, route
    assert page.get("/account").status_code == 200  # still logged in: nothing happened


def test_every_domain_error_met_on_a_page_is_a_page(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    by_name = {cls.__name__: cls for cls in all_errors()}

    @app.get("/raise/{name}")
    async def raise_error(name: str) -> None:
        raise instance_of(by_name[name])

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a bug's own words")

    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: no database needed
    for name, cls in by_name.items():
        answer = client.get(f"/raise/{name}", follow_redirects=False)
        if cls.http_status == 401:  # the way to log in again
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
            continue
        assert answer.status_code == cls.http_status, name
        assert answer.headers["content-type"].startswith("text/html"), name
        assert str(escape(page_words(instance_of(cls)))) in answer.text, name
        assert "(a hint)" not in answer.text, name  # a refusal's hint is the command line's
    hidden = client.get("/bug")
    assert hidden.status_code == 500 and "a bug's own words" not in hidden.text
    assert "Traceback" not in hidden.text and "internal error" in hidden.text
