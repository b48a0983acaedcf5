"""What a hostile catalog tried, on a real server: each path to more power than the
risk flags show needs consent or is refused; and data kept is data usable."""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import RUN_LABEL
from tests.deployment.conftest import (
    Deploy,
    carried_out,
    remove_test_containers,
    run_verb,
    server_for,
)
from tests.deployment.test_install import container_env, docker, install
from tests.faults import wait_until
from tests.registry import TestImages
from tests.sshd import Sshd, SshUsers
from tomo.deployment.spec import InstallConfig, VolumeOverride
from tomo.errors import InvalidInput, RemoteError, TooManyStreams


def names() -> list[str]:
    return docker("ps", "-a", "--format", "{{.Names}}").split()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder outside the data root that the SSH test user can see into."""
    folder = Path(f"/tmp/tomo-shared-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    os.chmod(folder, 0o755)  # noqa: S103 - readable, as a media folder would be
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# -- risk flags that hold --------------------------------------------------------


async def test_a_folder_inside_one_the_app_writes_needs_consent(deploy: Deploy) -> None:
    """The container writing ./data could swap ./data/cache for a link to / and get
    the host's root at its next start: that is a flag, never 'no risks'."""
    volumes = [{"host_path": "./data", "container_path": "/data"},
               {"host_path": "./data/cache", "container_path": "/host"}]  # fmt: skip
    app = await deploy.publish("nest", docker=deploy.web_app(volumes=volumes))
    entry = await deploy.runtime.marketplace.get_app(app)
    assert entry.risks == ["nested-mount:./data/cache"]
    with pytest.raises(InvalidInput, match=r"not accepted: nested-mount:\./data/cache"):
        await install(deploy, app)
    assert "nest" not in names()
    _, view = await install(deploy, app, accept_risks=["nested-mount:./data/cache"])
    assert view.status == "done", view.error


async def test_a_folder_of_tomos_that_became_a_link_is_refused(deploy: Deploy) -> None:
    """A container that could write ./data left ./data/cache as a link to /; a later
    version mounting ./data/cache must not follow it (Docker would)."""
    app = await deploy.publish("web", docker=deploy.web_app())
    _, view = await install(deploy, app)
    assert view.status == "done", view.error
    docker("exec", "web", "/bin/busybox", "ln", "-s", "/", "/data/cache")
    await carried_out(deploy.runtime.deployment.prepare_uninstall("web"))  # the data is kept
    volumes = [{"host_path": "./data/cache", "container_path": "/cache"}]
    app = await deploy.publish("web", docker=deploy.web_app(volumes=volumes))

    _, view = await install(deploy, app)
    assert view.status == "failed"
    assert f"the folder {deploy.data_root}/web/data/cache leads to / on the server" in (
        view.error or ""
    )
    assert "web" not in names()


async def test_a_link_to_the_data_root_needs_consent(deploy: Deploy, shared_dir: Path) -> None:
    """Every installation's folder and secret env file lie under the data root."""
    link = shared_dir / "innocent"
    link.symlink_to(deploy.data_root)
    app = await deploy.publish("peek", docker=deploy.web_app(
        volumes=[{"container_path": "/all", "readonly": True}]))  # fmt: skip
    override = VolumeOverride(host_path=str(link), container_path="/all")
    _, view = await install(deploy, app, volumes=[override])
    assert view.status == "failed"
    assert f"which carries risk flags you have not accepted: tomo-data:{deploy.data_root}" in (
        view.error or ""
    )
    assert "peek" not in names()


async def test_a_socket_without_a_socket_name_needs_consent(
    deploy: Deploy, shared_dir: Path
) -> None:
    """A runtime's socket by any name: the server says it is a socket."""
    path = shared_dir / "control"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    try:
        app = await deploy.publish("sock", docker=deploy.web_app(
            volumes=[{"host_path": str(path), "container_path": "/run/x", "readonly": True}]))  # fmt: skip
        _, view = await install(deploy, app)
    finally:
        listener.close()
    assert view.status == "failed"
    assert f"not accepted: socket:{path}" in (view.error or "")


