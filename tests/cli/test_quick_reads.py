"""Commands that only read answer from the database file (tomo.readonly) when
opening tomo would change nothing: `repo list`, `server list`, `ps`, `job list`
and `app show`, each with the same output, JSON, error line and exit code as
through the full runtime, which they leave every other case to.

The full runtime is reached by naming the same file in TOMO_DATABASE_URL (the
quick path steps aside for any database named), so both answers come from one
database, as a user would get them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo
from tests.gitrepo import CatalogRepo, app_definition
from tests.services import free_port
from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.deployment.models import Installation, Job, JobStep
from tomo.paths import DEFAULT_DATA_DIR
from tomo.readonly import open_settled
from tomo.runtime import open_runtime
from tomo.servers.models import Server

HEAVY = {"sqlalchemy", "aiosqlite", "asyncssh", "alembic", "cryptography"}
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    return Tomo(tmp_path / "data")


@pytest.fixture
def catalogs(tomo: Tomo, make_repo) -> Tomo:
    """An official repo and a community one on the same catalog, a third with an app
    of its own, and one with credentials whose sync failed."""
    main: CatalogRepo = make_repo("main")
    main.add_app("jellyfin", "media", tags=["media", "streaming"])
    main.add_app("navidrome", "media", tags=["music"])
    main.commit()
    extra: CatalogRepo = make_repo("extra")
    extra.add_app("jellyfin", "media")
    extra.add_app("portainer", "tools", docker={"image": "portainer/portainer-ce:2.21.4",
        "volumes": [{"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock"}]})  # fmt: skip
    extra.commit()
    tomo.run("repo", "add", main.url, "--name", "Official", "--type", "official")
    tomo.run("repo", "add", main.url, "--name", "Community", "--allow-duplicate")
    tomo.run("repo", "add", extra.url, "--name", "Extra")
    tomo.run("repo", "add", "https://user:s3cret@127.0.0.1:1/x/y.git", "--name", "Private",
             "--branch", "main", expect=5)  # fmt: skip
    return tomo


async def _recorded(data_dir: Path, *rows: object) -> None:
    """Rows written by the ORM, as the services would have (no server to reach here)."""
    settings = Settings(data_dir=data_dir, builtin_catalog=False)
    async with open_runtime(settings) as runtime, runtime.db.session() as session:
        for row in rows:
            session.add(row)
            await session.flush()
        await session.commit()


def _server(server_id: str, **changes: object) -> Server:
    """A server tomo knows, on a port nothing listens on."""
    fields: dict[str, object] = dict(
        id=server_id, name=f"{server_id} box", host="127.0.0.1", port=free_port(),
        username="tomo", auth_type="key", private_key_enc="sealed", data_root="/opt/tomo/apps",
        use_sudo=False, status="unknown", created_at=T0,
    )  # fmt: skip
    return Server(**{**fields, **changes})


def _job(job_id: str, created: datetime, **changes: object) -> Job:
    fields: dict[str, object] = dict(
        id=job_id, installation_id=None, server_id="nas", installation_name="web",
        app="official/jellyfin", kind="install", status="done", created_at=created,
        started_at=created, ended_at=created + timedelta(seconds=4),
    )  # fmt: skip
    return Job(**{**fields, **changes})


def _installation(**changes: object) -> Installation:
    fields: dict[str, object] = dict(
        id="web1", server_id="nas", name="web", repo_id="official", app_id="jellyfin",
        version="1.0.0", image="example/jellyfin:1.0.0", definition=app_definition("jellyfin"),
        config={}, container_id="c0ffee", status="running", created_at=T0, updated_at=T0,
    )  # fmt: skip
    return Installation(**{**fields, **changes})


def full_runtime(tomo: Tomo) -> Tomo:
    """The same data directory, always through the full runtime."""
    full = Tomo(tomo.data_dir)
    full.env = {
        **tomo.env,
        "TOMO_DATABASE_URL": f"sqlite+aiosqlite:///{full.data_dir.resolve()}/tomo.db",
    }
    return full


def quick(tomo: Tomo, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """The command, checked to have answered without opening tomo."""
    done = subprocess.run([sys.executable, "-X", "importtime", *tomo.tomo[1:], *args],
                          capture_output=True, text=True, env=tomo.env, timeout=60)  # fmt: skip
    assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not HEAVY & loaded, (args, HEAVY & loaded)
    said = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout,
                                       "".join(f"{line}\n" for line in said))  # fmt: skip


def same_answer(tomo: Tomo, *args: str) -> str:
    """The quick answer is the full runtime's, to the byte; the quick answer."""
    answered = quick(tomo, *args)
    full = full_runtime(tomo).run(*args)
    assert (answered.stdout, answered.stderr) == (full.stdout, full.stderr), args
    return answered.stdout


