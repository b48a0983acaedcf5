"""Who may read an installation's logs: an app may print secrets there (the password
it generated), so admins only, unless TOMO_VIEWERS_READ_LOGS lets viewers read them
too. One rule for the API's stream and the web UI's page; a viewer is refused before
any server is asked, and is offered no link to a refusal. No Docker needed: the
installation's server is a closed port, so an answer that gets past the rule is about
the server, never about the role."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import users_of
from tests.gitrepo import app_definition
from tests.services import free_port
from tests.web.conftest import Web, text_of
from tomo.app import create_app
from tomo.config import Settings
from tomo.deployment.models import Installation
from tomo.runtime import Runtime
from tomo.servers.models import Server

LOGS_API = "/api/installations/notes/logs"
LOGS_PAGE = "/installed/notes/logs"
ROLE_REFUSAL = "an installation's logs are for admins"


async def installed_on_a_closed_port(runtime: Runtime) -> None:
    """An installation "notes" with its container, on a server nothing listens for."""
    now = datetime.now(UTC)
    async with runtime.db.session() as session, session.begin():
        session.add(Server(id="nas", name="nas", host="127.0.0.1", port=free_port(),
                           username="tomo", auth_type="password",
                           password_enc=runtime.servers.secrets.encrypt("a password"),
                           data_root="/opt/tomo/apps", use_sudo=False, status="unknown",
                           created_at=now))  # fmt: skip
        await session.flush()
        session.add(Installation(
            id="notes", server_id="nas", name="notes", repo_id="home", app_id="notes",
            version="1.0.0", image="example/notes:1.0.0", definition=app_definition("notes"),
            config={}, container_id="c0ffee", status="running", created_at=now, updated_at=now,
        ))  # fmt: skip


def about_the_server(answer: httpx.Response) -> str:
    """The answer got past the role check: it is the server's problem that it tells."""
    html_page = "html" in answer.headers["content-type"]
    said = html.unescape(text_of(answer)) if html_page else answer.text
    assert answer.status_code != 403 and ROLE_REFUSAL not in said, (answer.status_code, said)
    assert "nas" in said and ("connection refused" in said or "host key" in said), said
    return said


@pytest.fixture
def site(web: Web) -> Web:
    web.api.run(installed_on_a_closed_port)
    return web


def test_a_viewer_may_not_read_logs_through_the_api(site: Web) -> None:
    for url in (LOGS_API, f"{LOGS_API}?follow=true", f"{LOGS_API}?service=app"):
        refused = site.api.viewer.get(url)
        assert refused.status_code == 403, url
        assert ROLE_REFUSAL in refused.json()["detail"]
        assert "TOMO_VIEWERS_READ_LOGS=true" in refused.json()["detail"]
    # Refused before the installation is even looked up: nothing to learn from it.
    assert site.api.viewer.get("/api/installations/nothing-here/logs").status_code == 403


def test_an_admin_is_not_refused_by_the_role(site: Web) -> None:
    about_the_server(site.admin().get(LOGS_PAGE))
    missing = site.api.admin.get("/api/installations/nothing-here/logs")
    assert missing.status_code == 404 and "nothing-here" in missing.json()["detail"]


def test_a_viewer_gets_a_clear_refusal_page_and_no_link_to_it(site: Web) -> None:
    viewer = site.viewer()

    refused = viewer.get(LOGS_PAGE)

    assert refused.status_code == 403
    said = html.unescape(text_of(refused))
    assert ROLE_REFUSAL in said and "Ask an admin of this tomo" in said
    shown = viewer.get("/installed/notes")
    assert shown.status_code == 200
    assert LOGS_PAGE not in shown.text and ">Logs<" not in shown.text
    assert LOGS_PAGE in site.admin().get("/installed/notes").text  # an admin has the link


@pytest.fixture
def open_logs(settings: Settings) -> Iterator[Web]:
    """The same tomo with TOMO_VIEWERS_READ_LOGS=true."""
    opened = settings.model_copy(update={"viewers_read_logs": True})
    with TestClient(create_app(opened)) as client:
        web = Web(users_of(client), client)
        web.api.run(installed_on_a_closed_port)
        yield web


def test_the_setting_lets_viewers_read_logs(open_logs: Web) -> None:
    viewer = open_logs.viewer()

    about_the_server(viewer.get(LOGS_PAGE))
    assert LOGS_PAGE in viewer.get("/installed/notes").text
    assert open_logs.api.viewer.get("/api/installations/nothing-here/logs").status_code == 404


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOMO_VIEWERS_READ_LOGS", "true")
    assert Settings().viewers_read_logs is True
    monkeypatch.delenv("TOMO_VIEWERS_READ_LOGS")
    assert Settings().viewers_read_logs is False


def test_a_place_to_read_on_from_that_is_none_is_refused_before_any_server_is_asked(
    site: Web,
) -> None:
    """The places of `after` are checked with the service, before the stream starts."""
    refused = site.api.admin.get(f"{LOGS_API}?follow=true&after=app,yesterday,1&after=db")

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert [error["field"] for error in problem["errors"]] == ["after[0]", "after[1]"], problem
    assert "'app,yesterday,1' has no Docker timestamp" in problem["detail"]
    assert "'db' names no service of this app (it has: app)" in problem["detail"]
