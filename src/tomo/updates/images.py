"""Whether the floating tags installations run name a newer image now.

A check looks at every installation asked for (all by default) that has
containers, no operation under way and a policy other than `pinned`, and at each
of its services whose image has a floating tag (registry.py says which do):

- what each container runs: per server ONE `docker container inspect` of its
  installations' containers (the image id each runs), then ONE `docker image
  inspect` of those ids (`RepoDigests`: the digest each image was pulled as);
  every server at once, each bounded by TOMO_SSH_STATUS_TIMEOUT;
- what the tag names now: one question per image to its registry (a
  RegistryClient per check: an image run by ten installations is asked once),
  with the login the server's Docker keeps for that registry when it keeps one
  in its `config.json` (read in the same bounded time; used for this check
  only, never stored), anonymously otherwise.

Each service checked is recorded on its installation (`image_updates`: the
reference, the digest it runs and the registry's); a service whose registry,
server or image gave no answer is reported with the reason and keeps what the
last check found. Nothing here fails a check: a registry that is down only
leaves its images unchecked. deployment/outdated.py offers the update; an
update clears what was found (the new containers run what the tag names).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import select, update

from tomo.deployment.context import installed_containers
from tomo.deployment.models import Installation
from tomo.deployment.remote import Docker
from tomo.errors import CommandFailed, RemoteError
from tomo.marketplace.definition import AppDefinition
from tomo.updates.policy import UpdatePolicy
from tomo.updates.registry import (
    Credentials,
    RegistryClient,
    RegistryError,
    logins_in,
    parse_image,
)

if TYPE_CHECKING:
    from tomo.deployment.service import DeploymentService


class ImageChecked(BaseModel):
    """A service whose image's tag was asked of its registry."""

    installation: str  # id
    name: str  # the installation's instance name
    service: str
    image: str  # the reference, as installed
    running: str  # the digest its container runs
    latest: str  # the digest the registry gives the tag now
    new: bool  # the two differ: an update is offered


class ImageNotChecked(BaseModel):
    """A service (or, when `service` is None, a whole installation) left unchecked."""

    installation: str
    name: str
    service: str | None
    image: str | None
    reason: str


class ImageCheckReport(BaseModel):
    """What a check of floating tags found (`tomo outdated --check`, the API)."""

    checked_at: datetime
    checked: list[ImageChecked]
    offered: list[str]  # the installations (ids) offered a new image now
    not_checked: list[ImageNotChecked]


@dataclass(frozen=True)
class _Service:
    """A service of an installation whose image floats."""

    row: Installation
    service: str
    container: str
    image: str


async def check_images(
    deployment: DeploymentService, installations: Sequence[str] | None = None,
    *, client: RegistryClient | None = None,
) -> ImageCheckReport:  # fmt: skip
    """Check the installations named (all when None), record what was found, and
    say what was checked, offered and left unchecked (see the module's docstring)."""
    now = datetime.now(UTC)
    rows, skipped = await _candidates(deployment, installations)
    services = [s for row in rows for s in _floating(row, skipped)]
    running, logins = await _running(deployment, services, skipped)
    asked = [s for s in services if (s.row.id, s.service) in running]
    async with _given_or_own(client) as registry:
        latest = await _latest(registry, asked, logins, skipped)
    checked = [_checked(s, running[s.row.id, s.service], latest[s.row.id, s.service])
               for s in asked if (s.row.id, s.service) in latest]  # fmt: skip
    await _record(deployment, rows, checked, now)
    offered = list(dict.fromkeys(c.installation for c in checked if c.new))
    return ImageCheckReport(checked_at=now, checked=checked, offered=offered, not_checked=skipped)


@contextlib.asynccontextmanager
async def _given_or_own(client: RegistryClient | None) -> AsyncIterator[RegistryClient]:
    """The caller's client (kept open for it), or one for this check."""
    if client is not None:
        yield client
        return
    async with RegistryClient() as own:
        yield own


