"""Apps installed on a Docker Swarm run as Swarm services, for real: a single-node
Swarm in a network namespace of its own (tests/swarmhost.py), reached over the test
sshd as its manager. Installed, reached on its port, its status read from its tasks,
stopped (scaled to 0), started, restarted, its logs read and uninstalled; a task
that cannot run fails the install and leaves nothing; what a Swarm service cannot
be is refused before anything is made.

Ports are published in host mode and names resolve by DNS round robin: the CI
kernel has no IPVS, so the routing mesh is not used (nor asserted) here."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.api.conftest import users_of
from tests.cli.tomo_cli import Tomo, table_rows
from tests.deployment.conftest import (
    STABLE_SECONDS,
    Deploy,
    at_step,
    carried_out,
    run_verb,
    server_for,
)
from tests.deployment.test_multi_container import two_services
from tests.faults import wait_until
from tests.gitrepo import app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.swarmhost import SwarmHost
from tests.web.conftest import Web, text_of
from tomo.app import create_app
from tomo.config import Settings
from tomo.deployment.spec import ConfigChanges, InstallConfig, PortOverride
from tomo.errors import Conflict, InstallFailed, InvalidInput
from tomo.runtime import open_runtime


@contextlib.asynccontextmanager
async def swarm_deploy(
    settings: Settings, sshd: Sshd, ssh_users: SshUsers, images: TestImages, data_root: Path,
    make_repo,
) -> AsyncIterator[Deploy]:  # fmt: skip
    """The deploy fixture's set-up, its server a Swarm's manager reached through `sshd`."""
    tuned = settings.model_copy(update={
        "install_wait_timeout": 30, "install_stable_seconds": STABLE_SECONDS,
        "backup_before_update": False, "helper_image": images.helper})  # fmt: skip
    repo = make_repo()
    repo.write("README.md", "test catalog")
    repo.commit()
    async with open_runtime(tuned) as runtime:
        from tomo.marketplace.schemas import RepoCreate

        created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="test"))
        await runtime.servers.add_server(server_for("cluster", sshd, ssh_users, data_root))
        yield Deploy(runtime, repo, created.id, "cluster", data_root, images)


@pytest.fixture
async def on_swarm(
    settings: Settings, swarm_sshd: Sshd, ssh_users: SshUsers, images: TestImages,
    data_root: Path, make_repo, swarm_host: SwarmHost,
) -> AsyncIterator[Deploy]:  # fmt: skip
    """The deploy fixture's set-up, its server the Swarm's manager."""
    async with swarm_deploy(settings, swarm_sshd, ssh_users, images, data_root,
                            make_repo) as deploy:  # fmt: skip
        yield deploy
    swarm_host.clear()


def services_of(host: SwarmHost, installation: str) -> dict[str, dict[str, object]]:
    """name -> spec of the installation's Swarm services."""
    ids = host.docker("service", "ls", "-q", "--filter",
                      f"label=tomo.installation={installation}").stdout.decode().split()  # fmt: skip
    if not ids:
        return {}
    inspected = json.loads(host.docker("service", "inspect", *ids).stdout)
    return {s["Spec"]["Name"]: s["Spec"] for s in inspected}


def networks_of(host: SwarmHost, installation: str) -> list[str]:
    listed = host.docker("network", "ls", "--filter", f"label=tomo.installation={installation}",
                         "--format", "{{.Name}} {{.Driver}}")  # fmt: skip
    return listed.stdout.decode().splitlines()


async def installed(deploy: Deploy, app_id: str, **docker: Any) -> None:
    """The web test app published as `app_id` and installed on the Swarm."""
    app = await deploy.publish(app_id, docker=deploy.web_app(**docker))
    _, status, error = await install(deploy, app)
    assert status == "done", error


async def install(deploy: Deploy, app: str, **config: object) -> tuple[str, str, str | None]:
    started = await deploy.runtime.deployment.install_app(deploy.server, app,
                                                          InstallConfig(**config))  # fmt: skip
    view = await deploy.runtime.deployment.run_job(started.job_id)
    return started.installation.id, view.status, view.error


