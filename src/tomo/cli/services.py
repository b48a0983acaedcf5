"""What the CLI's commands ask of tomo: one Protocol per feature, naming exactly the
calls they make, and `Services`, what `run()` hands a command.

Two sides stand behind them: the local services (tomo.runtime.Runtime, on a data
directory) and the remote client (tomo.client.runtime.RemoteRuntime, a logged-in
tomo's API). Commands see only these Protocols, so a call either works on both
sides or mypy refuses it; `_both_sides` below is mypy's proof that each side has
every call, with parameters and answers that fit.

A side may take more than a Protocol names (the local `client` of a password
change, the built-in catalog's `trusted_local`), never less. What the CLI passes
by position is positional-only here: mypy compares the names of keyword
parameters only, and a call by name could pass it and fail on one side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from tomo.auth.schemas import (
        AuditEventPublic,
        PasswordChanged,
        TokenCreate,
        TokenCreated,
        TokenPublic,
        UserCreate,
        UserPublic,
        UserUnlocked,
    )
    from tomo.auth.service import Principal
    from tomo.backups.schemas import (
        BackupForgotten,
        BackupPublic,
        BackupSettings,
        RepositoryCreate,
        RepositoryPublic,
    )
    from tomo.client.runtime import RemoteRuntime
    from tomo.deployment.schemas import (
        Adopted,
        AdoptRequest,
        ForeignContainer,
        InstallationPublic,
        InstallPreview,
        InstallStarted,
        JobPublic,
        OperationDone,
    )
    from tomo.deployment.spec import ConfigChanges, InstallConfig
    from tomo.events.schemas import (
        ChannelCreate,
        ChannelPublic,
        ChannelTested,
        EventsPage,
        EventsRead,
    )
    from tomo.marketplace.schemas import (
        Category,
        MarketplaceApp,
        PersonalApp,
        PersonalAppCreate,
        RatingResult,
        RepoAdded,
        RepoCreate,
        RepoDetail,
        RepoPublic,
        RepoRemoved,
        RepoUpdate,
        SearchPage,
        SyncReport,
    )
    from tomo.marketplace.search.query import SortKey
    from tomo.marketplace.sync import Progress
    from tomo.proxy.schemas import DomainSettings, InstallationHostnames, ProxyStatus
    from tomo.runtime import Runtime
    from tomo.servers.schemas import (
        HostKeyScan,
        PublicKey,
        ServerAdded,
        ServerCreate,
        ServerPublic,
        ServerUpdate,
    )
    from tomo.servers.swarm import SwarmNode
    from tomo.updates.images import ImageCheckReport
    from tomo.updates.schemas import UpdateSettings


class Marketplace(Protocol):
    """`tomo repo …` and `tomo app …`."""

    async def add_repo(self, request: RepoCreate, /) -> RepoAdded: ...
    async def add_personal_app(self, request: PersonalAppCreate, /) -> PersonalApp: ...
    async def list_repos(self) -> list[RepoPublic]: ...
    async def get_repo(self, ref: str, /) -> RepoDetail: ...
    async def update_repo(self, ref: str, changes: RepoUpdate, /) -> RepoPublic: ...
    async def remove_repo(self, ref: str, /) -> RepoRemoved: ...
    async def sync_repo(self, ref: str, /, *, progress: Progress, force: bool) -> SyncReport: ...
    async def search_apps(
        self,
        *,
        search: str | None,
        category: str | None,
        tags: Sequence[str],
        repo: str | None,
        sort: SortKey | None,
        limit: int,
        offset: int,
        installable_only: bool = ...,
    ) -> SearchPage: ...
    async def get_app(self, ref: str, /) -> MarketplaceApp: ...
    async def get_categories(self) -> list[Category]: ...
    async def rate_app(self, ref: str, /, *, user: str, rating: int) -> RatingResult: ...


class Servers(Protocol):
    """`tomo server …`."""

    async def add_server(
        self, request: ServerCreate, /, *, confirm: Callable[[str], bool] | None
    ) -> ServerAdded: ...
    async def list_servers(self) -> list[ServerPublic]: ...
    async def get_server(self, ref: str, /) -> ServerPublic: ...
    async def update_server(self, ref: str, changes: ServerUpdate, /) -> ServerPublic: ...
    async def generate_key(self, ref: str, /) -> PublicKey: ...
    async def remove_server(self, ref: str, /, *, force: bool) -> ServerPublic: ...
    async def scan_host_key(self, ref: str, /) -> HostKeyScan: ...
    async def trust_server(self, ref: str, fingerprint: str, /) -> ServerPublic: ...
    async def test_server(self, ref: str, /) -> ServerPublic: ...
    async def swarm_nodes(self, ref: str, /, *, fresh: bool) -> list[SwarmNode]: ...


class PreparedOperation(Protocol):
    """An operation whose job is recorded: run here (local), or followed to its end
    in the tomo that runs it (remote)."""

    @property
    def job_id(self) -> str: ...
    @property
    def run(self) -> Callable[[], Awaitable[OperationDone]]: ...


class Deployment(Protocol):
    """`tomo install`, `ps`, `outdated`, `start|stop|restart|update|uninstall`, `logs`,
    `job …`."""

    async def preview_install(
        self, server: str, app: str, config: InstallConfig, /
    ) -> InstallPreview: ...
    async def install_app(
        self, server: str, app: str, config: InstallConfig, /
    ) -> InstallStarted: ...
    async def run_job(self, job_id: str, /) -> JobPublic: ...
    async def prepare_verb(
        self, verb: str, ref: str, server: str | None, /
    ) -> PreparedOperation: ...
    async def prepare_update(
        self, ref: str, server: str | None, /, *, tag: str | None, changes: ConfigChanges
    ) -> PreparedOperation: ...
    async def prepare_uninstall(
        self, ref: str, server: str | None, /, *, remove_data: bool
    ) -> PreparedOperation: ...
    def logs(
        self, ref: str, server: str | None, /, *, tail: int, follow: bool, service: str | None
    ) -> AsyncIterator[str]: ...
    async def get_job(self, job_id: str, /) -> JobPublic: ...
    async def list_jobs(self, *, installation: str | None, limit: int) -> list[JobPublic]: ...
    async def list_with_status(self, server: str | None, /) -> list[InstallationPublic]: ...
    async def list_with_resources(self, server: str | None, /) -> list[InstallationPublic]: ...
    async def list_outdated(self, server: str | None, /) -> list[InstallationPublic]: ...
    async def check_image_updates(self, server: str | None, /) -> ImageCheckReport: ...
    async def set_update_policy(
        self, ref: str, settings: UpdateSettings, server: str | None, /
    ) -> InstallationPublic: ...
    async def get_installation(self, ref: str, /) -> InstallationPublic: ...
    async def foreign_containers(self, server: str, /) -> list[ForeignContainer]: ...
    async def adopt(self, server: str, requests: list[AdoptRequest], /) -> list[Adopted]: ...
    async def install_order(self, server: str, app: str, /) -> list[str]: ...
    async def dependants(self, ref: str, server: str | None, /) -> list[str]: ...


class Backups(Protocol):
    """`tomo backup …`."""

    async def prepare_backup(self, ref: str, server: str | None, /) -> PreparedOperation: ...
    async def prepare_restore(
        self, backup_id: str, installation: str | None, server: str | None,
        only: list[str] | None, /,
    ) -> PreparedOperation: ...  # fmt: skip
    async def prepare_restore_install(
        self, backup_id: str, server: str, name: str | None, changes: ConfigChanges, /
    ) -> PreparedOperation: ...
    async def list_backups(self, ref: str | None, server: str | None, /) -> list[BackupPublic]: ...
    async def get_backup(self, backup_id: str, /) -> BackupPublic: ...
    async def forget_backup(self, backup_id: str, /) -> BackupForgotten: ...
    async def get_settings(self, ref: str, server: str | None, /) -> BackupSettings: ...
    async def set_settings(
        self, ref: str, settings: BackupSettings, server: str | None, /
    ) -> BackupSettings: ...
    async def set_settings_for_all(self, settings: BackupSettings, /) -> list[str]: ...
    async def list_repositories(self) -> list[RepositoryPublic]: ...
    async def add_repository(self, request: RepositoryCreate, /) -> RepositoryPublic: ...
    async def remove_repository(self, name: str, /) -> RepositoryPublic: ...
    async def make_default_repository(self, name: str, /) -> RepositoryPublic: ...
    async def repository_password(self, name: str, /) -> str: ...


class Proxy(Protocol):
    """`tomo server update --domain/--tls`, `tomo server proxy`, `tomo server root-cert`,
    `tomo hostname …`."""

    async def set_domain(self, ref: str, settings: DomainSettings, /) -> ServerPublic: ...
    async def status(self, ref: str, /) -> ProxyStatus: ...
    async def root_certificate(self, ref: str, /) -> str: ...
    async def get_hostnames(self, ref: str, server: str | None, /) -> InstallationHostnames: ...
    async def set_hostnames(
        self, ref: str, hostnames: list[str], server: str | None, /
    ) -> InstallationHostnames: ...
    async def set_login(
        self, ref: str, login: Literal["viewer", "admin"] | None, server: str | None, /
    ) -> InstallationHostnames: ...


class Accounts(Protocol):
    """`tomo user …`, `tomo token …`, `tomo audit`. `by` is who acts on a local data
    directory; a remote tomo acts as the token's user."""

    async def create_user(self, request: UserCreate, /) -> UserPublic: ...
    async def list_users(self) -> list[UserPublic]: ...
    async def delete_user(self, ref: str, /) -> UserPublic: ...
    async def set_password(
        self, ref: str, new: str, /, *, by: Principal, revoke_tokens: bool
    ) -> PasswordChanged: ...
    async def unlock_user(self, ref: str, /) -> UserUnlocked: ...
    async def create_token(self, request: TokenCreate, /, *, by: Principal) -> TokenCreated: ...
    async def list_tokens(self, *, by: Principal) -> list[TokenPublic]: ...
    async def revoke_token(self, token_id: str, /, *, by: Principal) -> TokenPublic: ...
    async def audit(self, *, limit: int) -> list[AuditEventPublic]: ...