async def _candidates(
    deployment: DeploymentService, installations: Sequence[str] | None
) -> tuple[list[Installation], list[ImageNotChecked]]:
    """The installations to check; those under an operation are reported, pinned ones
    and those without containers left out."""
    query = select(Installation).where(
        Installation.update_policy != UpdatePolicy.PINNED, Installation.container_id.is_not(None)
    ).order_by(Installation.server_id, Installation.name)  # fmt: skip
    if installations is not None:
        query = query.where(Installation.id.in_(list(installations)))
    async with deployment.db.session() as session:
        rows = list(await session.scalars(query))
    busy = [ImageNotChecked(installation=r.id, name=r.name, service=None, image=None,
                            reason=f"a tomo {r.operation} is under way")
            for r in rows if r.operation is not None]  # fmt: skip
    return [r for r in rows if r.operation is None], busy


def _floating(row: Installation, skipped: list[ImageNotChecked]) -> list[_Service]:
    definition = AppDefinition.model_validate(row.definition)
    found = []
    for container in installed_containers(row, definition):
        try:
            floating = parse_image(container.image).floating
        except ValueError as exc:
            skipped.append(_unchecked(row, container.service, container.image, str(exc)))
            continue
        if floating:
            found.append(_Service(row, container.service, container.name, container.image))
    return found


def _unchecked(row: Installation, service: str | None, image: str | None,
               reason: str) -> ImageNotChecked:  # fmt: skip
    return ImageNotChecked(installation=row.id, name=row.name, service=service, image=image,
                           reason=reason)  # fmt: skip


# -- what each container runs ------------------------------------------------------


Logins = dict[str, dict[str, Credentials]]  # server id -> registry -> its login there
# The file Docker keeps its logins in, for the user that runs it on the server.
READ_LOGINS = 'cat "${DOCKER_CONFIG:-$HOME/.docker}/config.json" 2>/dev/null || true'


async def _running(
    deployment: DeploymentService, services: list[_Service], skipped: list[ImageNotChecked]
) -> tuple[dict[tuple[str, str], str], Logins]:
    """(installation id, service) -> the digest its container runs, and each server's
    registry logins; every server at once."""
    by_server: dict[str, list[_Service]] = {}
    for service in services:
        by_server.setdefault(service.row.server_id, []).append(service)
    limit = deployment.settings.ssh_status_timeout
    answers = await asyncio.gather(*(_server_digests(deployment, server, found, limit, skipped)
                                     for server, found in by_server.items()))  # fmt: skip
    digests = {key: digest for answer, _ in answers for key, digest in answer.items()}
    return digests, dict(zip(by_server, (logins for _, logins in answers), strict=True))


async def _server_digests(
    deployment: DeploymentService, server: str, services: list[_Service], limit: float,
    skipped: list[ImageNotChecked],
) -> tuple[dict[tuple[str, str], str], dict[str, Credentials]]:  # fmt: skip
    try:
        async with asyncio.timeout(limit):
            docker = await deployment.ctx.docker(server)
            images, logins = await asyncio.gather(
                _inspect(docker, "container", [s.container for s in services]), _logins(docker)
            )  # fmt: skip
            ids = sorted({str(doc.get("Image")) for doc in images.values() if doc.get("Image")})
            pulled = await _inspect(docker, "image", ids)
    except TimeoutError:
        reason = f"{server}: no answer within {limit:g}s"
    except RemoteError as exc:
        reason = exc.message
    else:
        return _digests(services, images, pulled, skipped), logins
    skipped.extend(_unchecked(s.row, s.service, s.image, reason) for s in services)
    return {}, {}


async def _logins(docker: Docker) -> dict[str, Credentials]:
    """The registry logins the server's Docker keeps in its config file (as the user
    that runs Docker there: root when tomo uses sudo)."""
    sudo = ["sudo", "-n"] if docker.target.use_sudo else []
    result = await docker.ssh.run(docker.target, [*sudo, "sh", "-c", READ_LOGINS], check=False)
    return logins_in(result.stdout) if result.exit_code == 0 else {}


