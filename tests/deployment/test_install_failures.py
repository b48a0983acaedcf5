"""Installs that must fail: exact reasons, and nothing left behind on the server."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy, carried_out, run_verb, server_for
from tests.deployment.test_install import container_env, docker, install
from tests.dockerhost import DockerHost
from tests.services import free_port
from tests.sshd import USER, Sshd, SshUsers
from tomo.deployment.spec import InstallConfig
from tomo.errors import InvalidInput
from tomo.servers.schemas import ServerUpdate


def leftovers(deploy: Deploy, name: str) -> tuple[list[str], bool]:
    """Containers still called `name`, and whether its instance directory remains."""
    names = docker("ps", "-a", "--filter", f"name=^/{name}$", "--format", "{{.Names}}").split()
    return names, (deploy.data_root / name).exists()


async def status_of(deploy: Deploy, installation_id: str) -> tuple[str, str]:
    found = await deploy.runtime.deployment.get_installation(installation_id)
    return found.status, found.status_message or ""


async def test_missing_required_env_lists_every_name_and_records_nothing(deploy: Deploy) -> None:
    app = await deploy.publish("needs-env", docker=deploy.web_app(environment=[
        {"name": "DB_HOST", "required": True}, {"name": "DB_USER", "required": True},
        {"name": "TZ", "default": "UTC"},
    ]))  # fmt: skip
    with pytest.raises(
        InvalidInput, match="required environment variables missing: DB_HOST, DB_USER"
    ):
        await deploy.runtime.deployment.install_app(deploy.server, app, InstallConfig())
    assert await deploy.runtime.deployment.list_installations() == []


async def test_risk_flags_must_be_accepted_exactly(deploy: Deploy) -> None:
    app = await deploy.publish(
        "risky", docker=deploy.web_app(privileged=True, capabilities=["NET_ADMIN"])
    )
    with pytest.raises(
        InvalidInput, match="risk flags you have not accepted: cap:NET_ADMIN, privileged"
    ):
        await deploy.runtime.deployment.install_app(deploy.server, app, InstallConfig())
    with pytest.raises(InvalidInput, match="not accepted: privileged"):
        await deploy.runtime.deployment.install_app(
            deploy.server, app, InstallConfig(accept_risks=["cap:NET_ADMIN"]))  # fmt: skip
    assert await deploy.runtime.deployment.list_installations() == []


async def test_accepted_risk_installs(deploy: Deploy) -> None:
    # (This sandbox cannot grant privileged mode; the Docker socket is a risk it can run.)
    socket_mount = {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock",
                    "readonly": True}  # fmt: skip
    app = await deploy.publish("watcher", docker=deploy.web_app(volumes=[socket_mount]))
    with pytest.raises(InvalidInput, match="not accepted: docker-socket"):
        await deploy.runtime.deployment.install_app(deploy.server, app, InstallConfig())
    _, view = await install(deploy, app, accept_risks=["docker-socket"])
    assert view.status == "done", view.error


async def test_a_volume_override_onto_a_system_path_is_a_risk_too(deploy: Deploy) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    config = InstallConfig(volumes=[{"host_path": "/etc", "container_path": "/data"}])
    with pytest.raises(InvalidInput, match="not accepted: system-path:/etc"):
        await deploy.runtime.deployment.install_app(deploy.server, app, config)


async def test_port_held_by_a_plain_process(deploy: Deploy, busy_port: int) -> None:
    app = await deploy.publish("web", docker=deploy.web_app(port=busy_port))
    _, view = await install(deploy, app)
    assert view.status == "failed"
    assert view.error == (
        f"box: host port {busy_port}/tcp is already in use on the server; "
        "nothing had been created on box"
    )
    assert [s.name for s in view.steps] == ["validate", "preflight"]
    # Nothing was made, so no installation stays behind (it would block `server remove`);
    # the job keeps the record of what was tried, and where.
    assert await deploy.runtime.deployment.list_installations() == []
    assert (view.installation_id, view.server_id, view.installation_name, view.app) == (
        None, "box", "web", f"{deploy.repo_id}/web",
    )  # fmt: skip
    await deploy.runtime.servers.remove_server("box")
    assert leftovers(deploy, "web") == ([], False)


async def test_port_claimed_by_another_installation_and_name_taken(deploy: Deploy) -> None:
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port))
    _, first = await install(deploy, app)
    assert first.status == "done", first.error
    # The port is no longer bound, still claimed.
    await run_verb(deploy.runtime.deployment, "stop", "web")
    _, second = await install(deploy, app, name="web-two")
    assert second.error == (
        f"box: host port {port}/tcp is claimed by another installation; "
        "nothing had been created on box"
    )
    with pytest.raises(InvalidInput, match="an installation named 'web' already exists"):
        await deploy.runtime.deployment.install_app(deploy.server, app, InstallConfig())


async def test_all_preflight_problems_together(deploy: Deploy, busy_port: int) -> None:
    docker("create", "--name", "clash", deploy.images.web_v1)
    try:
        app = await deploy.publish("clash", docker=deploy.web_app(port=busy_port),
                                   requirements={"architectures": ["armv7"], "min_ram": 10**9,
                                                 "min_cpu": 4096})  # fmt: skip
        _, view = await install(deploy, app)
    finally:
        docker("rm", "-f", "clash")
    assert view.error is not None
    for problem in ("architecture amd64 is not among the app's armv7",
                    "the app needs 1000000000 MB of memory, the server has",
                    "the app needs 4096 CPUs, the server has",
                    f"host port {busy_port}/tcp is already in use on the server",
                    "a container named 'clash' already exists on the server"):  # fmt: skip
        assert problem in view.error


async def test_data_root_the_user_cannot_write(deploy: Deploy) -> None:
    root = f"/opt/tomo-test-{free_port()}/apps"  # /opt belongs to root
    await deploy.runtime.servers.update_server("box", ServerUpdate(data_root=root))
    app = await deploy.publish("web", docker=deploy.web_app())
    _, view = await install(deploy, app)
    # The job keeps the fact in no face's syntax; each face words the way out (the
    # CLI asks the server again for its hint, a page points at the server's Edit page).
    assert view.error == (
        f"box: the data root {root} is not writable by user '{USER}'; "
        "nothing had been created on box"
    )
    assert not Path(root).parent.exists()


async def test_image_not_in_the_registry(deploy: Deploy) -> None:
    missing = deploy.images.web_v1.replace(":1", ":does-not-exist")
    app = await deploy.publish("web", docker=deploy.web_app(image=missing))
    _, view = await install(deploy, app)
    assert view.status == "failed"
    assert view.error is not None and view.error.startswith(f"pulling {missing} failed:"), (
        view.error
    )
    assert view.steps[-1].name == "pull" and view.steps[-1].status == "failed"
    assert leftovers(deploy, "web") == ([], False)


@pytest.mark.both_databases
async def test_retrying_after_a_failed_install_reuses_its_name_and_ports(deploy: Deploy) -> None:
    port = free_port()
    missing = deploy.images.web_v1.replace(":1", ":does-not-exist")
    app = await deploy.publish("web", docker=deploy.web_app(port=port, image=missing))
    failed_id, view = await install(deploy, app)
    assert view.status == "failed"

    # A different instance may take the failed one's port: it holds nothing.
    other = await deploy.publish("other", docker=deploy.web_app(port=port))
    _, other_view = await install(deploy, other)
    assert other_view.status == "done", other_view.error
    await carried_out(deploy.runtime.deployment.prepare_uninstall("other"))

    await deploy.publish("web", docker=deploy.web_app(port=port))  # the catalog is fixed
    retried_id, view = await install(deploy, app)
    assert view.status == "done", view.error
    assert retried_id != failed_id
    assert [i.id for i in await deploy.runtime.deployment.list_installations()] == [retried_id]


async def test_registry_stopped(deploy: Deploy, registry) -> None:
    app = await deploy.publish("web", docker=deploy.web_app(image=deploy.images.web_v2))
    registry.stop()
    try:
        _, view = await install(deploy, app)
    finally:
        registry.start()
    assert view.status == "failed"
    assert view.error is not None and view.error.startswith(
        f"pulling {deploy.images.web_v2} failed:"
    )
    assert "connection refused" in view.error.lower()
    assert leftovers(deploy, "web") == ([], False)


async def test_container_that_exits_at_once(deploy: Deploy) -> None:
    app = await deploy.publish("broken", docker=deploy.web_app(image=deploy.images.broken))
    _, view = await install(deploy, app)
    assert view.status == "failed"
    assert view.error is not None
    # Docker's restart policy has started it again by now: the exit code comes from
    # its events, the output from both runs, in order.
    assert re.match(r"the container exited with code 3 after \d+\.\d s, restarted \d+ times?; "
                    r"last output: broken on purpose( \| broken on purpose)*; removed container "
                    "'broken'; ", view.error), view.error  # fmt: skip
    assert view.steps[-1].name == "wait"
    assert leftovers(deploy, "broken") == ([], False)
    assert await deploy.runtime.deployment.list_installations() == []


@pytest.mark.parametrize(
    ("app_id", "healthcheck", "start", "middle"),
    [
        ("sick", {"endpoint": "/nope", "port": 80}, "not up within 4s (health check http://",
         "/nope answered 404)"),
        ("deaf", {"protocol": "tcp", "port": 81}, "not up within 4s (health check: nothing "
         "listens on 81/tcp in the container yet)", ""),
    ],
)  # fmt: skip
async def test_container_that_never_becomes_healthy(
    deploy: Deploy, app_id: str, healthcheck: dict[str, object], start: str, middle: str
) -> None:
    deploy.runtime.settings.install_wait_timeout = 4
    app = await deploy.publish(app_id, docker=deploy.web_app(healthcheck=healthcheck))
    _, view = await install(deploy, app)
    assert view.status == "failed"
    assert view.error is not None and view.error.startswith(start)
    assert middle in view.error
    assert leftovers(deploy, app_id) == ([], False)


async def test_sshd_killed_during_the_pull(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> None:
    await deploy.runtime.servers.add_server(server_for("flaky", own_sshd, ssh_users, data_root))
    app = await deploy.publish("web", docker=deploy.web_app(image=deploy.images.web_v2))
    started = await deploy.runtime.deployment.install_app("flaky", app, InstallConfig())
    job = asyncio.create_task(deploy.runtime.deployment.run_job(started.job_id))
    for _ in range(400):
        view = await deploy.runtime.deployment.get_job(started.job_id)
        if view.steps and view.steps[-1].name == "pull":
            break
        await asyncio.sleep(0.01)
    own_sshd.kill_connections()
    own_sshd.stop()
    view = await asyncio.wait_for(job, 60)
    own_sshd.start()
    assert view.status == "failed"
    assert view.error is not None and "flaky" in view.error
    assert view.steps[-1].status == "failed" and view.steps[-1].name in ("pull", "create", "wait")
    left = await deploy.runtime.deployment.list_installations("flaky")
    if not left:  # it had made nothing yet: nothing stays
        assert view.error.endswith("nothing had been created on flaky")
    else:  # what it made (the files, made during the pull) could not be removed: it says so
        (installed,) = left
        assert installed.status == "failed" and installed.operation is None
        assert "tomo removes the rest the next time it reaches flaky" in (
            installed.status_message or ""
        )


async def test_dockerd_stopped_on_the_server(
    deploy: Deploy, ssh_users: SshUsers, data_root: Path
) -> None:
    # A server with a Docker engine of its own, so stopping it leaves the suite's engine alone.
    engine = DockerHost(200).start()
    server = Sshd(ssh_users, f"engine-{free_port()}", extra_config=engine.sshd_config()).start()
    try:
        await deploy.runtime.servers.add_server(server_for("engine", server, ssh_users, data_root))
        app = await deploy.publish("web", docker=deploy.web_app())
        first = await deploy.runtime.deployment.install_app("engine", app, InstallConfig())
        assert (await deploy.runtime.deployment.run_job(first.job_id)).status == "done"

        engine.stop_daemon()
        status = await deploy.runtime.deployment.refresh_status(first.installation.id)
        second = await deploy.runtime.deployment.install_app(
            "engine", app, InstallConfig(name="second")
        )
        view = await deploy.runtime.deployment.run_job(second.job_id)
    finally:
        server.stop()
        engine.remove()
    assert status.status == "unknown"
    assert status.status_message == "engine: the Docker daemon is not running"
    assert view.error == (
        "engine: the Docker daemon is not running; nothing had been created on engine"
    )
    assert [s.name for s in view.steps] == ["validate", "preflight"]
    assert not (data_root / "second").exists()


HOSTILE = "$(touch /tmp/tomo-pwned); `touch /tmp/tomo-pwned` 'quoted' \"double\"\t; rm -rf / #"


async def test_hostile_env_values_and_paths_arrive_unchanged(deploy: Deploy) -> None:
    marker = Path("/tmp/tomo-pwned")
    marker.unlink(missing_ok=True)
    weird_dir = "./odd $(touch \"/tmp/tomo-pwned\") ;'dir'"
    app = await deploy.publish("web", docker=deploy.web_app(environment=[
        {"name": "PLAIN", "default": "x"},
        {"name": "SECRET", "secret": True},
    ]))  # fmt: skip
    config = InstallConfig(env={"PLAIN": HOSTILE, "SECRET": "s3cr$(id)t;'\"`x`"},
                           volumes=[{"host_path": weird_dir, "container_path": "/data"}])  # fmt: skip
    _, view = await install(deploy, app, **config.model_dump())
    assert view.status == "done", view.error
    assert container_env("web", "PLAIN") == HOSTILE
    assert container_env("web", "SECRET") == "s3cr$(id)t;'\"`x`"
    assert (deploy.data_root / "web" / weird_dir[2:]).is_dir()
    assert not marker.exists()


async def test_a_value_with_a_line_break_is_refused(deploy: Deploy) -> None:
    app = await deploy.publish(
        "web", docker=deploy.web_app(environment=[{"name": "S", "secret": True}])
    )
    with pytest.raises(InvalidInput, match="environment variable TZ may not contain a line break"):
        await deploy.runtime.deployment.install_app(
            deploy.server, app, InstallConfig(env={"S": "x", "TZ": "a\nb"})
        )
    assert await deploy.runtime.deployment.list_installations() == []


@pytest.mark.both_databases
async def test_two_installs_racing_for_one_name(deploy: Deploy) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    service = deploy.runtime.deployment
    outcomes = await asyncio.gather(
        service.install_app("box", app, InstallConfig()),
        service.install_app("box", app, InstallConfig()),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], InvalidInput), outcomes
    (problem,) = refused[0].problems
    assert (problem.fields, problem.hint) == (("name",), "choose --name")
    assert problem.text == "an installation named 'web' already exists on this server"
    assert len(await service.list_installations()) == 1


@pytest.mark.parametrize("socket_path", ["//var/run/docker.sock", "//run//docker.sock",
                                         "/run/containerd/containerd.sock", "/var/run"])  # fmt: skip
async def test_a_runtime_socket_however_spelled_needs_consent(
    deploy: Deploy, socket_path: str
) -> None:
    mount = {"host_path": socket_path, "container_path": "/sock", "readonly": True}
    app = await deploy.publish("watcher", docker=deploy.web_app(volumes=[mount]))
    with pytest.raises(InvalidInput, match=r"risk flags you have not accepted: (docker|runtime)"):
        await deploy.runtime.deployment.install_app(deploy.server, app, InstallConfig())
    assert await deploy.runtime.deployment.list_installations() == []


async def test_a_host_path_is_judged_where_it_leads_on_the_server(deploy: Deploy) -> None:
    innocent = Path(f"/tmp/tomo-innocent-{free_port()}")  # where the SSH user can look
    innocent.symlink_to("/etc")  # on the server (this machine), it is /etc
    app = await deploy.publish("web", docker=deploy.web_app())
    config = InstallConfig(volumes=[{"host_path": str(innocent), "container_path": "/data"}])
    try:
        _, view = await install(deploy, app, **config.model_dump())
    finally:
        innocent.unlink()
    assert view.error == (
        f"box: volume {innocent} is /etc on the server, which carries risk flags you have not "
        "accepted: system-path:/etc; nothing had been created on box"
    )
    assert leftovers(deploy, "web") == ([], False)


async def test_accepted_risk_names_must_be_risk_flags(deploy: Deploy, tomo: Tomo) -> None:
    app = await deploy.publish(
        "risky", docker=deploy.web_app(privileged=True, capabilities=["NET_ADMIN"])
    )
    assert tomo.error("install", app, "--server", "box", "--accept-risk", "privileged,docker-sockt",
                      expect=2) == (
        "error: --accept-risk: 'docker-sockt' is not a risk flag (did you mean 'docker-socket'?)"
    )  # fmt: skip
    assert tomo.error("install", app, "--server", "box", "--accept-risk", "privileged",
                      expect=2).endswith("not accepted: cap:NET_ADMIN (accept each with "
                                         "--accept-risk FLAG)")  # fmt: skip
    plan = tomo.json("install", app, "--server", "box", "--preview",
                     "--accept-risk", "cap:NET_ADMIN, privileged")  # fmt: skip
    assert "--privileged" in plan["argv"]
