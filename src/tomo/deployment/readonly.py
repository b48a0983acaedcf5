"""Deployment's answers on the CLI's quick path (see tomo.readonly): what
DeploymentService answers, read with sqlite3. None leaves the answer to the
service: it words every refusal, and asks servers for statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tomo.servers.readonly import server_id

if TYPE_CHECKING:
    from tomo.deployment.schemas import InstallationPublic, JobPublic
    from tomo.readonly import LocalDatabase


def list_jobs(db: LocalDatabase, *, installation: str | None, limit: int) -> list[JobPublic] | None:
    """Newest first; an installation by id or instance name, even one that is gone."""
    from tomo.deployment.schemas import MAX_JOBS  # (pydantic: `ps` makes no model)

    if not 1 <= limit <= MAX_JOBS:
        return None
    jobs = db.records(
        "SELECT * FROM jobs WHERE :ref IS NULL OR installation_id = :ref "
        "OR installation_name = :ref ORDER BY created_at DESC, id LIMIT :limit",
        {"ref": installation, "limit": limit},
    )
    return [_job(db, job) for job in jobs]


def _job(db: LocalDatabase, job: Any) -> JobPublic:
    """As jobs.job_view shows it."""
    from tomo.deployment.schemas import JobPublic

    steps = db.records("SELECT * FROM job_steps WHERE job_id = :id ORDER BY id", {"id": job.id})
    return JobPublic.model_validate(
        {**vars(job), "summary": job.summary or [], "steps": [vars(step) for step in steps]}
    )


def list_with_status(db: LocalDatabase, server: str | None) -> list[InstallationPublic] | None:
    """[] when there is no installation to show. Any installation's status is its
    server's Docker's to tell (asked over SSH by the service), as is an unknown
    server's refusal."""
    where = server_id(db, server) if server is not None else None
    if server is not None and where is None:
        return None
    found = db.rows("SELECT 1 FROM installations WHERE :server IS NULL OR server_id = :server "
                    "LIMIT 1", {"server": where})  # fmt: skip
    return None if found else []
