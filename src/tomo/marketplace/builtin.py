"""The built-in catalog, served as an ordinary git repo so it syncs like any other.

The package carries the catalog files; on start they are committed into a
local git repository under the data directory (again only when they change,
e.g. after an upgrade of tomo) and registered once as the official repo. A
user who removes that repo is not given it back.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from tomo import __version__
from tomo.marketplace.git import run_git
from tomo.marketplace.models import MarketplaceRepo, TomoState
from tomo.marketplace.packaged import (
    DIGEST_KEY,
    REGISTERED_KEY,
    catalog_digest,
    catalog_files,
)
from tomo.marketplace.schemas import RepoCreate
from tomo.marketplace.service import MarketplaceService

BUILTIN_REPO_ID = "official"
BUILTIN_REPO_NAME = "tomo official"


async def ensure_builtin_catalog(service: MarketplaceService) -> None:
    """Commit the packaged catalog if it changed; register and sync it the first time."""
    settings = service.settings
    if not settings.builtin_catalog:
        return
    files = catalog_files()
    digest = catalog_digest(files)
    with _exclusive(settings.data_dir / ".builtin-catalog.lock"):
        state = await _read_state(service)
        target = settings.builtin_catalog_dir
        changed = state.get(DIGEST_KEY) != digest or not (target / ".git").is_dir()
        if changed:
            await _commit_catalog(target, files, time_limit=settings.git_timeout)
            await _write_state(service, DIGEST_KEY, digest)
        if REGISTERED_KEY not in state:
            await service.add_repo(
                RepoCreate(
                    url=str(target.resolve()),
                    name=BUILTIN_REPO_NAME,
                    branch="main",
                    repo_type="official",
                    id=BUILTIN_REPO_ID,
                ),
                trusted_local=True,
            )
            await _write_state(service, REGISTERED_KEY, "1")
            changed = True
        if changed and await _builtin_repo_exists(service):
            await service.sync_repo(BUILTIN_REPO_ID)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Two tomo processes starting at once must not both build the catalog repo."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_files(target: Path, files: dict[str, bytes]) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for relative, content in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


async def _commit_catalog(target: Path, files: dict[str, bytes], *, time_limit: float) -> None:
    _write_files(target, files)
    identity = ["-c", "user.name=tomo", "-c", "user.email=tomo@localhost"]
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        [*identity, "commit", "--quiet", "--no-gpg-sign", "-m", f"tomo {__version__} catalog"],
    ):
        await run_git(["git", *args], cwd=target, time_limit=time_limit)


async def _read_state(service: MarketplaceService) -> dict[str, str]:
    async with service.db.session() as session:
        rows = await session.execute(select(TomoState.key, TomoState.value))
        return {key: value for key, value in rows}


async def _write_state(service: MarketplaceService, key: str, value: str) -> None:
    async with service.db.session() as session, session.begin():
        await session.merge(TomoState(key=key, value=value))


async def _builtin_repo_exists(service: MarketplaceService) -> bool:
    async with service.db.session() as session:
        return await session.get(MarketplaceRepo, BUILTIN_REPO_ID) is not None
