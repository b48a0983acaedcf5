"""`tomo user …` on a local data directory, through the real entry point: a password
set from the shell revokes the account's API tokens unless told not to, and an
admin on the box unlocks an account that wrong passwords locked (the running
server's side of it: tests/cli/test_remote.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo

PASSWORD = "vera's first password"


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    tomo = Tomo(tmp_path / "data")
    tomo.run("user", "create", "vera", "--password-stdin", stdin=f"{PASSWORD}\n")
    tomo.run("token", "create", "backup", "--user", "vera")
    return tomo


def live_tokens(tomo: Tomo) -> list[str]:
    return [token["name"] for token in tomo.json("token", "list") if not token["revoked_at"]]


def test_passwd_revokes_the_users_api_tokens_by_default(tomo: Tomo) -> None:
    done = tomo.run("user", "passwd", "vera", "--password-stdin", "--json",
                    stdin="another password 1\n")  # fmt: skip
    answer = json.loads(done.stdout)
    assert (answer["username"], answer["tokens_revoked"], answer["sessions_ended"]) == (
        "vera", 1, 0)  # fmt: skip
    assert live_tokens(tomo) == []
    said = tomo.run("user", "passwd", "vera", "--password-stdin", stdin="a third password\n")
    assert said.stderr.strip() == (
        "Password of vera changed; their browser sessions have ended; they had no API token"
    )


def test_passwd_keeps_the_tokens_when_told(tomo: Tomo) -> None:
    kept = tomo.run("user", "passwd", "vera", "--password-stdin", "--keep-tokens",
                    stdin="another password 1\n")  # fmt: skip
    assert kept.stderr.strip() == (
        "Password of vera changed; their browser sessions have ended; their API tokens "
        "still work (revoke them with `tomo token revoke ID`)"
    )
    assert live_tokens(tomo) == ["backup"]


def test_unlock_names_a_user_and_says_what_it_forgot(tomo: Tomo) -> None:
    assert tomo.json("user", "unlock", "vera") == {"username": "vera",
                                                   "failed_logins_forgotten": 0}  # fmt: skip
    assert tomo.run("user", "unlock", "vera").stderr.strip() == (
        "vera had no failed logins to forget"
    )
    assert tomo.error("user", "unlock", "ghost", expect=3) == (
        "error: no user with id or name 'ghost'"
    )
