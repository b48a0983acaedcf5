"""What to offer instead of a host port or an instance name that is taken.

A preflight that finds a conflict names a value that would not conflict: the next
host port free on that server (by what tomo has given its installations and what
the server reports in use), and the first free `name-2`, `name-3`… The faces offer
it in their own words (Refusal.suggestion): a page fills the field, the CLI names
its option, the API returns it beside the field.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection

from tomo.deployment.spec import INSTANCE_NAME
from tomo.errors import Refusal

HIGHEST_PORT = 65535
# Below this, ports are the well-known services' (and need root to bind on most hosts).
FIRST_UNPRIVILEGED = 1024
NAME_LENGTH = 63  # INSTANCE_NAME's longest


def free_port(wanted: int, protocol: str, taken: Collection[tuple[int, str]]) -> int | None:
    """The first port after `wanted` (then from 1024 up to it) that nothing takes."""
    after = range(wanted + 1, HIGHEST_PORT + 1)
    before = range(FIRST_UNPRIVILEGED, wanted)
    for port in itertools.chain(after, before):
        if (port, protocol) not in taken:
            return port
    return None


def free_name(name: str, is_taken: Callable[[str], bool]) -> str | None:
    """`name-2`, `name-3`…: the first that is a valid instance name and not taken
    (the name shortened where the number would make it too long)."""
    for number in range(2, 1000):
        ending = f"-{number}"
        candidate = name[: NAME_LENGTH - len(ending)] + ending
        if INSTANCE_NAME.fullmatch(candidate) and not is_taken(candidate):
            return candidate
    return None


def name_in_use(name: str, suggestion: str | None, hint: str = "", page_hint: str = "") -> Refusal:
    """An installation of that name is on the server already."""
    return Refusal(f"an installation named '{name}' already exists on this server", ("name",),
                   hint, suggestion=suggestion or "", page_hint=page_hint)  # fmt: skip
