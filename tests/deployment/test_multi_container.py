"""Apps of several containers, deployed for real through sshd + Docker: one network
per installation, services reaching each other by name, dependencies waited for,
all-or-nothing installs and updates, and uninstall of the whole app."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.cli.tomo_cli import Tomo
from tests.conftest import RUN_LABEL
from tests.deployment.conftest import Deploy, at_step, carried_out, run_verb, server_for
from tests.faults import wait_until
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tomo.deployment.spec import InstallConfig
from tomo.errors import InstallFailed, InvalidInput, TomoError

# The client asks the api service by its name on the app's network, keeps what it
# got in its volume, then serves pages itself.
FETCH = "wget -qO /out/got.txt http://api/ && exec httpd -f -p 80 -h /www"


class AppServer(Protocol):
    """Where the apps run: the Deploy fixture, or a browser test's server."""

    @property
    def images(self) -> TestImages: ...
    @property
    def data_root(self) -> Path: ...


def two_services(
    deploy: AppServer, *, api_image: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "main": "client",
        "settings": [{"name": "GREETING", "default": "hello"}],
        "services": {
            "client": {
                "image": deploy.images.web_v1,
                # As the server's user, so that what it writes is that user's to remove.
                "user": f"{deploy.data_root.stat().st_uid}:{deploy.data_root.stat().st_gid}",
                "command": ["sh", "-c", FETCH],
                "ports": [{"container": 80, "host": free_port()}],
                "volumes": [{"host_path": "./out", "container_path": "/out"},
                            {"volume": "shared", "container_path": "/shared"}],
                "environment": [{"name": "SAY", "default": "${GREETING} from ${TOMO_INSTANCE}"}],
                "depends_on": {"api": {"condition": "service_healthy"}},
            },
            "api": {
                "image": api_image or deploy.images.web_v1,
                "volumes": [{"volume": "shared", "container_path": "/shared"}],
                "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1/"],
                                "interval": "1s", "retries": 20},
            },
            **extra,
        },
    }  # fmt: skip


def docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def labelled(kind: str, installation: str) -> list[str]:
    """Names of Docker objects (container, network, volume) of one installation."""
    label = f"label=tomo.installation={installation}"
    if kind == "container":
        return docker("ps", "-a", "--filter", label, "--format", "{{.Names}}").split()
    return docker(kind, "ls", "--filter", label, "--format", "{{.Name}}").split()


async def install(deploy: Deploy, app: str, name: str = "pair") -> str:
    started = await deploy.runtime.deployment.install_app(
        deploy.server, app, InstallConfig(name=name)
    )
    job = await deploy.runtime.deployment.run_job(started.job_id)
    assert job.status == "done", job.error
    return started.installation.id


async def test_services_reach_each_other_by_name_and_share_a_volume(deploy: Deploy) -> None:
    app = await deploy.publish("pair", **two_services(deploy))

    installation = await install(deploy, app)

    got = deploy.data_root / "pair" / "out" / "got.txt"
    assert got.read_text().strip() == "web v1"
    assert sorted(labelled("container", installation)) == ["pair", "pair-api"]
    assert labelled("network", installation) == ["tomo-pair"]
    assert labelled("volume", installation) == ["pair_shared"]
    env = json.loads(docker("inspect", "--format", "{{json .Config.Env}}", "pair"))
    assert "SAY=hello from pair" in env
    health = docker("inspect", "--format", "{{.State.Health.Status}}", "pair-api")
    assert health == "healthy"  # the client was created only once the api was
    listed = await deploy.runtime.deployment.list_with_status(deploy.server)
    assert [(i.name, i.status) for i in listed] == [("pair", "running")]


async def test_a_failing_service_leaves_nothing_behind(deploy: Deploy) -> None:
    broken = {"image": deploy.images.broken, "depends_on": ["api"]}
    app = await deploy.publish("pair", **two_services(deploy, worker=broken))
    started = await deploy.runtime.deployment.install_app(
        deploy.server, app, InstallConfig(name="pair")
    )

    job = await deploy.runtime.deployment.run_job(started.job_id)

    assert job.status == "failed"
    assert job.error is not None and "service worker" in job.error
    assert labelled("container", started.installation.id) == []
    assert labelled("network", started.installation.id) == []
    assert labelled("volume", started.installation.id) == []
    assert not (deploy.data_root / "pair").exists()
    assert await deploy.runtime.deployment.list_installations() == []


