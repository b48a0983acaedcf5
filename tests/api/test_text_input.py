"""Text that is not text: a lone surrogate in a JSON string ("\\ud800", as an escape or
as raw bytes) is refused on every route as invalid input naming the field, before
any model or service sees it; and no answer, not even a bug's, names a path of the
server or repeats the bug's own words."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Api, As
from tests.gitrepo import CatalogRepo
from tomo.app import create_app
from tomo.config import Settings
from tomo.http.problems import MEDIA_TYPE
from tomo.logs import configure_logging
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime
from tomo.servers.models import Server

HALF = "\\ud800"  # the JSON escape of half a character, as a client would send it


@pytest.fixture
def fleet(api: Api, make_repo) -> Api:
    """A server "nas" (never contacted) and a synced repo "home" with an app "hello"."""
    repo: CatalogRepo = make_repo()
    repo.add_app("hello")
    repo.commit()

    async def add(runtime: Runtime) -> None:
        async with runtime.db.session() as session, session.begin():
            session.add(Server(id="nas", name="nas", host="192.0.2.10", port=22, username="tomo",
                               auth_type="password", data_root="/opt/tomo/apps", use_sudo=False,
                               status="unknown", created_at=datetime.now(UTC)))  # fmt: skip
        added = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="home", id="home"))
        await runtime.marketplace.sync_repo(added.id)

    api.run(add)
    return api


def send(user: As, method: str, url: str, body: str | bytes) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return user.request(method, url, content=content, headers={"Content-Type": "application/json"})


def refused_naming(answer: httpx.Response, field: str) -> str:
    """The answer is a 422 problem whose one error names `field`; its message."""
    assert (answer.status_code, answer.headers["content-type"]) == (422, MEDIA_TYPE), answer.text
    problem = answer.json()
    assert [error["field"] for error in problem["errors"]] == [field], problem
    message: str = problem["errors"][0]["message"]
    assert "unpaired surrogate (U+D800)" in message and field in problem["detail"]
    return message


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/servers", f'{{"name": "box", "host": "{HALF}", "username": "tomo", '
         '"password": "secret"}', "body.host"),
        ("POST", "/api/servers", f'{{"name": "box{HALF}", "host": "192.0.2.11", '
         '"username": "tomo", "password": "secret"}', "body.name"),
        ("PATCH", "/api/servers/nas", f'{{"username": "{HALF}"}}', "body.username"),
        ("PATCH", "/api/servers/nas", f'{{"data_root": "/srv/{HALF}"}}', "body.data_root"),
        ("POST", "/api/servers/nas/trust", f'{{"fingerprint": "{HALF}"}}', "body.fingerprint"),
        ("PATCH", "/api/marketplace/repos/home", f'{{"branch": "{HALF}"}}', "body.branch"),
        ("PATCH", "/api/marketplace/repos/home", f'{{"name": "{HALF}"}}', "body.name"),
        ("POST", "/api/installations", f'{{"app": "hello", "server": "{HALF}"}}', "body.server"),
        ("POST", "/api/installations", f'{{"app": "hello", "server": "nas", "name": "{HALF}"}}',
         "body.name"),
        ("POST", "/api/installations", f'{{"app": "hello", "server": "nas", '
         f'"env": {{"TZ": "Europe/{HALF}"}}}}', "body.env.TZ"),
        ("POST", "/api/installations", f'{{"app": "hello", "server": "nas", '
         f'"env": {{"{HALF}": "x"}}}}', "body.env.\\ud800"),
        ("POST", "/api/installations", f'{{"app": "hello", "server": "nas", '
         f'"ports": [{{"container": 80, "host": 8080}}, {{"container": "{HALF}"}}]}}',
         "body.ports.1.container"),
    ],
)  # fmt: skip
def test_a_lone_surrogate_is_refused_naming_its_field(
    fleet: Api, settings: Settings, method: str, url: str, body: str, field: str
) -> None:
    answer = send(fleet.admin, method, url, body)

    refused_naming(answer, field)
    assert str(settings.data_dir) not in answer.text
    assert fleet.admin.get("/api/servers/nas").json()["username"] == "tomo"  # nothing changed
    assert fleet.admin.get("/api/marketplace/repos/home").json()["branch"] == "main"
    assert [server["id"] for server in fleet.admin.get("/api/servers").json()] == ["nas"]
    assert fleet.admin.get("/api/installations").json() == []


def test_the_raw_bytes_of_a_surrogate_are_refused_too(fleet: Api) -> None:
    body = b'{"branch": "main-\xed\xa0\x80"}'  # what json.loads decodes to "\ud800"

    refused_naming(send(fleet.admin, "PATCH", "/api/marketplace/repos/home", body), "body.branch")


def test_whole_characters_beyond_the_basic_plane_are_text(fleet: Api) -> None:
    pair = '"\\ud83d\\ude80"'  # 🚀, spelt as a surrogate pair: one whole character
    answer = send(fleet.admin, "PATCH", "/api/marketplace/repos/home", f'{{"name": {pair}}}')

    assert answer.status_code == 200 and answer.json()["name"] == "🚀"


def test_who_may_not_write_learns_nothing_of_the_body(fleet: Api) -> None:
    body = f'{{"username": "{HALF}"}}'
    anonymous = fleet.anonymous.request("PATCH", "/api/servers/nas", content=body.encode(),
                                        headers={"Content-Type": "application/json"})  # fmt: skip

    assert anonymous.status_code == 401
    assert send(fleet.viewer, "PATCH", "/api/servers/nas", body).status_code == 403


@pytest.fixture
def logged(settings: Settings) -> Iterator[Path]:
    """tomo's log configured as `tomo serve` does; the handler taken away after."""
    root = logging.getLogger("tomo")
    before = list(root.handlers)
    configure_logging(settings)
    yield settings.log_file
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()


def test_a_bug_is_answered_without_its_words_or_any_path(settings: Settings, logged: Path) -> None:
    app = create_app(settings)
    secret_words = f"cannot open {settings.data_dir}/repos/x: private detail"

    @app.get("/api/bug")  # beside the API's router: no login needed
    async def bug() -> None:
        raise ValueError(secret_words)

    @app.get("/bug-page")
    async def bug_page() -> None:
        raise ValueError(secret_words)

    with TestClient(app, raise_server_exceptions=False) as client:
        for url in ("/api/bug", "/bug-page"):
            answer = client.get(url)
            assert answer.status_code == 500, url
            for leak in (str(settings.data_dir), "tomo.log", "private detail", "Traceback"):
                assert leak not in answer.text, (url, leak)
            reference = answer.text.split("under reference ", 1)[1][:8]
            assert f"internal error (reference {reference})" in logged.read_text()
            assert "private detail" in logged.read_text()  # the details are kept, in the log