async def _inspect(docker: Docker, kind: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """name (a container's) or id (an image's) -> Docker's document, for those that
    exist: one `docker <kind> inspect`."""
    if not names:
        return {}
    result = await docker.ssh.run_docker(docker.target, [kind, "inspect", "--", *names],
                                         check=False)  # fmt: skip
    if result.exit_code != 0 and "no such" not in result.stderr.lower():
        raise CommandFailed(docker.server, f"docker {kind} inspect", result.exit_code,
                            result.stderr)  # fmt: skip
    docs = json.loads(result.stdout or "[]")
    key = "Name" if kind == "container" else "Id"
    return {str(doc.get(key, "")).lstrip("/"): doc for doc in docs}


def _digests(
    services: list[_Service], containers: dict[str, dict[str, Any]],
    images: dict[str, dict[str, Any]], skipped: list[ImageNotChecked],
) -> dict[tuple[str, str], str]:  # fmt: skip
    found = {}
    for service in services:
        container = containers.get(service.container)
        image = images.get(str((container or {}).get("Image")), {})
        digest = _pulled_as(service.image, image.get("RepoDigests") or [])
        if container is None:
            reason = f"its container {service.container} is not on the server"
        elif digest is None:
            reason = "the image it runs was not pulled from a registry (Docker has no digest of it)"
        else:
            found[service.row.id, service.service] = digest
            continue
        skipped.append(_unchecked(service.row, service.service, service.image, reason))
    return found


def _pulled_as(reference: str, repo_digests: list[str]) -> str | None:
    """The digest of `reference`'s repository among an image's `name@digest`s."""
    repo = parse_image(reference).repo
    for entry in repo_digests:
        name, _, digest = str(entry).partition("@")
        try:
            if digest and parse_image(name).repo == repo:
                return digest
        except ValueError:
            continue
    return None


# -- what the registries say -------------------------------------------------------


async def _latest(
    client: RegistryClient, services: list[_Service], logins: Logins,
    skipped: list[ImageNotChecked],
) -> dict[tuple[str, str], str]:  # fmt: skip
    """(installation id, service) -> the digest its tag names now; the client asks
    each image once (per login: another server's login may see another image)."""
    answers = await asyncio.gather(*(client.digest(s.image, _login(s, logins)) for s in services),
                                   return_exceptions=True)  # fmt: skip
    latest = {}
    for service, answer in zip(services, answers, strict=True):
        if isinstance(answer, str):
            latest[service.row.id, service.service] = answer
        elif isinstance(answer, RegistryError | ValueError):
            skipped.append(_unchecked(service.row, service.service, service.image, str(answer)))
        else:
            raise answer
    return latest


def _login(service: _Service, logins: Logins) -> Credentials | None:
    return logins.get(service.row.server_id, {}).get(parse_image(service.image).registry)


def _checked(service: _Service, running: str, latest: str) -> ImageChecked:
    return ImageChecked(installation=service.row.id, name=service.row.name,
                        service=service.service, image=service.image, running=running,
                        latest=latest, new=running != latest)  # fmt: skip


async def _record(
    deployment: DeploymentService, rows: list[Installation], checked: list[ImageChecked],
    now: datetime,
) -> None:  # fmt: skip
    """Each installation's findings, merged over the last check's for the services
    not answered now; only if no operation changed its containers meanwhile."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for c in checked:
        found.setdefault(c.installation, {})[c.service] = {
            "image": c.image, "running": c.running, "latest": c.latest,
        }  # fmt: skip
    async with deployment.db.session() as session, session.begin():
        for row in rows:
            if row.id not in found:
                continue
            kept = {service: entry for service, entry in (row.image_updates or {}).items()
                    if _still_applies(row, service, entry)}  # fmt: skip
            await session.execute(
                update(Installation).where(
                    Installation.id == row.id, Installation.container_id == row.container_id,
                    Installation.image == row.image, Installation.operation.is_(None),
                ).values(image_updates={**kept, **found[row.id]}, images_checked_at=now)
            )  # fmt: skip


def _still_applies(row: Installation, service: str, entry: Any) -> bool:
    """A finding of an earlier check, for a service the installation still runs with
    the same image reference."""
    definition = AppDefinition.model_validate(row.definition)
    images = {c.service: c.image for c in installed_containers(row, definition)}
    return isinstance(entry, dict) and images.get(service) == entry.get("image")