async def test_another_installations_written_folder_needs_consent(
    deploy: Deploy, shared_dir: Path
) -> None:
    """One app writing /media could swap /media/tv, which another app mounts."""
    writer = await deploy.publish("writer", docker=deploy.web_app(
        volumes=[{"host_path": str(shared_dir), "container_path": "/media"}]))  # fmt: skip
    _, view = await install(deploy, writer)
    assert view.status == "done", view.error
    inner = shared_dir / "tv"
    reader = await deploy.publish("reader", docker=deploy.web_app(
        volumes=[{"host_path": str(inner), "container_path": "/tv", "readonly": True}]))  # fmt: skip
    _, view = await install(deploy, reader)
    assert view.status == "failed"
    assert f"not accepted: nested-mount:{inner}" in (view.error or "")
    _, view = await install(deploy, reader, accept_risks=[f"nested-mount:{inner}"])
    assert view.status == "done", view.error


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def test_a_health_check_never_probes_another_port_of_the_server(deploy: Deploy) -> None:
    """A definition's check naming a port the app does not publish must not make the
    server send a request to whatever listens there."""
    _Recorder.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    deploy.runtime.settings.install_wait_timeout = 3
    try:
        app = await deploy.publish("probe", docker=deploy.web_app(
            healthcheck={"endpoint": "/admin/wipe", "port": port}))  # fmt: skip
        _, view = await install(deploy, app)
    finally:
        server.shutdown()
    assert _Recorder.hits == []
    assert view.status == "failed"
    assert f"nothing listens on {port}/tcp in the container" in (view.error or "")


# -- data kept is data usable ---------------------------------------------------------


SHUTS_DOWN_CLEANLY = ["/bin/sh", "-c",
                      "trap 'echo clean > /data/shutdown; exit 0' TERM; "
                      "while true; do sleep 0.2; done"]  # fmt: skip


async def test_uninstall_stops_the_app_gracefully_before_removing_it(deploy: Deploy) -> None:
    app = await deploy.publish("db", docker=deploy.web_app(command=SHUTS_DOWN_CLEANLY))
    _, view = await install(deploy, app)
    assert view.status == "done", view.error
    await carried_out(deploy.runtime.deployment.prepare_uninstall("db"))
    assert (deploy.data_root / "db" / "data" / "shutdown").read_text() == "clean\n"


async def test_a_definitions_stop_signal_is_used(deploy: Deploy) -> None:
    command = ["/bin/sh", "-c", "trap 'echo quit > /data/shutdown; exit 0' QUIT; "
               "while true; do sleep 0.2; done"]  # fmt: skip
    app = await deploy.publish("db", docker=deploy.web_app(
        command=command, stop_signal="SIGQUIT", stop_grace_period="20s"))  # fmt: skip
    _, view = await install(deploy, app)
    assert view.status == "done", view.error
    assert docker("inspect", "--format", "{{.Config.StopSignal}} {{.Config.StopTimeout}}",
                  "db").strip() == "SIGQUIT 20"  # fmt: skip
    await run_verb(deploy.runtime.deployment, "stop", "db")
    assert (deploy.data_root / "db" / "data" / "shutdown").read_text() == "quit\n"


async def test_reinstalling_over_kept_data_reuses_its_generated_secrets(deploy: Deploy) -> None:
    """The app initialised its database with the first password: a new one would lock
    it out. Removing the data removes the secrets too."""
    environment = [{"name": "DB_PASSWORD", "secret": True, "generate": "password"}]
    app = await deploy.publish("db", docker=deploy.web_app(environment=environment))
    service = deploy.runtime.deployment
    first = await service.install_app("box", app, InstallConfig())
    assert "DB_PASSWORD" in first.generated_secrets
    assert (await service.run_job(first.job_id)).status == "done"
    password = container_env("db", "DB_PASSWORD")
    kept = await carried_out(service.prepare_uninstall("db"))
    assert any("kept its secrets" in line for line in kept.summary)

    again = await service.install_app("box", app, InstallConfig())
    assert again.generated_secrets == {}  # nothing new to show
    assert (await service.run_job(again.job_id)).status == "done"
    assert container_env("db", "DB_PASSWORD") == password

    await carried_out(service.prepare_uninstall("db", remove_data=True))
    fresh = await service.install_app("box", app, InstallConfig())
    assert (await service.run_job(fresh.job_id)).status == "done"
    assert container_env("db", "DB_PASSWORD") not in ("", password)


