"""What the deployment faces send and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tomo.deployment.statuses import InstallationStatus, JobStatus, StepStatus
from tomo.errors import Refusal
from tomo.updates.schemas import UpdateSettings


class StepPublic(BaseModel):
    """One step of a job as followers see it."""

    name: str
    status: StepStatus
    message: str | None
    progress_done: int | None
    progress_total: int | None
    started_at: datetime
    ended_at: datetime | None


MAX_JOBS = 500  # the most jobs one listing returns


class JobPublic(BaseModel):
    """An operation on an installation and its steps so far. The installation may
    be gone (uninstalled, or an install that failed and left nothing behind)."""

    id: str
    installation_id: str | None
    server_id: str | None
    installation_name: str | None
    app: str | None
    kind: str
    status: JobStatus
    error: str | None  # why it failed or was interrupted, and what was undone
    summary: list[str] = []  # what a finished operation did ("removed container 'web'")
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    steps: list[StepPublic]


class InstalledContainer(BaseModel):
    """One container of an installation."""

    service: str  # its service in the definition
    name: str  # the container's name on the server
    image: str


class UpdateOffer(BaseModel):
    """A newer version the catalog offers of an installed app, or new images of its
    floating tags (see deployment/outdated.py)."""

    from_version: str  # installed
    to_version: str  # the catalog's
    release_notes: str | None = None  # as the catalog gives them, when it does
    # Floating tags that name a new image now (`redis:7 has a new image (sha256:…)`),
    # as the last check of their registries found: offered even at the same version.
    images: list[str] = []

    @property
    def offered(self) -> str:
        """What is offered, in a badge's words: the version, or a new image of the same."""
        return self.to_version if self.to_version != self.from_version else "a new image"


class ResourceUse(BaseModel):
    """What containers use, as their server's engine measured it (see monitor/stats.py):
    of an installation, the sum over its running containers; of a server, over its
    installations. CPU in Docker's way: 100 is one CPU fully busy."""

    cpu_percent: float
    memory_bytes: int
    # The most its memory may grow to: the sum of its containers' limits, at most the
    # server's memory (a container without a limit is held by that alone).
    memory_limit_bytes: int
    net_rx_bytes: int  # received since its containers started
    net_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    running: int  # containers measured (those running)
    measured_at: datetime


class WebLink(BaseModel):
    """Where a person opens the app on its server's address: its web port (the main
    service's first TCP port, as published), the scheme it speaks, its page's path."""

    port: int
    scheme: Literal["http", "https"] = "http"
    path: str = "/"

    def url(self, host: str) -> str:
        shown = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{shown}:{self.port}{'' if self.path == '/' else self.path}"


class InstallationPublic(BaseModel):
    """An installation as every face shows it (secret values never included)."""

    id: str
    server_id: str
    name: str
    repo_id: str
    app_id: str
    version: str
    image: str
    status: InstallationStatus
    status_message: str | None
    container_id: str | None
    ports: list[str]
    # Its page by the server's address and its web port; None: it publishes no TCP port.
    web: WebLink | None = None
    # The names its server's front door routes to it (see tomo.proxy); [] without.
    hostnames: list[str] = []
    # Every container, in start order; the main one's name is the installation's.
    containers: list[InstalledContainer]
    config: dict[str, Any]
    operation: str | None
    created_at: datetime
    updated_at: datetime
    adopted: bool = False  # made outside tomo, then adopted (see deployment/adopt.py)
    # The newer version its catalog offers, as of the last sync; None: none offered
    # (or not asked: only the listings and the one installation's read fill it).
    update: UpdateOffer | None = None
    updates: UpdateSettings = UpdateSettings()  # its update policy (see tomo/updates)
    # What it uses, as the health monitor's last pass (or `tomo ps --stats`) measured
    # it; None: not measured yet.
    resources: ResourceUse | None = None


class InstallStarted(BaseModel):
    """The new installation (pending) and the job that installs it."""

    installation: InstallationPublic
    job_id: str
    generated_secrets: dict[str, str]  # shown once, here; stored encrypted
    # With dependencies: the apps it requires, installed first by jobs of their own
    # (this one starts once they are up).
    dependencies: list[InstallStarted] = []


class OperationDone(BaseModel):
    """An installation after an operation on it, and what the operation did."""

    installation: InstallationPublic
    job_id: str
    summary: list[str] = []  # e.g. "removed container 'web'", "kept /srv/apps/web/media"
    generated_secrets: dict[str, str] = {}  # new secrets an update generated; shown once


