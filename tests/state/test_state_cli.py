"""`tomo state export` and `tomo state import` through the real command: a tomo with
a user, a catalog repo, a server whose key is sealed, a notification channel and a
personal catalog, exported and imported into a fresh data directory; and every
refusal, which changes nothing."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.cli.tomo_cli import Tomo
from tests.deployment.test_outdated import installed
from tests.gitrepo import CatalogRepo
from tests.services import drop_database, new_database
from tomo.backups.models import BackupRecord, BackupRepository
from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.db import Database
from tomo.deployment.models import Installation
from tomo.runtime import open_runtime
from tomo.servers.models import Server
from tomo.state import archive

PASSPHRASE = "correct horse battery staple"
SERVER_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real one\n"
REPOSITORY_PASSWORD = "sealed restic password"


@pytest.fixture
def old(tmp_path: Path, make_repo) -> Tomo:
    """A tomo with something in every kind of state."""
    tomo = Tomo(tmp_path / "old")
    tomo.run("user", "create", "alice", "--admin", "--password-stdin", stdin="a long password 1\n")
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.commit()
    tomo.run("repo", "add", repo.url, "--name", "Home")
    tomo.run("channel", "add", "phone", "ntfy://ntfy.sh/secret-topic")
    asyncio.run(_add_server(tomo.data_dir))
    catalog = tomo.data_dir / "personal-catalog"
    (catalog / "Apps" / "mine").mkdir(parents=True)
    (catalog / "Apps" / "mine" / "docker-compose.yml").write_text("services: {}\n")
    subprocess.run(["git", "init", "--quiet", str(catalog)], check=True)
    return tomo


async def _add_server(data_dir: Path) -> None:
    """A server as `tomo server add` leaves it (none is reached here), its key sealed,
    an installation on it, the default backup repository, its password sealed, and
    a backup of the installation in it."""
    settings = Settings(data_dir=data_dir, builtin_catalog=False)
    secrets = Secrets(None, data_dir)
    now = datetime.now(UTC)
    async with open_runtime(settings) as runtime:
        async with runtime.db.session() as session, session.begin():
            session.add(Server(id="nas", name="NAS", host="192.0.2.7", port=22, username="tomo",
                               auth_type="key", private_key_enc=secrets.encrypt(SERVER_KEY),
                               data_root="/srv/apps", use_sudo=False, status="online",
                               created_at=now))  # fmt: skip
            session.add(BackupRepository(id="default", name="default", kind="local",
                                         location=str(data_dir.resolve() / "backups" / "default"),
                                         password_enc=secrets.encrypt(REPOSITORY_PASSWORD),
                                         created_at=now))  # fmt: skip
        notes = await installed(runtime, "home", "notes", "notes")
        async with runtime.db.session() as session, session.begin():
            session.add(BackupRecord(id="b1", installation_id=notes, installation_name="notes",
                                     server_id="nas", app="home/notes", version="1.0.0",
                                     repository_id="default", trigger="manual", created_at=now,
                                     bytes_read=2048, bytes_added=1024, downtime_seconds=1.5,
                                     parts=[{"name": "tomo/installation.json", "snapshot": "ab12",
                                             "bytes_read": 2048, "bytes_added": 1024}]))  # fmt: skip


async def _state(data_dir: Path) -> tuple[str, str | None, str | None, list[str]]:
    """The server's key and the repository's password opened, its location, and the
    installations, as the tomo of `data_dir` has them."""
    db = Database(Settings(data_dir=data_dir, builtin_catalog=False))
    async with db.session() as session:
        server = await session.get(Server, "nas")
        repository = await session.get(BackupRepository, "default")
        names = list(await session.scalars(select(Installation.name)))
    await db.dispose()
    assert server is not None and server.private_key_enc is not None
    secrets = Secrets(None, data_dir)
    if repository is None:
        return secrets.decrypt(server.private_key_enc), None, None, names
    return (secrets.decrypt(server.private_key_enc), secrets.decrypt(repository.password_enc),
            repository.location, names)  # fmt: skip


def export(tomo: Tomo, file: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    return tomo.run("state", "export", str(file), "--passphrase-stdin", *args,
                    stdin=f"{PASSPHRASE}\n", expect=expect)  # fmt: skip


def import_(tomo: Tomo, file: Path, *args: str, passphrase: str = PASSPHRASE,
            expect: int = 0) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return tomo.run("state", "import", str(file), "--passphrase-stdin", *args,
                    stdin=f"{passphrase}\n", expect=expect)  # fmt: skip


def listed(tomo: Tomo) -> dict[str, Any]:
    return {what: tomo.json(what, "list")
            for what in ("user", "server", "repo", "channel", "backup")}  # fmt: skip


def test_a_fresh_data_directory_gets_everything_back(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    exported = export(old, file)
    assert file.stat().st_mode & 0o777 == 0o600
    assert "notification_channels" in exported.stdout and "Wrote" in exported.stderr
    new = Tomo(tmp_path / "new")
    shown = json.loads(import_(new, file, "--json").stdout)
    assert shown["tables"]["users"] == 1 and shown["tables"]["servers"] == 1
    assert shown["secret_key"] and shown["personal_catalog"] and shown["migrated_from"] is None

    before, after = listed(old), listed(new)
    assert after == before
    assert [channel["url"] for channel in after["channel"]] == ["ntfy://ntfy.sh"]
    key, password, location, installations = asyncio.run(_state(new.data_dir))
    assert (key, password, installations) == (SERVER_KEY, REPOSITORY_PASSWORD, ["notes"])
    assert location == str(new.data_dir.resolve() / "backups" / "default")  # moved with it
    assert (new.data_dir / "secret.key").stat().st_mode & 0o777 == 0o600
    compose = new.data_dir / "personal-catalog" / "Apps" / "mine" / "docker-compose.yml"
    assert compose.read_text() == "services: {}\n"
    assert (new.data_dir / "personal-catalog" / ".git").is_dir()
    assert [app["id"] for app in new.json("app", "search", "notes")["items"]] == ["notes"]
    new.run("repo", "sync", "home")  # the catalog's clone is made again


def test_a_wrong_passphrase_writes_nothing(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    export(old, file)
    new = Tomo(tmp_path / "new")
    refused = new.error("state", "import", str(file), "--passphrase-stdin", expect=2,
                        stdin="not the passphrase\n")  # fmt: skip
    assert refused == f"error: {file}: wrong passphrase or not a tomo state archive"
    assert not new.data_dir.exists()


def test_a_file_cut_short_or_not_an_archive_is_refused(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    export(old, file)
    whole = file.read_bytes()
    file.write_bytes(whole[:-100])
    new = Tomo(tmp_path / "new")
    refused = new.error("state", "import", str(file), "--passphrase-stdin", expect=2,
                        stdin=f"{PASSPHRASE}\n")  # fmt: skip
    assert refused == (f"error: {file}: the archive is cut short ({len(whole) - 100} bytes of "
                       f"{len(whole)}): copy it whole again")  # fmt: skip
    file.write_text("hello\n")
    refused = new.error("state", "import", str(file), "--passphrase-stdin", expect=2,
                        stdin=f"{PASSPHRASE}\n")  # fmt: skip
    assert refused == f"error: {file}: wrong passphrase or not a tomo state archive"
    assert not new.data_dir.exists()


def test_a_data_directory_with_state_is_not_replaced_unasked(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    export(old, file)
    other = Tomo(tmp_path / "other")
    other.run("user", "create", "bob", "--admin", "--password-stdin", stdin="a long password 2\n")
    key = (
        (other.data_dir / "secret.key").read_bytes()
        if (other.data_dir / "secret.key").exists()
        else None
    )
    refused = other.error("state", "import", str(file), "--passphrase-stdin", expect=4,
                          stdin=f"{PASSPHRASE}\n")  # fmt: skip
    assert refused == (f"error: the data directory {other.data_dir} already holds tomo state "
                       "(1 users): import into an empty one, or give --force to replace it")  # fmt: skip
    assert [user["username"] for user in other.json("user", "list")] == ["bob"]
    assert not (other.data_dir / "personal-catalog").exists()
    if key is not None:
        assert (other.data_dir / "secret.key").read_bytes() == key

    import_(other, file, "--force")
    assert listed(other) == listed(old)


def test_an_existing_secret_key_is_not_replaced_unasked(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    export(old, file)
    new = Tomo(tmp_path / "new")
    new.data_dir.mkdir()
    (new.data_dir / "secret.key").write_text("another key\n")
    refused = new.error("state", "import", str(file), "--passphrase-stdin", expect=4,
                        stdin=f"{PASSPHRASE}\n")  # fmt: skip
    assert refused == (f"error: a secret key exists already ({new.data_dir / 'secret.key'}): "
                       "import into an empty data directory, or give --force to replace it")  # fmt: skip
    assert (new.data_dir / "secret.key").read_text() == "another key\n"
    assert sorted(path.name for path in new.data_dir.iterdir()) == ["secret.key"]


def test_an_existing_file_is_kept_without_force(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    file.write_text("precious\n")
    refused = old.error("state", "export", str(file), "--passphrase-stdin", expect=4,
                        stdin=f"{PASSPHRASE}\n")  # fmt: skip
    assert refused == f"error: {file} exists; give --force to write over it"
    assert file.read_text() == "precious\n"
    export(old, file, "--force")
    assert file.read_bytes().startswith(archive.MAGIC)


def test_a_short_passphrase_is_refused(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    refused = old.error("state", "export", str(file), "--passphrase-stdin", expect=2,
                        stdin="too short\n")  # fmt: skip
    assert refused == "error: the passphrase has 9 characters; an archive needs at least 12"
    assert not file.exists()


def test_a_passphrase_is_never_taken_from_a_pipe_unasked(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    refused = old.error("state", "export", str(file), expect=2, stdin=f"{PASSPHRASE}\n")
    assert refused == ("error: give the passphrase on standard input with --passphrase-stdin "
                       "(standard input is not a terminal)")  # fmt: skip
    assert not file.exists()


def _rewritten(file: Path, change: Any) -> None:
    """The archive at `file` with its members changed by `change` (as another tomo
    would have written it)."""
    members = _members(archive.unseal(file.read_bytes(), PASSPHRASE, name=str(file)))
    change(members)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    file.write_bytes(archive.seal(buffer.getvalue(), PASSPHRASE))


def _members(payload: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        return {info.name: tar.extractfile(info).read() for info in tar if info.isfile()}  # type: ignore[union-attr]


def _revision(revision: str) -> Any:
    def change(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        manifest["schema_revision"] = revision
        members["manifest.json"] = json.dumps(manifest).encode()

    return change


def test_an_archive_of_an_older_schema_is_migrated(old: Tomo, tmp_path: Path) -> None:
    """0019 added backup_repositories, 0020 backups and the installations' backup
    settings, 0021 their choice of repository, 0022 the servers' domains and the
    installations' hostnames, 0023 the servers' ACME CA roots, 0024 the logins in
    front of installations, 0025 the front doors' leases, 0026 their DNS providers:
    without them, the archive is one of 0018."""
    file = tmp_path / "tomo.state"
    export(old, file)

    def to_0018(members: dict[str, bytes]) -> None:
        del members["tables/backup_repositories.jsonl"]
        del members["tables/backups.jsonl"]
        rows = [json.loads(line) for line in members["tables/installations.jsonl"].splitlines()]
        for row in rows:
            for column in (
                "backup_schedule",
                "backup_keep",
                "backup_before_update",
                "backup_repository",
                "hostnames",
                "door_login",
            ):
                del row[column]
        members["tables/installations.jsonl"] = b"".join(
            json.dumps(row).encode() + b"\n" for row in rows
        )
        servers = [json.loads(line) for line in members["tables/servers.jsonl"].splitlines()]
        for server in servers:
            for column in ("domain", "tls_mode", "acme_ca", "acme_email", "acme_ca_root",
                           "proxy_http_port", "proxy_https_port", "door_changing_by",
                           "door_changing_at", "dns_provider", "dns_credentials_enc"):  # fmt: skip
                del server[column]
        members["tables/servers.jsonl"] = b"".join(
            json.dumps(server).encode() + b"\n" for server in servers
        )
        _revision("0018")(members)

    _rewritten(file, to_0018)
    new = Tomo(tmp_path / "new")
    shown = json.loads(import_(new, file, "--json").stdout)
    assert shown["migrated_from"] == "0018" and shown["schema_revision"] == "0018"
    assert listed(new) == listed(old) | {"backup": []}  # 0018 kept no backups
    assert asyncio.run(_state(new.data_dir)) == (SERVER_KEY, None, None, ["notes"])


def test_an_archive_of_a_newer_schema_is_refused(old: Tomo, tmp_path: Path) -> None:
    file = tmp_path / "tomo.state"
    export(old, file)
    _rewritten(file, _revision("9999"))
    new = Tomo(tmp_path / "new")
    from tomo.migrations import SCHEMA_REVISION

    refused = new.error("state", "import", str(file), "--passphrase-stdin", expect=2,
                        stdin=f"{PASSPHRASE}\n")  # fmt: skip
    assert refused == (f"error: the archive is of schema revision 9999, newer than this tomo's "
                       f"({SCHEMA_REVISION}): import it with a tomo at least as new as the one "
                       "that exported it")  # fmt: skip
    assert not new.data_dir.exists()


@pytest.mark.postgres
def test_a_sqlite_tomo_moves_to_postgresql(old: Tomo, tmp_path: Path,
                                           postgres_base_url: str) -> None:  # fmt: skip
    file = tmp_path / "tomo.state"
    export(old, file)
    url = new_database(postgres_base_url)
    try:
        new = Tomo(tmp_path / "new", TOMO_DATABASE_URL=url)
        import_(new, file)
        assert listed(new) == listed(old)
        new.run("channel", "add", "desk", "ntfy://ntfy.sh/other")  # the ids go on after the loaded
        assert [channel["name"] for channel in new.json("channel", "list")] == ["desk", "phone"]
    finally:
        drop_database(url)