async def test_a_server_is_online_again_after_any_successful_contact(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> None:
    servers = deploy.runtime.servers
    await servers.add_server(server_for("flaky", own_sshd, ssh_users, data_root))
    own_sshd.stop()
    with pytest.raises(RemoteError):
        await servers.test_server("flaky")
    assert (await servers.get_server("flaky")).status == "offline"
    own_sshd.start()
    app = await deploy.publish("web", docker=deploy.web_app())
    started = await deploy.runtime.deployment.install_app("flaky", app, InstallConfig())
    assert (await deploy.runtime.deployment.run_job(started.job_id)).status == "done"
    shown = await servers.get_server("flaky")
    assert (shown.status, shown.last_error) == ("online", None)


async def test_a_missing_device_is_found_before_the_pull(deploy: Deploy) -> None:
    subprocess.run(["docker", "rmi", "-f", deploy.images.web_v2], capture_output=True,
                   check=False)  # fmt: skip
    app = await deploy.publish("pi", docker=deploy.web_app(
        image=deploy.images.web_v2, devices=["/dev/vchiq"]))  # fmt: skip
    _, view = await install(deploy, app, accept_risks=["device:/dev/vchiq"])
    assert view.status == "failed"
    assert "device /dev/vchiq does not exist on the server" in (view.error or "")
    assert "pull" not in [step.name for step in view.steps]
    assert not docker("images", "-q", deploy.images.web_v2).strip()


async def test_ssh_lost_mid_install_leaves_only_uninstall_and_is_settled_on_next_contact(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> None:
    await deploy.runtime.servers.add_server(server_for("flaky", own_sshd, ssh_users, data_root))
    app = await deploy.publish("slow", docker=deploy.web_app(
        healthcheck={"endpoint": "/nope", "port": 80}))  # fmt: skip
    deploy.runtime.settings.install_wait_timeout = 120
    service = deploy.runtime.deployment
    started = await service.install_app("flaky", app, InstallConfig())
    job = asyncio.create_task(service.run_job(started.job_id))
    await wait_until(lambda: _at_wait(deploy, started.job_id))
    own_sshd.stop()
    assert (await asyncio.wait_for(job, 60)).status == "failed"

    (left,) = await service.list_installations()
    assert (left.status, left.operation) == ("failed", None)
    assert "slow" in names()  # honestly still there
    for verb in ("start", "stop", "restart"):
        with pytest.raises(InvalidInput, match="only uninstall is possible now"):
            await service.prepare_verb(verb, "slow")
    with pytest.raises(InvalidInput, match="only uninstall"):
        await carried_out(service.prepare_update("slow"))

    own_sshd.start()
    assert await service.list_with_status() == []  # the next look settles it
    assert "slow" not in names()
    jobs = await service.list_jobs()
    assert jobs[0].kind == "cleanup" and jobs[0].status == "done"


async def _at_wait(deploy: Deploy, job_id: str) -> bool:
    view = await deploy.runtime.deployment.get_job(job_id)
    return bool(view.steps) and view.steps[-1].name == "wait"


async def test_log_streams_never_take_an_operations_channels(deploy: Deploy) -> None:
    """Followed logs past their budget are refused at once; stop still runs while
    every log channel of the server is held."""
    app = await deploy.publish("web", docker=deploy.web_app())
    _, view = await install(deploy, app)
    assert view.status == "done", view.error
    service = deploy.runtime.deployment
    budget = service.ctx.log_streams
    held: list[asyncio.Task[None]] = []

    async def follow(reader: str) -> None:
        async for _ in service.logs("web", tail=0, follow=True, reader=reader):
            pass

    try:
        for reader in ("ann", "bob"):
            for _ in range(budget.per_reader):
                held.append(asyncio.create_task(follow(reader)))
        await wait_until(lambda: sum(budget._servers.values()) == 2 * budget.per_reader)
        with pytest.raises(TooManyStreams, match="you have 4 log streams open"):
            await follow("ann")
        with pytest.raises(TooManyStreams, match="log streams are open there"):
            await follow("cid")
        stopped = await asyncio.wait_for(run_verb(service, "stop", "web"), 30)
        assert stopped.status == "stopped"
    finally:
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)


# -- the tests' own clean-up ---------------------------------------------------------


def test_the_clean_up_removes_only_this_runs_containers(
    docker_engine: None, images: TestImages
) -> None:
    """A real tomo on the same engine keeps its containers (they carry no run label)."""
    others = f"not-the-tests-{uuid.uuid4().hex[:6]}"
    ours = f"the-tests-{uuid.uuid4().hex[:6]}"
    image = images.web_v1
    docker("run", "-d", "--name", others, "--label", "tomo.installation=real", image)
    docker("run", "-d", "--name", ours, "--label", f"tomo.owner={RUN_LABEL}", image)
    try:
        remove_test_containers()
        assert others in names() and ours not in names()
    finally:
        docker("rm", "-f", others)


async def test_gpus_are_refused_where_docker_has_no_nvidia_runtime(deploy: Deploy) -> None:
    """This machine has no GPU: the refusal before anything is pulled is what can run
    here (a real `--gpus` run needs the NVIDIA Container Toolkit and a GPU)."""
    app = await deploy.publish("transcoder", docker=deploy.web_app(gpus="all"))
    _, view = await install(deploy, app, accept_risks=["gpu"])
    assert view.status == "failed"
    assert "uses the server's NVIDIA GPUs, but Docker there has no NVIDIA runtime (it has: " in (
        view.error or ""
    )
    assert "runc" in (view.error or "")
    assert "pull" not in [step.name for step in view.steps]