async def test_stop_start_logs_update_and_uninstall_work_on_the_whole_app(
    deploy: Deploy,
) -> None:
    service = deploy.runtime.deployment
    app = await deploy.publish("pair", **two_services(deploy))
    await install(deploy, app)

    stopped = await run_verb(service, "stop", "pair")
    running = [n for n in docker("ps", "--format", "{{.Names}}").split() if n.startswith("pair")]
    started = await run_verb(service, "start", "pair")
    merged = [line async for line in service.logs("pair", tail=5)]
    with pytest.raises(InvalidInput, match="no service 'nope'"):
        _ = [line async for line in service.logs("pair", service="nope")]

    assert (stopped.status, running, started.status) == ("stopped", [], "running")
    assert all(line.startswith(("api    | ", "client | ")) for line in merged), merged

    await deploy.publish("pair", **two_services(deploy, api_image=deploy.images.web_v2))
    updated = await carried_out(service.prepare_update("pair"))
    got = deploy.data_root / "pair" / "out" / "got.txt"
    assert updated.installation.status == "running"
    assert got.read_text().strip() == "web v2"  # the new client asked the new api

    done = await carried_out(service.prepare_uninstall("pair", remove_data=True))
    assert "removed network 'tomo-pair'" in done.summary
    assert "removed volume pair_shared" in done.summary
    assert docker("ps", "-a", "--filter", "name=pair", "--format", "{{.Names}}") == ""
    assert not (deploy.data_root / "pair").exists()


async def test_an_update_whose_new_service_fails_puts_every_old_container_back(
    deploy: Deploy,
) -> None:
    service = deploy.runtime.deployment
    app = await deploy.publish("pair", **two_services(deploy))
    installation = await install(deploy, app)
    before = {n: docker("inspect", "--format", "{{.Id}}", n) for n in ("pair", "pair-api")}

    broken = {"image": deploy.images.broken}
    await deploy.publish("pair", **two_services(deploy, worker=broken))
    with pytest.raises(InstallFailed, match="service worker"):
        await carried_out(service.prepare_update("pair"))

    after = {n: docker("inspect", "--format", "{{.Id}}", n) for n in ("pair", "pair-api")}
    assert after == before
    assert sorted(labelled("container", installation)) == ["pair", "pair-api"]
    assert (await service.refresh_status("pair")).status == "running"


async def test_a_service_stopped_behind_tomos_back_shows_in_the_apps_status(
    deploy: Deploy,
) -> None:
    app = await deploy.publish("pair", **two_services(deploy))
    await install(deploy, app)

    docker("stop", "pair-api")
    seen = await deploy.runtime.deployment.refresh_status("pair")
    docker("rm", "-f", "pair-api")
    gone = await deploy.runtime.deployment.refresh_status("pair")

    assert (seen.status, seen.status_message) == ("error", "api: stopped")
    assert gone.status == "missing" and "api: the container is gone" in (gone.status_message or "")


async def install_held_up(deploy: Deploy, tomo: Tomo) -> subprocess.Popen[str]:
    """`tomo install` of a pair whose api never becomes healthy, once the api runs
    (the install waits for it, with the network and both folders made)."""
    never = two_services(deploy)
    never["services"]["api"]["healthcheck"]["test"] = ["CMD", "false"]  # never healthy
    never["services"]["api"]["healthcheck"]["retries"] = 100
    app = await deploy.publish("pair", **never)
    tomo.env["TOMO_INSTALL_WAIT_TIMEOUT"] = "120"
    running = tomo.popen("install", app, "--server", "box", "--name", "pair")
    await wait_until(lambda: at_step(deploy, "pair", "install", "create"))
    await wait_until(lambda: "pair-api" in docker("ps", "--format", "{{.Names}}").split())
    assert running.poll() is None, running.communicate()
    return running


