"""Who may call what, through the real app: every route walked, sessions and tokens
that ended, CSRF, login throttling, secrets kept out of answers, problem details."""

from __future__ import annotations

import inspect
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from starlette.routing import Mount

from tests.api.conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Api, As, Browser, users_of
from tests.gitrepo import CatalogRepo
from tests.test_errors import all_errors
from tomo import errors
from tomo.app import create_app
from tomo.auth.models import BrowserSession, User
from tomo.auth.service import digest
from tomo.config import Settings
from tomo.http import security
from tomo.http.problems import MEDIA_TYPE, of_domain_error
from tomo.http.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from tomo.runtime import Runtime

# Written out here, not read from the app: opening a route to anyone, or a write
# to viewers, must change this file too.
PUBLIC = {"health", "health_head", "setup_status", "setup", "login", "api_docs", "openapi"}
VIEWER_WRITES = {"rate_app", "logout", "logout_everywhere", "change_password", "create_token",
                 "revoke_token", "mark_events_read"}  # fmt: skip
ADMIN_READS = {
    "list_users",
    "get_user",
    "audit",
    "logs",  # logs: TOMO_VIEWERS_READ_LOGS
    "foreign_containers",
    "list_channels",  # a channel's masked URL still names where alerts go
}
# Bodies that must not matter to a request that may not be made: none, JSON that
# does not parse, bytes that are not text, and JSON with none of the fields.
BODIES: list[dict[str, Any]] = [
    {},
    {"content": b"{", "headers": {"Content-Type": "application/json"}},
    {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
    {"json": {}},
]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    name: str

    @property
    def url(self) -> str:
        """The path with a value in every parameter: none of them names anything."""
        return re.sub(r"\{[^}]+\}", "nothing-here", self.path)

    @property
    def admin_only(self) -> bool:
        writes = self.method not in ("GET", "HEAD")
        return self.name in ADMIN_READS or (writes and self.name not in VIEWER_WRITES)

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.name})"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method of every route of the API and its documentation (mounts aside; the
    web UI's pages are tests/web/test_every_page.py's)."""
    found = []
    for route in iter_route_contexts(app.routes):
        if (route.name or "").startswith("web_"):
            continue
        for method in sorted(route.methods or ()):
            assert route.path and route.name, route
            found.append(Endpoint(method, route.path, route.name))
    return found


def protected(app: FastAPI) -> list[Endpoint]:
    return [endpoint for endpoint in endpoints(app) if endpoint.name not in PUBLIC]


def is_problem(answer: httpx.Response, status: int) -> bool:
    return (answer.status_code, answer.headers.get("content-type")) == (status, MEDIA_TYPE)


def answers(send: Callable[..., httpx.Response], endpoint: Endpoint) -> Iterator[httpx.Response]:
    """The endpoint's answers to each of BODIES."""
    for body in BODIES:
        yield send(endpoint.method, endpoint.url, **body)


# -- every route ------------------------------------------------------------------


def test_the_walk_covers_every_operation_of_the_openapi_document(api: Api) -> None:
    walked = {(endpoint.method, endpoint.path) for endpoint in endpoints(api.app)}
    document = api.anonymous.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, operations in document["paths"].items()
                  for method in operations}  # fmt: skip
    assert documented <= walked
    # Besides the documented operations: HEAD health, the docs page and the document.
    undocumented = {str(e) for e in endpoints(api.app) if (e.method, e.path) not in documented}
    assert undocumented == {
        "HEAD /api/health (health_head)", "GET /docs (api_docs)",
        "GET /openapi.json (openapi)", "HEAD /openapi.json (openapi)",
    }  # fmt: skip
    mounts = [route.path for route in iter_route_contexts(api.app.routes)
              if isinstance(route.original_route, Mount)]  # fmt: skip
    # The docs page's static files, public like it; the web UI's stylesheet and scripts.
    assert mounts == ["/docs/assets", "/static"]


def test_the_app_opens_exactly_the_public_routes(api: Api) -> None:
    assert security.PUBLIC == PUBLIC
    names = {endpoint.name for endpoint in endpoints(api.app)}
    assert names >= PUBLIC | VIEWER_WRITES | ADMIN_READS  # no name here is stale
    for endpoint in endpoints(api.app):
        expected = "admin" if endpoint.admin_only else "viewer"
        assert security.needed_role(endpoint.name, endpoint.method) == expected, endpoint


