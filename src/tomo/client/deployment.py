"""DeploymentService's calls, over the API: installations, their operations, logs
and jobs.

The remote tomo runs every operation in its own process (202 with a job); here
an operation is a RemotePrepared whose `run` follows that job's events to its
end and answers as the local one does. Ctrl-C stops following, not the job:
nothing here can undo what runs in another tomo, and the message says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tomo.client.problems import rebuilt
from tomo.client.transport import Api, segment
from tomo.deployment.schemas import (
    Adopted,
    Adoptions,
    AdoptRequest,
    ForeignContainer,
    InstallationPublic,
    InstallPreview,
    InstallStarted,
    JobPublic,
    OperationDone,
)
from tomo.deployment.spec import ConfigChanges, InstallConfig
from tomo.deployment.statuses import UNDER_WAY, InstallationStatus, JobStatus
from tomo.errors import (
    InstallationNotFound,
    InstallFailed,
    OperationInterrupted,
    RemoteError,
    ServerUnreachable,
    TomoError,
)
from tomo.updates.schemas import UpdateSettings

if TYPE_CHECKING:
    from tomo.updates.images import ImageCheckReport

RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class RemotePrepared:
    """What tomo.deployment.operation.Prepared is to the CLI: a job to follow."""

    job_id: str
    installation: InstallationPublic
    run: Callable[[], Awaitable[OperationDone]]  # raises the operation's error
    generated_secrets: dict[str, str] = field(default_factory=dict)


class RemoteDeployment:
    def __init__(self, api: Api) -> None:
        self.api = api

    # -- install --------------------------------------------------------------

    async def preview_install(self, server: str, app: str, config: InstallConfig) -> InstallPreview:
        """The API always asks the server too: `problems` lists what it found."""
        answer = await self.api.call("POST", "/installations", body=_install(server, app, config),
                                     params={"preview": True})  # fmt: skip
        return InstallPreview.model_validate(answer)

    async def install_app(self, server: str, app: str, config: InstallConfig) -> InstallStarted:
        answer = await self.api.call("POST", "/installations", body=_install(server, app, config))
        return InstallStarted.model_validate(answer)

    async def run_job(self, job_id: str) -> JobPublic:
        """The job runs in the remote tomo already: follow it to its end.
        OperationInterrupted if it was interrupted, as locally."""
        view = await self.follow(job_id)
        if view.status == JobStatus.INTERRUPTED:
            raise OperationInterrupted(view.error or f"{view.kind} interrupted")
        return view

    # -- operations -----------------------------------------------------------

    async def prepare_verb(self, verb: str, ref: str, server: str | None = None) -> RemotePrepared:
        path = f"{await self.path_of(ref, server)}/{segment(verb)}"
        return self.prepared(await self.api.call("POST", path))

    async def prepare_update(
        self,
        ref: str,
        server: str | None = None,
        *,
        tag: str | None = None,
        changes: ConfigChanges | None = None,
    ) -> RemotePrepared:
        given = (changes or ConfigChanges()).model_dump(mode="json")
        path = f"{await self.path_of(ref, server)}/update"
        return self.prepared(await self.api.call("POST", path, body={"tag": tag, **given}))

    async def prepare_uninstall(
        self, ref: str, server: str | None = None, *, remove_data: bool = False
    ) -> RemotePrepared:
        answer = await self.api.call("DELETE", await self.path_of(ref, server),
                                     params={"remove_data": remove_data})  # fmt: skip
        return self.prepared(answer)

    def prepared(self, answer: object) -> RemotePrepared:
        started = InstallStarted.model_validate(answer)

        async def run() -> OperationDone:
            view = await self.follow(started.job_id)
            if view.status != JobStatus.DONE:
                raise self.job_error(view)
            return OperationDone(installation=await self._after(started.installation),
                                 job_id=started.job_id, summary=view.summary,
                                 generated_secrets=started.generated_secrets)  # fmt: skip

        return RemotePrepared(started.job_id, started.installation, run, started.generated_secrets)

    async def _after(self, before: InstallationPublic) -> InstallationPublic:
        """The installation once its job is done; an uninstalled one is gone, and shows
        as the service reports it: removed."""
        try:
            return await self.get_installation(before.id)
        except InstallationNotFound:
            gone = {"status": InstallationStatus.REMOVED, "operation": None}
            return before.model_copy(update=gone)

    def job_error(self, view: JobPublic) -> TomoError:
        """The error a failed job ended with. A job stores its message, not its class:
        an install or update failed (exit 8), anything else failed on its server (7)."""
        message = view.error or f"{view.kind} {view.status}"
        if view.status == JobStatus.INTERRUPTED:
            return OperationInterrupted(message)
        kind = InstallFailed if view.kind in ("install", "update") else RemoteError
        return rebuilt(kind, message, server=view.server_id or self.api.url)

    # -- following a job ------------------------------------------------------

    async def follow(self, job_id: str) -> JobPublic:
        """The job once it has ended, from its event stream (reconnected should the
        connection drop: the server replays what happened)."""
        try:
            while True:
                ended = await self._end_event(job_id)
                if ended is not None:
                    return ended
                view = await self.get_job(job_id)
                if view.status not in UNDER_WAY:
                    return view
                await asyncio.sleep(RECONNECT_SECONDS)
        except asyncio.CancelledError:
            raise OperationInterrupted(
                f"stopped following job {job_id}; it goes on in {self.api.url} "
                f"(see: tomo job show {job_id})"
            ) from None

    async def _end_event(self, job_id: str) -> JobPublic | None:
        try:
            async with aclosing(self.api.events(f"/jobs/{segment(job_id)}/events")) as events:
                async for name, data in events:
                    if name == "end":
                        return JobPublic.model_validate_json(data)
        except ServerUnreachable:  # the stream broke; asking for the job tells if tomo is gone
            pass
        return None

    # -- reading --------------------------------------------------------------

    async def logs(
        self, ref: str, server: str | None = None, *, tail: int = 100, follow: bool = False,
        service: str | None = None,
    ) -> AsyncIterator[str]:  # fmt: skip
        """Held to the share of log streams of the token's user (the API counts them)."""
        path = f"{await self.path_of(ref, server)}/logs"
        query = {"tail": tail, "follow": follow, "service": service}
        async with aclosing(self.api.lines(path, query)) as lines:
            async for line in lines:
                yield line

    async def get_job(self, job_id: str) -> JobPublic:
        return JobPublic.model_validate(await self.api.get(f"/jobs/{segment(job_id)}"))

    async def list_jobs(
        self, *, installation: str | None = None, limit: int = 20
    ) -> list[JobPublic]:
        found = await self.api.get("/jobs", {"installation": installation, "limit": limit})
        return [JobPublic.model_validate(job) for job in found]

    async def list_installations(self, server: str | None = None) -> list[InstallationPublic]:
        return await self._installations(server, refresh=False)

    async def list_with_status(self, server: str | None = None) -> list[InstallationPublic]:
        return await self._installations(server, refresh=True)

    async def list_with_resources(self, server: str | None = None) -> list[InstallationPublic]:
        """The served tomo's figures, as its health monitor last measured them (no
        server is asked for them on a read)."""
        return await self._installations(server, refresh=True)

    async def set_update_policy(
        self, ref: str, settings: UpdateSettings, server: str | None = None
    ) -> InstallationPublic:
        path = f"{await self.path_of(ref, server)}/update-policy"
        body = settings.model_dump(mode="json")
        return InstallationPublic.model_validate(await self.api.call("PUT", path, body=body))

    async def check_image_updates(self, server: str | None = None) -> ImageCheckReport:
        """The served tomo asks the registries (an admin's call)."""
        from tomo.updates.images import ImageCheckReport  # the report only: not the checks

        answer = await self.api.call("POST", "/image-checks",
                                     params={"server": server})  # fmt: skip
        return ImageCheckReport.model_validate(answer)

    async def list_outdated(self, server: str | None = None) -> list[InstallationPublic]:
        """Those the catalog offers a newer version of (the API's `update` says which)."""
        return [i for i in await self.list_installations(server) if i.update is not None]

    async def _installations(
        self, server: str | None, *, refresh: bool
    ) -> list[InstallationPublic]:
        found = await self.api.get("/installations", {"server": server, "refresh": refresh})
        return [InstallationPublic.model_validate(item) for item in found]

    async def get_installation(self, ref: str, server: str | None = None) -> InstallationPublic:
        answer = await self.api.get(await self.path_of(ref, server))
        return InstallationPublic.model_validate(answer)

    async def foreign_containers(self, server: str) -> list[ForeignContainer]:
        listed = await self.api.get(f"/servers/{segment(server)}/containers")
        return [ForeignContainer.model_validate(item) for item in listed]

    async def adopt(self, server: str, requests: list[AdoptRequest]) -> list[Adopted]:
        path = f"/servers/{segment(server)}/adoptions"
        body = Adoptions(containers=requests).model_dump(mode="json")
        return [Adopted.model_validate(item) for item in await self.api.call("POST", path,
                                                                           body=body)]  # fmt: skip

    async def install_order(self, server: str, app: str) -> list[str]:
        found = await self.api.get(f"/servers/{segment(server)}/install-order", {"app": app})
        return [str(item) for item in found]

    async def dependants(self, ref: str, server: str | None = None) -> list[str]:
        found = await self.api.get(f"{await self.path_of(ref, server)}/dependants")
        return [str(item) for item in found]

    async def path_of(self, ref: str, server: str | None) -> str:
        return f"/installations/{segment(await self._id_on(ref, server))}"

    async def _id_on(self, ref: str, server: str | None) -> str:
        """What the API is asked for. It finds an id, or a name only one server has;
        `server` (the CLI's --server) picks the name on that server, as the service
        does, and never one of the same name elsewhere."""
        if server is None:
            return ref
        for item in await self.list_installations(server):
            if ref in (item.id, item.name):
                return item.id
        found = InstallationPublic.model_validate(
            await self.api.get(f"/installations/{segment(ref)}")
        )
        if found.id != ref:  # a namesake on another server
            raise InstallationNotFound(f"no installation with id or name '{ref}'")
        return ref


def _install(server: str, app: str, config: InstallConfig) -> dict[str, object]:
    """The body of POST /api/installations."""
    return {"server": server, "app": app, **config.model_dump(mode="json")}
