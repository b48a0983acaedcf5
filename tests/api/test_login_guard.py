"""What stands between a guesser and a password (issue 17): the throttle reserves an
attempt before any password hash runs, an admin unlocks an account, a browser that
logged in before is not locked out by strangers' guesses, tomo believes the address
a trusted reverse proxy forwards, and a login never comes from another site."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Api, users_of
from tomo.app import create_app
from tomo.config import Settings
from tomo.http.problems import MEDIA_TYPE
from tomo.http.security import DEVICE_COOKIE, SESSION_COOKIE

BURST = 120
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}


def burst(api: Api, logins: list[dict[str, str]]) -> list[httpx.Response]:
    """Every login sent at once, on the app's own event loop (where its database
    lives), from one address."""

    async def send(_runtime: Any) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.app, client=("192.0.2.50", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return list(await asyncio.gather(
                *(client.post("/api/auth/login", json=login) for login in logins)
            ))  # fmt: skip

    return api.run(send)


def outcomes(answers: list[httpx.Response]) -> Counter[int]:
    return Counter(answer.status_code for answer in answers)


def assert_held_back(answer: httpx.Response) -> None:
    assert (answer.status_code, answer.headers["content-type"]) == (429, MEDIA_TYPE)
    problem = answer.json()
    assert problem["type"] == "urn:tomo:problem:too-many-attempts"
    assert answer.headers["Retry-After"] == str(problem["retry_after"])
    assert problem["retry_after"] >= 1


def login(client: TestClient, username: str, password: str, **options: Any) -> httpx.Response:
    answer = client.post("/api/auth/login", json={"username": username, "password": password},
                         **options)  # fmt: skip
    client.cookies.clear()
    return answer


# -- 1. an attempt is reserved before its password is checked ----------------------


def test_a_burst_of_wrong_logins_checks_no_more_passwords_than_the_limit(
    api: Api, argon2_calls: Counter[str]
) -> None:
    limit = api.app.state.runtime.auth.throttle.per_account
    answers = burst(api, [{"username": "vera", "password": f"guess {n}"} for n in range(BURST)])
    assert outcomes(answers) == {401: limit, 429: BURST - limit}
    assert argon2_calls["verify"] == limit
    for answer in answers:
        if answer.status_code == 429:
            assert_held_back(answer)
    assert_held_back(login(api.anonymous, "vera", VIEWER_PASSWORD))  # her own try too
    assert login(api.anonymous, "admin", ADMIN_PASSWORD).status_code == 200


def test_a_burst_for_an_unknown_user_is_answered_as_one_for_a_known_user(
    api: Api, argon2_calls: Counter[str]
) -> None:
    def shapes(answers: list[httpx.Response]) -> Counter[tuple[int, str]]:
        return Counter((a.status_code, a.json()["title"] + a.json()["detail"].split(";")[0])
                       for a in answers)  # fmt: skip

    known = burst(api, [{"username": "vera", "password": f"guess {n}"} for n in range(40)])
    unknown = burst(api, [{"username": "nobody", "password": f"guess {n}"} for n in range(40)])
    assert shapes(known) == shapes(unknown)
    assert argon2_calls["verify"] == 2 * api.app.state.runtime.auth.throttle.per_account


def test_a_burst_from_one_address_checks_no_more_passwords_than_its_limit(
    api: Api, argon2_calls: Counter[str]
) -> None:
    limit = api.app.state.runtime.auth.throttle.per_address
    answers = burst(api, [{"username": f"guess{n}", "password": "wrong"} for n in range(60)])
    assert outcomes(answers) == {401: limit, 429: 60 - limit}
    assert argon2_calls["verify"] == limit


# -- 2a. an admin unlocks an account -------------------------------------------------


def test_an_admin_unlocks_an_account_and_its_share_of_the_address_counter(api: Api) -> None:
    throttle = api.app.state.runtime.auth.throttle
    throttle.per_address = throttle.per_account + 2
    for _ in range(throttle.per_account):
        assert login(api.anonymous, "admin", "a guess").status_code == 401
    for n in range(2):
        assert login(api.anonymous, f"nobody{n}", "a guess").status_code == 401
    assert_held_back(login(api.anonymous, "admin", ADMIN_PASSWORD))
    assert_held_back(login(api.anonymous, "vera", VIEWER_PASSWORD))  # the address is held

    refused = api.viewer.post("/api/users/admin/unlock")
    assert refused.status_code == 403
    assert api.admin.post("/api/users/ghost/unlock").status_code == 404
    unlocked = api.admin.post("/api/users/admin/unlock")
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json() == {"username": "admin", "failed_logins_forgotten": 5}
    assert login(api.anonymous, "vera", VIEWER_PASSWORD).status_code == 200
    assert login(api.anonymous, "admin", ADMIN_PASSWORD).status_code == 200
    again = api.admin.post("/api/users/admin/unlock")
    assert again.json() == {"username": "admin", "failed_logins_forgotten": 0}


# -- 2b. a known device is not locked out by strangers' guesses ----------------------


def test_a_browser_that_logged_in_before_is_not_locked_out_by_strangers(api: Api) -> None:
    first = api.anonymous.post("/api/auth/login",
                               json={"username": "admin", "password": ADMIN_PASSWORD})  # fmt: skip
    device = first.cookies[DEVICE_COOKIE]
    api.anonymous.cookies.clear()
    mine = {"Cookie": f"{DEVICE_COOKIE}={device}"}
    limit = api.app.state.runtime.auth.throttle.per_account
    for _ in range(limit):
        assert login(api.anonymous, "admin", "a stranger's guess").status_code == 401
    assert_held_back(login(api.anonymous, "admin", ADMIN_PASSWORD))  # the account is locked

    again = login(api.anonymous, "admin", ADMIN_PASSWORD, headers=mine)
    assert again.status_code == 200 and SESSION_COOKIE in again.cookies
    assert again.cookies.get(DEVICE_COOKIE) in (None, device)  # the same device still
    # The device cookie is no key to guess with: its own wrong tries hold it back.
    for _ in range(limit):
        assert login(api.anonymous, "admin", "my typo", headers=mine).status_code == 401
    assert_held_back(login(api.anonymous, "admin", ADMIN_PASSWORD, headers=mine))


def test_a_device_cookie_opens_only_its_own_account_and_cannot_be_made_up(api: Api) -> None:
    veras = api.anonymous.post("/api/auth/login",
                               json={"username": "vera", "password": VIEWER_PASSWORD})  # fmt: skip
    her_device = veras.cookies[DEVICE_COOKIE]
    api.anonymous.cookies.clear()
    for _ in range(api.app.state.runtime.auth.throttle.per_account):
        login(api.anonymous, "admin", "a stranger's guess")
    for cookie in (her_device, "x" * 43, ""):
        held = login(api.anonymous, "admin", ADMIN_PASSWORD,
                     headers={"Cookie": f"{DEVICE_COOKIE}={cookie}"})  # fmt: skip
        assert_held_back(held)


def test_the_device_cookie_outlives_logout_and_is_kept_from_scripts(api: Api) -> None:
    first = api.anonymous.post("/api/auth/login",
                               json={"username": "vera", "password": VIEWER_PASSWORD})  # fmt: skip
    cookie = next(line for line in first.headers.get_list("set-cookie")
                  if line.startswith(f"{DEVICE_COOKIE}="))  # fmt: skip
    attributes = set(cookie.lower().split("; ")[1:])
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert any(attribute.startswith("max-age=") for attribute in attributes)
    csrf = {"X-CSRF-Token": first.json()["csrf_token"]}
    out = api.anonymous.post("/api/auth/logout", headers=csrf)
    assert out.status_code == 204
    assert not any(line.startswith(f"{DEVICE_COOKIE}=")
                   for line in out.headers.get_list("set-cookie"))  # fmt: skip
    api.anonymous.cookies.clear()


# -- 2c. behind a reverse proxy -----------------------------------------------------


@pytest.fixture
def proxied(settings: Settings) -> Iterator[Api]:
    """tomo told to believe the proxy at 127.0.0.1 (where the test client connects from)."""
    trusting = settings.model_copy(update={"trusted_proxies": "127.0.0.1, ::1"})
    with TestClient(create_app(trusting), client=("127.0.0.1", 50000)) as client:
        yield users_of(client)


def test_behind_a_trusted_proxy_the_throttle_keys_on_the_forwarded_address(proxied: Api) -> None:
    throttle = proxied.app.state.runtime.auth.throttle
    throttle.per_address = 3
    guesser = {"X-Forwarded-For": "203.0.113.9"}
    for n in range(throttle.per_address):
        assert login(proxied.anonymous, f"guess{n}", "wrong", headers=guesser).status_code == 401
    assert_held_back(login(proxied.anonymous, "vera", VIEWER_PASSWORD, headers=guesser))
    someone_else = {"X-Forwarded-For": "198.51.100.4", "X-Forwarded-Proto": "https"}
    answer = login(proxied.anonymous, "vera", VIEWER_PASSWORD, headers=someone_else)
    assert answer.status_code == 200
    assert "secure" in answer.headers["set-cookie"].lower()  # https, as the proxy says
    clients = {event["client"] for event in proxied.admin.get("/api/audit").json()
               if event["action"] == "login"}  # fmt: skip
    assert {"203.0.113.9", "198.51.100.4"} <= clients


def test_forwarded_headers_are_ignored_unless_their_sender_is_trusted(api: Api) -> None:
    """By default tomo trusts no proxy: anyone could write X-Forwarded-For."""
    throttle = api.app.state.runtime.auth.throttle
    throttle.per_address = 3
    for n in range(throttle.per_address):
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert login(api.anonymous, f"guess{n}", "wrong", headers=forged).status_code == 401
    assert_held_back(login(api.anonymous, "vera", VIEWER_PASSWORD,
                           headers={"X-Forwarded-For": "198.51.100.4"}))  # fmt: skip


# -- 3. no login from another site ---------------------------------------------------


def test_a_login_from_another_site_is_refused_and_sets_no_cookie(api: Api) -> None:
    credentials = {"username": "vera", "password": VIEWER_PASSWORD}
    for headers in (CROSS_SITE, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "null"}):  # fmt: skip
        refused = api.anonymous.post("/api/auth/login", json=credentials, headers=headers)
        assert (refused.status_code, refused.json()["type"]) == (
            403, "urn:tomo:problem:forbidden"), headers  # fmt: skip
        assert "another site" in refused.json()["detail"]
        assert refused.headers.get_list("set-cookie") == []
    same = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    assert login(api.anonymous, "vera", VIEWER_PASSWORD, headers=same).status_code == 200
    typed = {"Sec-Fetch-Site": "none"}  # the address typed, a bookmark: no site at all
    assert login(api.anonymous, "vera", VIEWER_PASSWORD, headers=typed).status_code == 200


def test_setup_from_another_site_is_refused_and_leaves_setup_open(settings: Settings) -> None:
    with TestClient(create_app(settings)) as fresh:
        body = {"username": "mallory", "password": ADMIN_PASSWORD}
        refused = fresh.post("/api/setup", json=body, headers=CROSS_SITE)
        assert refused.status_code == 403 and "another site" in refused.json()["detail"]
        assert fresh.get("/api/setup").json() == {"open": True}
        assert fresh.post("/api/setup", json=body).status_code == 201