def test_every_route_but_the_public_ones_refuses_anonymous_requests(api: Api) -> None:
    anonymous = api.anonymous
    wrong_token = {"Authorization": "Bearer tomo_" + "x" * 43}
    unknown_session = {"Cookie": f"{SESSION_COOKIE}={'y' * 43}"}
    refused_not: list[str] = []
    for endpoint in protected(api.app):
        for credentials in ({}, wrong_token, unknown_session):
            for body in BODIES:
                headers = {**credentials, **body.get("headers", {})}
                options = {**body, "headers": headers}
                answer = anonymous.request(endpoint.method, endpoint.url, **options)
                if not is_problem(answer, 401) or "WWW-Authenticate" not in answer.headers:
                    refused_not.append(f"{endpoint} {credentials} {body}: {answer.status_code}")
    assert refused_not == []
    assert len(protected(api.app)) >= 40  # the walk found the routes


def test_the_public_routes_answer_anyone(api: Api) -> None:
    anonymous = api.anonymous
    for endpoint in endpoints(api.app):
        if endpoint.name in PUBLIC and endpoint.method in ("GET", "HEAD"):
            assert anonymous.request(endpoint.method, endpoint.url).status_code == 200, endpoint
    assert anonymous.get("/docs/assets/swagger-ui.css").status_code == 200
    assert is_problem(anonymous.post("/api/setup", json={}), 422)  # its body is read
    assert is_problem(anonymous.post("/api/auth/login", content=b"{"), 422)


def test_every_admin_route_refuses_a_viewer_whatever_the_body(api: Api) -> None:
    refused_not = [f"{endpoint}: {answer.status_code}"
                   for endpoint in protected(api.app) if endpoint.admin_only
                   for answer in answers(api.viewer.request, endpoint)
                   if not is_problem(answer, 403)]  # fmt: skip
    assert refused_not == []
    assert api.viewer.get("/api/marketplace/repos").status_code == 200  # the token works


def test_the_viewer_and_the_admin_pass_where_their_role_may(api: Api) -> None:
    """With names of nothing, the answers are 404 or 422: never a refusal, never a 500."""
    for user, endpoints_of_role in (
        (api.viewer, [e for e in protected(api.app) if not e.admin_only]),
        (api.admin, protected(api.app)),
    ):
        wrong = [f"{endpoint}: {answer.status_code}"
                 for endpoint in endpoints_of_role
                 for answer in answers(user.request, endpoint)
                 if answer.status_code in (401, 403) or answer.status_code >= 500]  # fmt: skip
        assert wrong == [], user.token[:12]


def test_a_revoked_token_is_refused(api: Api) -> None:
    made = api.viewer.post("/api/tokens", json={"name": "a script"}).json()
    script = As(api.anonymous, made["token"])
    assert script.get("/api/auth/me").json()["username"] == "vera"
    assert api.viewer.delete(f"/api/tokens/{made['id']}").status_code == 200
    for method, url in (("GET", "/api/auth/me"), ("GET", "/api/marketplace/repos"),
                        ("POST", "/api/auth/logout-everywhere")):  # fmt: skip
        assert is_problem(script.request(method, url), 401), url
    assert api.viewer.get("/api/auth/me").status_code == 200  # only that token ended


# -- sessions that ended ---------------------------------------------------------------


def move_session(api: Api, browser: Browser, **stamps: datetime) -> None:
    """Set the stored timestamps of a browser's session."""

    async def move(runtime: Runtime) -> None:
        async with runtime.db.session() as session, session.begin():
            await session.execute(update(BrowserSession)
                                  .where(BrowserSession.id_hash == digest(browser.session_id))
                                  .values(**stamps))  # fmt: skip

    api.run(move)


def last_seen(api: Api, browser: Browser) -> datetime:
    async def read(runtime: Runtime) -> datetime | None:
        async with runtime.db.session() as session:
            return await session.scalar(select(BrowserSession.last_seen_at)
                                        .where(BrowserSession.id_hash == digest(browser.session_id)))  # fmt: skip

    seen = api.run(read)
    assert seen is not None
    return seen


def refuses(browser: Browser) -> bool:
    """Whether the session is refused, for a read and for a write with its CSRF token."""
    read = browser.get("/api/auth/me")
    write = browser.post("/api/tokens", json={"name": "after the end"})
    return is_problem(read, 401) and is_problem(write, 401)


def test_a_session_idle_too_long_is_refused(api: Api, settings: Settings) -> None:
    browser = api.login("vera", VIEWER_PASSWORD)
    idle = timedelta(minutes=settings.session_idle_minutes)
    move_session(api, browser, last_seen_at=datetime.now(UTC) - idle + timedelta(minutes=5))
    assert browser.get("/api/auth/me").status_code == 200  # used in time: it lives on
    assert datetime.now(UTC) - last_seen(api, browser) < timedelta(minutes=1)  # and was seen
    move_session(api, browser, last_seen_at=datetime.now(UTC) - idle - timedelta(seconds=1))
    assert refuses(browser)


