"""The backup repositories: made on first use, each opened with its own password.

The default repository is a folder on tomo's host, `<data_dir>/backups/default`.
Its password is a long random value made by tomo, stored only sealed with tomo's
key: whoever holds the database and the key (a `tomo state export`) can open it.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from tomo.backups.models import BackupRepository
from tomo.backups.restic import Repository, Restic
from tomo.crypto import Secrets
from tomo.db import Database
from tomo.errors import RepositoryNotFound

DEFAULT = "default"
LOCAL = "local"


class BackupRepositories:
    def __init__(
        self, db: Database, data_dir: Path, secrets_box: Secrets, *, binary: str = "restic"
    ) -> None:
        self.db = db
        self.folder = data_dir / "backups"
        self.secrets = secrets_box
        self.binary = binary
        self._making = asyncio.Lock()

    async def default(self) -> Restic:
        """The default repository, made (row, folder, `restic init`) on first use."""
        async with self._making:
            row = await self._row(DEFAULT)
            if row is None:
                row = await self._add(DEFAULT, self.folder / DEFAULT)
            restic = self._restic(row)
            if not (Path(row.location) / "config").exists():
                await restic.init()  # a row whose init failed before is made whole here
            return restic

    async def open(self, name: str) -> Restic:
        row = await self._row(name)
        if row is None:
            raise RepositoryNotFound(name, "tomo has no backup repository by that name")
        return self._restic(row)

    async def _row(self, name: str) -> BackupRepository | None:
        async with self.db.session() as session:
            query = select(BackupRepository).where(BackupRepository.name == name)
            return (await session.scalars(query)).one_or_none()

    async def _add(self, name: str, location: Path) -> BackupRepository:
        location.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        row = BackupRepository(
            id=name, name=name, kind=LOCAL, location=str(location),
            password_enc=self.secrets.encrypt(secrets.token_urlsafe(32)),
            created_at=datetime.now(UTC),
        )  # fmt: skip
        async with self.db.session() as session, session.begin():
            session.add(row)
        return row

    def _restic(self, row: BackupRepository) -> Restic:
        password = self.secrets.decrypt(row.password_enc)
        return Restic(Repository(row.name, row.location, password), binary=self.binary)