class ContainerPreview(BaseModel):
    """One container an install would create."""

    service: str  # its name in the definition ("" for a single-container app)
    argv: list[str]  # the `docker container run` command
    env_file: str | None  # where the environment goes (never on the command line)
    env: dict[str, str]  # its values; secret ones shown as "<secret>"
    name: str = ""  # the container's name on the server
    image: str = ""
    ports: list[str] = []  # published, as HOST:CONTAINER/PROTOCOL
    folders: list[str] = []  # the server's folders it mounts, as HOST:CONTAINER[:ro]
    volumes: list[str] = []  # named volumes it mounts, as NAME:CONTAINER[:ro]
    # On a Swarm: its tasks and where its ports open, in words (see swarm.services).
    swarm: str = ""


class PreflightProblem(BaseModel):
    """One reason the server cannot take the app, with the request's fields it concerns
    (`name`, `env.TZ`, `ports[0]`, `accept_risks`…), the command line's way to mend
    it, and the risk flags it names (to accept them)."""

    text: str
    fields: list[str] = []
    hint: str = ""
    values: list[str] = []
    suggestion: str = ""  # a value the field would take instead (a free port, a free name)

    @classmethod
    def of(cls, problem: Refusal) -> PreflightProblem:
        return cls(text=problem.text, fields=list(problem.fields), hint=problem.hint,
                   values=list(problem.values), suggestion=problem.suggestion)  # fmt: skip

    def problem(self) -> Refusal:
        return Refusal(self.text, tuple(self.fields), self.hint, tuple(self.values),
                       self.suggestion)  # fmt: skip


# What a preview says of InstallPreview.isolated_network.
ISOLATED_NETWORK_SAID = (
    "if the server lacks it: shared by the apps without a network of their own, where no "
    "container reaches another; kept after an uninstall"
)
# What a preview says of a Swarm service's published port (InstallPreview.swarm),
# in host mode, then through the routing mesh.
SWARM_PORT_SAID = "on every address of the node that runs it: Swarm cannot bind one address"
INGRESS_PORT_SAID = "on every node of the Swarm, which routes to a task (ingress)"


class InstallPreview(BaseModel):
    """What an install would run, without running it."""

    argv: list[str]  # the main container's `docker container run` command
    env_file: str | None  # where the environment goes (never on the command line)
    env: dict[str, str]  # its values; secret ones shown as "<secret>"
    risks: list[str] = []  # the risk flags of the app
    # Those of `risks` (and of what the server found) not accepted yet: the install
    # is refused until each is. A preview is shown all the same.
    risks_to_accept: list[str] = []
    # Every command in order (the app's network first, then each container).
    network: str | None = None
    containers: list[ContainerPreview] = []
    volumes: list[str] = []  # the named volumes it creates (unless there already)
    instance_dir: str = ""  # the installation's own folder on the server
    # The network shared by its containers that have none of their own, where none
    # reaches another (remote.ISOLATED_NETWORK): made if the server lacks it, kept.
    isolated_network: str | None = None
    # The names the server's front door routes to it, and who gets through them
    # (a login word of proxy.schemas.LOGIN_WORDS; None without names).
    hostnames: list[str] = []
    login: Literal["users", "admins", "off"] | None = None
    # Swarm services (`docker service create`, see deployment/swarm) rather than
    # containers: their ports are bound on every address of the node that runs them.
    swarm: bool = False
    # On a Swarm, the node its data would go on and why ("host (id): suggested: …"),
    # when the server was asked and the app has data.
    data_node: str | None = None
    # What the server says (when it was asked): every reason it cannot take the app,
    # [] when it can, None when it was not asked.
    problems: list[PreflightProblem] | None = None


class AdoptRequest(BaseModel):
    """Sent to adopt a container tomo did not create (see deployment/adopt.py)."""

    container: str = Field(min_length=1, max_length=128)  # its name or id
    app: str | None = Field(default=None, max_length=160)  # `repo/app`; else one made of it
    name: str | None = Field(default=None, max_length=63)  # the installation's; else its own


class Adoptions(BaseModel):
    """Sent to adopt several containers at once: each is checked before any is adopted."""

    containers: list[AdoptRequest] = Field(min_length=1, max_length=200)


class Adopted(BaseModel):
    """The installation an adoption made, its job, and what the user should know."""

    installation: InstallationPublic
    job_id: str
    notes: list[str]  # what was not carried over, the risk flags it runs with, …


class ForeignContainer(BaseModel):
    """A container on a server that tomo did not create (see deployment/foreign.py)."""

    name: str
    image: str
    state: str  # running, exited, …
    status: str  # Docker's words: "Up 3 hours", "Exited (0) 2 days ago"
    ports: str
    apps: list[str]  # `repo/app` of the catalog apps whose image it runs (any tag)