def session_count(api: Api) -> int:
    async def count(runtime: Runtime) -> int:
        async with runtime.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(BrowserSession)) or 0)

    return api.run(count)


def test_sessions_ended_by_time_are_deleted_when_the_next_one_starts(
    api: Api, settings: Settings
) -> None:
    idle, stale = api.login("vera", VIEWER_PASSWORD), api.login("vera", VIEWER_PASSWORD)
    alive = api.login("admin", ADMIN_PASSWORD)
    long_ago = datetime.now(UTC) - timedelta(minutes=settings.session_idle_minutes + 1)
    move_session(api, idle, last_seen_at=long_ago)
    move_session(api, stale, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert session_count(api) == 3
    api.login("vera", VIEWER_PASSWORD)
    assert session_count(api) == 2  # the new one, and the admin's that still lives
    assert alive.get("/api/auth/me").status_code == 200


def test_a_session_used_often_outlives_a_short_idle_limit(settings: Settings) -> None:
    """The last use is stored at least every quarter of the idle limit: a session
    in use never looks idle, however short the limit."""
    short = settings.model_copy(update={"session_idle_minutes": 0.03})  # 1.8 s
    with TestClient(create_app(short)) as client:
        users = users_of(client)
        browser = users.login("vera", VIEWER_PASSWORD)
        for _ in range(5):  # 3 s in all, beyond the limit, used every 0.6 s
            assert browser.get("/api/auth/me").status_code == 200
            time.sleep(0.6)
        assert browser.get("/api/auth/me").status_code == 200


def test_a_session_past_its_absolute_end_is_refused_however_busy(api: Api) -> None:
    browser = api.login("vera", VIEWER_PASSWORD)
    assert browser.get("/api/auth/me").status_code == 200
    move_session(api, browser, last_seen_at=datetime.now(UTC),
                 expires_at=datetime.now(UTC) - timedelta(seconds=1))  # fmt: skip
    assert refuses(browser)


# -- CSRF -------------------------------------------------------------------------


def user_names(api: Api) -> list[str]:
    return [user["username"] for user in api.admin.get("/api/users").json()]


def test_a_cookie_write_without_its_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    browser = api.login("admin", ADMIN_PASSWORD)
    another = api.login("admin", ADMIN_PASSWORD)
    walt = {"username": "walt", "password": "walt password 1"}
    for headers in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: "0" * 64},
                    {CSRF_HEADER: another.csrf_token}):  # fmt: skip
        refused = browser.post("/api/users", json=walt, csrf=False, headers=headers)
        assert is_problem(refused, 403), headers
        assert CSRF_HEADER in refused.json()["detail"]
        assert is_problem(browser.delete("/api/users/vera", csrf=False, headers=headers), 403)
    assert user_names(api) == ["admin", "vera"]
    assert browser.get("/api/users", csrf=False).status_code == 200  # reads need no token
    assert browser.post("/api/users", json=walt).status_code == 201  # with it: done
    assert user_names(api) == ["admin", "vera", "walt"]


def test_a_bearer_write_needs_no_csrf_token(api: Api) -> None:
    walt = {"username": "walt", "password": "walt password 1"}
    assert api.admin.post("/api/users", json=walt).status_code == 201


def test_the_login_sets_its_cookies_as_a_browser_should_keep_them(api: Api) -> None:
    credentials = {"username": "vera", "password": VIEWER_PASSWORD}
    plain = api.anonymous.post("/api/auth/login", json=credentials)
    secure = api.anonymous.post("https://testserver/api/auth/login", json=credentials)
    api.anonymous.cookies.clear()
    for answer, https in ((plain, False), (secure, True)):
        cookies = {line.split("=", 1)[0]: line.lower().split("; ")[1:]
                   for line in answer.headers.get_list("set-cookie")}  # fmt: skip
        assert {"httponly", "samesite=lax", "path=/"} <= set(cookies[SESSION_COOKIE])
        assert "httponly" not in cookies[CSRF_COOKIE]  # the page's script reads this copy
        assert ("secure" in cookies[SESSION_COOKIE]) is https
        assert answer.cookies[CSRF_COOKIE] == answer.json()["csrf_token"]
        assert answer.cookies[SESSION_COOKIE] not in answer.text


# -- login throttling ------------------------------------------------------------------


