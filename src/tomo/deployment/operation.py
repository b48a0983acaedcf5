"""One operation on one installation, from its lease to an honest outcome.

`carry_out` runs an Operation while it holds the installation's lease and its
steps are recorded. Whatever ends it — a domain error, an unexpected exception
(a bug), or an interruption (Ctrl-C, tomo being stopped) — ends the same way:
the operation recovers from its journal (undo, or finish past its commit point)
and the job records what happened and what was undone. A bug is logged with
its traceback in tomo's log; the user sees one line.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tomo.deployment.context import DeploymentContext, OperationFailed, public
from tomo.deployment.jobs import (
    JobRecorder,
    create_job,
    load_journal,
    new_id,
    release_lease,
    take_lease,
)
from tomo.deployment.journal import Journal, Replay, replay
from tomo.deployment.models import Installation
from tomo.deployment.schemas import InstallationPublic, OperationDone
from tomo.deployment.states import refusal
from tomo.deployment.statuses import JobStatus
from tomo.errors import (
    InternalError,
    InvalidInput,
    OperationInterrupted,
    RemoteError,
    TomoError,
    in_any_face,
)

log = logging.getLogger("tomo.deployment")


@dataclass
class Recovery:
    said: str  # what recovery did, in words ("removed container 'web'")
    settled: bool = True  # False: something is left for the next operation to settle


class Operation(abc.ABC):
    """An install, update, uninstall, start… of one installation."""

    kind: str  # install, update, uninstall, start, stop, restart
    # Started by tomo itself (an automatic update), whose starter tells its outcome.
    automatic: bool = False

    def __init__(self, ctx: DeploymentContext) -> None:
        self.ctx = ctx
        self.summary: list[str] = []  # what a successful run did, for the user

    @abc.abstractmethod
    async def run(self, job: JobRecorder, row: Installation) -> None: ...

    @abc.abstractmethod
    async def recover(self, job: JobRecorder, row: Installation, cause: str) -> Recovery:
        """Make the installation honest after `cause` ended the run early."""

    async def replay_journal(self, job: JobRecorder, row: Installation) -> Replay:
        """Undo (or finish) what the journal holds; keep what could not be done."""
        try:
            docker = await self.ctx.docker(row.server_id)
        except TomoError as exc:  # e.g. the server's credentials cannot be opened
            return Replay(failed=[exc.message], left=job.journal.open_actions)
        outcome = await replay(docker, job.journal.open_actions, row.id)
        keep_left(job.journal, outcome)
        return outcome


@dataclass
class Outcome:
    job_id: str
    status: JobStatus  # done, failed or interrupted
    message: str | None
    error: TomoError | None
    summary: list[str] = field(default_factory=list)

    def raise_for_status(self) -> None:
        if self.error is not None:
            raise self.error


async def carry_out(
    ctx: DeploymentContext,
    operation: Operation,
    row: Installation,
    job_id: str,
    *,
    unsettled_job: str | None = None,
) -> Outcome:
    """Run the operation to an outcome; the installation's lease is held already and
    released here. `unsettled_job` left something behind that is settled first."""
    recorder = JobRecorder(ctx.db, job_id, row.id)
    await recorder.begin()
    status, message, error, settled = JobStatus.DONE, None, None, True
    earlier = _Earlier(unsettled_job)
    try:
        async with recorder.heartbeat():
            failure = await _attempt(ctx, operation, recorder, row, earlier)
            if failure is not None:
                status, error = failure
                said = in_any_face(error)  # what the job keeps: every face shows it
                recovery = await _recover(operation, recorder, row, said)
                message = f"{said}; {recovery.said}" if recovery.said else said
                error, settled = error.with_message(message), recovery.settled
    finally:
        ending = conclude(ctx, recorder, row.id, status, message, settled=settled,
                          summary=operation.summary, earlier=earlier.job_id)  # fmt: skip
        await asyncio.shield(ending)
    if status is JobStatus.FAILED:
        await _tell_failure(ctx, OperationFailed(operation.kind, row.server_id, row.id, row.name,
                                                 message or "", operation.automatic))  # fmt: skip
    return Outcome(job_id, status, message, error, operation.summary)


async def _tell_failure(ctx: DeploymentContext, failed: OperationFailed) -> None:
    """Whoever listens hears of the failure; nothing they do changes the outcome."""
    if ctx.hooks.failed is None:
        return
    try:
        await ctx.hooks.failed(failed)
    except Exception:
        log.exception("telling of the failed %s of %s failed", failed.kind, failed.installation_id)


@dataclass
class _Earlier:
    """An earlier job left unsettled: None once this operation has settled it."""

    job_id: str | None


async def conclude(
    ctx: DeploymentContext,
    recorder: JobRecorder,
    installation_id: str,
    status: JobStatus,
    message: str | None,
    *,
    settled: bool,
    summary: list[str] | None = None,
    earlier: str | None = None,
) -> None:
    """Record the job's end and free the installation. An earlier unsettled job this
    one could not settle stays named first: its journal holds what is left."""
    recorder.journal.settled = settled
    await recorder.finish(status, message, summary)
    unsettled = earlier or (None if settled else recorder.job_id)
    await release_lease(ctx.db, installation_id, unsettled_job=unsettled)


async def _attempt(
    ctx: DeploymentContext,
    operation: Operation,
    recorder: JobRecorder,
    row: Installation,
    earlier: _Earlier,
) -> tuple[JobStatus, TomoError] | None:
    """Run it; None when it succeeded, else the status and the error that ended it."""
    try:
        operation.summary += await settle_unsettled(ctx, recorder, row, earlier.job_id)
        earlier.job_id = None
        await operation.run(recorder, row)
    except asyncio.CancelledError:
        _stop_cancelling()
        where = recorder.current_step or "its start"
        interrupted = OperationInterrupted(f"{operation.kind} interrupted during {where}")
        return JobStatus.INTERRUPTED, interrupted
    except TomoError as exc:
        return JobStatus.FAILED, exc
    except Exception:
        log.exception("%s of installation %s (%s) failed", operation.kind, row.name, row.id)
        where = recorder.current_step or "its start"
        return JobStatus.FAILED, InternalError(
            f"{operation.kind} failed during {where} on an internal error "
            f"(details in {ctx.settings.log_file})"
        )
    return None


async def _recover(
    operation: Operation, recorder: JobRecorder, row: Installation, cause: str
) -> Recovery:
    try:
        return await operation.recover(recorder, row, cause)
    except Exception:
        log.exception("recovering %s of installation %s failed", operation.kind, row.id)
        return Recovery("undoing it failed on an internal error (see tomo's log)", settled=False)


def _stop_cancelling() -> None:
    """The interruption is handled here (recovery must still run): let later awaits,
    and timeouts inside them, behave as in a task nobody cancelled."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def settle_unsettled(
    ctx: DeploymentContext, recorder: JobRecorder, row: Installation, job_id: str | None
) -> list[str]:
    """Finish undoing what an earlier job on this installation could not (its server
    was away); until that is done, nothing else may change the installation.
    Returns what was done."""
    journal = await load_journal(ctx.db, job_id)
    if journal is None or job_id is None:
        return []
    async with recorder.step("settle", f"what job {job_id} left to undo"):
        docker = await ctx.docker(row.server_id)
        outcome = await replay(docker, journal.open_actions, row.id)
        keep_left(journal, outcome)
        journal.settled = outcome.complete
        earlier = JobRecorder(ctx.db, job_id, row.id)
        earlier.journal = journal
        await earlier.save_journal()
        if not outcome.complete:
            raise RemoteError(row.server_id, "could not finish what an earlier job left: "
                              + "; ".join(outcome.failed))  # fmt: skip
        await recorder.note("; ".join(outcome.done) or "nothing was left")
    return outcome.done


