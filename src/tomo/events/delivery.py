"""Sending through Apprise, away from the caller: Apprise is synchronous, so each
sending runs in a worker thread with a timeout, and events wait in a bounded
queue that one background task works through. A channel that fails keeps its
error; it never fails what raised the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tomo.lazy import lazy_import

if TYPE_CHECKING:
    import apprise
else:  # loaded when a URL is first checked or a message first sent
    apprise = lazy_import("apprise")

log = logging.getLogger("tomo.events")
SEND_TIMEOUT = 20.0  # seconds one channel may take to take one message
QUEUE_SIZE = 256  # events waiting to be sent; past it the newest are dropped (and logged)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    failure: bool  # a failure or an outage (Apprise marks it so), else information


@dataclass(frozen=True)
class Sent:
    """How one sending went: None when delivered, else why not, in words."""

    error: str | None


def parses(url: str) -> bool:
    """Whether Apprise knows the URL's service and can read its parts."""
    return apprise.Apprise.instantiate(url) is not None


async def send(url: str, message: Message, *, within: float = SEND_TIMEOUT) -> Sent:
    """One message to one URL, in a worker thread, given `within` seconds."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_send_now, url, message), within)
    except TimeoutError:
        return Sent(f"no answer within {within:g} seconds.")


def _send_now(url: str, message: Message) -> Sent:
    service = apprise.Apprise()
    if not service.add(url):
        return Sent("Apprise cannot read this URL any more.")
    said: list[str] = []
    kind = apprise.NotifyType.FAILURE if message.failure else apprise.NotifyType.INFO
    result = service.notify(
        body=message.body,
        title=message.title,
        notify_type=kind,
        log_callback=lambda entry, _service: said.append(entry.message),
    )
    if result:
        return Sent(None)
    # Apprise's warnings name the service and the host, never the URL's secrets.
    return Sent(said[-1] if said else "the service did not take the message.")


Deliver = Callable[[int], Awaitable[None]]


class DeliveryQueue:
    """Event ids waiting to be sent, worked through by one task of the running
    process: recording an event never waits for a channel."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_SIZE)
        self._worker: asyncio.Task[None] | None = None

    def put(self, event_id: int) -> None:
        try:
            self._queue.put_nowait(event_id)
        except asyncio.QueueFull:
            log.warning("event %s not sent: %s events are waiting already", event_id, QUEUE_SIZE)
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="tomo-event-delivery")

    async def _work(self) -> None:
        while not self._queue.empty():
            event_id = self._queue.get_nowait()
            try:
                await self._deliver(event_id)
            except Exception:  # a bug, or the database gone: the next event still goes
                log.exception("sending event %s failed", event_id)
            finally:
                self._queue.task_done()

    async def drain(self, within: float) -> None:
        """Wait for what is queued (a CLI command ends right after), at most `within` s."""
        if self._worker is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._worker), within)
        except TimeoutError:
            log.warning("events still waiting to be sent when tomo stopped")
            self._worker.cancel()
