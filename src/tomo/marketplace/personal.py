"""Apps from outside any catalog: a compose file the user pastes becomes an app of
the personal catalog, a git repository tomo keeps in its data directory and
subscribes to as the repo `personal`, read like any store's.

The repository has the CasaOS layout (`Apps/<name>/docker-compose.yml`), so a
pasted file goes through exactly what a store's compose file does: the same
reading, risk flags, preflight, install, update and uninstall. The file is read
before anything is written: one that cannot be read changes nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tomo.errors import InvalidDefinition, InvalidInput, Refusal, RepoNotFound
from tomo.marketplace.docker_run import compose_of_run
from tomo.marketplace.formats.base import Parsed, SourceSpec
from tomo.marketplace.formats.casaos import APPS_DIR, CasaOSFormat
from tomo.marketplace.git import run_git
from tomo.marketplace.schemas import PersonalApp, PersonalAppCreate, RepoCreate
from tomo.marketplace.service import MarketplaceService
from tomo.slugs import SLUG

PERSONAL_REPO = "personal"
PERSONAL_NAME = "Personal apps"
COMPOSE_FILE = "docker-compose.yml"
MAX_COMPOSE_BYTES = 256 * 1024
_IDENTITY = ["-c", "user.name=tomo", "-c", "user.email=tomo@localhost"]
# One writer of the repository at a time (in this process; the sync's lease
# guards the catalog itself).
_WRITING = asyncio.Lock()


def compose_of(request: PersonalAppCreate) -> str:
    """The compose file the request gives, or makes of its docker run line."""
    if request.compose is not None:
        return request.compose
    assert request.run is not None  # PersonalAppCreate asks for one of them
    try:
        return compose_of_run(request.run, request.name)
    except ValueError as exc:
        raise InvalidInput([Refusal(f"the docker run command: {exc}", ("run",))]) from None


async def add_personal_app(service: MarketplaceService, name: str, compose: str) -> PersonalApp:
    """Put `compose` into the personal catalog as the app `name` (replacing the
    one of that name), sync it, and return what to install."""
    return (await add_personal_apps(service, {name: compose}))[0]


async def add_personal_apps(
    service: MarketplaceService, composes: dict[str, str]
) -> list[PersonalApp]:
    """Several apps at once (an adoption of many containers): every file read first,
    then one commit and one sync for all."""
    parsed = {name: read_personal_app(name, compose) for name, compose in composes.items()}
    async with _WRITING:
        folder = service.settings.data_dir.absolute() / "personal-catalog"
        files = {_path(name): compose.encode() for name, compose in composes.items()}
        await _commit(folder, files, service.settings.git_timeout)
        await _subscribe(service, folder)
        await service.sync_repo(PERSONAL_REPO)
    return [
        PersonalApp(app=f"{PERSONAL_REPO}/{read.definition.id}", warnings=read.warnings,
                    not_installable=read.definition.not_installable)
        for read in parsed.values()
    ]  # fmt: skip


def _path(name: str) -> str:
    return f"{APPS_DIR}/{name}/{COMPOSE_FILE}"


def read_personal_app(name: str, compose: str) -> Parsed:
    """The file read as the sync will read it; InvalidInput naming the field when
    the name or the file cannot be an app."""
    path = _path(name)
    if not SLUG.fullmatch(name):
        raise InvalidInput([Refusal(f"'{name}' is not a name a personal app can have "
                                    "(lowercase letters, digits and '-')", ("name",))])  # fmt: skip
    data = compose.encode()
    if len(data) > MAX_COMPOSE_BYTES:
        raise InvalidInput([Refusal(f"the compose file is {len(data)} bytes, more than "
                                    f"{MAX_COMPOSE_BYTES}", ("compose",))])  # fmt: skip
    try:
        return CasaOSFormat().parse(SourceSpec(path, (path,)), {path: data},
                                    max_bytes=MAX_COMPOSE_BYTES)  # fmt: skip
    except InvalidDefinition as exc:
        raise InvalidInput([Refusal(f"the compose file: {exc.reason}", ("compose",))]) from None


async def _commit(folder: Path, files: dict[str, bytes], time_limit: float) -> None:
    if await asyncio.to_thread(_write, folder, files):
        await run_git(["git", "init", "--quiet", "--initial-branch=main"], cwd=folder,
                      time_limit=time_limit)  # fmt: skip
    await run_git(["git", "add", "--", *files], cwd=folder, time_limit=time_limit)
    names = ", ".join(path.split("/")[1] for path in files)
    await run_git(["git", *_IDENTITY, "commit", "--quiet", "--no-gpg-sign", "--allow-empty",
                   "-m", f"personal apps {names}"[:200]], cwd=folder,
                  time_limit=time_limit)  # fmt: skip


def _write(folder: Path, files: dict[str, bytes]) -> bool:
    """Write the files; whether the repository is new (not a git repository yet)."""
    new = not (folder / ".git").is_dir()
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return new


async def _subscribe(service: MarketplaceService, folder: Path) -> None:
    """The repo `personal` the first time (a user who removed it gets it back: it
    is where pasted apps live)."""
    try:
        await service.get_repo(PERSONAL_REPO)
    except RepoNotFound:
        await service.add_repo(
            RepoCreate(url=str(folder), name=PERSONAL_NAME, branch="main",
                       id=PERSONAL_REPO, format="casaos", repo_type="personal"),
            trusted_local=True,
        )  # fmt: skip
