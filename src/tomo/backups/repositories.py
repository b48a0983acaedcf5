"""The backup repositories: where backups go, each opened with its own password.

Three kinds, as the user adds them:

    local  a folder on tomo's host. The default one, `<data_dir>/backups/default`,
           is made on first use.
    sftp   a folder on a server tomo manages, reached with tomo's own SSH login to
           it (its key and pinned host key; see servers/openssh.py).
    s3     S3-compatible storage: an http(s) URL naming the bucket (and a prefix),
           with an access key sealed like every secret.

Every repository's password is a long random value made by tomo, stored only
sealed with tomo's key: whoever holds the database and the key (a `tomo state
export`) can open it, and `tomo backup repository password` shows it to an admin
on tomo's host for opening it with restic by hand. One repository is the default;
an installation backs up into its own choice, or the default.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update

from tomo.backups.models import BackupRecord, BackupRepository
from tomo.backups.restic import Repository, Restic
from tomo.backups.schemas import RepositoryPublic
from tomo.crypto import Secrets
from tomo.db import Database
from tomo.deployment.models import Installation
from tomo.errors import Conflict, InvalidInput, Refusal, RepositoryNotFound, TomoError
from tomo.servers.openssh import NoOpenSshLogin, OpenSshLogin
from tomo.servers.ssh import SSHTarget
from tomo.slugs import SLUG

DEFAULT = "default"
LOCAL, SFTP, S3 = "local", "sftp", "s3"

Targets = Callable[[str], Awaitable[SSHTarget]]


class BackupRepositories:
    def __init__(
        self, db: Database, data_dir: Path, secrets_box: Secrets, *,
        targets: Targets | None = None, binary: str = "restic",
    ) -> None:  # fmt: skip
        self.db = db
        self.folder = data_dir / "backups"
        self.secrets = secrets_box
        self.targets = targets  # a server's SSH login (ServerService.target)
        self.binary = binary
        self._making = asyncio.Lock()

    # -- opening ------------------------------------------------------------

    async def default(self) -> Restic:
        """The default repository; the local one made (row, folder, `restic init`) on
        first use while no other is the default."""
        async with self._making:
            row = await self._default_row()
            if row is None:
                row = await self._insert(self._new_row(DEFAULT, LOCAL, str(self.folder / DEFAULT)))
            restic = await self._restic(row)
            if row.kind == LOCAL and not (Path(row.location) / "config").exists():
                await restic.init()  # a row whose init failed before is made whole here
            return restic

    async def for_installation(self, row: Installation) -> Restic:
        """The repository the installation backs up into: its own choice, or the default."""
        if row.backup_repository is None:
            return await self.default()
        return await self.open(row.backup_repository)

    async def open(self, name: str) -> Restic:
        return await self._restic(await self._found(name))

    # -- adding, listing, removing ------------------------------------------

    async def add_on_server(self, name: str, server: str, path: str) -> RepositoryPublic:
        """A new repository in a folder of a server tomo manages, made there now."""
        row = self._new_row(_checked_name(name), SFTP, _checked_folder(path))
        target = await self._target(server)
        row.server_id = target.key
        await self._create(row)
        return await self.get(name)

    async def add_s3(
        self, name: str, url: str, access_key_id: str, secret_access_key: str,
        region: str | None = None,
    ) -> RepositoryPublic:  # fmt: skip
        """A new repository in S3-compatible storage (the bucket is made when missing)."""
        row = self._new_row(_checked_name(name), S3, _checked_s3_url(url))
        if not access_key_id.strip() or not secret_access_key.strip():
            raise _refused("an S3 repository needs an access key id and its secret",
                               field="access_key_id")  # fmt: skip
        keys = {"access_key_id": access_key_id.strip(), "secret_access_key": secret_access_key}
        row.credentials_enc = self.secrets.encrypt(json.dumps(keys))
        row.options = {"region": region} if region else None
        await self._create(row)
        return await self.get(name)

    async def add_local(self, name: str, path: str) -> RepositoryPublic:
        """A new repository in a folder of tomo's host (a disk of its own, a mount)."""
        folder = Path(path)
        if not folder.is_absolute():
            raise _refused(f"{path!r} is not an absolute path", field="path")
        await self._create(self._new_row(_checked_name(name), LOCAL, str(folder)))
        return await self.get(name)

    async def list(self) -> list[RepositoryPublic]:
        async with self.db.session() as session:
            rows = list(await session.scalars(select(BackupRepository)
                                              .order_by(BackupRepository.name)))  # fmt: skip
            counted = select(BackupRecord.repository_id, func.count()).group_by(
                BackupRecord.repository_id)  # fmt: skip
            counts: dict[str, int] = {name: n for name, n in await session.execute(counted)}
        return [_public(row, counts.get(row.id, 0)) for row in rows]

    async def get(self, name: str) -> RepositoryPublic:
        for found in await self.list():
            if found.name == name:
                return found
        raise RepositoryNotFound(name, "tomo has no backup repository by that name")

    async def make_default(self, name: str) -> RepositoryPublic:
        """Backups of installations without a choice of their own go there from now on."""
        row = await self._found(name)
        async with self.db.session() as session, session.begin():
            await session.execute(update(BackupRepository).values(is_default=False))
            await session.execute(update(BackupRepository).where(BackupRepository.id == row.id)
                                  .values(is_default=True))  # fmt: skip
        return await self.get(name)

    async def remove(self, name: str) -> RepositoryPublic:
        """Forget a repository tomo no longer uses; its data stays where it is."""
        row = await self._found(name)
        shown = await self.get(name)
        async with self.db.session() as session, session.begin():
            chosen = list(await session.scalars(select(Installation.name).where(
                Installation.backup_repository == row.id)))  # fmt: skip
            if row.is_default or shown.backups or chosen:
                raise Conflict(_still_used(name, row.is_default, shown.backups, chosen))
            await session.execute(delete(BackupRepository).where(BackupRepository.id == row.id))
        return shown

    async def password(self, name: str) -> str:
        """The repository's password, for opening it with restic by hand."""
        return self.secrets.decrypt((await self._found(name)).password_enc)

    async def check_choice(self, name: str | None) -> str | None:
        """An installation's choice of repository, refused when there is none by that name."""
        if name is not None and await self._row(name) is None:
            raise _refused(f"there is no backup repository {name!r}", field="repository",
                           hint="tomo backup repository list")  # fmt: skip
        return name

    # -- rows ---------------------------------------------------------------

    def _new_row(self, name: str, kind: str, location: str) -> BackupRepository:
        return BackupRepository(
            id=name, name=name, kind=kind, location=location,
            password_enc=self.secrets.encrypt(secrets.token_urlsafe(32)),
            created_at=datetime.now(UTC), is_default=False,
        )  # fmt: skip

    async def _create(self, row: BackupRepository) -> None:
        """`restic init` where the row says, then the row: a repository tomo cannot
        make is never listed."""
        async with self._making:
            if await self._row(row.name) is not None:
                raise Conflict(f"a backup repository named {row.name!r} exists already")
            restic = await self._restic(row)
            try:
                await restic.init()
            except TomoError as exc:
                if "already exists" in exc.message or "already initialized" in exc.message:
                    raise Conflict(f"a restic repository is already at {_where(row)}: tomo "
                                   "adds only repositories it makes itself") from None  # fmt: skip
                raise
            await self._insert(row)

    async def _insert(self, row: BackupRepository) -> BackupRepository:
        if row.kind == LOCAL:
            Path(row.location).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        async with self.db.session() as session, session.begin():
            if row.name == DEFAULT and await self._default_row() is None:
                row.is_default = True
            session.add(row)
        return row

    async def _row(self, name: str) -> BackupRepository | None:
        async with self.db.session() as session:
            query = select(BackupRepository).where(BackupRepository.name == name)
            return (await session.scalars(query)).one_or_none()

    async def _default_row(self) -> BackupRepository | None:
        async with self.db.session() as session:
            query = select(BackupRepository).where(BackupRepository.is_default.is_(True))
            return (await session.scalars(query)).first()

    async def _found(self, name: str) -> BackupRepository:
        row = await self._row(name)
        if row is None:
            raise RepositoryNotFound(name, "tomo has no backup repository by that name")
        return row

    # -- reaching them ------------------------------------------------------

    async def _restic(self, row: BackupRepository) -> Restic:
        password = self.secrets.decrypt(row.password_enc)
        if row.kind == SFTP:
            assert row.server_id is not None
            login = await self._sftp_login(row.server_id)
            repository = Repository(row.name, f"sftp:{row.server_id}:{row.location}", password,
                                    sftp=login)  # fmt: skip
        elif row.kind == S3:
            repository = Repository(row.name, f"s3:{row.location}", password,
                                    env=self._s3_keys(row), options=_s3_options(row))  # fmt: skip
        else:
            repository = Repository(row.name, row.location, password)
        return Restic(repository, binary=self.binary)

    async def _target(self, server: str) -> SSHTarget:
        if self.targets is None:
            raise _refused("this tomo reaches no servers for backups", field="server")
        return await self.targets(server)

    async def _sftp_login(self, server: str) -> OpenSshLogin:
        """tomo's login to the server, as the system's ssh takes it."""
        target = await self._target(server)
        try:
            return OpenSshLogin.of(target)
        except NoOpenSshLogin as exc:
            hint = ""
            if target.credentials.password:
                hint = f"tomo server generate-key {target.key}"
            elif target.host_key is None:
                hint = f"tomo server trust {target.key}"
            raise _refused(f"server {target.name} cannot hold a backup repository: {exc} "
                           "(restic reaches it with ssh and a key)", field="server",
                           hint=hint) from None  # fmt: skip

    def _s3_keys(self, row: BackupRepository) -> dict[str, str]:
        if row.credentials_enc is None:
            return {}
        keys = json.loads(self.secrets.decrypt(row.credentials_enc))
        return {"AWS_ACCESS_KEY_ID": keys["access_key_id"],
                "AWS_SECRET_ACCESS_KEY": keys["secret_access_key"]}  # fmt: skip