def same_error(tomo: Tomo, *args: str, expect: int) -> str:
    """Left to the full runtime, which words the refusal."""
    line = tomo.error(*args, expect=expect)
    assert line == full_runtime(tomo).error(*args, expect=expect), args
    return line


def test_repo_list_answers_as_the_runtime(catalogs: Tomo) -> None:
    listed = json.loads(same_answer(catalogs, "repo", "list", "--json"))
    assert [repo["id"] for repo in listed] == ["community", "extra", "official", "private"]
    private = listed[-1]
    assert (private["has_credentials"], private["status"]) == (True, "error")
    assert listed[0]["last_synced"].endswith("Z") and listed[0]["has_credentials"] is False
    assert "s3cret" not in same_answer(catalogs, "repo", "list")


def test_app_show_answers_as_the_runtime(catalogs: Tomo) -> None:
    for ref in ("jellyfin", "navidrome", "portainer", "community/navidrome",
                "Community/navidrome", "extra/jellyfin"):  # fmt: skip
        shown = json.loads(same_answer(catalogs, "app", "show", ref, "--json"))
        assert shown["id"] == ref.rpartition("/")[2]
        same_answer(catalogs, "app", "show", ref)
    assert json.loads(quick(catalogs, "app", "show", "jellyfin", "--json").stdout)["repo_id"] == (
        "official"
    )
    assert "docker-socket" in same_answer(catalogs, "app", "show", "portainer")


def test_app_show_leaves_refusals_to_the_runtime(catalogs: Tomo) -> None:
    assert same_error(catalogs, "app", "show", "nope/jellyfin", expect=3) == (
        "error: no repo with id or name 'nope'"
    )
    same_error(catalogs, "app", "show", "extra/navidrome", expect=3)
    same_error(catalogs, "app", "show", "nope", expect=3)
    catalogs.run("repo", "update", "Official", "--disable")
    assert "community/jellyfin" in same_error(catalogs, "app", "show", "jellyfin", expect=4)
    same_answer(catalogs, "app", "show", "navidrome", "--json")  # one enabled repo has it


def test_server_list_ps_and_job_list_answer_as_the_runtime(tomo: Tomo) -> None:
    tomo.run("repo", "list")  # the database, made
    for args in (["server", "list"], ["ps"], ["job", "list"]):
        assert same_answer(tomo, *args, "--json") == "[]\n"
        same_answer(tomo, *args)
    facts = {"os": "Debian GNU/Linux 12", "kernel": "6.1.0", "architecture": "amd64",
             "cpu_count": 4, "memory_total_mb": 7900, "memory_available_mb": 5100,
             "disk_free_mb": 91000, "data_root_writable": True, "docker_version": "27.3.1",
             "docker_access": "yes", "docker_problem": None}  # fmt: skip
    asyncio.run(_recorded(
        tomo.data_dir,
        _server("nas", host_key="ssh-ed25519 AAAA", host_key_fingerprint="SHA256:" + "a" * 43,
                status="online", last_seen=T0, facts=facts, facts_at=T0, use_sudo=True),
        _server("attic", auth_type="password", facts={}),
        _job("job1", T0, summary=["started container 'web'"]),
        _job("job2", T0 + timedelta(minutes=1), kind="update", status="failed", error="no",
             installation_name="other"),
        _job("job3", T0 + timedelta(minutes=2), status="running", ended_at=None),
        JobStep(job_id="job1", name="pull", status="done", message="2 layers", progress_done=2,
                progress_total=2, started_at=T0, ended_at=T0 + timedelta(seconds=1)),
        JobStep(job_id="job1", name="start", status="done", started_at=T0, ended_at=T0),
        JobStep(job_id="job3", name="pull", status="running", started_at=T0),
    ))  # fmt: skip
    servers = json.loads(same_answer(tomo, "server", "list", "--json"))
    assert [(s["id"], s["trusted"], s["facts"] is None) for s in servers] == [
        ("attic", False, True), ("nas", True, False),
    ]  # fmt: skip
    assert "Debian" not in same_answer(tomo, "server", "list")  # the table shows the arch
    for args in (["job", "list"], ["job", "list", "--limit", "2"],
                 ["job", "list", "--installation", "other"]):  # fmt: skip
        same_answer(tomo, *args, "--json")
        same_answer(tomo, *args)
    newest = json.loads(same_answer(tomo, "job", "list", "--json"))
    assert [job["id"] for job in newest] == ["job3", "job2", "job1"]
    assert [step["name"] for step in newest[2]["steps"]] == ["pull", "start"]
    assert same_answer(tomo, "ps", "--server", "nas box", "--json") == "[]\n"
    same_error(tomo, "ps", "--server", "nope", expect=3)
    same_error(tomo, "job", "list", "--limit", "0", expect=2)
    same_error(tomo, "job", "list", "--limit", "501", expect=2)


