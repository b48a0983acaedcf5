"""`tomo login` and the CLI against a remote tomo: a real `tomo serve` on a loopback
port, a "laptop" (its own HOME and working directory) logged in to it, and every
command compared with the same command run locally on the server's data
directory: the same JSON, the same error line, the same exit code.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.cli.tomo_cli import Laptop, Tomo, tomo_command
from tests.gitrepo import CatalogRepo
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tomo import errors
from tomo.cli import services
from tomo.client.login_file import RemoteLogin
from tomo.client.problems import error_of_problem, rebuilt
from tomo.client.runtime import open_remote
from tomo.config import Settings
from tomo.deployment.spec import InstallConfig
from tomo.runtime import open_runtime

PASSWORD = "correct horse battery staple"
T = TypeVar("T")
CLI_SOURCES = Path(__file__).parents[2] / "src" / "tomo" / "cli"


@dataclass
class Served:
    url: str
    data_dir: Path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`tomo serve` in a process of its own, with an admin made from the shell."""
    data = tmp_path / "server-data"
    Tomo(data).run("user", "create", "admin", "--admin", "--password-stdin", stdin=f"{PASSWORD}\n")
    port = free_port()
    env = {
        **os.environ,
        "TOMO_BUILTIN_CATALOG": "false",
        "TOMO_SYNC_INTERVAL": "0",
        "TOMO_MONITOR_INTERVAL": "0",
    }
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [*tomo_command(), "--data-dir", str(data), "serve", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, tmp_path / "serve.log")
        yield Served(url, data)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"tomo serve did not answer: {log.read_text()}")


@pytest.fixture
def laptop(tmp_path: Path) -> Laptop:
    return Laptop(tmp_path / "home", tmp_path / "laptop")


@pytest.fixture
def logged_in(laptop: Laptop, served: Served) -> Laptop:
    laptop.login(served.url, PASSWORD)
    return laptop


@pytest.fixture
def local(served: Served, laptop: Laptop) -> Tomo:
    """The same commands on the server's data directory, from the laptop's HOME (with
    its login file): a named data directory keeps a command local."""
    here = Tomo(served.data_dir, HOME=laptop.env["HOME"],
                XDG_CONFIG_HOME=laptop.env["XDG_CONFIG_HOME"])  # fmt: skip
    here.cwd = laptop.cwd
    return here


@pytest.fixture
def catalog(make_repo) -> CatalogRepo:
    repo = make_repo("catalog")
    repo.add_app("jellyfin", "media", tags=["media", "streaming"])
    repo.add_app("navidrome", "media", tags=["music"])
    repo.add_app("mainframe", "tools", requirements={"architectures": ["s390x"]},
                 docker={"image": "example/mainframe:1.0.0"})  # fmt: skip
    repo.write("apps/tools/broken.yaml", "id: [")
    repo.commit()
    return repo