def _refused(text: str, *, field: str, hint: str = "") -> InvalidInput:
    return InvalidInput([Refusal(text, (field,), hint)])


def _checked_name(name: str) -> str:
    if not SLUG.fullmatch(name):
        raise _refused(f"{name!r} is not a repository name: lowercase letters, digits and "
                           "hyphens, at most 64", field="name")  # fmt: skip
    return name


def _checked_folder(path: str) -> str:
    folder = posixpath.normpath(path)
    if not path.startswith("/") or folder == "/" or any(ord(c) < 32 for c in path):
        raise _refused(f"{path!r} is not an absolute folder on the server (not /)",
                           field="path")  # fmt: skip
    return folder


def _checked_s3_url(url: str) -> str:
    """`http(s)://HOST[:PORT]/BUCKET[/PREFIX]`, as restic's s3 backend takes it."""
    parts = urlsplit(url.strip())
    bucket = parts.path.strip("/").split("/")[0]
    if parts.scheme not in ("http", "https") or not parts.hostname or not bucket:
        raise _refused(f"{url!r} is not an S3 URL: http(s)://HOST[:PORT]/BUCKET[/PREFIX]",
                           field="url")  # fmt: skip
    if parts.username or parts.password or parts.query or parts.fragment:
        raise _refused("an S3 URL carries no login, query or fragment (give the access "
                           "key on its own)", field="url")  # fmt: skip
    return url.strip().rstrip("/")


def _s3_options(row: BackupRepository) -> tuple[str, ...]:
    region = (row.options or {}).get("region")
    return (f"s3.region={region}",) if region else ()


def _where(row: BackupRepository) -> str:
    if row.kind == SFTP:
        return f"{row.location} on server {row.server_id}"
    return row.location


def _public(row: BackupRepository, backups: int) -> RepositoryPublic:
    return RepositoryPublic(name=row.name, kind=row.kind, location=_where(row),
                            server=row.server_id, default=row.is_default, backups=backups,
                            created_at=row.created_at)  # fmt: skip


def _still_used(name: str, default: bool, backups: int, chosen: list[str]) -> str:
    reasons = [*(["it is the default (make another one the default first)"] if default else []),
               *([f"{backups} backups are in it (forget them first)"] if backups else []),
               *([f"{', '.join(chosen)} back up into it"] if chosen else [])]  # fmt: skip
    return f"backup repository {name!r} is still used: {'; '.join(reasons)}"
