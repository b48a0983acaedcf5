"""Which installations the catalog offers a newer version of: the one place that
decides it, for every face (`tomo ps`, `tomo outdated`, the API, the pages).

An installation keeps the definition it was installed from; the catalog row of
its app (same repository, same id) is what a sync last read. The catalog offers
an update when its version is newer than the installed one:

- both versions read as release numbers (`1.2.3`, `v2.0`, `2024.06.1`, with an
  optional suffix such as `-rc1` or `-ls45`): the larger number is newer; with
  equal numbers, a release is newer than its pre-release (`-rc1`) and any other
  difference of suffix is newer by the catalog's word;
- otherwise (`latest`, `stable`, a date in words): any difference is newer by
  the catalog's word, as the catalog's author is the one who changed it.

A catalog that moved back to a smaller number is not offered: putting an older
release over data a newer one wrote is how apps break. An installation whose
repository or app is gone is offered nothing (it keeps running as installed).

An image whose floating tag (`latest`, `16`) names a new image now, as the last
check of its registry found (tomo/updates/images.py), is an update too: offered
even at the same version (the update pulls the tag again), named in the offer's
`images`; not when the catalog moved back. A `pinned` installation is offered
nothing at all.

Every installation's catalog app is read in one query (a join), never one per
installation, and only the columns needed: a definition's shipped files can be
large, the version and release notes are not.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select

from tomo.db import Database
from tomo.deployment.app_spec import user_variables
from tomo.deployment.models import Installation
from tomo.deployment.schemas import UpdateOffer
from tomo.deployment.spec import publishes_ports
from tomo.marketplace.definition import AppDefinition, AppEnvVar
from tomo.marketplace.models import MarketplaceAppRow
from tomo.updates.policy import UpdatePolicy

# A release number with an optional suffix: `v1.2.3`, `1.2.3-rc.1`, `2.0+build5`, `10.1-ls45`.
_RELEASE = re.compile(
    r"v?(?P<numbers>\d+(?:\.\d+)*)"
    r"(?P<suffix>[-+~_.]?[0-9A-Za-z][0-9A-Za-z.+~_-]*)?",
    re.IGNORECASE,
)
# Suffixes that mark a version before its release (`1.0-rc1` comes before `1.0`).
_PRE_RELEASE = re.compile(r"[-~_.]?(?:alpha|beta|rc|pre|preview|dev|a|b)\W?\d*", re.IGNORECASE)


def is_newer(catalog: str, installed: str) -> bool:
    """Whether the catalog's version is newer than the installed one (the rule in
    this module's docstring)."""
    if catalog.strip() == installed.strip():
        return False
    new, old = _RELEASE.fullmatch(catalog.strip()), _RELEASE.fullmatch(installed.strip())
    if new is None or old is None:
        return True  # not release numbers: different is newer by the catalog's word
    new_numbers, old_numbers = _numbers(new["numbers"]), _numbers(old["numbers"])
    if new_numbers != old_numbers:
        return new_numbers > old_numbers
    if (new["suffix"] or "").lower() == (old["suffix"] or "").lower():
        return False  # `v1.2` and `1.2.0` name one release
    return not _is_pre_release(new["suffix"]) or _is_pre_release(old["suffix"])


def release_numbers(version: str) -> tuple[int, ...] | None:
    """A version's release numbers (`v2.1.0-rc1` -> (2, 1)); None when it is not one."""
    match = _RELEASE.fullmatch(version.strip())
    return _numbers(match["numbers"]) if match else None