def keep_left(journal: Journal, outcome: Replay) -> None:
    """Keep in the journal only what a replay could not do, in stored order."""
    if journal.committed:
        journal.cleanup = list(outcome.left)
    else:
        journal.undo = list(reversed(outcome.left))
    journal.settled = outcome.complete


def said(outcome: Replay, nothing: str) -> str:
    """A replay in one phrase: what was done, and what could not be."""
    parts = []
    if outcome.done:
        parts.append("; ".join(outcome.done))
    if outcome.failed:
        parts.append("; ".join(outcome.failed))
    return "; ".join(parts) or nothing


# -- preparing an operation, to run now or in the background ---------------------


Finish = Callable[[Installation, Outcome], Awaitable[OperationDone]]


@dataclass(frozen=True)
class Prepared:
    """An operation whose lease is taken and whose job is recorded, ready to run now
    or in a background task (so a face can follow its job while it runs)."""

    job_id: str
    installation: InstallationPublic
    run: Callable[[], Awaitable[OperationDone]]  # raises the operation's error
    generated_secrets: dict[str, str] = field(default_factory=dict)  # shown once


async def prepare(
    ctx: DeploymentContext, ref: str, server: str | None, operation: Operation, finish: Finish
) -> Prepared:
    """Take the lease and record a job; `run` carries the operation out."""
    row = await ctx.find(ref, server)
    refused = refusal(row.status, operation.kind)
    if refused:
        raise InvalidInput(f"installation '{row.name}' on {row.server_id}: {refused}")
    job_id = new_id()
    unsettled = await take_lease(ctx.db, row.id, operation.kind, job_id)
    await create_job(ctx.db, row, operation.kind, job_id)
    return prepared(ctx, row, job_id, operation, finish, unsettled_job=unsettled)


def prepared(
    ctx: DeploymentContext,
    row: Installation,
    job_id: str,
    operation: Operation,
    finish: Finish,
    *,
    unsettled_job: str | None = None,
    generated_secrets: dict[str, str] | None = None,
) -> Prepared:
    """The operation ready to run: `row`'s lease is held and job `job_id` recorded."""

    async def run() -> OperationDone:
        outcome = await carry_out(ctx, operation, await ctx.load(row.id), job_id,
                                  unsettled_job=unsettled_job)  # fmt: skip
        outcome.raise_for_status()
        return await finish(row, outcome)

    return Prepared(job_id, public(row), run, generated_secrets or {})


async def done(ctx: DeploymentContext, row: Installation, outcome: Outcome) -> OperationDone:
    return OperationDone(installation=await ctx.public(row.id), job_id=outcome.job_id,
                         summary=outcome.summary)  # fmt: skip
