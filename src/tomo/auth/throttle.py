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

    def wait_for(self, username: str, address: str) -> int:
        """Seconds before another attempt is allowed (0: now)."""
        now = time.monotonic()
        waits = [self._wait(f"user:{username.lower()}", self.per_account, now),
                 self._wait(f"address:{address}", self.per_address, now)]  # fmt: skip
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        for key in (f"user:{username.lower()}", f"address:{address}"):
            self._failures[key].append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username.lower()}", None)

    def _wait(self, key: str, limit: int, now: float) -> int:
        recent = self._failures.get(key)
        if not recent:
            return 0
        while recent and now - recent[0] > self.window:
            recent.popleft()
        if len(recent) < limit:
            return 0
        return max(1, round(self.window - (now - recent[0])))
