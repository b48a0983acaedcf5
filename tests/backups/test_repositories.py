"""The default repository: made on first use, its password sealed in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tomo.backups.models import BackupRepository
from tomo.backups.repositories import DEFAULT, BackupRepositories
from tomo.crypto import Secrets
from tomo.errors import RepositoryNotFound
from tomo.runtime import Runtime


def repositories(runtime: Runtime, binary: str) -> BackupRepositories:
    settings = runtime.settings
    return BackupRepositories(runtime.db, settings.data_dir,
                              Secrets(settings.secret_key, settings.data_dir), binary=binary)  # fmt: skip


async def test_the_default_repository_is_made_once_with_a_sealed_password(
    runtime: Runtime, restic_binary: str
) -> None:
    made = await repositories(runtime, restic_binary).default()
    location = runtime.settings.data_dir / "backups" / DEFAULT
    assert made.repository.location == str(location)
    assert (location / "config").is_file()
    assert len(made.repository.password) >= 40
    await made.backup_bytes("a.tar", b"kept", [])

    # A second tomo on the same data directory opens the same repository.
    again = await repositories(runtime, restic_binary).default()
    assert again.repository.password == made.repository.password
    assert len(await again.snapshots()) == 1

    async with runtime.db.session() as session:
        sealed = await session.scalar(select(BackupRepository.password_enc))
    assert sealed is not None
    assert made.repository.password not in sealed
    assert made.repository.password not in repr(made.repository)


async def test_a_repository_tomo_does_not_know_is_not_found(
    runtime: Runtime, restic_binary: str
) -> None:
    with pytest.raises(RepositoryNotFound, match="'offsite'"):
        await repositories(runtime, restic_binary).open("offsite")