def login(client: TestClient, username: str, password: str) -> httpx.Response:
    answer = client.post("/api/auth/login", json={"username": username, "password": password})
    client.cookies.clear()
    return answer


def until_not_throttled(try_login: Callable[[], httpx.Response], within: float) -> httpx.Response:
    """Log in again and again (a throttled attempt costs nothing) until let through."""
    deadline = time.monotonic() + within
    while (answer := try_login()).status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.05)
    return answer


def assert_throttled(answer: httpx.Response, window: float) -> None:
    assert is_problem(answer, 429)
    problem = answer.json()
    assert problem["type"] == "urn:tomo:problem:too-many-attempts"
    assert answer.headers["Retry-After"] == str(problem["retry_after"])
    assert 1 <= problem["retry_after"] <= window


def test_wrong_logins_for_one_account_hold_it_back_for_a_while(api: Api) -> None:
    throttle = api.app.state.runtime.auth.throttle
    throttle.window = 3.0
    for _ in range(throttle.per_account):
        assert is_problem(login(api.anonymous, "vera", "wrong password"), 401)
    started = time.monotonic()
    assert_throttled(login(api.anonymous, "vera", VIEWER_PASSWORD), throttle.window)
    assert login(api.anonymous, "admin", ADMIN_PASSWORD).status_code == 200  # others log in
    released = until_not_throttled(lambda: login(api.anonymous, "vera", VIEWER_PASSWORD),
                                   within=throttle.window + 5)  # fmt: skip
    assert released.status_code == 200
    assert time.monotonic() - started < throttle.window + 1


def from_address(api: Api, host: str) -> TestClient:
    """A client at another address, on the app's event loop (where its database lives)."""
    client = TestClient(api.app, client=(host, 40000))
    client.portal = api.anonymous.portal
    return client


def test_wrong_logins_from_one_address_hold_it_back_for_every_account(api: Api) -> None:
    throttle = api.app.state.runtime.auth.throttle
    throttle.window, throttle.per_address = 3.0, 4  # fewer than the real 20: a quicker test
    assert throttle.per_address < throttle.per_account * 10
    for n in range(throttle.per_address):  # another made-up name each time
        assert is_problem(login(api.anonymous, f"guess{n}", "wrong password"), 401)
    assert_throttled(login(api.anonymous, "admin", ADMIN_PASSWORD), throttle.window)
    elsewhere = from_address(api, "192.0.2.7")
    assert login(elsewhere, "admin", ADMIN_PASSWORD).status_code == 200
    released = until_not_throttled(lambda: login(api.anonymous, "admin", ADMIN_PASSWORD),
                                   within=throttle.window + 5)  # fmt: skip
    assert released.status_code == 200


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(api: Api) -> None:
    unknown = login(api.anonymous, "nobody", "wrong password")
    wrong = login(api.anonymous, "vera", "wrong password")
    assert is_problem(unknown, 401)
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())
    assert unknown.headers.get_list("set-cookie") == wrong.headers.get_list("set-cookie") == []


def test_an_unknown_user_costs_the_same_hash_check_as_a_wrong_password(
    api: Api, argon2_calls: Counter[str]
) -> None:
    """Both verify one argon2 hash (an unknown name against a stand-in), so neither
    the answer nor the work done tells which names exist. Counted, not timed: a
    timing in a test only measures the machine's load."""
    costs = []
    for username in ("nobody", "vera"):
        argon2_calls.clear()
        login(api.anonymous, username, "wrong password")
        costs.append(dict(argon2_calls))
    assert costs[0] == costs[1] == {"verify": 1}, costs


# -- secrets ----------------------------------------------------------------------------

REPO_TOKEN = "ghp_repoCredentialNeverShown123"
WALT_PASSWORD = "walt's password, never shown"


def stored_digests(api: Api) -> list[str]:
    """What the database keeps in place of passwords and session ids."""

    async def read(runtime: Runtime) -> list[str]:
        async with runtime.db.session() as session:
            hashes = await session.scalars(select(User.password_hash))
            sessions = await session.scalars(select(BrowserSession.id_hash))
            return [*hashes, *sessions]

    return api.run(read)


def walk(admin: As, app: FastAPI) -> list[httpx.Response]:
    """GET every readable route, with every id and name the lists give for its
    parameters (a made-up one where a list gives none)."""
    values = {"repo": [r["id"] for r in admin.get("/api/marketplace/repos").json()],
              "user": [u[k] for u in admin.get("/api/users").json() for k in ("id", "username")],
              "app_id": [a["id"] for a in admin.get("/api/marketplace/apps").json()["items"]]}  # fmt: skip
    walked = []
    for endpoint in endpoints(app):
        if endpoint.method != "GET":
            continue
        names = re.findall(r"\{([^}]+)\}", endpoint.path)
        for filling in itertools.product(*(values.get(name) or ["none"] for name in names)):
            url = endpoint.path
            for name, value in zip(names, filling, strict=True):
                url = url.replace(f"{{{name}}}", value)
            walked.append(admin.get(url))
    return walked


