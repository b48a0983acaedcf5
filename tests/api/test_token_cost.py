"""A request with a valid token costs no password hash: a bearer token is looked
up by its SHA-256 digest, so scripts and the CLI in remote mode never wait for
argon2 (which costs a sixth of a second of CPU by design)."""

from __future__ import annotations

from collections import Counter

from tests.api.conftest import ADMIN_PASSWORD, Api


def test_token_requests_hash_no_password(api: Api, argon2_calls: Counter[str]) -> None:
    for _ in range(5):
        assert api.admin.get("/api/auth/me").status_code == 200
        assert api.admin.get("/api/marketplace/apps", params={"q": "media"}).status_code == 200
        assert api.viewer.get("/api/servers").status_code == 200
    made = api.admin.post("/api/tokens", json={"name": "another"})
    assert made.status_code == 201
    assert argon2_calls == Counter()


def test_the_spy_sees_a_login(api: Api, argon2_calls: Counter[str]) -> None:
    """The other test cannot pass for want of seeing: a login is one verification."""
    api.login("admin", ADMIN_PASSWORD)
    assert argon2_calls["verify"] == 1