def both(remote: Callable[[], T], here: Callable[[], T]) -> tuple[T, T]:
    """The command on the laptop and on the server's data directory at once (each
    is a process of its own: two cores halve the wait)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = pool.submit(remote), pool.submit(here)
        return futures[0].result(), futures[1].result()


def same_json(laptop: Laptop, local: Tomo, *args: str) -> Any:
    remote, here = both(lambda: laptop.json(*args), lambda: local.json(*args))
    assert remote == here, args
    return remote


def same_error(laptop: Laptop, local: Tomo, *args: str, expect: int) -> str:
    remote, here = both(lambda: laptop.error(*args, expect=expect),
                        lambda: local.error(*args, expect=expect))  # fmt: skip
    assert remote == here, args
    return remote


# -- logging in and out -----------------------------------------------------


def test_login_keeps_a_token_readable_by_its_owner_only(
    laptop: Laptop, served: Served, local: Tomo
) -> None:
    done = laptop.login(served.url, PASSWORD)
    assert done.stderr.splitlines() == [
        f"Logged in to {served.url} as admin; commands act there now (`tomo logout` returns "
        "to the local data directory)"
    ]
    assert stat.S_IMODE(laptop.login_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(laptop.login_file.parent.stat().st_mode) == 0o700
    stored = json.loads(laptop.login_file.read_text())
    assert (stored["url"], stored["username"]) == (served.url, "admin")
    (token,) = local.json("token", "list")
    assert (token["id"], token["revoked_at"]) == (stored["token_id"], None)
    assert token["name"].startswith("tomo CLI on ")
    # The password opened a session only to make the token; the session is over.
    actions = [event["action"] for event in local.json("audit", "--limit", "3")]
    assert actions == ["logout", "create_token", "login"]
    laptop.login(served.url, PASSWORD)  # again: the token it replaces is revoked
    first, second = local.json("token", "list")
    assert first["revoked_at"] is not None and second["revoked_at"] is None
    assert not any(stored["token"] in output for output in laptop.outputs)


def test_login_asks_for_the_user_name_at_a_terminal(laptop: Laptop, served: Served) -> None:
    done = laptop.on_terminal("login", served.url, "--password-stdin", typed=f"admin\n{PASSWORD}\n")
    assert done.stderr.startswith("User name:")
    assert f"Logged in to {served.url} as admin" in done.stderr
    assert laptop.token() not in done.stdout + done.stderr


def test_a_wrong_password_is_refused_in_one_line(laptop: Laptop, served: Served) -> None:
    login = ["login", served.url, "--user", "admin", "--password-stdin"]
    assert laptop.error(*login, stdin="not the password\n", expect=9) == (
        "error: wrong user name or password"
    )
    assert laptop.error("login", served.url, "--user", "nobody", "--password-stdin",
                        stdin=f"{PASSWORD}\n", expect=9) == "error: wrong user name or password"  # fmt: skip
    assert laptop.error("login", served.url, "--user", "admin", stdin="", expect=2) == (
        "error: give the password on standard input with --password-stdin (standard input is "
        "not a terminal)"
    )
    assert laptop.error("login", "ftp://example.com", "--user", "admin", expect=2) == (
        "error: 'ftp://example.com' is not the http:// or https:// address of a tomo"
    )
    assert not laptop.login_file.exists()


def test_logout_revokes_the_token_and_returns_to_the_local_data_directory(
    logged_in: Laptop, served: Served, local: Tomo
) -> None:
    laptop = logged_in
    stored = laptop.login_file.read_text()
    token_id = json.loads(stored)["token_id"]
    done = laptop.run("logout")
    assert done.stderr.splitlines() == [
        f"Logged out of {served.url} (token {token_id} revoked); commands act on the local "
        "data directory again"
    ]
    assert not laptop.login_file.exists()
    (token,) = local.json("token", "list")
    assert token["revoked_at"] is not None

    laptop.login_file.write_text(stored)  # a copy kept elsewhere is refused too
    assert laptop.error("repo", "list", expect=9) == (
        f"error: {served.url} refused the stored token (revoked, or its user removed); log in "
        f"again: tomo login {served.url}"
    )
    assert "was refused there already" in laptop.run("logout").stderr
    assert not laptop.data_dir.exists()
    assert laptop.json("repo", "list") == []  # local again: a data directory of its own
    assert laptop.data_dir.exists()
    assert not any(json.loads(stored)["token"] in output for output in laptop.outputs)


def test_a_viewers_refused_command_exits_with_the_permission_code(
    laptop: Laptop, served: Served, local: Tomo
) -> None:
    """Refused for the role (403): exit 10, naming the role it needs; logging in again
    would not help. A refused token (401) keeps exit 9 and says to log in again."""
    local.run("user", "create", "vera", "--password-stdin", stdin="vera's password 1\n")
    laptop.login(served.url, "vera's password 1", user="vera")
    assert laptop.json("repo", "list") == []  # reading is a viewer's
    assert laptop.error("repo", "add", "https://example.com/apps.git", "--name", "X",
                        expect=10) == "error: 'vera' is a viewer; this needs an admin"  # fmt: skip
    assert laptop.error("user", "list", expect=10) == (
        "error: 'vera' is a viewer; this needs an admin"
    )
    assert local.json("repo", "list") == []  # nothing was added

    local.run("token", "revoke", json.loads(laptop.login_file.read_text())["token_id"])
    assert laptop.error("repo", "add", "https://example.com/apps.git", "--name", "X",
                        expect=9).endswith(f"log in again: tomo login {served.url}")  # fmt: skip


def test_a_named_data_directory_keeps_commands_local(
    logged_in: Laptop, catalog: CatalogRepo, tmp_path: Path
) -> None:
    laptop = logged_in
    laptop.run("repo", "add", catalog.url, "--name", "C", "--no-sync")
    assert len(laptop.json("repo", "list")) == 1
    named = tmp_path / "named"
    by_option = Tomo(named, HOME=laptop.env["HOME"], XDG_CONFIG_HOME=laptop.env["XDG_CONFIG_HOME"])
    assert by_option.json("repo", "list") == []
    laptop.env["TOMO_DATA_DIR"] = str(named)
    assert laptop.json("repo", "list") == []
    del laptop.env["TOMO_DATA_DIR"]
    assert len(laptop.json("repo", "list")) == 1


def test_commands_only_a_local_tomo_can_do_are_refused(logged_in: Laptop, served: Served) -> None:
    assert logged_in.error("job", "run", "abc", expect=2) == (
        f"error: `tomo job run` works on a local data directory only; this CLI is logged in "
        f"to {served.url} (give --data-dir, or `tomo logout`)"
    )
    assert logged_in.error("app", "rate", "jellyfin", "4", "--user", "bob", expect=2).startswith(
        "error: --user works on a local data directory only"
    )


def _login(url: str, username: str, password: str) -> int:
    """A browser's login to the running tomo: its HTTP status."""
    body = json.dumps({"username": username, "password": password}).encode()
    asked = urllib.request.Request(f"{url}/api/auth/login", data=body, method="POST",
                                   headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(asked, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_an_admin_unlocks_an_account_the_running_tomo_locked(
    logged_in: Laptop, served: Served, local: Tomo
) -> None:
    """Failed logins are kept in the database: `tomo user unlock` on the server's data
    directory frees an account the running `tomo serve` holds back, and so does the
    same command through the API."""
    for unlock in (local, logged_in):
        for _ in range(5):
            assert _login(served.url, "admin", "a guess") == 401
        assert _login(served.url, "admin", PASSWORD) == 429
        assert unlock.json("user", "unlock", "admin") == {"username": "admin",
                                                          "failed_logins_forgotten": 5}  # fmt: skip
        assert _login(served.url, "admin", PASSWORD) == 200


# -- the same answers, remote and local ---------------------------------------------


def test_catalog_and_repo_commands_answer_as_locally(
    logged_in: Laptop, local: Tomo, catalog: CatalogRepo
) -> None:
    laptop = logged_in
    report = laptop.json("repo", "add", catalog.url, "--name", "Home Catalog")
    assert (report["repo_id"], report["status"], report["app_count"]) == (
        "home-catalog", "synced", 3,
    )  # fmt: skip
    assert report["errors"][0]["path"] == "apps/tools/broken.yaml"
    for args in (
        ["repo", "list"], ["repo", "show", "Home Catalog"], ["app", "search"],
        ["app", "search", "jelly", "--tag", "media"], ["app", "search", "--sort", "name",
        "--limit", "1", "--offset", "1"], ["app", "show", "home-catalog/jellyfin"],
        ["app", "show", "jellyfin"], ["app", "categories"], ["user", "list"],
    ):  # fmt: skip
        same_json(laptop, local, *args)
    for args in (["repo", "show", "home-catalog"], ["app", "search", "jelly"],
                 ["app", "show", "navidrome"]):  # fmt: skip
        remote, here = both(lambda: laptop.run(*args), lambda: local.run(*args))  # noqa: B023
        assert (remote.stdout, remote.stderr) == (here.stdout, here.stderr), args

    rated = laptop.json("app", "rate", "jellyfin", "4")
    assert (rated["username"], rated["avg_rating"]) == ("admin", 4.0)
    renamed = laptop.json("repo", "update", "home-catalog", "--name", "Renamed", "--disable")
    assert (renamed["name"], renamed["enabled"]) == ("Renamed", False)
    same_json(laptop, local, "repo", "show", "Renamed")
    assert laptop.json("app", "search")["total"] == 0  # a disabled repo's apps are hidden
    laptop.run("repo", "update", "Renamed", "--enable")
    assert laptop.json("repo", "sync", "Renamed", "--force")["status"] == "synced"
    assert laptop.json("repo", "remove", "Renamed")["id"] == "home-catalog"
    assert local.json("repo", "list") == []
    assert not laptop.data_dir.exists()  # nothing ran locally


def test_errors_come_back_with_the_same_line_and_exit_code(
    logged_in: Laptop, local: Tomo, catalog: CatalogRepo
) -> None:
    laptop = logged_in
    laptop.run("repo", "add", catalog.url, "--name", "Home Catalog")
    for args, code in (
        (["app", "show", "home-catalog/nope"], 3), (["app", "show", "nope"], 3),
        (["app", "rate", "nope", "3"], 3), (["repo", "show", "nope"], 3),
        (["server", "show", "nope"], 3), (["job", "show", "nope"], 3),
        (["ps", "--server", "nope"], 3), (["logs", "nope"], 3), (["start", "nope"], 3),
        (["uninstall", "web", "--server", "nope"], 3), (["install", "jellyfin", "--server", "x"], 3),
        (["repo", "add", catalog.url, "--name", "Home Catalog"], 4),
        (["repo", "add", "ftp://example.com/apps.git", "--name", "X"], 2),
        (["install", "jellyfin", "--server", "x", "--port", "80"], 2),
    ):  # fmt: skip
        same_error(laptop, local, *args, expect=code)
    # Refused by the API's own checks: the same exit code, in the API's words.
    for args in (["job", "list", "--limit", "0"], ["app", "rate", "jellyfin", "9"]):
        assert laptop.error(*args, expect=2).startswith("error: ")
        local.error(*args, expect=2)


def test_server_commands_and_a_refused_install_answer_as_locally(
    logged_in: Laptop, local: Tomo, catalog: CatalogRepo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    laptop = logged_in
    laptop.run("repo", "add", catalog.url, "--name", "C")
    login = ["127.0.0.1", "--port", str(sshd.port), "--user", ssh_users.user, "--key",
             str(ssh_users.key)]  # fmt: skip
    added = laptop.json("server", "add", "nas", *login, "--fingerprint", sshd.fingerprint)
    assert (added["server"]["trusted"], added["server"]["status"]) == (True, "online")
    for args in (["server", "list"], ["server", "show", "nas"], ["ps"], ["job", "list"]):
        same_json(laptop, local, *args)
    assert laptop.json("server", "test", "nas")["status"] == "online"
    assert laptop.json("server", "update", "nas", "--data-root", "/srv/apps")["data_root"] == (
        "/srv/apps"
    )
    same_json(laptop, local, "server", "show", "nas")

    untrusted = laptop.run("server", "add", "other", *login, stdin="")  # nobody to ask
    assert f"tomo server trust other --fingerprint {sshd.fingerprint}" in untrusted.stderr
    trusted = laptop.json("server", "trust", "other", "--fingerprint", sshd.fingerprint)
    assert trusted["trusted"] is True
    assert laptop.json("server", "remove", "other")["id"] == "other"
    wrong = "SHA256:" + "A" * 43
    same_error(laptop, local, "server", "add", "nas", *login, "--fingerprint", sshd.fingerprint,
               expect=4)  # fmt: skip
    same_error(laptop, local, "server", "add", "new", *login, "--fingerprint", wrong, expect=7)

    # The install job runs in the remote tomo; the CLI follows it to its end (the
    # preflight refuses the architecture, so nothing reaches Docker).
    install = ["install", "mainframe", "--server", "nas"]
    # One after the other: the two would claim the same name on the same server.
    remote, here = laptop.run(*install, expect=8), local.run(*install, expect=8)
    refused = remote.stderr.splitlines()[-1]  # after the table of the job's steps
    assert refused == here.stderr.splitlines()[-1]
    assert refused.startswith("error: nas: ") and "nothing had been created on nas" in refused
    assert "preflight" in remote.stderr
    jobs = same_json(laptop, local, "job", "list", "--installation", "mainframe")
    assert [(job["kind"], job["status"]) for job in jobs] == [("install", "failed")] * 2
    same_json(laptop, local, "job", "show", jobs[0]["id"])
    assert not any(laptop.token() in output for output in laptop.outputs)


async def test_ctrl_c_stops_following_a_job_not_the_job(
    logged_in: Laptop, served: Served, local: Tomo, catalog: CatalogRepo, sshd: Sshd,
    ssh_users: SshUsers,
) -> None:  # fmt: skip
    laptop = logged_in
    laptop.run("repo", "add", catalog.url, "--name", "C")
    laptop.run("server", "add", "nas", "127.0.0.1", "--port", str(sshd.port), "--user",
               ssh_users.user, "--key", str(ssh_users.key), "--fingerprint", sshd.fingerprint)  # fmt: skip
    settings = Settings(data_dir=served.data_dir, builtin_catalog=False, sync_interval=0)
    async with open_runtime(settings) as runtime:  # an install recorded that nobody runs
        started = await runtime.deployment.install_app("nas", "c/jellyfin", InstallConfig())
    same_json(laptop, local, "job", "show", started.job_id)
    same_error(laptop, local, "start", "jellyfin", expect=4)  # the install holds it

    async with open_remote(RemoteLogin(**json.loads(laptop.login_file.read_text()))) as remote:
        following = asyncio.create_task(remote.deployment.run_job(started.job_id))
        await asyncio.sleep(1)
        following.cancel()  # what Ctrl-C does to a command
        with pytest.raises(errors.OperationInterrupted) as interrupted:
            await following
        assert interrupted.value.message == (
            f"stopped following job {started.job_id}; it goes on in {served.url} "
            f"(see: tomo job show {started.job_id})"
        )
        assert (await remote.deployment.get_job(started.job_id)).status == "pending"


# -- the CLI and what stands behind it ---------------------------------------------


PROTOCOLS = {"marketplace": services.Marketplace, "servers": services.Servers,
             "deployment": services.Deployment, "auth": services.Accounts,
             "events": services.Events, "backups": services.Backups,
             "proxy": services.Proxy}  # fmt: skip


def _cli_calls() -> set[tuple[str, str]]:
    """(service, method) of every service call the CLI's commands make."""
    pattern = re.compile(r"\b(?:runtime|r)\.(marketplace|servers|deployment|auth|events|backups"
                         r"|proxy)\.(\w+)\(")  # fmt: skip
    return {call for path in CLI_SOURCES.glob("*.py") for call in pattern.findall(path.read_text())}


def _named(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_the_protocols_name_exactly_the_calls_the_cli_makes() -> None:
    """mypy holds the local services and the remote client to the Protocols
    (tomo.cli.services); this holds the Protocols to the commands: a call outside
    them fails here even where mypy sees Any, and one no command makes any more
    goes, so the remote client need not keep it."""
    calls = _cli_calls()
    assert len(calls) > 30, calls  # the pattern still finds the calls
    named = {(service, name) for service, protocol in PROTOCOLS.items()
             for name in _named(protocol)}  # fmt: skip
    assert sorted(calls - named) == [], "called outside its Protocol"
    assert sorted(named - calls) == [], "named in a Protocol, called by no command"


def _all_errors() -> list[type[errors.TomoError]]:
    found, pending = [], [errors.TomoError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_domain_error_comes_back_from_its_problem_as_itself() -> None:
    from tomo.http.problems import of_domain_error

    for cls in _all_errors():
        sent = rebuilt(cls, "nas: it went wrong", server="nas", retry_after=30)
        problem = of_domain_error(sent).model_dump(exclude_none=True)
        back = error_of_problem(problem, problem["status"], where="http://tomo.lan")
        assert type(back) is cls, (cls, problem["type"])
        assert (back.message, back.exit_code) == (sent.message, sent.exit_code)


def test_a_request_to_the_remote_tomo_carries_its_secrets_as_typed() -> None:
    """A JSON dump hides a SecretStr ('**********'): the client's body reveals them,
    one of its own and those in a mapping (a DNS provider's credentials)."""
    from pydantic import SecretStr

    from tomo.client.transport import revealed
    from tomo.proxy.schemas import DomainSettings
    from tomo.servers.schemas import ServerUpdate

    settings = DomainSettings(tls="acme", dns_provider="cloudflare",
                              dns_credentials={"api_token": SecretStr("t0ken")})  # fmt: skip
    assert revealed(settings)["dns_credentials"] == {"api_token": "t0ken"}
    assert revealed(ServerUpdate(password=SecretStr("pw")))["password"] == "pw"
