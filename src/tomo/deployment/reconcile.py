"""After tomo died mid-operation: settle what its journal says, on the next start.

An operation whose runner is gone (its process is dead, or its heartbeat is
stale) is recovered exactly as if it had been interrupted while tomo ran: an
install is undone, an update puts the previous container back as it was, an
uninstall past its commit point is finished, a backup starts the app again, a
restore puts the data back as it was (or, once swapped, finishes). The job says
what happened.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from tomo.deployment.context import DeploymentContext
from tomo.deployment.install import InstallOperation
from tomo.deployment.jobs import JobRecorder, interrupted, release_lease
from tomo.deployment.journal import Journal
from tomo.deployment.manage import DockerVerb, Journaled, Uninstall
from tomo.deployment.models import Installation, Job, JobStep
from tomo.deployment.operation import Operation, Recovery, conclude
from tomo.deployment.statuses import JobStatus
from tomo.deployment.update import Update

log = logging.getLogger("tomo.deployment")


async def reconcile_interrupted(ctx: DeploymentContext) -> list[str]:
    """Recover every operation whose runner is gone; return what was said of each."""
    reports = []
    for installation, job in await interrupted(ctx.db):
        if job is None:  # died between taking the lease and recording the job
            await release_lease(ctx.db, installation.id, unsettled_job=None)
            continue
        reports.append(await _recover(ctx, installation, job))
    return reports


async def _recover(ctx: DeploymentContext, installation: Installation, job: Job) -> str:
    recorder = JobRecorder(ctx.db, job.id, installation.id)
    recorder.journal = Journal.load(job.journal)
    operation = _operation_for(ctx, job.kind, recorder.journal)
    step = await _last_step(ctx, job.id)
    cause = f"tomo stopped during the {job.kind}" + (f" ({step})" if step else "")
    try:
        recovery = await operation.recover(recorder, installation, cause)
    except Exception:
        log.exception("recovering the interrupted %s of %s failed", job.kind, installation.id)
        recovery = Recovery("recovering it failed on an internal error", settled=False)
    message = f"{cause}; {recovery.said}" if recovery.said else cause
    await conclude(ctx, recorder, installation.id, JobStatus.INTERRUPTED, message,
                   settled=recovery.settled)  # fmt: skip
    return f"{installation.name} on {installation.server_id}: {message}"


def _operation_for(ctx: DeploymentContext, kind: str, journal: Journal) -> Operation:
    if kind == "install":
        return InstallOperation(ctx)
    if kind == "update":
        return Update(ctx)
    if kind == "uninstall":
        removes_data = any("remove_owned" in action for action in journal.cleanup)
        return Uninstall(ctx, remove_data=removes_data)
    if kind in ("backup", "restore"):  # every change they make is in their journal
        return Journaled(ctx, kind)
    return DockerVerb(ctx, kind)


async def _last_step(ctx: DeploymentContext, job_id: str) -> str | None:
    async with ctx.db.session() as session:
        return await session.scalar(
            select(JobStep.name).where(JobStep.job_id == job_id).order_by(JobStep.id.desc())
        )
