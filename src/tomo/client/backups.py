"""BackupService's calls, over the API. A backup or a restore runs in the remote
tomo (202 with a job); here it is a RemotePrepared that follows that job."""

from __future__ import annotations

from tomo.backups.schemas import (
    BackupForgotten,
    BackupPublic,
    BackupSettings,
    RepositoryCreate,
    RepositoryPublic,
)
from tomo.client.deployment import RemoteDeployment, RemotePrepared
from tomo.client.transport import Api, segment
from tomo.deployment.spec import ConfigChanges
from tomo.errors import InvalidInput


class RemoteBackups:
    def __init__(self, api: Api, deployment: RemoteDeployment) -> None:
        self.api = api
        self.deployment = deployment

    async def prepare_backup(self, ref: str, server: str | None = None) -> RemotePrepared:
        path = f"{await self.deployment.path_of(ref, server)}/backups"
        return self.deployment.prepared(await self.api.call("POST", path))

    async def prepare_restore(
        self, backup_id: str, installation: str | None = None, server: str | None = None,
        only: list[str] | None = None,
    ) -> RemotePrepared:  # fmt: skip
        path = f"/backups/{segment(backup_id)}/restore"
        body = {"installation": installation, "server": server, "only": only}
        return self.deployment.prepared(await self.api.call("POST", path, body=body))

    async def prepare_restore_install(
        self, backup_id: str, server: str, name: str | None = None,
        changes: ConfigChanges | None = None,
    ) -> RemotePrepared:  # fmt: skip
        body = {"server": server, "name": name,
                **(changes or ConfigChanges()).model_dump(mode="json")}  # fmt: skip
        path = f"/backups/{segment(backup_id)}/installations"
        return self.deployment.prepared(await self.api.call("POST", path, body=body))

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

    async def get_settings(self, ref: str, server: str | None = None) -> BackupSettings:
        path = f"{await self.deployment.path_of(ref, server)}/backup-settings"
        return BackupSettings.model_validate(await self.api.call("GET", path))

    async def set_settings(
        self, ref: str, settings: BackupSettings, server: str | None = None
    ) -> BackupSettings:
        path = f"{await self.deployment.path_of(ref, server)}/backup-settings"
        body = settings.model_dump(mode="json")
        return BackupSettings.model_validate(await self.api.call("PUT", path, body=body))

    async def set_settings_for_all(self, settings: BackupSettings) -> list[str]:
        body = settings.model_dump(mode="json")
        return [str(name) for name in await self.api.call("PUT", "/backup-settings", body=body)]

    async def list_repositories(self) -> list[RepositoryPublic]:
        answer = await self.api.call("GET", "/backup-repositories")
        return [RepositoryPublic.model_validate(item) for item in answer]

    async def add_repository(self, request: RepositoryCreate) -> RepositoryPublic:
        body = request.model_dump(mode="json")
        if request.secret_access_key is not None:
            body["secret_access_key"] = request.secret_access_key.get_secret_value()
        answer = await self.api.call("POST", "/backup-repositories", body=body)
        return RepositoryPublic.model_validate(answer)

    async def remove_repository(self, name: str) -> RepositoryPublic:
        answer = await self.api.call("DELETE", f"/backup-repositories/{segment(name)}")
        return RepositoryPublic.model_validate(answer)

    async def make_default_repository(self, name: str) -> RepositoryPublic:
        answer = await self.api.call("PUT", f"/backup-repositories/{segment(name)}/default")
        return RepositoryPublic.model_validate(answer)

    async def repository_password(self, name: str) -> str:
        raise InvalidInput("a repository's password is shown only on tomo's own host, from "
                           "its data directory: the API never returns it")  # fmt: skip