def _numbers(text: str) -> tuple[int, ...]:
    """`1.2` and `1.2.0` are one release: trailing zeros do not count."""
    numbers = [int(part) for part in text.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _is_pre_release(suffix: str | None) -> bool:
    return bool(suffix) and _PRE_RELEASE.fullmatch(suffix or "") is not None


def offer(
    installed: str, catalog: str, release_notes: str | None, images: Sequence[str] = ()
) -> UpdateOffer | None:
    """The update from `installed` to `catalog`, if the catalog's is newer, or to the
    same version when `images` (see new_images) have moved and the catalog has not
    moved back."""
    if is_newer(catalog, installed):
        return UpdateOffer(from_version=installed, to_version=catalog,
                           release_notes=release_notes or None, images=list(images))  # fmt: skip
    if not images or is_newer(installed, catalog):
        return None
    return UpdateOffer(from_version=installed, to_version=installed, images=list(images))


def new_images(image_updates: dict[str, Any] | None) -> list[str]:
    """What the last image check found moved, one line per image: `redis:7 has a new
    image (sha256:1a2b3c4d5e6f…)`."""
    found = [entry for _, entry in sorted((image_updates or {}).items())
             if isinstance(entry, dict) and entry.get("latest")
             and entry.get("running") != entry.get("latest")]  # fmt: skip
    return list(dict.fromkeys(f"{entry.get('image')} has a new image "
                              f"({str(entry['latest'])[:19]}…)" for entry in found))  # fmt: skip


async def offers(
    db: Database, installations: Iterable[str] | None = None
) -> dict[str, UpdateOffer]:
    """installation id -> the update its catalog or its images' registries offer,
    for the installations named (all when None); those offered none, and pinned
    ones, are left out. One query."""
    app = MarketplaceAppRow
    notes = app.details["release_notes"].as_string()
    same_app = and_(app.repo_id == Installation.repo_id, app.id == Installation.app_id)
    query = select(
        Installation.id, Installation.version, app.version, notes, Installation.image_updates
    ).join(app, same_app).where(Installation.update_policy != UpdatePolicy.PINNED)  # fmt: skip
    if installations is not None:
        query = query.where(Installation.id.in_(list(installations)))
    async with db.session() as session:
        rows = await session.execute(query)
    found = {ref: offer(installed, catalog, notes, new_images(images))
             for ref, installed, catalog, notes, images in rows}  # fmt: skip
    return {ref: offered for ref, offered in found.items() if offered is not None}


# -- what an update changes -----------------------------------------------------


@dataclass(frozen=True)
class ImageChange:
    """A service's image before and after (None: the service is new, or goes)."""

    service: str
    installed: str | None
    offered: str | None


@dataclass(frozen=True)
class UpdateChanges:
    """What moving an installation to the catalog's definition changes, shown before
    anything runs. Ports and volumes are named by the container's side (`8080/tcp`,
    `/config`), led by their service in an app of several."""

    images: list[ImageChange]
    ports_added: list[str]
    ports_removed: list[str]
    volumes_added: list[str]
    volumes_removed: list[str]
    settings_required: list[str]  # new settings without a default: the update needs a value
    settings_removed: list[str]  # settings the new version no longer has (their values go)

    @property
    def nothing(self) -> bool:
        return not any(vars(self).values())


def update_changes(
    installed: AppDefinition, offered: AppDefinition, *, images: dict[str, str],
    values: Collection[str],
) -> UpdateChanges:  # fmt: skip
    """The changes from the installed definition (its services running `images`) to
    the offered one; `values`: the settings the installation has a value for."""
    several = bool(installed.services or offered.services)
    old_ports, new_ports = _ports(installed, several), _ports(offered, several)
    old_volumes, new_volumes = _volumes(installed, several), _volumes(offered, several)
    old_settings, new_settings = user_variables(installed), user_variables(offered)
    return UpdateChanges(
        images=_image_changes(images, offered),
        ports_added=[p for p in new_ports if p not in old_ports],
        ports_removed=[p for p in old_ports if p not in new_ports],
        volumes_added=[v for v in new_volumes if v not in old_volumes],
        volumes_removed=[v for v in old_volumes if v not in new_volumes],
        settings_required=_newly_required(old_settings, new_settings, values),
        settings_removed=_removed(old_settings, new_settings),
    )


def _image_changes(images: dict[str, str], offered: AppDefinition) -> list[ImageChange]:
    new = {service: spec.image for service, spec in offered.all_services.items()}
    return [ImageChange(service, images.get(service), new.get(service))
            for service in dict.fromkeys([*images, *new])
            if images.get(service) != new.get(service)]  # fmt: skip


def _ports(definition: AppDefinition, several: bool) -> list[str]:
    """The ports each service publishes, as `8080/tcp` (`web: 8080/tcp` in an app of several)."""
    return [f"{_led(service, several)}{port.container}/{port.protocol}"
            for service, spec in definition.all_services.items()
            if publishes_ports(spec.network_mode) for port in spec.ports]  # fmt: skip


def _volumes(definition: AppDefinition, several: bool) -> list[str]:
    return [f"{_led(service, several)}{volume.container_path}"
            for service, spec in definition.all_services.items()
            for volume in spec.volumes]  # fmt: skip


def _led(service: str, several: bool) -> str:
    return f"{service}: " if several else ""


def _needs_value(variable: AppEnvVar) -> bool:
    return variable.required and variable.default is None and not variable.generate


def _newly_required(
    old: list[AppEnvVar], new: list[AppEnvVar], values: Collection[str]
) -> list[str]:
    """Settings the new version needs a value for that the installation was never
    asked for (a setting required before was given one at install)."""
    known = {v.name for v in old if _needs_value(v)} | set(values)
    return [v.name for v in new if _needs_value(v) and v.name not in known]


def _removed(old: list[AppEnvVar], new: list[AppEnvVar]) -> list[str]:
    kept = {v.name for v in new}
    return [v.name for v in old if v.name not in kept]