def test_no_answer_of_a_full_walk_carries_a_secret(api: Api, make_repo) -> None:
    catalog: CatalogRepo = make_repo()
    catalog.add_app("notes")
    catalog.commit()
    local = api.admin.post("/api/marketplace/repos", json={"url": catalog.url, "name": "local"})
    assert api.admin.post(f"/api/marketplace/repos/{local.json()['id']}/sync").status_code == 200
    url = f"https://reader:{REPO_TOKEN}@example.invalid/private/apps.git"
    private = {"url": url, "name": "private", "branch": "main"}  # no branch: git would ask
    added = api.admin.post("/api/marketplace/repos", json=private)
    walt = {"username": "walt", "password": WALT_PASSWORD, "role": "admin"}
    made = [added, api.admin.post("/api/users", json=walt)]
    token = api.viewer.post("/api/tokens", json={"name": "walk"})
    browser = api.login("walt", WALT_PASSWORD)
    made.append(browser.put("/api/auth/password", json={
        "current_password": WALT_PASSWORD, "new_password": WALT_PASSWORD + "!"}))  # fmt: skip
    assert [answer.status_code for answer in made] == [201, 201, 200]
    tokens = [api.admin.token, api.viewer.token, token.json()["token"]]
    secrets = [ADMIN_PASSWORD, VIEWER_PASSWORD, WALT_PASSWORD, REPO_TOKEN, browser.session_id,
               *tokens, *map(digest, tokens), *stored_digests(api)]  # fmt: skip
    walked = walk(api.admin, api.app)
    assert len(walked) > 20 and all(answer.status_code < 500 for answer in walked)
    for answer in [*made, *walked]:
        for secret in secrets:
            assert secret not in answer.text, (answer.request.url, secret[:8])
        assert "$argon2" not in answer.text, answer.request.url


# -- problem details ------------------------------------------------------------------

DUMMIES: dict[str, Any] = {
    "str": "some-thing", "int": 7, "list[str]": ["a/x", "b/x"], "Sequence[str]": ["a", "b"],
    "str | Sequence[Refusal]": "some-thing",
    "Sequence[Refusal | str]": [errors.Refusal("a problem", ("name",), "a hint")],
}  # fmt: skip


def instance_of(cls: type[errors.TomoError]) -> errors.TomoError:
    """An error built from made-up values of its constructor's required arguments."""
    parameters = list(inspect.signature(cls).parameters.values())
    arguments = [DUMMIES[str(p.annotation)] for p in parameters if p.default is p.empty]
    return cls(*arguments)


def test_every_domain_error_maps_to_its_own_problem_type_and_status() -> None:
    seen: dict[str, type[errors.TomoError]] = {}
    for cls in all_errors():
        error = instance_of(cls)
        problem = of_domain_error(error)
        assert (problem.status, problem.detail) == (cls.http_status, error.message), cls
        assert re.fullmatch(r"urn:tomo:problem:[a-z]+(-[a-z]+)*", problem.type), problem.type
        assert problem.title and problem.type not in seen, cls
        seen[problem.type] = cls
    assert seen["urn:tomo:problem:too-many-attempts"] is errors.TooManyAttempts
    assert seen["urn:tomo:problem:host-key-changed"] is errors.HostKeyChanged
    assert len(seen) == len(all_errors())


def test_the_app_answers_every_domain_error_as_its_problem(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    by_name = {cls.__name__: cls for cls in all_errors()}

    @app.get("/api/raise/{name}")  # under /api: elsewhere an error is a page
    async def raise_error(name: str) -> None:
        raise instance_of(by_name[name])

    client = TestClient(app)  # no lifespan: no database is needed to answer
    for name, cls in by_name.items():
        answer = client.get(f"/api/raise/{name}")
        assert is_problem(answer, cls.http_status), name
        expected = of_domain_error(instance_of(cls)).model_dump(exclude_none=True)
        assert answer.json() == expected, name
    throttled = client.get("/api/raise/TooManyAttempts")
    assert throttled.headers["Retry-After"] == "7" == str(throttled.json()["retry_after"])
    assert client.get("/api/raise/Unauthenticated").headers["WWW-Authenticate"].startswith("Bearer")
