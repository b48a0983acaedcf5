"""BackupService's calls, over the API. A backup or a restore runs in the remote
tomo (202 with a job); here it is a RemotePrepared that follows that job."""

from __future__ import annotations

from tomo.backups.schemas import BackupForgotten, BackupPublic
from tomo.client.deployment import RemoteDeployment, RemotePrepared
from tomo.client.transport import Api, segment


class RemoteBackups:
    def __init__(self, api: Api, deployment: RemoteDeployment) -> None:
        self.api = api
        self.deployment = deployment

    async def prepare_backup(self, ref: str, server: str | None = None) -> RemotePrepared:
        path = f"{await self.deployment.path_of(ref, server)}/backups"
        return self.deployment.prepared(await self.api.call("POST", path))

    async def prepare_restore(self, backup_id: str) -> RemotePrepared:
        path = f"/backups/{segment(backup_id)}/restore"
        return self.deployment.prepared(await self.api.call("POST", path))

    async def list_backups(
        self, ref: str | None = None, server: str | None = None
    ) -> list[BackupPublic]:
        given = {"installation": ref, "server": server}
        params = {name: value for name, value in given.items() if value is not None}
        answer = await self.api.call("GET", "/backups", params=params)
        return [BackupPublic.model_validate(item) for item in answer]

    async def get_backup(self, backup_id: str) -> BackupPublic:
        return BackupPublic.model_validate(
            await self.api.call("GET", f"/backups/{segment(backup_id)}")
        )

    async def forget_backup(self, backup_id: str) -> BackupForgotten:
        return BackupForgotten.model_validate(
            await self.api.call("DELETE", f"/backups/{segment(backup_id)}")
        )
