"""What may be asked of an installation in each status: one table for every face.

A status read from Docker may be stale (the container was started by hand since),
so the faces offer by it but the service refuses only by tomo's own states: an
installation whose install failed with its server away (`failed`) can only be
uninstalled — which removes what the install left, as tomo does on its own the
next time it reaches the server.
"""

from __future__ import annotations

from tomo.deployment.schemas import InstallationPublic
from tomo.deployment.statuses import InstallationStatus as Status

_ALL = frozenset({"start", "stop", "restart", "update", "uninstall"})
_UP = frozenset({"stop", "restart", "update", "uninstall"})
ACTIONS: dict[Status, frozenset[str]] = {
    Status.RUNNING: _UP,
    Status.RESTARTING: _UP,
    Status.UNHEALTHY: _UP,
    Status.STOPPED: frozenset({"start", "update", "uninstall"}),
    Status.ERROR: _ALL,
    Status.UNKNOWN: _ALL,
    Status.MISSING: frozenset({"update", "uninstall"}),
    Status.FAILED: frozenset({"uninstall"}),
}
# Statuses tomo itself decides (not read from Docker): their table is enforced.
TOMO_STATES = frozenset({Status.FAILED})


def allowed_actions(installation: InstallationPublic) -> frozenset[str]:
    """None while an operation holds it (its job is under way)."""
    if installation.operation is not None:
        return frozenset()
    return ACTIONS.get(installation.status, frozenset())


def refusal(status: Status, action: str) -> str | None:
    """Why the service refuses a user's `action` in `status`, or None (tomo's own
    clean-up is never refused)."""
    if status in TOMO_STATES and action in _ALL and action not in ACTIONS[status]:
        return ("its install failed while the server could not be reached, and what it made "
                "there is removed the next time tomo reaches the server; only uninstall "
                "is possible now")  # fmt: skip
    return None