def test_ps_asks_the_servers_of_installations_through_the_runtime(tomo: Tomo) -> None:
    tomo.run("repo", "list")
    sealed = Secrets(None, tomo.data_dir).encrypt("a password")
    nas = _server("nas", auth_type="password", password_enc=sealed, private_key_enc=None)
    asyncio.run(_recorded(tomo.data_dir, nas, _installation()))
    (row,) = tomo.json("ps")  # the server cannot be asked: its status is unknown
    assert (row["name"], row["status"]) == ("web", "unknown")
    assert row["status_message"].startswith("nas box: ")  # why it could not be asked
    assert json.loads(quick(tomo, "server", "list", "--json").stdout)[0]["id"] == "nas"


@pytest.mark.parametrize("revision", ["0001", "9999"])  # an older tomo's, a newer one's
def test_a_schema_not_current_is_the_runtimes_to_handle(tmp_path: Path, revision: str) -> None:
    tomo = Tomo(tmp_path / "data")
    tomo.run("repo", "list")
    _sql(tomo.data_dir, "UPDATE alembic_version SET version_num = ?", revision)
    with open_settled(tomo.data_dir, database_url=None, builtin_catalog=False) as found:
        assert found is None
    twin = Tomo(tmp_path / "twin")
    shutil.copytree(tomo.data_dir, twin.data_dir)
    said = [_answer(tomo, "repo", "list"), _answer(full_runtime(twin), "repo", "list")]
    assert said[0] == said[1]
    assert said[0][0] != 0  # (as before: the schema is not migrated over itself)


def _answer(tomo: Tomo, *args: str) -> tuple[int, str, str]:
    """Exit code and output, the data directory and a log reference left out."""
    done = subprocess.run([*tomo.tomo, *args], capture_output=True, text=True, env=tomo.env,
                          timeout=60)  # fmt: skip
    plain = done.stderr.replace(str(tomo.data_dir), "DATA")
    return done.returncode, done.stdout, re.sub(r"reference [0-9a-f]+", "reference R", plain)


def test_an_operation_a_dead_tomo_left_is_settled_first(tomo: Tomo) -> None:
    tomo.run("repo", "list")
    asyncio.run(_recorded(tomo.data_dir, _server("nas"),
                          _installation(operation="install", container_id=None)))  # fmt: skip
    assert tomo.json("job", "list") == []
    assert _sql(tomo.data_dir, "SELECT operation FROM installations") == [(None,)]
    quick(tomo, "job", "list")  # settled: the quick path again


def test_every_other_database_is_the_runtimes(tmp_path: Path, database_url: str | None) -> None:
    tomo = Tomo(tmp_path / "data", **({"TOMO_DATABASE_URL": database_url} if database_url else {}))
    assert tomo.json("repo", "list") == []  # made by the runtime: no file to read before
    if database_url is None:
        quick(tomo, "repo", "list")
        return
    assert not (tomo.data_dir / "tomo.db").exists()
    for args in (["server", "list"], ["ps"], ["job", "list"]):
        assert tomo.json(*args) == []
    with open_settled(tomo.data_dir, database_url=database_url, builtin_catalog=False) as found:
        assert found is None


def test_a_file_others_may_read_is_made_private_first(tomo: Tomo) -> None:
    tomo.run("repo", "list")
    database = tomo.data_dir / "tomo.db"
    database.chmod(0o644)
    with open_settled(tomo.data_dir, database_url=None, builtin_catalog=False) as found:
        assert found is None
    tomo.run("ps")
    assert database.stat().st_mode & 0o777 == 0o600
    quick(tomo, "ps")


def _sql(data_dir: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(data_dir / "tomo.db")
    try:
        with connection:
            return connection.execute(statement, params).fetchall()
    finally:
        connection.close()


def test_with_no_tomo_variable_settings_are_their_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the quick path takes without loading Settings (tomo.cli.context._where)."""
    for name in [name for name in os.environ if name.upper().startswith("TOMO_")]:
        monkeypatch.delenv(name)
    defaults = Settings()
    assert (defaults.data_dir, defaults.database_url, defaults.builtin_catalog) == (
        DEFAULT_DATA_DIR, None, True,
    )  # fmt: skip
    plain = Tomo(tmp_path / "data")
    plain.env = {name: value for name, value in plain.env.items()
                 if not name.upper().startswith("TOMO_")}  # fmt: skip
    plain.run("repo", "list")  # the database and the built-in catalog, made
    shown = json.loads(same_answer(plain, "app", "show", "jellyfin", "--json"))
    assert shown["repo_id"] == "official"
    same_answer(plain, "repo", "list")


def test_settings_are_read_and_refused_as_always(tomo: Tomo) -> None:
    tomo.run("repo", "list")
    tomo.env["TOMO_SSH_STATUS_TIMEOUT"] = "soon"
    assert tomo.error("repo", "list", expect=2).startswith(
        "error: invalid value for ssh_status_timeout: "
    )
