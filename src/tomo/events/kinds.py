"""The events tomo tells: a closed list, so a channel's choice is checked against it.

Some are raised by features still to come (the health monitor, update checks,
automatic updates); they are named here already so that a channel can choose
them today and keeps its choice when they start to arrive.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    INSTALL_FAILED = "install-failed"
    UPDATE_FAILED = "update-failed"
    UNINSTALL_FAILED = "uninstall-failed"
    SYNC_FAILED = "sync-failed"
    # Raised by the health monitor (a later part of issue 21).
    APP_DOWN = "app-down"
    APP_UNHEALTHY = "app-unhealthy"
    APP_CRASH_LOOPING = "app-crash-looping"
    APP_RECOVERED = "app-recovered"
    SERVER_UNREACHABLE = "server-unreachable"
    SERVER_BACK = "server-back"
    # Raised by update checks and automatic updates (a later part of issue 21).
    UPDATE_AVAILABLE = "update-available"
    AUTO_UPDATE_APPLIED = "auto-update-applied"
    AUTO_UPDATE_ROLLED_BACK = "auto-update-rolled-back"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


_SEVERITIES = {
    EventKind.APP_UNHEALTHY: Severity.WARNING,
    EventKind.APP_RECOVERED: Severity.INFO,
    EventKind.SERVER_BACK: Severity.INFO,
    EventKind.UPDATE_AVAILABLE: Severity.INFO,
    EventKind.AUTO_UPDATE_APPLIED: Severity.INFO,
    EventKind.AUTO_UPDATE_ROLLED_BACK: Severity.WARNING,
}

# What a failed operation of the deployment package is called as an event.
FAILED_OPERATIONS = {
    "install": EventKind.INSTALL_FAILED,
    "update": EventKind.UPDATE_FAILED,
    "uninstall": EventKind.UNINSTALL_FAILED,
}


def severity_of(kind: EventKind) -> Severity:
    """Failures and outages are errors unless named otherwise above."""
    return _SEVERITIES.get(kind, Severity.ERROR)


def known_kinds() -> str:
    """Every kind, as a refusal lists them."""
    return ", ".join(kind.value for kind in EventKind)
