"""The budget of live log streams: channels per reader and per server.

Log streams run on a connection of their own per server (servers.ssh.LOGS), so
they never take an operation's channels; this budget keeps one reader from
taking all of the logs connection's channels (and sshd's sessions) too. A
stream past either limit is refused at once (429), never queued: a queued
follow would hang its request for as long as the others stay open.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator

from tomo.errors import TooManyStreams


class LogStreams:
    def __init__(self, per_reader: int, per_server: int) -> None:
        self.per_reader = per_reader
        self.per_server = per_server
        self._readers: Counter[str] = Counter()
        self._servers: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def held(self, reader: str, server: str, channels: int) -> AsyncIterator[None]:
        """Hold `channels` for `reader` (""; none counted) on `server` while it streams."""
        if reader and self._readers[reader] + channels > self.per_reader:
            raise TooManyStreams(f"you have {self._readers[reader]} log streams open (at most "
                                 f"{self.per_reader}); close one and try again")  # fmt: skip
        if self._servers[server] + channels > self.per_server:
            raise TooManyStreams(f"{server}: {self._servers[server]} log streams are open there "
                                 f"(at most {self.per_server}); try again later")  # fmt: skip
        self._readers[reader] += channels
        self._servers[server] += channels
        try:
            yield
        finally:
            self._readers[reader] -= channels
            self._servers[server] -= channels