def assert_nothing_left(deploy: Deploy) -> None:
    assert docker("ps", "-a", "--filter", "name=pair", "--format", "{{.Names}}") == ""
    assert docker("network", "ls", "--filter", "name=tomo-pair", "--format", "{{.Name}}") == ""
    assert not (deploy.data_root / "pair").exists()


async def test_tomo_killed_mid_install_is_undone_on_its_next_start(
    deploy: Deploy, tomo: Tomo
) -> None:
    running = await install_held_up(deploy, tomo)
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=60)

    assert tomo.json("ps") == []  # tomo's next start settles what the dead one left
    (job,) = tomo.json("job", "list", "--installation", "pair")
    assert job["status"] == "interrupted"
    assert "removed network 'tomo-pair'" in job["error"]
    assert_nothing_left(deploy)


async def test_ctrl_c_mid_install_removes_every_container_and_the_network(
    deploy: Deploy, tomo: Tomo
) -> None:
    running = await install_held_up(deploy, tomo)
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=60)

    assert running.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: install interrupted during create; "), last
    assert "removed container 'pair-api'" in last and "removed network 'tomo-pair'" in last
    assert_nothing_left(deploy)
    assert tomo.json("ps") == []


async def test_an_unreachable_server_changes_nothing_and_claims_nothing(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> None:
    service = deploy.runtime.deployment
    await deploy.runtime.servers.add_server(server_for("flaky", own_sshd, ssh_users, data_root))
    app = await deploy.publish("pair", **two_services(deploy))
    started = await service.install_app("flaky", app, InstallConfig(name="pair"))
    assert (await service.run_job(started.job_id)).status == "done"
    installation = started.installation.id
    before = {n: docker("inspect", "--format", "{{.Id}}", n) for n in ("pair", "pair-api")}

    own_sshd.stop()
    await deploy.publish("pair", **two_services(deploy, api_image=deploy.images.web_v2))
    with pytest.raises(TomoError, match="flaky"):
        await carried_out(service.prepare_update("pair"))
    with pytest.raises(TomoError, match="flaky"):
        await carried_out(service.prepare_uninstall("pair", remove_data=True))
    own_sshd.start()

    after = {n: docker("inspect", "--format", "{{.Id}}", n) for n in ("pair", "pair-api")}
    assert after == before  # neither the update nor the uninstall touched a container
    (kept,) = await service.list_installations()
    assert kept.operation is None and kept.version == "1.0.0"
    assert (await service.refresh_status("pair")).status == "running"
    removed = await carried_out(service.prepare_uninstall("pair", remove_data=True))
    assert "removed container 'pair-api' and its volumes" in removed.summary
    assert [labelled(kind, installation) for kind in ("container", "network", "volume")] == [
        [], [], []]  # fmt: skip
    assert not (data_root / "pair").exists()


async def test_a_containers_events_are_its_own_not_those_of_a_longer_name(
    deploy: Deploy,
) -> None:
    """Docker reads `--filter container=NAME` as an unanchored pattern: `pair`'s
    watch must not take `pair-api`'s exit for its own."""
    label = f"tomo.owner={RUN_LABEL}"  # removed by the clean-up with the rest
    docker("run", "-d", "--name", "pair", "--label", label, deploy.images.web_v1)
    server = (await deploy.runtime.servers.list_servers())[0].id
    engine = await deploy.runtime.deployment.ctx.docker(server)
    watch = asyncio.create_task(engine.watch_for_exit("pair", 6))
    await asyncio.sleep(1)
    docker("run", "-d", "--name", "pair-api", "--label", label, deploy.images.broken)

    assert await watch is False  # pair-api died; pair did not
    assert (await engine.crash_summary("pair-api")).startswith("exited with code 3")
    assert "code 3" not in await engine.crash_summary("pair")
    watch = asyncio.create_task(engine.watch_for_exit("pair", 20))
    await asyncio.sleep(1)
    docker("kill", "pair")
    assert await watch is True  # its own death is seen
