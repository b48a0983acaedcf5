"""Jobs: one operation per installation at a time, its steps stored as they run.

An operation holds a lease on its installation (`operation`, `heartbeat_at`),
refreshed while it runs. A lease whose runner is gone (its process is dead, or
its heartbeat is stale) belongs to an interrupted operation that a restart of
tomo reconciles.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update

from tomo.db import Database
from tomo.deployment.journal import Journal
from tomo.deployment.models import Installation, Job, JobStep
from tomo.deployment.schemas import JobPublic, StepPublic
from tomo.deployment.statuses import JobStatus, StepStatus
from tomo.errors import InstallationBusy, JobNotFound, TomoError

HEARTBEAT_SECONDS = 2.0
STALE_AFTER = timedelta(seconds=30)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def now() -> datetime:
    return datetime.now(UTC)


class JobRecorder:
    """Records one job's steps; holds the installation's lease while alive."""

    def __init__(self, db: Database, job_id: str, installation_id: str) -> None:
        self.db = db
        self.job_id = job_id
        self.installation_id = installation_id
        self.current_step: str | None = None
        self._step_id: int | None = None
        self.journal = Journal()

    async def begin(self) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Job).where(Job.id == self.job_id).values(
                    status=JobStatus.RUNNING, started_at=now(), runner_pid=os.getpid(),
                    runner_host=socket.gethostname(),
                )
            )  # fmt: skip

    @contextlib.asynccontextmanager
    async def step(self, name: str, message: str | None = None) -> AsyncIterator[None]:
        self.current_step = name
        async with self.db.session() as session, session.begin():
            row = JobStep(job_id=self.job_id, name=name, status=StepStatus.RUNNING,
                          message=message, started_at=now())  # fmt: skip
            session.add(row)
            await session.flush()
            self._step_id = row.id
        try:
            yield
        except BaseException as exc:
            await asyncio.shield(self._end_step(StepStatus.FAILED, _step_failure(exc)))
            raise
        await self._end_step(StepStatus.DONE, None)

    async def note(self, message: str) -> None:
        """Replace the running step's message (what it is doing now)."""
        await self._update_step(message=message)

    async def progress(self, done: int, total: int) -> None:
        await self._update_step(progress_done=done, progress_total=total)

    async def _update_step(self, **values: object) -> None:
        if self._step_id is None:
            return
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(JobStep).where(JobStep.id == self._step_id).values(**values)
            )

    async def _end_step(self, status: StepStatus, message: str | None) -> None:
        values: dict[str, object] = {"status": status, "ended_at": now()}
        if message is not None:
            values["message"] = message
        await self._update_step(**values)
        self._step_id = None

    async def save_journal(self) -> None:
        """Store the journal; called before each change it records is made."""
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Job).where(Job.id == self.job_id).values(journal=self.journal.dump())
            )

    async def finish(
        self, status: JobStatus, error: str | None, summary: list[str] | None = None
    ) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Job).where(Job.id == self.job_id).values(
                    status=status, error=error, ended_at=now(), journal=self.journal.dump(),
                    summary=summary or None,
                )
            )  # fmt: skip

    @contextlib.asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[None]:
        """Keep the lease fresh while the operation runs."""
        task = asyncio.create_task(self._beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self) -> None:
        while True:
            async with self.db.session() as session, session.begin():
                await session.execute(
                    update(Installation).where(Installation.id == self.installation_id)
                    .values(heartbeat_at=now())
                )  # fmt: skip
            await asyncio.sleep(HEARTBEAT_SECONDS)


def _step_failure(exc: BaseException) -> str:
    """What a failed step says: a domain error's message; never a bug's details."""
    if isinstance(exc, TomoError):
        return exc.message
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return "interrupted"
    return "internal error (see tomo's log)"


