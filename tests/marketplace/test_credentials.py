"""Credentials in repository URLs: stored apart and encrypted, handed to git
through its environment only, and never shown, returned or put in an error."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tomo.config import Settings
from tomo.errors import GitError, SyncFailed
from tomo.marketplace.credentials import RepoCredentials
from tomo.marketplace.git import RemoteLogin, run_git
from tomo.marketplace.models import MarketplaceRepo
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime

SECRET = "s3cret"


async def stored_row(runtime: Runtime, repo_id: str) -> MarketplaceRepo:
    async with runtime.db.session() as session:
        row = await session.get(MarketplaceRepo, repo_id)
    assert row is not None
    return row


def files_holding(directory: Path, text: str) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


async def test_credentials_are_stored_apart_from_the_url_and_encrypted(
    runtime: Runtime, settings: Settings
) -> None:
    url = f"https://user:{SECRET}@example.invalid/x/y.git"
    added = await runtime.marketplace.add_repo(RepoCreate(url=url, name="private", branch="main"))

    assert (added.url, added.has_credentials) == ("https://example.invalid/x/y.git", True)
    row = await stored_row(runtime, "private")
    assert row.url == "https://example.invalid/x/y.git"
    assert row.credentials_enc is not None and SECRET not in row.credentials_enc
    assert json.loads(runtime.marketplace.secrets.decrypt(row.credentials_enc)) == {
        "username": "user",
        "password": SECRET,
    }
    shown = [*await runtime.marketplace.list_repos(), await runtime.marketplace.get_repo("private")]
    assert [SECRET in repo.model_dump_json() for repo in shown] == [False, False]
    if settings.database_url is None:  # SQLite: the database is a file (and its WAL)
        assert files_holding(settings.data_dir, SECRET) == []


@pytest.mark.parametrize(
    ("url", "clean", "credentials"),
    [
        (
            "https://us%40er:p%3As%2F%25@example.invalid:8443/x.git",
            "https://example.invalid:8443/x.git",
            {"username": "us@er", "password": "p:s/%"},
        ),
        (  # a token given as the user name, as GitHub accepts it
            "https://ghp_abc123@github.com/o/r.git",
            "https://github.com/o/r.git",
            {"username": "ghp_abc123", "password": ""},
        ),
        ("https://example.invalid/x.git", "https://example.invalid/x.git", None),
        ("ssh://git@example.invalid/x.git", "ssh://git@example.invalid/x.git", None),
        ("git@example.invalid:x/y.git", "git@example.invalid:x/y.git", None),
    ],
)
async def test_only_https_userinfo_is_split_off_and_decoded(
    runtime: Runtime, url: str, clean: str, credentials: dict[str, str] | None
) -> None:
    added = await runtime.marketplace.add_repo(RepoCreate(url=url, name="r", branch="main"))
    row = await stored_row(runtime, added.id)
    sealed = row.credentials_enc
    assert (row.url, added.has_credentials) == (clean, credentials is not None)
    assert (json.loads(runtime.marketplace.secrets.decrypt(sealed)) if sealed else None) == (
        credentials
    )


def credential_request(host: str) -> bytes:
    return f"protocol=https\nhost={host}\npath=x/y.git\n\n".encode()


async def git_credential_fill(login: RemoteLogin, host: str) -> list[str]:
    """Ask git, with the environment tomo gives it, which login it would send to `host`."""
    argv = ["git", "credential", "fill"]
    out = await run_git(argv, cwd=None, time_limit=20, stdin=credential_request(host), login=login)
    return out.decode().splitlines()


async def test_git_gets_the_login_from_tomos_helper_not_from_the_users_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A helper of the user's own would otherwise answer first and be told to store the secret.
    (home / ".gitconfig").write_text(
        '[credential]\n\thelper = "!f() { echo username=other; echo password=other; }; f"\n'
    )
    monkeypatch.setenv("HOME", str(home))
    login = RemoteLogin("https://example.invalid/x/y.git", RepoCredentials("us er", f"{SECRET}'$x"))

    assert await git_credential_fill(login, "example.invalid") == [
        "protocol=https",
        "host=example.invalid",
        "username=us er",
        f"password={SECRET}'$x",
    ]


@pytest.mark.parametrize("host", ["other.invalid", "example.invalid:8443"])
async def test_the_helper_answers_for_the_repos_host_and_port_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no git config of the user's
    login = RemoteLogin("https://example.invalid/x/y.git", RepoCredentials("user", SECRET))
    with pytest.raises(GitError, match="could not read Username") as refused:
        await git_credential_fill(login, host)
    assert SECRET not in refused.value.message


class BasicAuthRemote(BaseHTTPRequestHandler):
    """A git HTTP remote that demands a login, and records the ones it is sent."""

    received: list[str | None]

    def do_GET(self) -> None:
        login = self.headers.get("Authorization")
        self.received.append(login)
        self.send_response(404 if login else 401)  # with a login: there is no such repo
        if not login:
            self.send_header("WWW-Authenticate", 'Basic realm="catalog"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def login_remote() -> Iterator[tuple[str, list[str | None]]]:
    received: list[str | None] = []
    handler = type("Remote", (BasicAuthRemote,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/x/y.git", received
    server.shutdown()
    server.server_close()


async def test_git_sends_the_login_when_the_remote_asks_for_one(
    login_remote: tuple[str, list[str | None]],
) -> None:
    # Plain HTTP on loopback: git scopes the helper by scheme and host as for https
    # (which tomo requires, but whose certificate git would not trust here).
    url, received = login_remote
    argv = ["git", "-c", "protocol.allow=never", "-c", "protocol.http.allow=always",
            "ls-remote", "--", url]  # fmt: skip
    login = RemoteLogin(url, RepoCredentials("user", SECRET))
    with pytest.raises(GitError, match=r"repository '.*' not found") as failed:
        await run_git(argv, cwd=None, time_limit=20, login=login)
    assert received == [None, "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()]
    assert SECRET not in failed.value.message


def record_git_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """The argv and environment of every process started from now on."""
    started: list[tuple[tuple[str, ...], dict[str, str]]] = []
    real_exec = asyncio.create_subprocess_exec

    async def recording_exec(*argv: str, **options: Any) -> asyncio.subprocess.Process:
        started.append((argv, options.get("env") or {}))
        return await real_exec(*argv, **options)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording_exec)
    return started


async def test_asking_for_the_default_branch_sends_the_login_from_the_environment(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = record_git_runs(monkeypatch)
    url = f"https://user:{SECRET}@127.0.0.1:1/x/y.git"  # nothing listens there
    with pytest.raises(SyncFailed, match="cannot connect") as failed:
        await runtime.marketplace.add_repo(RepoCreate(url=url, name="private"))

    assert [argv[-3:] for argv, _ in started] == [("--", "https://127.0.0.1:1/x/y.git", "HEAD")]
    argv, env = started[0]
    assert [arg for arg in argv if SECRET in arg] == []
    assert [name for name, value in env.items() if SECRET in value] == ["TOMO_GIT_PASSWORD"]
    assert SECRET not in failed.value.message
    assert await runtime.marketplace.list_repos() == []


async def test_a_sync_never_puts_the_credentials_in_an_argv_or_an_error(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"https://user:{SECRET}@127.0.0.1:1/x/y.git"  # nothing listens there
    await runtime.marketplace.add_repo(RepoCreate(url=url, name="private", branch="main"))
    started = record_git_runs(monkeypatch)
    with pytest.raises(SyncFailed, match="cannot connect") as failed:
        await runtime.marketplace.sync_repo("private")

    assert started, "git ran"
    for argv, env in started:
        assert [arg for arg in argv if SECRET in arg] == []
        assert [name for name, value in env.items() if SECRET in value] == ["TOMO_GIT_PASSWORD"]
    assert SECRET not in failed.value.message
    assert SECRET not in str((await runtime.marketplace.get_repo("private")).last_error)
    assert files_holding(runtime.settings.repos_dir, SECRET) == []
