"""UpdateWatcher: in `tomo serve`, each interval, what every installation's policy
asks of the updates offered to it (see policy.py):

- `notify`: a new offer is told once, as an `update-available` event;
- `auto`: inside the installation's window, the update runs as the same
  all-or-nothing operation as by hand, and its outcome is told once: applied, or
  rolled back with the reason (the previous containers are back). An installation
  that is not running (stopped by its admin, down) waits: an update starts what it
  replaces.

An offer is acted upon once: the installation keeps the key of the last offer it
told or tried (`update_announced`), so a failed automatic update is not tried again
every pass (the admin sees why, and updates by hand or waits for a newer offer),
and one told is not told again. An installation that another operation holds is
left for the next pass.

The images' tags are checked against their registries (images.py) at most once an
image check interval, before the offers are read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from tomo.background import PassLoop
from tomo.deployment import outdated
from tomo.deployment.models import Installation
from tomo.deployment.schemas import UpdateOffer
from tomo.deployment.service import DeploymentService
from tomo.deployment.statuses import InstallationStatus
from tomo.errors import InstallationBusy, RemoteError, TomoError
from tomo.events.kinds import EventKind
from tomo.events.service import EventService
from tomo.updates.policy import UpdatePolicy, window_of

log = logging.getLogger("tomo.updates")


def local_now() -> datetime:
    """tomo's local time: the clock maintenance windows are written in."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class PassReport:
    """What one pass did, by installation name (for tests and the log)."""

    told: list[str]
    applied: list[str]
    rolled_back: list[str]
    not_started: list[str]
    held_back: list[str]  # auto, offered, but outside the window or across a major version


def offer_key(offer: UpdateOffer) -> str:
    """What makes an offer new: its version and, for a moved tag, its images."""
    return "|".join([offer.to_version, *sorted(getattr(offer, "images", []) or [])])[:200]


def crosses_major(offer: UpdateOffer) -> bool:
    """Whether the offer moves to another major version (both release numbers with a
    different first number); any other offer stays within."""
    old, new = (
        outdated.release_numbers(offer.from_version),
        outdated.release_numbers(offer.to_version),
    )
    return old is not None and new is not None and old[0] != new[0]


class UpdateWatcher(PassLoop):
    name = "tomo-update-watcher"
    log = log  # where a failed pass is told

    def __init__(
        self, deployment: DeploymentService, events: EventService, *, interval: float,
        image_check_interval: float, clock: Callable[[], datetime] = local_now,
    ) -> None:  # fmt: skip
        super().__init__()
        self.deployment = deployment
        self.events = events
        self.interval = interval
        self.image_check_interval = timedelta(seconds=image_check_interval)
        self.clock = clock
        self._images_checked: datetime | None = None

    async def run_pass(self) -> PassReport:
        now = self.clock()
        await self._check_images(now)
        offers = await outdated.offers(self.deployment.db)
        report = PassReport([], [], [], [], [])
        for row in await self._acting(list(offers)):
            offer = offers[row.id]
            if row.update_announced == offer_key(offer):
                continue
            if row.update_policy is UpdatePolicy.NOTIFY:
                await self._tell_offer(row, offer)
                report.told.append(row.name)
            elif not self._may_apply(row, offer, now):
                report.held_back.append(row.name)
            else:
                await self._apply(row, offer, report)
        return report

    @staticmethod
    def _may_apply(row: Installation, offer: UpdateOffer, now: datetime) -> bool:
        """Inside its window, within its major version unless allowed, and running: an
        app its admin stopped is not started by an automatic update."""
        return (window_of(row.update_window).holds(now)
                and (row.update_major or not crosses_major(offer))
                and row.status is InstallationStatus.RUNNING)  # fmt: skip

    async def _check_images(self, now: datetime) -> None:
        """The registries asked at most once an image check interval."""
        last = self._images_checked
        if last is not None and now - last < self.image_check_interval:
            return
        self._images_checked = now
        try:
            await self.deployment.check_image_updates()
        except TomoError as exc:
            log.warning("image check failed: %s", exc.message)

    async def _acting(self, offered: list[str]) -> list[Installation]:
        """The offered installations whose policy acts on an offer."""
        acting = (UpdatePolicy.NOTIFY, UpdatePolicy.AUTO)
        query = select(Installation).where(
            Installation.id.in_(offered), Installation.update_policy.in_(acting)
        )
        async with self.deployment.db.session() as session:
            return list(await session.scalars(query.order_by(Installation.name)))

    async def _tell_offer(self, row: Installation, offer: UpdateOffer) -> None:
        await self.events.record(
            EventKind.UPDATE_AVAILABLE, title=f"{row.name} on {row.server_id}: update "
            f"{_moves(offer)} available", detail=_offer_detail(offer), server=row.server_id,
            installation=row.id, installation_name=row.name,
        )  # fmt: skip
        await self._acted(row, offer)

    async def _apply(self, row: Installation, offer: UpdateOffer, report: PassReport) -> None:
        """The update as by hand; its outcome told once, the offer not tried again."""
        where = f"{row.name} on {row.server_id}"
        try:
            prepared = await self.deployment.prepare_update(row.id, automatic=True)
        except (InstallationBusy, RemoteError):
            return  # another operation holds it, or its server is away: the next pass tries
        except TomoError as exc:  # refused before anything ran (a new setting, a new risk…)
            await self._tell(row, EventKind.UPDATE_FAILED, f"Automatic update of {where} "
                             f"{_moves(offer)} was not started", exc.message)  # fmt: skip
            await self._acted(row, offer)
            report.not_started.append(row.name)
            return
        try:
            await prepared.run()
        except TomoError as exc:
            # The message says what was put back (all of it, or what could not be).
            await self._tell(row, EventKind.AUTO_UPDATE_ROLLED_BACK, f"Automatic update of "
                             f"{where} {_moves(offer)} failed", exc.message)  # fmt: skip
            report.rolled_back.append(row.name)
        else:
            await self._tell(row, EventKind.AUTO_UPDATE_APPLIED, f"{where} was updated "
                             f"{_moves(offer)} automatically", _offer_detail(offer))  # fmt: skip
            report.applied.append(row.name)
        await self._acted(row, offer)

    async def _tell(self, row: Installation, kind: EventKind, title: str, detail: str) -> None:
        await self.events.record(kind, title=title, detail=detail or None, server=row.server_id,
                                 installation=row.id, installation_name=row.name)  # fmt: skip

    async def _acted(self, row: Installation, offer: UpdateOffer) -> None:
        """The offer is dealt with (not a change of the installation: its time stays)."""
        async with self.deployment.db.session() as session, session.begin():
            await session.execute(update(Installation).where(Installation.id == row.id)
                                  .values(update_announced=offer_key(offer)))  # fmt: skip


def _moves(offer: UpdateOffer) -> str:
    if offer.from_version == offer.to_version:
        return f"of {offer.to_version} (a new image)"
    return f"from {offer.from_version} to {offer.to_version}"


def _offer_detail(offer: UpdateOffer) -> str:
    lines = [*(getattr(offer, "images", []) or [])]
    if offer.release_notes:
        lines.append(offer.release_notes.strip()[:2000])
    return "\n".join(lines) or f"version {offer.to_version}"