class Events(Protocol):
    """`tomo events` and `tomo channel …`. `user_id` is whose list is read on a local
    data directory; a remote tomo reads the token's user's."""

    async def list_events(self, *, user_id: str, unread: bool, limit: int) -> EventsPage: ...
    async def mark_read(self, *, user_id: str) -> EventsRead: ...
    async def add_channel(self, request: ChannelCreate, /) -> ChannelPublic: ...
    async def list_channels(self) -> list[ChannelPublic]: ...
    async def remove_channel(self, name: str, /) -> ChannelPublic: ...
    async def test_channel(self, name: str, /) -> ChannelTested: ...


class Services(Protocol):
    """What a command is handed: tomo's features, local or remote."""

    @property
    def marketplace(self) -> Marketplace: ...
    @property
    def servers(self) -> Servers: ...
    @property
    def deployment(self) -> Deployment: ...
    @property
    def auth(self) -> Accounts: ...
    @property
    def events(self) -> Events: ...
    @property
    def backups(self) -> Backups: ...
    @property
    def proxy(self) -> Proxy: ...


if TYPE_CHECKING:

    def _both_sides(local: Runtime, remote: RemoteRuntime) -> None:
        """Never called: mypy checks each side's features against their Protocols (an
        error here names the side and the call it lacks)."""
        _marketplace: list[Marketplace] = [local.marketplace, remote.marketplace]
        _servers: list[Servers] = [local.servers, remote.servers]
        _deployment: list[Deployment] = [local.deployment, remote.deployment]
        _accounts: list[Accounts] = [local.auth, remote.auth]
        _events: list[Events] = [local.events, remote.events]
        _backups: list[Backups] = [local.backups, remote.backups]
        _proxy: list[Proxy] = [local.proxy, remote.proxy]
        _services: list[Services] = [local, remote]
