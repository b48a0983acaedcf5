"""ORM tables of deployment: installations and the jobs/steps that act on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tomo.db import Base, StrEnumText, UTCDateTime
from tomo.deployment.statuses import InstallationStatus, JobStatus, StepStatus
from tomo.updates.policy import UpdatePolicy


class Installation(Base):
    """One app instance on one server, with the definition and config it was made from."""

    __tablename__ = "installations"
    __table_args__ = (UniqueConstraint("server_id", "name", name="uq_installations_server_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # RESTRICT: a server with installations is removed only when forced (which
    # deletes these rows first, never touching the host).
    server_id: Mapped[str] = mapped_column(
        ForeignKey("servers.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))  # instance name = container name
    repo_id: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))
    image: Mapped[str] = mapped_column(Text)
    # The catalog entry and the user's config as installed: later catalog
    # changes or a removed repo never break managing the installation.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret_env_enc: Mapped[str | None] = mapped_column(Text)  # Fernet token of a JSON object
    container_id: Mapped[str | None] = mapped_column(String(80))
    # A container made outside tomo and adopted (see adopt.py): {"container": its id,
    # "volumes": the Docker volumes it mounted then}. It carries no tomo label, so
    # this is what makes it the installation's; what it mounted stays the user's.
    adopted: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[InstallationStatus] = mapped_column(
        StrEnumText(InstallationStatus, 16), default=InstallationStatus.PENDING
    )
    status_message: Mapped[str | None] = mapped_column(Text)
    # The operation running now (one at a time), its job and its heartbeat.
    operation: Mapped[str | None] = mapped_column(String(16))
    operation_job: Mapped[str | None] = mapped_column(String(32))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Day two (see tomo/updates): how updates reach it, the maintenance window of an
    # automatic one ("03:00-05:00", tomo's local time) and whether one may cross a
    # major version.
    update_policy: Mapped[UpdatePolicy] = mapped_column(
        StrEnumText(UpdatePolicy, 8), default=UpdatePolicy.MANUAL
    )
    update_window: Mapped[str | None] = mapped_column(String(16))
    update_major: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the last check of its images' tags found, per service: {"image": the
    # reference, "running": the digest it runs, "latest": the registry's digest for
    # that tag now}; cleared by an update (see updates/images.py).
    image_updates: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    images_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The update last told as an event (its key), so each offer is told once.
    update_announced: Mapped[str | None] = mapped_column(String(200))
    # Backups (see tomo/backups): when they are made on their own ("daily 02:00",
    # None: only on demand), which of them are kept ({"last": 7, "daily": 7, …}), and
    # whether an update backs the data up first (and puts it back if it fails).
    backup_schedule: Mapped[str | None] = mapped_column(String(32))
    backup_keep: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    backup_before_update: Mapped[bool] = mapped_column(Boolean, default=True)
    backup_repository: Mapped[str | None] = mapped_column(String(64))  # None: the default one
    # The names its server's front door routes to its main container (see tomo.proxy).
    hostnames: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The role a tomo user needs to get through the front door to it (None: no login).
    door_login: Mapped[str | None] = mapped_column(String(16))


class Job(Base):
    """One operation on an installation (install, update, uninstall…) and its outcome.

    A job outlives its installation (an install that failed and left nothing behind
    keeps only its job), so it names the server, instance and app itself.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    installation_id: Mapped[str | None] = mapped_column(
        ForeignKey("installations.id", ondelete="SET NULL"), index=True
    )
    server_id: Mapped[str | None] = mapped_column(String(64))
    installation_name: Mapped[str | None] = mapped_column(String(64))
    app: Mapped[str | None] = mapped_column(String(160))  # repo/app
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[JobStatus] = mapped_column(StrEnumText(JobStatus, 16), default=JobStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    # What the operation changed so far on the server, so that a failure, an
    # interruption or a restart after tomo died can undo it (or finish it).
    journal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What a finished operation did, in words ("removed container 'web'", …).
    summary: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    runner_pid: Mapped[int | None] = mapped_column(Integer)
    runner_host: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobStep(Base):
    """One step of a job, with its timing, message and progress, for followers."""

    __tablename__ = "job_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    status: Mapped[StepStatus] = mapped_column(StrEnumText(StepStatus, 16))
    message: Mapped[str | None] = mapped_column(Text)
    progress_done: Mapped[int | None] = mapped_column(Integer)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KeptSecrets(Base):
    """The sealed secrets of an installation uninstalled with its data kept: an app
    that initialised its database with a generated password finds that password
    again when it is installed over that data (same server, name and app). An
    uninstall that removes the data removes them too."""

    __tablename__ = "kept_secrets"

    server_id: Mapped[str] = mapped_column(
        ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # the instance's
    repo_id: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[str] = mapped_column(String(64))
    secret_env_enc: Mapped[str] = mapped_column(Text)  # Fernet token of a JSON object
    kept_at: Mapped[datetime] = mapped_column(UTCDateTime)


def runs_on_swarm(row: Installation) -> bool:
    """Its services are Swarm services (see deployment/swarm), not containers: the
    install decided it and kept it in the config (InstallConfig.swarm)."""
    return bool((row.config or {}).get("swarm"))
