"""Backup repositories away from tomo's host: a folder on another server tomo manages
(restic's sftp backend through the system's ssh, with tomo's login to that server),
and S3-compatible storage (moto's S3 server on loopback: a stand-in, as no S3 service
can run here; restic speaks the same S3 protocol to it)."""

from __future__ import annotations

import glob
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.backups.test_snapshots import fill, installed, status, tree, volume_folder
from tests.deployment.conftest import Deploy, carried_out, server_for
from tests.sshd import Sshd, SshUsers
from tomo.backups.schemas import BackupSettings
from tomo.errors import Conflict, InvalidInput, RepositoryUnreachable
from tomo.servers.schemas import ServerCreate


def vault_server(sshd: Sshd, users: SshUsers, folder: Path) -> ServerCreate:
    """A second server whose login is the passphrase-protected key (unlocked for ssh)."""
    made = server_for("vault", sshd, users, folder)
    return made.model_copy(update={"private_key": SecretStr(users.encrypted_key.read_text()),
                                   "passphrase": SecretStr(users.passphrase)})  # fmt: skip


def login_folders() -> set[str]:
    return set(glob.glob(f"{tempfile.gettempdir()}/tomo-sftp-*"))


async def test_a_backup_into_a_folder_on_another_server_restores_exactly(
    deploy: Deploy, ssh_users: SshUsers, own_sshd: Sshd, user_folder: Path
) -> None:
    runtime = deploy.runtime
    await runtime.servers.add_server(vault_server(own_sshd, ssh_users, user_folder))
    before = login_folders()
    added = await runtime.backups.repositories.add_on_server(
        "offsite", "vault", str(user_folder / "restic")
    )
    assert (added.kind, added.server, added.backups) == ("sftp", "vault", 0)
    assert (user_folder / "restic" / "config").is_file()
    assert (user_folder / "restic" / "config").stat().st_uid != 0  # written by the SSH user

    await installed(deploy, "faraway")
    data, store = deploy.data_root / "faraway" / "data", volume_folder("faraway_store")
    fill(data, "bind")
    fill(store, "volume")
    saved = [tree(data), tree(store)]
    chosen = BackupSettings(repository="offsite")
    await runtime.backups.set_settings("faraway", chosen)
    made = await carried_out(runtime.backups.prepare_backup("faraway"))
    listed = await runtime.backups.list_backups("faraway")
    assert [b.repository_id for b in listed] == ["offsite"]
    assert (await runtime.backups.repositories.get("offsite")).backups == 1

    shutil.rmtree(data)
    data.mkdir()
    (store / "ünïcödé").unlink()
    await carried_out(runtime.backups.prepare_restore(made.job_id))
    assert [tree(data), tree(store)] == saved
    assert status("faraway") == "running"
    # ssh was given tomo's login in a private folder for each restic run, gone after it.
    assert login_folders() == before


async def test_a_repository_server_gone_fails_the_backup_and_the_app_runs_on(
    deploy: Deploy, ssh_users: SshUsers, own_sshd: Sshd, user_folder: Path
) -> None:
    runtime = deploy.runtime
    await runtime.servers.add_server(vault_server(own_sshd, ssh_users, user_folder))
    await runtime.backups.repositories.add_on_server("offsite", "vault", str(user_folder / "r"))
    await installed(deploy, "stranded")
    await runtime.backups.set_settings("stranded", BackupSettings(repository="offsite"))
    own_sshd.stop()

    with pytest.raises(RepositoryUnreachable, match=r"'offsite'.*(sftp|refused)"):
        await carried_out(runtime.backups.prepare_backup("stranded"))
    assert status("stranded") == "running"
    assert await runtime.backups.list_backups("stranded") == []


