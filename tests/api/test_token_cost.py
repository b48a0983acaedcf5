"""A request with a valid token costs no password hash: a bearer token is looked
up by its SHA-256 digest, so scripts and the CLI in remote mode never wait for
argon2 (which costs a sixth of a second of CPU by design)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher

from tests.api.conftest import ADMIN_PASSWORD, Api


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