async def take_lease(db: Database, installation_id: str, operation: str, job_id: str) -> str | None:
    """Claim the installation for one operation; InstallationBusy if another runs.
    Returns the job that held it last, if that job left something unsettled."""
    moment = now()
    async with db.session() as session, session.begin():
        unsettled = await session.scalar(
            select(Installation.operation_job).where(Installation.id == installation_id)
        )
        result = await session.execute(
            update(Installation)
            .where(Installation.id == installation_id)
            .where(
                or_(
                    Installation.operation.is_(None),
                    Installation.heartbeat_at < moment - STALE_AFTER,
                )
            )
            .values(operation=operation, operation_job=job_id, heartbeat_at=moment)
        )
        if getattr(result, "rowcount", 0) != 1:
            busy = await session.get(Installation, installation_id)
            doing = busy.operation if busy else "another operation"
            raise InstallationBusy(
                f"installation '{busy.name if busy else installation_id}' is busy ({doing}); "
                "try again when it finishes"
            )
    return unsettled


async def release_lease(db: Database, installation_id: str, *, unsettled_job: str | None) -> None:
    """Free the installation. A job whose journal could not be settled (the server
    went away) stays named, so the next operation settles it first."""
    async with db.session() as session, session.begin():
        await session.execute(
            update(Installation).where(Installation.id == installation_id)
            .values(operation=None, operation_job=unsettled_job, heartbeat_at=None)
        )  # fmt: skip


async def create_job(db: Database, installation: Installation, kind: str, job_id: str) -> None:
    async with db.session() as session, session.begin():
        session.add(Job(
            id=job_id, installation_id=installation.id, server_id=installation.server_id,
            installation_name=installation.name,
            app=f"{installation.repo_id}/{installation.app_id}", kind=kind,
            status=JobStatus.PENDING, created_at=now(),
        ))  # fmt: skip


async def load_journal(db: Database, job_id: str | None) -> Journal | None:
    """The journal of a job, if it left something to settle."""
    if job_id is None:
        return None
    async with db.session() as session:
        stored = await session.scalar(select(Job.journal).where(Job.id == job_id))
    journal = Journal.load(stored)
    return None if journal.settled or not journal.open_actions else journal


async def job_view(db: Database, job_id: str) -> JobPublic:
    async with db.session() as session:
        job = await session.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job '{job_id}'")
        steps = await session.scalars(
            select(JobStep).where(JobStep.job_id == job_id).order_by(JobStep.id)
        )
        return JobPublic(
            id=job.id, installation_id=job.installation_id, server_id=job.server_id,
            installation_name=job.installation_name, app=job.app, kind=job.kind,
            status=job.status, error=job.error, summary=job.summary or [],
            created_at=job.created_at,
            started_at=job.started_at, ended_at=job.ended_at,
            steps=[StepPublic.model_validate(step, from_attributes=True) for step in steps],
        )  # fmt: skip


async def list_jobs(
    db: Database, *, installation: str | None = None, limit: int = 20
) -> list[JobPublic]:
    """The newest jobs first; `installation` by id or instance name (jobs outlive it)."""
    async with db.session() as session:
        query = select(Job.id).order_by(Job.created_at.desc(), Job.id).limit(limit)
        if installation is not None:
            query = query.where(
                or_(Job.installation_id == installation, Job.installation_name == installation)
            )
        ids = list(await session.scalars(query))
    return [await job_view(db, job_id) for job_id in ids]


async def interrupted(db: Database) -> list[tuple[Installation, Job | None]]:
    """Installations whose operation's runner is gone (dead process or stale heartbeat)."""
    moment = now()
    found = []
    async with db.session() as session:
        rows = await session.scalars(
            select(Installation).where(Installation.operation.is_not(None))
        )
        for installation in rows:
            job = (
                await session.get(Job, installation.operation_job)
                if installation.operation_job
                else None
            )
            if _runner_gone(installation, job, moment):
                found.append((installation, job))
    return found


def _runner_gone(installation: Installation, job: Job | None, moment: datetime) -> bool:
    stale = installation.heartbeat_at is None or installation.heartbeat_at < moment - STALE_AFTER
    if job is None or job.runner_pid is None:
        return stale
    if job.runner_host == socket.gethostname():
        return not _alive(job.runner_pid) or stale
    return stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
