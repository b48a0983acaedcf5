"""What was last read of each server (its front door, its Swarm's nodes…), shared
by the API, the pages and the CLI of one tomo process.

Such a read is SSH and `docker` on the server. Viewers may ask for it (the API, the
server's page), and a viewer in a loop must not turn into SSH calls at the rate of
requests, nor queue ahead of an admin's change. So a read is kept KEEP_SECONDS (its
failure too: a server that does not answer is not asked again at once), one read at
a time per key (callers that come meanwhile get the same answer), each bounded by
the status timeout. A change tomo makes to what was read forgets it, so the next
look shows the change.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tomo.errors import ServerTimeout, TomoError

KEEP_SECONDS = 30.0
T = TypeVar("T")


@dataclass(frozen=True)
class _Seen(Generic[T]):
    at: float  # time.monotonic() when read
    value: T | None
    error: TomoError | None

    def result(self) -> T:
        if self.error is not None:
            raise self.error.with_traceback(None)  # raised again: no traceback piled up
        assert self.value is not None
        return self.value


class Looks(Generic[T]):
    """Reads of something on servers, kept `keep` seconds per key, each given up
    after `within` seconds; `what` names it in the timeout's message."""

    def __init__(self, within: float, keep: float = KEEP_SECONDS, *, what: str) -> None:
        self.within = within
        self.keep = keep
        self.what = what
        self._seen: dict[str, _Seen[T]] = {}
        self._reading: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    async def look(self, key: str, server: str, read: Callable[[], Awaitable[T]]) -> T:
        """What `read` gave for `key` within the last `keep` seconds, else read now
        (ServerTimeout naming `server` after `within` seconds; kept like any error)."""
        async with self._reading[key]:
            seen = self._seen.get(key)
            if seen is None or time.monotonic() - seen.at >= self.keep:
                seen = await self._read(server, read)
                self._seen[key] = seen
            return seen.result()

    def forget(self, *keys: str) -> None:
        """The next look at each reads again (after a change to what was read)."""
        for key in keys:
            self._seen.pop(key, None)

    async def _read(self, server: str, read: Callable[[], Awaitable[T]]) -> _Seen[T]:
        try:
            async with asyncio.timeout(self.within):
                return _Seen(time.monotonic(), await read(), None)
        except TomoError as exc:
            return _Seen(time.monotonic(), None, exc)
        except TimeoutError:
            late = f"{self.what} did not answer within {self.within:g} s"
            return _Seen(time.monotonic(), None, ServerTimeout(server, late))
