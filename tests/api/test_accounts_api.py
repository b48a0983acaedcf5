"""Accounts through the real app: setup, users, passwords, sessions, API tokens and
the audit log, as an admin, a viewer and a browser would use them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Api, As, Browser
from tomo.app import create_app
from tomo.auth.schemas import Credentials, UserPublic
from tomo.config import Settings
from tomo.errors import Conflict
from tomo.http.problems import MEDIA_TYPE
from tomo.http.security import SESSION_COOKIE
from tomo.runtime import Runtime

WALT = {"username": "walt", "password": "walt password 1"}
PUBLIC_USER_FIELDS = {"id", "username", "role", "created_at"}
PUBLIC_TOKEN_FIELDS = {"id", "name", "username", "created_at", "last_used_at", "revoked_at"}


def problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """The problem details of an answer that must be one, of this status and type."""
    assert (answer.status_code, answer.headers["content-type"]) == (status, MEDIA_TYPE), answer.text
    details: dict[str, Any] = answer.json()
    assert details["type"] == f"urn:tomo:problem:{kind}"
    return details


def login(client: TestClient, username: str, password: str) -> int:
    answer = client.post("/api/auth/login", json={"username": username, "password": password})
    client.cookies.clear()
    return answer.status_code


def user_names(api: Api) -> list[str]:
    return [user["username"] for user in api.admin.get("/api/users").json()]


# -- setup ------------------------------------------------------------------------


@pytest.fixture
def fresh(settings: Settings) -> Iterator[TestClient]:
    """A tomo that nobody has set up yet."""
    with TestClient(create_app(settings)) as client:
        yield client


def test_setup_makes_the_first_admin_then_closes(fresh: TestClient) -> None:
    assert fresh.get("/api/setup").json() == {"open": True}
    short = fresh.post("/api/setup", json={"username": "root", "password": "short"})
    assert problem(short, 422, "invalid-input")["errors"][0]["field"] == "password"
    assert fresh.get("/api/setup").json() == {"open": True}  # a refused setup leaves it open
    made = fresh.post("/api/setup", json={"username": "root", "password": ADMIN_PASSWORD})
    assert made.status_code == 201
    assert (set(made.json()), made.json()["role"]) == (PUBLIC_USER_FIELDS, "admin")
    assert fresh.get("/api/setup").json() == {"open": False}
    for username in ("root", "other"):
        again = fresh.post("/api/setup", json={"username": username, "password": ADMIN_PASSWORD})
        problem(again, 409, "conflict")
    assert login(fresh, "root", ADMIN_PASSWORD) == 200
    assert login(fresh, "other", ADMIN_PASSWORD) == 401


def test_two_setups_at_once_make_one_admin(fresh: TestClient) -> None:
    async def race(runtime: Runtime) -> list[UserPublic | BaseException]:
        first, second = (Credentials.model_validate({"username": name,
                                                     "password": ADMIN_PASSWORD})
                         for name in ("first", "second"))  # fmt: skip
        return list(await asyncio.gather(runtime.auth.setup(first), runtime.auth.setup(second),
                                         return_exceptions=True))  # fmt: skip

    assert fresh.portal is not None
    outcomes = fresh.portal.call(race, cast(FastAPI, fresh.app).state.runtime)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "UserPublic"]
    assert any(isinstance(outcome, Conflict) for outcome in outcomes)


def test_setup_stays_closed_for_good_even_once_its_admin_is_gone(api: Api) -> None:
    """The last admin cannot be deleted, so tomo never has no user again, and setup,
    which opens only then, stays closed."""
    second = {"username": "root2", "password": "root2 password", "role": "admin"}
    assert api.admin.post("/api/users", json=second).status_code == 201
    root2 = As(api.anonymous, api.admin.post("/api/tokens", json={
        "name": "root2's", "username": "root2"}).json()["token"])  # fmt: skip
    assert root2.delete("/api/users/admin").status_code == 200  # the setup's admin
    assert root2.delete("/api/users/vera").status_code == 200
    problem(root2.delete("/api/users/root2"), 409, "conflict")
    assert [user["username"] for user in root2.get("/api/users").json()] == ["root2"]
    assert api.anonymous.get("/api/setup").json() == {"open": False}
    retried = api.anonymous.post("/api/setup", json={"username": "admin",
                                                     "password": ADMIN_PASSWORD})  # fmt: skip
    problem(retried, 409, "conflict")


# -- users -------------------------------------------------------------------------


def test_an_admin_creates_lists_shows_and_deletes_users(api: Api) -> None:
    made = api.admin.post("/api/users", json=WALT)
    assert made.status_code == 201
    walt = made.json()
    assert (set(walt), walt["username"], walt["role"]) == (PUBLIC_USER_FIELDS, "walt", "viewer")
    problem(api.admin.post("/api/users", json=WALT), 409, "conflict")
    assert user_names(api) == ["admin", "vera", "walt"]
    assert api.admin.get(f"/api/users/{walt['id']}").json() == walt
    assert api.admin.get("/api/users/walt").json() == walt
    browser = api.login("walt", WALT["password"])
    script = As(api.anonymous, api.admin.post("/api/tokens", json={
        "name": "walt's", "username": "walt"}).json()["token"])  # fmt: skip
    assert api.admin.delete("/api/users/walt").json() == walt
    problem(api.admin.get("/api/users/walt"), 404, "not-found")
    problem(api.admin.delete("/api/users/walt"), 404, "not-found")
    problem(browser.get("/api/auth/me"), 401, "unauthenticated")  # their session ended
    problem(script.get("/api/auth/me"), 401, "unauthenticated")  # and their tokens
    assert "walt" not in {token["username"] for token in api.admin.get("/api/tokens").json()}


@pytest.mark.parametrize(
    ("user", "field"),
    [
        ({"username": "walt", "password": "short"}, "password"),
        ({"username": "Not A Name", "password": "long enough 1"}, "body.username"),
        ({"username": "walt", "password": "long enough 1", "role": "root"}, "body.role"),
        ({"username": "walt"}, "body.password"),
    ],
)
def test_a_user_that_cannot_be_made_is_refused_by_field(
    api: Api, user: dict[str, str], field: str
) -> None:
    refused = problem(api.admin.post("/api/users", json=user), 422, "invalid-input")
    assert [error["field"] for error in refused["errors"]] == [field]
    assert user_names(api) == ["admin", "vera"]


def test_the_last_admin_cannot_be_deleted(api: Api) -> None:
    refused = problem(api.admin.delete("/api/users/admin"), 409, "conflict")
    assert "last admin" in refused["detail"]
    assert user_names(api) == ["admin", "vera"]


# -- passwords -----------------------------------------------------------------------


def change(browser: Browser | As, new: str, current: str | None, **options: bool) -> httpx.Response:
    body = {"new_password": new} | ({"current_password": current} if current else {})
    return browser.put("/api/auth/password", json=body | options)


def test_changing_ones_password_needs_the_current_one_and_ends_other_sessions(api: Api) -> None:
    asking, elsewhere = api.login("vera", VIEWER_PASSWORD), api.login("vera", VIEWER_PASSWORD)
    new = "vera's new password"
    problem(change(asking, new, "not the password"), 403, "forbidden")
    problem(change(asking, new, None), 403, "forbidden")
    problem(change(asking, "short", VIEWER_PASSWORD), 422, "invalid-input")
    assert elsewhere.get("/api/auth/me").status_code == 200  # nothing changed yet
    changed = change(asking, new, VIEWER_PASSWORD)
    assert (changed.status_code, changed.json()["username"]) == (200, "vera")
    assert asking.get("/api/auth/me").status_code == 200  # the session that asked lives on
    problem(elsewhere.get("/api/auth/me"), 401, "unauthenticated")
    problem(api.viewer.get("/api/auth/me"), 401, "unauthenticated")  # her token: revoked
    assert (login(api.anonymous, "vera", VIEWER_PASSWORD), login(api.anonymous, "vera", new)) == (
        401, 200)  # fmt: skip


def test_a_password_change_revokes_the_accounts_api_tokens_unless_told_not_to(
    api: Api,
) -> None:
    """A stolen password may have made tokens: by default they go with it."""
    second = api.viewer.post("/api/tokens", json={"name": "backup script"}).json()["token"]
    browser = api.login("vera", VIEWER_PASSWORD)
    kept = change(browser, "vera's new password", VIEWER_PASSWORD, revoke_tokens=False)
    assert kept.status_code == 200, kept.text
    assert (kept.json()["tokens_revoked"], kept.json()["username"]) == (0, "vera")
    assert api.viewer.get("/api/auth/me").status_code == 200
    changed = change(browser, "vera's third password", "vera's new password")
    assert changed.json()["tokens_revoked"] == 2
    for token in (api.viewer.token, second):
        refused = api.anonymous.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        problem(refused, 401, "unauthenticated")
    assert browser.get("/api/auth/me").status_code == 200  # the session that asked lives on
    assert all(t["revoked_at"] for t in api.admin.get("/api/tokens").json()
               if t["username"] == "vera")  # fmt: skip


def test_the_token_that_changes_its_own_password_is_spared(api: Api) -> None:
    other = api.viewer.post("/api/tokens", json={"name": "another"}).json()["token"]
    changed = change(api.viewer, "vera's new password", VIEWER_PASSWORD)
    assert (changed.json()["tokens_revoked"], changed.json()["sessions_ended"]) == (1, 0)
    assert api.viewer.get("/api/auth/me").status_code == 200
    refused = api.anonymous.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"})
    problem(refused, 401, "unauthenticated")


def test_an_admins_reset_revokes_the_users_tokens_unless_told_not_to(api: Api) -> None:
    kept = api.admin.put("/api/users/vera/password",
                         json={"new_password": "set by the admin", "revoke_tokens": False})  # fmt: skip
    assert kept.json()["tokens_revoked"] == 0
    assert api.viewer.get("/api/auth/me").status_code == 200
    reset = api.admin.put("/api/users/vera/password", json={"new_password": "set again 12"})
    assert reset.json()["tokens_revoked"] == 1
    problem(api.viewer.get("/api/auth/me"), 401, "unauthenticated")
    assert api.admin.get("/api/auth/me").status_code == 200  # the admin's own token: untouched


def test_guessing_the_current_password_is_throttled_like_logins(api: Api) -> None:
    """A stolen session or token is no way around the login throttle."""
    throttle = api.app.state.runtime.auth.throttle
    for _ in range(throttle.per_account):
        problem(change(api.viewer, "vera's new password", "a guess 1234"), 403, "forbidden")
    held = change(api.viewer, "vera's new password", VIEWER_PASSWORD)
    assert problem(held, 429, "too-many-attempts")["retry_after"] > 0
    assert login(api.anonymous, "vera", VIEWER_PASSWORD) == 429  # one throttle for both
    assert login(api.anonymous, "admin", ADMIN_PASSWORD) == 200


def test_an_admin_resets_another_users_password(api: Api) -> None:
    vera = api.login("vera", VIEWER_PASSWORD)
    reset = api.admin.put("/api/users/vera/password",
                          json={"new_password": "set by the admin", "revoke_tokens": False})  # fmt: skip
    assert reset.status_code == 200
    problem(vera.get("/api/auth/me"), 401, "unauthenticated")
    assert login(api.anonymous, "vera", "set by the admin") == 200
    problem(api.viewer.put("/api/users/admin/password", json={"new_password": "taken over!"}),
            403, "forbidden")  # fmt: skip
    assert login(api.anonymous, "admin", ADMIN_PASSWORD) == 200


def test_an_admins_own_password_needs_the_current_one_on_either_route(api: Api) -> None:
    url = "/api/users/admin/password"
    problem(api.admin.put(url, json={"new_password": "admin password 2"}), 403, "forbidden")
    problem(change(api.admin, "admin password 2", None), 403, "forbidden")
    body = {"current_password": ADMIN_PASSWORD, "new_password": "admin password 2"}
    assert api.admin.put(url, json=body).status_code == 200
    assert login(api.anonymous, "admin", "admin password 2") == 200


# -- sessions ----------------------------------------------------------------------


def test_logout_ends_the_session(api: Api) -> None:
    browser = api.login("vera", VIEWER_PASSWORD)
    problem(browser.post("/api/auth/logout", csrf=False), 403, "forbidden")
    assert browser.get("/api/auth/me").status_code == 200  # a forged logout ends nothing
    out = browser.post("/api/auth/logout")
    assert out.status_code == 204
    assert any(line.startswith(f'{SESSION_COOKIE}=""') and "max-age=0" in line.lower()
               for line in out.headers.get_list("set-cookie"))  # fmt: skip
    problem(browser.get("/api/auth/me"), 401, "unauthenticated")  # the cookie, sent again


def test_logout_everywhere_ends_every_session_of_the_user_only(api: Api) -> None:
    sessions = [api.login("vera", VIEWER_PASSWORD) for _ in range(2)]
    admin = api.login("admin", ADMIN_PASSWORD)
    assert sessions[0].post("/api/auth/logout-everywhere").json() == {"ended": 2}
    for browser in sessions:
        problem(browser.get("/api/auth/me"), 401, "unauthenticated")
    assert admin.get("/api/auth/me").status_code == 200
    assert api.viewer.get("/api/auth/me").status_code == 200  # API tokens stay


def test_a_session_knows_its_user(api: Api) -> None:
    me = api.login("vera", VIEWER_PASSWORD).get("/api/auth/me").json()
    assert (set(me), me["username"], me["role"]) == (PUBLIC_USER_FIELDS, "vera", "viewer")


# -- API tokens -----------------------------------------------------------------------


def test_a_token_is_shown_once_listed_without_its_value_and_revocable(api: Api) -> None:
    made = api.admin.post("/api/tokens", json={"name": "backup script"})
    assert made.status_code == 201
    token = made.json()
    assert set(token) == PUBLIC_TOKEN_FIELDS | {"token"} and token["token"].startswith("tomo_")
    assert (token["username"], token["last_used_at"], token["revoked_at"]) == ("admin", None, None)
    script = As(api.anonymous, token["token"])

    def listed() -> dict[str, Any]:
        answer = api.admin.get("/api/tokens")
        assert token["token"] not in answer.text
        found: dict[str, Any] = next(t for t in answer.json() if t["id"] == token["id"])
        assert set(found) == PUBLIC_TOKEN_FIELDS
        return found

    assert listed()["last_used_at"] is None
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert script.get("/api/auth/me").status_code == 200
    assert datetime.fromisoformat(listed()["last_used_at"]) >= before
    revoked = script.delete(f"/api/tokens/{token['id']}")  # a token may revoke itself
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    problem(script.get("/api/auth/me"), 401, "unauthenticated")
    assert listed()["revoked_at"] == revoked.json()["revoked_at"]
    again = api.admin.delete(f"/api/tokens/{token['id']}")  # revoking twice changes nothing
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_a_viewer_sees_and_revokes_only_their_own_tokens(api: Api) -> None:
    admins = api.admin.get("/api/tokens").json()
    own = api.viewer.get("/api/tokens").json()
    assert {t["username"] for t in own} == {"vera"} and {t["username"] for t in admins} == {
        "admin", "vera"}  # fmt: skip
    admin_token = next(t for t in admins if t["username"] == "admin")
    problem(api.viewer.delete(f"/api/tokens/{admin_token['id']}"), 404, "not-found")
    assert api.admin.get("/api/auth/me").status_code == 200
    assert api.viewer.delete(f"/api/tokens/{own[0]['id']}").status_code == 200
    problem(api.viewer.get("/api/tokens"), 401, "unauthenticated")  # that was its own


def test_only_an_admin_makes_a_token_for_someone_else(api: Api) -> None:
    for someone in ("admin", "nobody"):  # the same answer: no name is confirmed to a viewer
        made = api.viewer.post("/api/tokens", json={"name": "theirs", "username": someone})
        problem(made, 403, "forbidden")
    mine = api.viewer.post("/api/tokens", json={"name": "mine", "username": "vera"})
    assert mine.status_code == 201
    problem(api.admin.post("/api/tokens", json={"name": "x", "username": "nobody"}), 404,
            "not-found")  # fmt: skip
    for_vera = api.admin.post("/api/tokens", json={"name": "for vera", "username": "vera"})
    assert for_vera.json()["username"] == "vera"
    as_vera = As(api.anonymous, for_vera.json()["token"])
    problem(as_vera.get("/api/users"), 403, "forbidden")  # the owner's role, not the maker's
    problem(api.viewer.post("/api/tokens", json={"name": ""}), 422, "invalid-input")


# -- audit ------------------------------------------------------------------------------


def audit(api: Api, **params: int) -> list[dict[str, Any]]:
    answer = api.admin.get("/api/audit", params=params)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()
    return events


def entry(events: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """The newest event with these fields."""
    found = [e for e in events if fields.items() <= e.items()]
    assert found, fields
    return found[0]


def test_the_audit_log_records_logins_and_writes_with_who_and_where(api: Api) -> None:
    assert login(api.anonymous, "mallory", "guessing 1234") == 401
    assert login(api.anonymous, "vera", "guessing 1234") == 401
    assert login(api.anonymous, "vera", VIEWER_PASSWORD) == 200
    assert api.admin.post("/api/users", json=WALT).status_code == 201
    assert api.viewer.delete("/api/users/walt").status_code == 403
    assert api.anonymous.delete("/api/users/walt").status_code == 401
    api.admin.get("/api/users")
    events = audit(api)
    where = {"client": "testclient"}
    failed = entry(events, action="login", actor="mallory", outcome="401", **where)
    assert failed["detail"] == entry(events, action="login", actor="vera", outcome="401")["detail"]
    entry(events, action="login", actor="vera", outcome="ok", **where)
    made = entry(events, action="create_user", actor="admin", outcome="ok", **where)
    assert made["target"] == "/api/users"
    entry(events, action="delete_user", actor="vera", outcome="403", target="/api/users/walt")
    # Refused without a login: tallied, not stored one by one (see test_audit_outcomes).
    tally = entry(events, action="anonymous_writes", actor=None, outcome="refused")
    assert "401 ×1" in tally["detail"] and "delete_user ×1" in tally["detail"]
    assert not [e for e in events if e["action"] in ("list_users", "audit")]  # reads are not
    assert "guessing" not in str(events) and WALT["password"] not in str(events)
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    assert audit(api, limit=2, offset=1) == events[1:3]


def test_writes_to_no_route_are_not_audited(api: Api) -> None:
    """They change nothing, and anyone could send them by the thousand."""
    before = audit(api)
    assert api.anonymous.post("/api/no-such-thing", json={}).status_code == 404
    assert api.anonymous.delete("/api/users").status_code == 405
    assert api.admin.post("/api/users", json=WALT).status_code == 201
    new = audit(api)[: -len(before) or None]
    assert [(e["action"], e["outcome"]) for e in new] == [("create_user", "ok")]


def test_the_audit_log_is_for_admins(api: Api) -> None:
    problem(api.viewer.get("/api/audit"), 403, "forbidden")
    problem(api.anonymous.get("/api/audit"), 401, "unauthenticated")
    problem(api.admin.get("/api/audit", params={"limit": 0}), 422, "invalid-input")