async def test_a_server_with_a_password_login_cannot_hold_a_repository(
    deploy: Deploy, ssh_users: SshUsers, own_sshd: Sshd, user_folder: Path
) -> None:
    by_password = server_for("vault", own_sshd, ssh_users, user_folder).model_copy(
        update={"private_key": None, "password": SecretStr(ssh_users.password)}
    )
    await deploy.runtime.servers.add_server(by_password)
    repositories = deploy.runtime.backups.repositories
    with pytest.raises(InvalidInput, match="logs in with a password"):
        await repositories.add_on_server("offsite", "vault", str(user_folder / "r"))
    assert [r.name for r in await repositories.list()] == []
    assert not (user_folder / "r").exists()


async def test_bad_repository_input_is_refused_naming_the_field(deploy: Deploy) -> None:
    repositories = deploy.runtime.backups.repositories
    with pytest.raises(InvalidInput) as refused:
        await repositories.add_on_server("offsite", "box", "relative/folder")
    assert refused.value.problems[0].fields == ("path",)
    with pytest.raises(InvalidInput) as refused:
        await repositories.add_on_server("Off Site", "box", "/srv/backups")
    assert refused.value.problems[0].fields == ("name",)
    with pytest.raises(InvalidInput) as refused:
        await repositories.add_s3("cloud", "ftp://example/bucket", "id", "secret")
    assert refused.value.problems[0].fields == ("url",)
    with pytest.raises(InvalidInput, match="no login"):
        await repositories.add_s3("cloud", "https://key:secret@s3.example/bucket", "id", "s")
    with pytest.raises(InvalidInput) as refused:
        await deploy.runtime.backups.set_settings_for_all(BackupSettings(repository="nowhere"))
    assert refused.value.problems[0].fields == ("repository",)
    assert await repositories.list() == []


async def test_a_repository_in_use_is_not_removed_and_the_default_can_change(
    deploy: Deploy, user_folder: Path
) -> None:
    backups = deploy.runtime.backups
    repositories = backups.repositories
    await installed(deploy, "kept")
    await carried_out(backups.prepare_backup("kept"))  # into the default, made now
    await repositories.add_local("spare", str(user_folder / "spare"))
    listed = {r.name: (r.kind, r.default, r.backups) for r in await repositories.list()}
    assert listed == {"default": ("local", True, 1), "spare": ("local", False, 0)}

    with pytest.raises(Conflict, match=r"is the default.*1 backups are in it"):
        await repositories.remove("default")
    await repositories.make_default("spare")
    made = await carried_out(backups.prepare_backup("kept"))
    assert (await backups.get_backup(made.job_id)).repository_id == "spare"
    await backups.set_settings("kept", BackupSettings(repository="default"))
    with pytest.raises(Conflict, match="kept back up into it"):
        await repositories.remove("default")
    with pytest.raises(Conflict, match="exists already"):
        await repositories.add_local("spare", str(user_folder / "other"))
    # A folder holding a restic repository tomo did not make is refused, not adopted.
    with pytest.raises(Conflict, match="already at"):
        await repositories.add_local("again", str(user_folder / "spare"))


async def test_a_backup_into_s3_storage_restores_and_its_keys_stay_sealed(
    deploy: Deploy, s3_endpoint: str
) -> None:
    backups = deploy.runtime.backups
    url = f"{s3_endpoint}/tomo-backups/{uuid.uuid4().hex[:8]}"
    added = await backups.repositories.add_s3(
        "cloud", url, "test-key-id", "test-secret-key", region="eu-west-1"
    )
    assert (added.kind, added.location) == ("s3", url)
    await installed(deploy, "clouded")
    data = deploy.data_root / "clouded" / "data"
    fill(data, "bind")
    saved = tree(data)
    await backups.set_settings("clouded", BackupSettings(repository="cloud"))
    made = await carried_out(backups.prepare_backup("clouded"))
    shutil.rmtree(data)
    data.mkdir()
    await carried_out(backups.prepare_restore(made.job_id))
    assert tree(data) == saved

    shown = repr(await backups.repositories.list())
    assert "test-secret-key" not in shown and "test-key-id" not in shown
    from sqlalchemy import text

    async with deploy.runtime.db.session() as session:
        stored = str((await session.execute(text("SELECT * FROM backup_repositories"))).all())
    assert "test-secret-key" not in stored
