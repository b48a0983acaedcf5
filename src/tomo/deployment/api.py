"""Deployment routes: installations, their operations, logs, and jobs.

An install or any other operation answers 202 with its job at once and goes on
in the server after the client leaves; `GET /api/jobs/{id}/events` follows it
(Server-Sent Events, replayed from the stored steps, so a client that comes
late or reconnects misses nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, StringConstraints

from tomo.deployment.operation import Prepared
from tomo.deployment.schemas import (
    Adopted,
    Adoptions,
    ForeignContainer,
    InstallationPublic,
    InstallPreview,
    JobPublic,
)
from tomo.deployment.service import DeploymentService
from tomo.deployment.spec import ConfigChanges, InstallConfig, InstallRequest, UpdateRequest
from tomo.deployment.statuses import UNDER_WAY
from tomo.http.deps import DeploymentDep, run_in_background
from tomo.http.problems import error_responses
from tomo.http.security import PrincipalDep
from tomo.updates.images import ImageCheckReport
from tomo.updates.schemas import UpdateSettings

router = APIRouter(tags=["installations"])
SSE_POLL_SECONDS = 0.25
SSE_KEEPALIVE_SECONDS = 15.0


# One container's place in `after` (log_resume.py): a service, its stamp and count.
LogPlace = Annotated[str, StringConstraints(max_length=120)]


class LogLines(StreamingResponse):
    media_type = "text/plain"  # Starlette adds the charset (utf-8)


class EventStream(StreamingResponse):
    media_type = "text/event-stream"  # Server-Sent Events


class OperationStarted(BaseModel):
    """An operation under way: follow its job."""

    job_id: str
    installation: InstallationPublic
    generated_secrets: dict[str, str] = {}  # new secrets of an update: shown this once


def started(request: Request, prepared: Prepared) -> OperationStarted:
    run_in_background(request, prepared.run())
    return OperationStarted(job_id=prepared.job_id, installation=prepared.installation,
                            generated_secrets=prepared.generated_secrets)  # fmt: skip


@router.get("/installations", name="list_installations", responses=error_responses(401, 404))
async def list_installations(
    deployment: DeploymentDep, server: str | None = None, refresh: bool = False
) -> list[InstallationPublic]:
    """Installations; with `refresh`, their status checked against Docker first (every
    server at once; one that does not answer shows `unknown`)."""
    if refresh:
        return await deployment.list_with_status(server)
    return await deployment.list_installations(server)


@router.post("/image-checks", name="check_images",
             responses=error_responses(401, 403, 404))  # fmt: skip
async def check_images(deployment: DeploymentDep, server: str | None = None) -> ImageCheckReport:
    """Ask the registries now whether the floating tags (`latest`, `16`) the installations
    (of one server) run name new images: each new one is offered as an update from then
    on; an image whose server or registry did not answer is listed with the reason. For
    admins (it asks every server and registry)."""
    return await deployment.check_image_updates(server)


@router.post("/installations", name="install", status_code=status.HTTP_202_ACCEPTED,
             responses={200: {"model": InstallPreview, "description": "The preview"},
                        **error_responses(401, 403, 404, 409, 422, 502)})  # fmt: skip
async def install(
    request: Request, body: InstallRequest, deployment: DeploymentDep, preview: bool = False
) -> Any:
    """Install an app on a server: 202 with the job (follow its events). With
    `preview=true`: nothing runs; the checks on the server and the exact argv."""
    config = InstallConfig.model_validate(
        body.model_dump(exclude={"server", "app", "with_dependencies"})
    )
    if preview:
        plan = await deployment.preview_install(body.server, body.app, config, check=True)
        return _json(plan, 200)
    if body.with_dependencies:
        started = await deployment.install_with_dependencies(body.server, body.app, config)
        run_in_background(request, deployment.run_chain(started))
        return started
    started = await deployment.install_app(body.server, body.app, config)
    run_in_background(request, deployment.run_job(started.job_id))
    return started


def _json(model: BaseModel, status_code: int) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code)


@router.get("/installations/{installation}", name="get_installation",
            responses=error_responses(401, 404))  # fmt: skip
async def get_installation(installation: str, deployment: DeploymentDep) -> InstallationPublic:
    """One installation, by id (or instance name when only one server has it)."""
    return await deployment.get_installation(installation)


async def _verb(
    request: Request, deployment: DeploymentService, verb: str, installation: str
) -> OperationStarted:
    return started(request, await deployment.prepare_verb(verb, installation))


@router.post("/installations/{installation}/start", name="start",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def start(request: Request, installation: str, deployment: DeploymentDep) -> OperationStarted:
    """Start an installation's container."""
    return await _verb(request, deployment, "start", installation)


