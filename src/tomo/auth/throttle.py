"""Login throttling: too many failed logins for one account, or from one address,
within a window, and further attempts wait (429 with Retry-After).

Kept in the memory of the `tomo serve` process, the one place logins arrive.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 300.0
PER_ACCOUNT = 5
PER_ADDRESS = 20


@dataclass
class LoginThrottle:
    window: float = WINDOW_SECONDS
    per_account: int = PER_ACCOUNT
    per_address: int = PER_ADDRESS
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _swept_at: float = 0.0

    def wait_for(self, username: str, address: str) -> int:
        """Seconds before another attempt is allowed (0: now)."""
        now = time.monotonic()
        waits = [self._wait(f"user:{username.lower()}", self.per_account, now),
                 self._wait(f"address:{address}", self.per_address, now)]  # fmt: skip
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        self._forget_stale(now)
        for key in (f"user:{username.lower()}", f"address:{address}"):
            self._failures[key].append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username.lower()}", None)

    def _forget_stale(self, now: float) -> None:
        """Drop the keys with no failure within the window, once a window: the
        failures of made-up user names and passing addresses would pile up for good."""
        if now - self._swept_at < self.window:
            return
        self._swept_at = now
        stale = [key for key, times in self._failures.items()
                 if not times or now - times[-1] > self.window]  # fmt: skip
        for key in stale:
            del self._failures[key]

    def _wait(self, key: str, limit: int, now: float) -> int:
        recent = self._failures.get(key)
        if not recent:
            return 0
        while recent and now - recent[0] > self.window:
            recent.popleft()
        if len(recent) < limit:
            return 0
        return max(1, round(self.window - (now - recent[0])))
