"""The statuses of installations, jobs and job steps: one enum each, used by the
tables, the schemas, the table of allowed actions (states.py) and every comparison.

A StrEnum member is its value: it is stored, sent as JSON and compared with text
exactly as the plain strings were. Light on purpose (the CLI's client imports it).
"""

from __future__ import annotations

from enum import StrEnum


class InstallationStatus(StrEnum):
    """Where an installation stands: tomo's own states around its operations, or
    what Docker last reported of its containers."""

    PENDING = "pending"  # recorded; its install job has not started
    INSTALLING = "installing"
    RUNNING = "running"
    STOPPED = "stopped"
    RESTARTING = "restarting"
    UNHEALTHY = "unhealthy"
    ERROR = "error"
    MISSING = "missing"  # its container is gone (removed outside tomo?)
    UPDATING = "updating"
    REMOVING = "removing"  # part of the API's enum; tomo sets it nowhere today
    REMOVED = "removed"  # only in an uninstall's answer: the record is gone
    UNKNOWN = "unknown"  # its server or Docker could not be asked
    FAILED = "failed"  # its install failed with its server away (see states.py)


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # Ctrl-C, tomo stopped, or tomo died (reconcile.py)


class StepStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


UNDER_WAY = frozenset({JobStatus.PENDING, JobStatus.RUNNING})  # a job not ended yet