@router.post("/installations/{installation}/stop", name="stop",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def stop(request: Request, installation: str, deployment: DeploymentDep) -> OperationStarted:
    """Stop an installation's container."""
    return await _verb(request, deployment, "stop", installation)


@router.post("/installations/{installation}/restart", name="restart",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def restart(
    request: Request, installation: str, deployment: DeploymentDep
) -> OperationStarted:
    """Restart an installation's container."""
    return await _verb(request, deployment, "restart", installation)


@router.post("/installations/{installation}/update", name="update",
             status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(401, 403, 404, 409, 422))  # fmt: skip
async def update(
    request: Request, installation: str, body: UpdateRequest, deployment: DeploymentDep
) -> OperationStarted:
    """Update to the catalog's definition (or `tag`), with the changes given; the
    previous container comes back if the new one does not stay up."""
    changes = ConfigChanges.model_validate(body.model_dump(exclude={"tag"}))
    prepared = await deployment.prepare_update(installation, tag=body.tag, changes=changes)
    return started(request, prepared)


@router.put("/installations/{installation}/update-policy", name="set_update_policy",
            responses=error_responses(401, 403, 404, 422))  # fmt: skip
async def set_update_policy(
    installation: str, body: UpdateSettings, deployment: DeploymentDep
) -> InstallationPublic:
    """How updates reach the installation: `manual`, `notify` (each new offer told to the
    notification channels), `auto` (applied inside `window`, HH:MM-HH:MM in tomo's local
    time, default 03:00-05:00; within the major version unless `major`), `pinned`."""
    return await deployment.set_update_policy(installation, body)


@router.delete("/installations/{installation}", name="uninstall",
               status_code=status.HTTP_202_ACCEPTED,
               responses=error_responses(401, 403, 404, 409))  # fmt: skip
async def uninstall(
    request: Request, installation: str, deployment: DeploymentDep, remove_data: bool = False
) -> OperationStarted:
    """Remove the container; with `remove_data`, also the folders tomo placed under the
    instance folder and the container's volumes (the job's summary lists them)."""
    prepared = await deployment.prepare_uninstall(installation, remove_data=remove_data)
    return started(request, prepared)


@router.get("/installations/{installation}/logs", name="logs", response_class=LogLines,
            responses={200: {"content": {LogLines.media_type: {"schema": {"type": "string"}}},
                             "description": "The log lines"},
                       **error_responses(401, 404, 429, 502)})  # fmt: skip
async def logs(
    installation: str,
    deployment: DeploymentDep,
    reader: PrincipalDep,
    tail: Annotated[int, Query(ge=0, le=100_000)] = 100,
    follow: bool = False,
    service: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[list[LogPlace] | None, Query(max_length=32)] = None,
    timestamps: bool = False,
) -> StreamingResponse:
    """The container's output, stdout and stderr merged; `follow` keeps streaming. An app
    of several containers: one `service`, or all merged, each line led by its service.
    `timestamps` leads each line with Docker's (`STAMP text`, `STAMP service | text`).
    `after` reads on from where a reader is, instead of the last `tail` lines: one per
    container, `SERVICE,STAMP,COUNT` (its last line's stamp, and how many lines of that
    stamp it has) or `SERVICE` (none yet); a container not named starts at its first.
    A user has a few log streams at once (429 past them; TOMO_LOG_STREAMS_PER_USER)."""
    # A 404 (or an unknown service, or a place that is none) before the stream starts.
    await deployment.check_service(installation, service, after=after)
    lines = deployment.logs(installation, tail=tail, follow=follow, service=service,
                            reader=reader.user_id, after=after, timestamps=timestamps)  # fmt: skip
    return LogLines(_with_newlines(lines))


async def _with_newlines(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    async for line in lines:
        yield line + "\n"


@router.get("/servers/{server}/containers", name="foreign_containers",
            responses=error_responses(401, 403, 404, 502))  # fmt: skip
async def foreign_containers(server: str, deployment: DeploymentDep) -> list[ForeignContainer]:
    """The server's containers tomo did not create, with the catalog apps that run
    their images (what an adoption starts from). For admins: their names, images
    and ports are the server's, not tomo's."""
    return await deployment.foreign_containers(server)


@router.post("/servers/{server}/adoptions", name="adopt_container",
             status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 404, 409, 422, 502))  # fmt: skip
async def adopt_container(server: str, body: Adoptions, deployment: DeploymentDep) -> list[Adopted]:
    """Record containers tomo did not create as installations, as they run: from
    then on each is managed like any other. Nothing on the server is stopped or
    restarted; each one's `notes` say what was not carried over and the risk flags
    it runs with. Every container is checked first: one refused, none adopted."""
    return await deployment.adopt(server, body.containers)


@router.get("/servers/{server}/install-order", name="install_order",
            responses=error_responses(401, 404, 422))  # fmt: skip
async def install_order(server: str, app: str, deployment: DeploymentDep) -> list[str]:
    """The apps (`repo/app`) the app requires that the server lacks, in the order
    to install them before it."""
    return await deployment.install_order(server, app)


@router.get("/installations/{installation}/dependants", name="dependants",
            responses=error_responses(401, 404))  # fmt: skip
async def dependants(installation: str, deployment: DeploymentDep) -> list[str]:
    """The installations that require this one (directly or through others), by id,
    in the order to stop or uninstall them before it."""
    return await deployment.dependants(installation)


@router.get("/jobs", name="list_jobs", responses=error_responses(401, 422))
async def list_jobs(
    deployment: DeploymentDep,
    installation: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[JobPublic]:
    """Jobs, newest first; of one installation (by id or name, even one that is gone)."""
    return await deployment.list_jobs(installation=installation, limit=limit)


@router.get("/jobs/{job}", name="get_job", responses=error_responses(401, 404))
async def get_job(job: str, deployment: DeploymentDep) -> JobPublic:
    """One job: its steps, progress and outcome."""
    return await deployment.get_job(job)


@router.get("/jobs/{job}/events", name="job_events", response_class=EventStream,
            responses={200: {"content": {EventStream.media_type: {"schema": {"type": "string"}}},
                             "description": "`step` events, then one `end` event"},
                       **error_responses(401, 404)})  # fmt: skip
async def job_events(job: str, request: Request, deployment: DeploymentDep) -> StreamingResponse:
    """Follow a job: a `step` event for each step as it starts, progresses and ends
    (what already happened first), then `end` with the job's outcome."""
    await deployment.get_job(job)  # a 404 before the stream starts
    return EventStream(_events(job, request, deployment), headers={"X-Accel-Buffering": "no"})


async def _events(job_id: str, request: Request, deployment: DeploymentDep) -> AsyncIterator[str]:
    sent: dict[int, str] = {}
    quiet = 0.0
    while not await request.is_disconnected():
        view = await deployment.get_job(job_id)
        for index, step in enumerate(view.steps):
            data = step.model_dump_json()
            if sent.get(index) != data:
                sent[index] = data
                quiet = 0.0
                yield _event("step", data)
        if view.status not in UNDER_WAY:
            yield _event("end", view.model_dump_json())
            return
        if quiet >= SSE_KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": still running\n\n"  # a comment keeps proxies from closing the stream
        await asyncio.sleep(SSE_POLL_SECONDS)
        quiet += SSE_POLL_SECONDS


def _event(name: str, data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"  # compact JSON holds no line break
