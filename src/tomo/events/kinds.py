"""The events tomo tells: a closed list, so a channel's choice is checked against it."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    INSTALL_FAILED = "install-failed"
    UPDATE_FAILED = "update-failed"
    UNINSTALL_FAILED = "uninstall-failed"
    SYNC_FAILED = "sync-failed"
    # Raised by the health monitor (monitor/): one per change of state, and one for an
    # app that keeps changing (flapping) instead of one per change.
    APP_DOWN = "app-down"
    APP_UNHEALTHY = "app-unhealthy"
    APP_CRASH_LOOPING = "app-crash-looping"
    APP_RECOVERED = "app-recovered"
    APP_FLAPPING = "app-flapping"
    SERVER_UNREACHABLE = "server-unreachable"
    SERVER_BACK = "server-back"
    # Raised by the update policies (updates/watcher.py): `notify` and `auto`.
    UPDATE_AVAILABLE = "update-available"
    AUTO_UPDATE_APPLIED = "auto-update-applied"
    AUTO_UPDATE_ROLLED_BACK = "auto-update-rolled-back"
    # A backup's job that failed, made by hand or on its schedule (backups/scheduler.py).
    BACKUP_FAILED = "backup-failed"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


_SEVERITIES = {
    EventKind.APP_UNHEALTHY: Severity.WARNING,
    EventKind.APP_RECOVERED: Severity.INFO,
    EventKind.APP_FLAPPING: Severity.WARNING,
    EventKind.SERVER_BACK: Severity.INFO,
    EventKind.UPDATE_AVAILABLE: Severity.INFO,
    EventKind.AUTO_UPDATE_APPLIED: Severity.INFO,
    EventKind.AUTO_UPDATE_ROLLED_BACK: Severity.WARNING,
}

# What a failed operation (of the deployment and backups packages) is called as an event.
FAILED_OPERATIONS = {
    "install": EventKind.INSTALL_FAILED,
    "update": EventKind.UPDATE_FAILED,
    "uninstall": EventKind.UNINSTALL_FAILED,
    "backup": EventKind.BACKUP_FAILED,
}


def severity_of(kind: EventKind) -> Severity:
    """Failures and outages are errors unless named otherwise above."""
    return _SEVERITIES.get(kind, Severity.ERROR)


def known_kinds() -> str:
    """Every kind, as a refusal lists them."""
    return ", ".join(kind.value for kind in EventKind)