async def test_an_app_of_two_services_runs_on_the_swarm_and_is_managed(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    deploy = on_swarm
    definition = two_services(deploy)
    port = definition["services"]["client"]["ports"][0]["host"]
    app = await deploy.publish("pair", **definition)
    preview = await deploy.runtime.deployment.preview_install(deploy.server, app, InstallConfig())
    assert preview.swarm and preview.problems == []
    assert preview.argv[:3] == ["docker", "service", "create"]
    assert f"node.id=={swarm_host.node_id}" in preview.argv  # its data is on that node

    installation, status, error = await install(deploy, app)
    assert status == "done", error
    services = services_of(swarm_host, installation)
    assert set(services) == {"pair", "pair-api"}
    client = services["pair"]
    placement = client["TaskTemplate"]["Placement"]["Constraints"]  # type: ignore[index]
    assert placement == [f"node.id=={swarm_host.node_id}"]
    assert client["EndpointSpec"]["Mode"] == "dnsrr"  # type: ignore[index]
    assert networks_of(swarm_host, installation) == ["tomo-pair overlay"]
    # The client reached the api by its service name on the overlay network.
    assert (deploy.data_root / "pair" / "out" / "got.txt").read_text() == "web v1\n"
    fetched = swarm_host.fetch(f"http://127.0.0.1:{port}/")
    assert fetched.stdout == "web v1\n", fetched.stderr

    shown = await deploy.runtime.deployment.refresh_status("pair")
    assert (shown.status, shown.status_message) == ("running", None)

    stopped = await run_verb(deploy.runtime.deployment, "stop", "pair")
    assert stopped.status == "stopped"
    assert swarm_host.fetch(f"http://127.0.0.1:{port}/").returncode != 0
    started = await run_verb(deploy.runtime.deployment, "start", "pair")
    assert started.status == "running", started.status_message
    assert swarm_host.fetch(f"http://127.0.0.1:{port}/").stdout == "web v1\n"
    before = swarm_host.docker("service", "ps", "-q", "--filter", "desired-state=running",
                               "pair").stdout  # fmt: skip
    restarted = await run_verb(deploy.runtime.deployment, "restart", "pair")
    assert restarted.status == "running"
    after = swarm_host.docker("service", "ps", "-q", "--filter", "desired-state=running", "pair")
    assert after.stdout and after.stdout != before

    lines = [line async for line in deploy.runtime.deployment.logs(
        "pair", None, tail=50, follow=False, service="api")]  # fmt: skip
    assert lines == [] or all(" | " not in line for line in lines)  # no task names before them

    done = await carried_out(deploy.runtime.deployment.prepare_uninstall("pair",
                                                                         remove_data=False))  # fmt: skip
    assert "removed Swarm service 'pair'" in done.summary
    assert services_of(swarm_host, installation) == {}
    assert networks_of(swarm_host, installation) == []
    assert (deploy.data_root / "pair" / "out" / "got.txt").exists()  # data kept


async def test_a_task_that_cannot_run_fails_the_install_and_leaves_nothing(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    deploy = on_swarm
    app = await deploy.publish("broken", docker=deploy.web_app(image=deploy.images.broken))
    installation, status, error = await install(deploy, app)
    assert status == "failed"
    assert error is not None and "non-zero exit (3)" in error, error
    assert services_of(swarm_host, installation) == {}
    assert networks_of(swarm_host, installation) == []
    assert not (deploy.data_root / "broken").exists()
    assert await deploy.runtime.deployment.list_installations() == []


async def test_what_a_swarm_service_cannot_be_is_refused_before_anything_is_made(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    deploy = on_swarm
    app = await deploy.publish("raw", docker=deploy.web_app(privileged=True))
    with pytest.raises(InvalidInput) as refused:
        await deploy.runtime.deployment.install_app(
            deploy.server, app, InstallConfig(accept_risks=["privileged"]))  # fmt: skip
    assert "raw: a Swarm service cannot have privileged mode" in refused.value.message
    assert "--no-swarm" in str(refused.value.problems[0].hint)
    # As plain containers on the manager, it may (the risk accepted).
    plain = await deploy.runtime.deployment.preview_install(
        deploy.server, app, InstallConfig(swarm=False, accept_risks=["privileged"]))  # fmt: skip
    assert not plain.swarm and plain.argv[:3] == ["docker", "container", "run"]
    assert await deploy.runtime.deployment.list_installations() == []
    assert swarm_host.docker("service", "ls", "-q").stdout == b""


async def test_a_port_another_installation_publishes_is_refused_by_the_preflight(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    deploy = on_swarm
    port = free_port()
    await installed(deploy, "first", port=port)
    second = await deploy.publish("second", docker=deploy.web_app(port=port))
    installation, status, error = await install(
        deploy, second, ports=[PortOverride(container=80, host=port)])  # fmt: skip
    assert status == "failed"
    assert error is not None and f"host port {port}/tcp" in error, error
    assert services_of(swarm_host, installation) == {}
    assert [i.name for i in await deploy.runtime.deployment.list_installations()] == ["first"]


def service_env(host: SwarmHost, name: str) -> list[str]:
    template = "{{json .Spec.TaskTemplate.ContainerSpec.Env}}"
    return json.loads(host.docker("service", "inspect", "--format", template, name).stdout)


async def test_an_update_rolls_on_and_one_that_fails_is_rolled_back_by_the_swarm(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    deploy = on_swarm
    port = free_port()
    await installed(deploy, "web", port=port)
    url = f"http://127.0.0.1:{port}/"

    changes = ConfigChanges(env={"TZ": "Europe/Paris"})
    updated = await carried_out(deploy.runtime.deployment.prepare_update("web", tag="2",
                                                                         changes=changes))  # fmt: skip
    assert updated.installation.status == "running"
    assert updated.installation.image.endswith("/web:2")
    assert swarm_host.fetch(url).stdout == "web v2\n"
    assert "TZ=Europe/Paris" in service_env(swarm_host, "web")
    ports = swarm_host.docker("service", "inspect", "--format", "{{json .Spec.EndpointSpec.Ports}}",
                              "web")  # fmt: skip
    assert [(p["PublishedPort"], p["PublishMode"]) for p in json.loads(ports.stdout)] == [
        (port, "host")]  # the old one replaced, not doubled  # fmt: skip

    # The catalog's next version exits at once: the Swarm puts the running one back.
    await deploy.publish("web", docker=deploy.web_app(port=port, image=deploy.images.broken))
    with pytest.raises(InstallFailed) as failed:
        await carried_out(deploy.runtime.deployment.prepare_update("web"))
    assert "the Swarm put the previous one back" in failed.value.message, failed.value.message
    assert "non-zero exit (3)" in failed.value.message
    # Its task runs again; the server in it answers a moment later.
    await wait_until(lambda: swarm_host.fetch(url).stdout == "web v2\n", within=10)
    shown = await deploy.runtime.deployment.refresh_status("web")
    assert shown.status == "running" and shown.image.endswith("/web:2")
    template = "{{.Spec.TaskTemplate.ContainerSpec.Image}}"
    image = swarm_host.docker("service", "inspect", "--format", template, "web").stdout.decode()
    assert image.strip().endswith("/web:2")


async def test_the_command_line_installs_on_the_swarm_or_as_plain_containers(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    """`tomo install` on a Swarm manager: Swarm services by default (said by
    --preview, listed by `tomo ps`, removed by `tomo uninstall`), or --no-swarm."""
    deploy = on_swarm
    tomo = Tomo(deploy.runtime.settings.data_dir, TOMO_INSTALL_STABLE_SECONDS="0.5",
                TOMO_INSTALL_WAIT_TIMEOUT="30")  # fmt: skip
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port))
    shown = tomo.run("install", app, "--server", "cluster", "--preview").stdout
    assert "  overlay network tomo-web (its own)" in shown
    assert "  Swarm service web (image" in shown
    assert "1 task; its ports on every address of the node that runs it" in shown
    assert f"    port {port}:80/tcp" in shown
    assert "docker service create --detach --name web" in shown

    tomo.run("install", app, "--server", "cluster")
    assert swarm_host.fetch(f"http://127.0.0.1:{port}/").stdout == "web v1\n"
    assert table_rows(tomo.run("ps").stdout)[1][1:3] == ["web", "cluster"]
    tomo.run("stop", "web")
    assert json.loads(tomo.run("ps", "--json").stdout)[0]["status"] == "stopped"
    tomo.run("uninstall", "web")
    assert swarm_host.docker("service", "ls", "-q").stdout == b""

    plain = tomo.run("install", app, "--server", "cluster", "--no-swarm", "--preview").stdout
    assert "docker container run" in plain and "Swarm service" not in plain


async def test_what_tomo_does_not_do_for_an_app_on_a_swarm_yet_is_refused_saying_so(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    """Backups (they stop an app's containers) and names through the front door."""
    deploy = on_swarm
    app = await deploy.publish("web", docker=deploy.web_app())
    with pytest.raises(InvalidInput) as named:
        await deploy.runtime.deployment.install_app(deploy.server, app,
                                                    InstallConfig(hostnames=["web"]))  # fmt: skip
    assert "names through the front door are not given to apps on a Swarm" in named.value.message
    _, status, error = await install(deploy, app)
    assert status == "done", error
    with pytest.raises(Conflict) as backup:
        await deploy.runtime.backups.prepare_backup("web")
    assert "does not back up or restore apps on a Swarm yet" in backup.value.message
    with pytest.raises(InvalidInput) as later:
        await deploy.runtime.proxy.set_hostnames("web", ["web"], None)
    assert "does not route names to apps on a Swarm yet" in later.value.message
    assert (await deploy.runtime.deployment.get_installation("web")).hostnames == []


async def test_the_health_monitor_reads_the_swarm_services_and_tells_what_changed(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    """One pass reads every Swarm service of the server with one command: statuses
    kept on the records, a service scaled to 0 outside tomo told down, then recovered."""
    from tests.monitor.test_monitor import monitor_of, passes, told

    deploy = on_swarm
    await installed(deploy, "web")
    monitor = monitor_of(deploy)
    await monitor.run_pass()
    listed = await deploy.runtime.deployment.list_installations()
    assert [(i.name, i.status) for i in listed] == [("web", "running")]

    swarm_host.docker("service", "scale", "--detach", "web=0")
    await passes(monitor, 2)
    await deploy.runtime.events.flush()
    (down,) = await told(deploy)
    assert down.title == "web on cluster is down"
    listed = await deploy.runtime.deployment.list_installations()
    assert [(i.name, i.status) for i in listed] == [("web", "stopped")]

    swarm_host.docker("service", "scale", "web=1")  # waits until it runs
    await passes(monitor, 2)
    await deploy.runtime.events.flush()
    assert [e.title for e in await told(deploy)] == ["web on cluster is down",
                                                    "web on cluster recovered"]  # fmt: skip


def test_the_install_page_offers_swarm_services_or_plain_containers(
    settings: Settings, swarm_sshd: Sshd, ssh_users: SshUsers, images: TestImages,
    data_root: Path, make_repo, swarm_host: SwarmHost,
) -> None:  # fmt: skip
    """On a Swarm manager the form asks how it runs; its preview says Swarm services
    and where their ports open; the install through it runs on the Swarm."""
    from tests.web.test_install_pages import follow_job, install_form_values

    repo = make_repo()
    port = free_port()
    definition = {"image": images.web_v1, "ports": [{"container": 80, "host": port}]}
    repo.write("apps/tools/web.yaml", yaml.safe_dump(app_definition("web", docker=definition)))
    repo.commit()
    tuned = settings.model_copy(update={"install_wait_timeout": 30,
                                        "install_stable_seconds": STABLE_SECONDS})  # fmt: skip
    try:
        with TestClient(create_app(tuned)) as client:
            web = Web(users_of(client), client)
            added = web.api.admin.post("/api/marketplace/repos",
                                       json={"url": repo.url, "name": "test"})  # fmt: skip
            assert added.status_code == 201, added.text
            synced = web.api.admin.post("/api/marketplace/repos/test/sync")
            assert synced.status_code == 200, synced.text
            server = server_for("cluster", swarm_sshd, ssh_users, data_root)
            made = web.api.admin.post("/api/servers", json={
                **server.model_dump(mode="json"), "private_key": ssh_users.key.read_text()})  # fmt: skip
            assert made.status_code == 201, made.text
            page = web.admin()
            form = page.get("/apps/test/web/install")
            assert '<select id="f-swarm" name="swarm"' in form.text
            assert "Plain containers on cluster" in text_of(form)
            values = install_form_values(form)
            preview = page.post("/apps/test/web/install", {**values, "swarm": "services",
                                                           "action": "preview"})  # fmt: skip
            shown = text_of(preview)
            assert "Swarm service web" in shown and "Overlay network tomo-web" in shown, shown
            assert "on every address of the node that runs it" in shown
            plain = text_of(page.post("/apps/test/web/install", {
                **values, "swarm": "containers", "action": "preview"}))  # fmt: skip
            assert "Container web" in plain and "Swarm service web" not in plain
            mesh = text_of(page.post("/apps/test/web/install", {
                **values, "swarm": "services", "replicas": "2", "publish_mode": "ingress",
                "action": "preview"}))  # fmt: skip
            assert "2 tasks; its ports on every node of the Swarm, which routes to a task" in mesh
            wrong = page.post("/apps/test/web/install", {**values, "swarm": "services",
                                                         "replicas": "0", "action": "preview"})  # fmt: skip
            assert 'id="e-replicas"' in wrong.text, text_of(wrong)
            assert "greater than or equal to 1" in text_of(wrong)
            odd = page.post("/apps/test/web/install", {**values, "swarm": "services",
                                                       "publish_mode": "mesh", "action": "preview"})  # fmt: skip
            assert 'id="e-publish_mode"' in odd.text, text_of(odd)
            too_many = page.post("/apps/test/web/install", {**values, "swarm": "services",
                                                            "replicas": "2", "action": "preview"})  # fmt: skip
            assert (
                "cluster cannot take Web as it is set up below: web asks for 2 replicas, each "
                "binding port" in text_of(too_many)
            )

            started = page.post("/apps/test/web/install", {**values, "swarm": "services",
                                                           "action": "install"})  # fmt: skip
            assert started.status_code == 303, text_of(started)
            done = follow_job(page, started.headers["location"])
            assert "Installed web" in text_of(done), text_of(done)
            assert swarm_host.fetch(f"http://127.0.0.1:{port}/").stdout == "web v1\n"
    finally:
        swarm_host.clear()


async def test_a_manager_that_left_its_swarm_is_a_clear_error_and_nothing_is_claimed(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    """Its apps' status is `unknown` with Docker's words (not `missing`), and an install
    is refused by the preflight, nothing made. The Swarm is made again afterwards."""
    deploy = on_swarm
    await installed(deploy, "web")
    assert swarm_host.docker("swarm", "leave", "--force").returncode == 0
    try:
        shown = await deploy.runtime.deployment.refresh_status("web")
        assert shown.status == "unknown"
        assert shown.status_message is not None
        assert "the Swarm could not be read: This node is not a swarm manager" in (
            shown.status_message)  # fmt: skip
        other = await deploy.publish("other", docker=deploy.web_app())
        _, status, error = await install(deploy, other)
        assert status == "failed"
        assert error == (
            "cluster: Docker there is no longer a Swarm manager; nothing had been "
            "created on cluster"
        ), error
    finally:
        swarm_host.rejoin()


async def test_a_portainer_swarm_stack_runs_as_swarm_services(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    """A Portainer templates file's Swarm stack (type 2), from a store's repository."""
    deploy = on_swarm
    port = free_port()
    stack = {"version": "3.7", "services": {"relay": {
        "image": deploy.images.web_v1, "ports": [f"{port}:80"],
        "deploy": {"mode": "replicated", "replicas": 2}}}}  # fmt: skip
    deploy.repo.write("stacks/relay/docker-stack.yml", yaml.safe_dump(stack))
    deploy.repo.write("templates.json", json.dumps({"version": "2", "templates": [{
        "type": 2, "title": "Relay", "name": "relay", "description": "A relay for a Swarm",
        "repository": {"url": "https://git.example.org/templates",
                       "stackfile": "stacks/relay/docker-stack.yml"}}]}))  # fmt: skip
    deploy.repo.commit()
    report = await deploy.runtime.marketplace.sync_repo(deploy.repo_id)
    assert not report.errors, report.errors
    # Its two tasks would each bind the port on their node: this Swarm has one.
    installation, status, error = await install(deploy, f"{deploy.repo_id}/relay")
    assert status == "failed"
    assert error is not None and "relay asks for 2 replicas, each binding port" in error, error
    assert "1 node can run it" in error and services_of(swarm_host, installation) == {}
    installation, status, error = await install(deploy, f"{deploy.repo_id}/relay",
                                                replicas={"relay": 1})  # fmt: skip
    assert status == "done", error
    assert set(services_of(swarm_host, installation)) == {"relay"}
    assert swarm_host.fetch(f"http://127.0.0.1:{port}/").stdout == "web v1\n"


async def test_a_secret_the_image_reads_from_a_file_is_a_swarm_secret_not_in_the_spec(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    """`file: TOKEN_FILE`: the task reads the value from /run/secrets/TOKEN; the
    service's spec holds the path only. An update with a new value makes a new
    secret and takes the old one away; the uninstall removes the rest."""
    deploy = on_swarm
    owner = f"{deploy.data_root.stat().st_uid}:{deploy.data_root.stat().st_gid}"
    app = await deploy.publish("vault", docker=deploy.web_app(
        user=owner, volumes=[{"host_path": "./out", "container_path": "/out"}],
        command=["sh", "-c", 'cat "$TOKEN_FILE" > /out/token && exec httpd -f -p 8080 -h /'],
        environment=[{"name": "TOKEN", "secret": True, "generate": "hex", "file": "TOKEN_FILE"},
                     {"name": "TZ", "default": "UTC"}]))  # fmt: skip
    started = await deploy.runtime.deployment.install_app(deploy.server, app, InstallConfig())
    view = await deploy.runtime.deployment.run_job(started.job_id)
    assert view.status == "done", view.error
    token = started.generated_secrets["TOKEN"]
    assert (deploy.data_root / "vault" / "out" / "token").read_text() == token
    env = service_env(swarm_host, "vault")
    assert "TOKEN_FILE=/run/secrets/TOKEN" in env and not any(token in e for e in env)
    first = swarm_secret_names(swarm_host)
    assert len(first) == 1

    changes = ConfigChanges(env={"TOKEN": "a-new-token"})
    await carried_out(deploy.runtime.deployment.prepare_update("vault", changes=changes))
    assert (deploy.data_root / "vault" / "out" / "token").read_text() == "a-new-token"
    second = swarm_secret_names(swarm_host)
    assert len(second) == 1 and second != first  # the old one taken away

    done = await carried_out(deploy.runtime.deployment.prepare_uninstall("vault",
                                                                         remove_data=True))  # fmt: skip
    assert f"removed Swarm secret '{second[0]}'" in done.summary
    assert swarm_secret_names(swarm_host) == []


def swarm_secret_names(host: SwarmHost) -> list[str]:
    listed = host.docker("secret", "ls", "--format", "{{.Name}}", "--filter",
                         "label=tomo.installation")  # fmt: skip
    return listed.stdout.decode().split()


async def test_tomo_killed_mid_install_on_the_swarm_is_undone_on_its_next_start(
    on_swarm: Deploy, swarm_host: SwarmHost
) -> None:
    """`tomo install` killed while it waits for a service that never gets healthy:
    the next tomo removes the services, the network and the folders it made."""
    deploy = on_swarm
    never = two_services(deploy)
    never["services"]["api"]["healthcheck"] |= {"test": ["CMD", "false"], "retries": 100}
    app = await deploy.publish("pair", **never)
    tomo = Tomo(deploy.runtime.settings.data_dir, TOMO_INSTALL_WAIT_TIMEOUT="120")
    running = tomo.popen("install", app, "--server", "cluster")
    await wait_until(lambda: at_step(deploy, "pair", "install", "create"), within=60)
    await wait_until(lambda: "pair-api" in swarm_host.docker("service", "ls", "--format",
                                                             "{{.Name}}").stdout.decode().split(),
                     within=60)  # fmt: skip
    assert running.poll() is None, running.communicate()
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=60)

    assert tomo.json("ps") == []  # tomo's next start settles what the dead one left
    (job,) = tomo.json("job", "list", "--installation", "pair")
    assert job["status"] == "interrupted"
    assert "removed Swarm service 'pair-api'" in job["error"], job["error"]
    assert swarm_host.docker("service", "ls", "-q").stdout == b""
    assert networks_of(swarm_host, job["installation_id"]) == []
    assert not (deploy.data_root / "pair").exists()
