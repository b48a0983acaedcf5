"""Installing apps: the happy path end to end, through real sshd, dockerd and registry."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import RUN_LABEL
from tests.deployment.conftest import Deploy, server_for
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tomo.deployment.schemas import JobPublic
from tomo.deployment.spec import InstallConfig, PortOverride


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def page(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return response.read().decode()


def container_env(container: str, name: str) -> str:
    """A variable as the container's own processes see it, byte for byte."""
    return docker("exec", container, "sh", "-c", f'printf %s "${name}"')


async def install(deploy: Deploy, app: str, **config: object) -> tuple[str, JobPublic]:
    started = await deploy.runtime.deployment.install_app(
        deploy.server, app, InstallConfig(**config)
    )
    assert started.installation.status == "pending"
    view = await deploy.runtime.deployment.run_job(started.job_id)
    return started.installation.id, view


@pytest.mark.both_databases
async def test_install_runs_the_app_and_records_every_step(deploy: Deploy) -> None:
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port, environment=[
        {"name": "TZ", "default": "UTC"},
        {"name": "API_TOKEN", "secret": True, "generate": "password"},
    ], healthcheck={"endpoint": "/", "port": 80}))  # fmt: skip
    subprocess.run(["docker", "rmi", "-f", deploy.images.web_v1], capture_output=True, check=False)
    installation_id, view = await install(deploy, app)

    assert view.status == "done", view.error
    assert [s.name for s in view.steps] == ["validate", "preflight", "pull", "create", "wait"]
    assert all(s.status == "done" and s.ended_at is not None for s in view.steps)
    pull = view.steps[2]
    assert pull.progress_total and pull.progress_done == pull.progress_total
    assert view.steps[-1].message == "healthy"
    installed = await deploy.runtime.deployment.get_installation(installation_id)
    assert (installed.status, installed.name, installed.ports) == (
        "running",
        "web",
        [f"{port}/tcp"],
    )
    assert page(port) == "web v1\n"

    labels = json.loads(docker("inspect", "--format", "{{json .Config.Labels}}", "web"))
    assert labels == {
        "tomo.app": "web",
        "tomo.repo": deploy.repo_id,
        "tomo.installation": installation_id,
        "tomo.owner": RUN_LABEL,  # the test run's tomo (see tests/conftest.py)
        "tomo.service": "app",  # a one-container app is an app of one service
    }
    env_file = deploy.data_root / "web" / ".tomo.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    token = container_env("web", "API_TOKEN")
    assert len(token) >= 24 and env_file.read_text() == f"TZ=UTC\nAPI_TOKEN={token}\n"
    assert token not in docker("inspect", "--format", "{{json .Config.Cmd}}", "web")
    assert container_env("web", "TZ") == "UTC"
    assert (deploy.data_root / "web" / "data").is_dir()
    assert (await deploy.runtime.marketplace.get_app(app)).install_count == 1


async def test_tcp_health_check_passes_when_the_container_listens(deploy: Deploy) -> None:
    # Published on a host port, but judged by the socket inside the container.
    app = await deploy.publish("web", docker=deploy.web_app(healthcheck={"protocol": "tcp"}))
    _, view = await install(deploy, app)
    assert view.status == "done", view.error
    assert view.steps[-1].message == "healthy"


async def test_preview_shows_the_argv_and_installs_nothing(deploy: Deploy) -> None:
    app = await deploy.publish("web", docker=deploy.web_app(port=18555))
    plan = await deploy.runtime.deployment.preview_install(deploy.server, app, InstallConfig(
        env={"TZ": "Europe/Berlin"}, name="web-preview"))  # fmt: skip
    root, argv = deploy.data_root, plan.argv
    assert argv[:6] == ["docker", "container", "run", "--detach", "--name", "web-preview"]
    assert argv[argv.index("--publish") : argv.index("--publish") + 2] == [
        "--publish",
        "127.0.0.1:18555:80/tcp",
    ]
    assert f"{root}/web-preview/data:/data" in argv
    assert plan.env == {"TZ": "Europe/Berlin"}
    assert plan.env_file == f"{root}/web-preview/.tomo.env"
    assert not any("Europe/Berlin" in item for item in argv)  # never on a command line
    assert argv[-1] == deploy.images.web_v1
    assert await deploy.runtime.deployment.list_installations() == []
    assert not Path(root / "web-preview").exists()


async def test_installs_on_different_servers_run_at_the_same_time(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> None:
    other_root = data_root / "other-server"  # under the fixture's root: removed with it
    await deploy.runtime.servers.add_server(server_for("other", own_sshd, ssh_users, other_root))
    app = await deploy.publish("web", docker=deploy.web_app())
    service = deploy.runtime.deployment
    first = await service.install_app("box", app, InstallConfig(name="web-a"))
    second = await service.install_app("other", app, InstallConfig(name="web-b", ports=[
        PortOverride(host=free_port(), container=80)]))  # fmt: skip
    views = await asyncio.gather(service.run_job(first.job_id), service.run_job(second.job_id))

    assert [v.status for v in views] == ["done", "done"], [v.error for v in views]
    # Neither waited for the other: each began before the other's container was running.
    a, b = ({s.name: (s.started_at, s.ended_at or s.started_at) for s in v.steps} for v in views)
    assert a["validate"][0] < b["create"][1]
    assert b["validate"][0] < a["create"][1]


async def test_files_the_store_ships_arrive_in_the_data_directory(deploy: Deploy) -> None:
    """A Runtipi data/ folder or an Umbrel app folder's files: the container serves the
    page the store shipped; a file the user changed survives a reinstall over it."""
    port = free_port()
    page_html = base64.b64encode(b"<h1>shipped</h1>\n").decode()
    script = base64.b64encode(b"#!/bin/sh\necho ready\n").decode()
    docker = deploy.web_app(port=port, volumes=[{"host_path": "./site", "container_path": "/www"}])
    app = await deploy.publish("site", docker=docker, files=[
        {"path": "./site/index.html", "content": page_html},
        {"path": "./scripts/init.sh", "content": script, "mode": "0755"},
    ])  # fmt: skip

    installation_id, view = await install(deploy, app)

    assert view.status == "done", view.error
    assert page(port) == "<h1>shipped</h1>\n"
    placed = deploy.data_root / "site" / "scripts" / "init.sh"
    assert (placed.read_text(), oct(placed.stat().st_mode & 0o777)) == (
        "#!/bin/sh\necho ready\n", "0o755",
    )  # fmt: skip

    (deploy.data_root / "site" / "site" / "index.html").write_text("<h1>mine</h1>\n")
    uninstalled = await (await deploy.runtime.deployment.prepare_uninstall(installation_id)).run()
    assert uninstalled.summary
    _, again = await install(deploy, app)
    assert again.status == "done", again.error
    assert page(port) == "<h1>mine</h1>\n"  # kept data is never written over
