"""Managing installations: start/stop/restart, logs, status, uninstall, update, one op at a time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.deployment.conftest import Deploy, at_step, carried_out, run_verb
from tests.deployment.test_install import container_env, docker, install, page
from tests.faults import wait_until
from tests.services import free_port, mute_tcp_server
from tomo.deployment.models import Installation
from tomo.deployment.remote import Docker
from tomo.deployment.spec import InstallConfig, PortOverride
from tomo.errors import (
    InstallationBusy,
    InstallationNotFound,
    InstallFailed,
    InvalidInput,
    PreflightFailed,
)
from tomo.servers.models import Server


def config_and_media(tmp_path: Path, file: str, text: str) -> tuple[Path, list[dict[str, Any]]]:
    """Volumes: ./config (tomo's) and a user's read-only media folder holding one file."""
    media = tmp_path / "media"
    media.mkdir()
    (media / file).write_text(text)
    return media, [{"host_path": "./config", "container_path": "/config"},
                   {"host_path": str(media), "container_path": "/media", "readonly": True}]  # fmt: skip


async def installed_web(deploy: Deploy, port: int, **docker_fields: object) -> str:
    app = await deploy.publish("web", docker=deploy.web_app(port=port, **docker_fields))
    installation_id, view = await install(deploy, app)
    assert view.status == "done", view.error
    return installation_id


@pytest.mark.both_databases
async def test_stop_start_restart_and_status_from_docker(deploy: Deploy) -> None:
    port = free_port()
    await installed_web(deploy, port)
    service = deploy.runtime.deployment
    assert (await run_verb(service, "stop", "web")).status == "stopped"
    assert docker("inspect", "--format", "{{.State.Status}}", "web").strip() == "exited"
    assert (await run_verb(service, "start", "web")).status == "running"
    assert page(port) == "web v1\n"
    before = docker("inspect", "--format", "{{.State.StartedAt}}", "web")
    assert (await run_verb(service, "restart", "web", "box")).status == "running"
    assert docker("inspect", "--format", "{{.State.StartedAt}}", "web") != before

    docker("rm", "-f", "web")  # behind tomo's back
    refreshed = await service.refresh_status("web")
    assert (refreshed.status, refreshed.status_message) == (
        "missing",
        "the container is gone (removed outside tomo?)",
    )


async def test_logs_tail_and_follow(deploy: Deploy) -> None:
    port = free_port()
    await installed_web(deploy, port)
    for _ in range(3):
        page(port)
    service = deploy.runtime.deployment
    lines = [line async for line in service.logs("web", tail=2)]
    assert len(lines) <= 2

    async def first_line() -> str:
        async for line in service.logs("web", tail=0, follow=True):
            return line
        return ""

    # Lines written before the follower attached are not shown (tail 0): keep
    # writing until it sees one (bounded).
    follower = asyncio.create_task(first_line())
    for _ in range(100):
        docker("exec", "web", "sh", "-c", "echo followed-line > /proc/1/fd/1")
        done, _ = await asyncio.wait({follower}, timeout=0.2)
        if done:
            break
    assert await asyncio.wait_for(follower, 5) == "followed-line"


@pytest.fixture
def held_restart(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """A gate on tomo's own Docker calls: a `docker container restart` waits for
    `release` once it has begun (`begun`), so the test knows it is in progress."""
    begun, release = asyncio.Event(), asyncio.Event()
    original = Docker.run

    async def gated(self: Docker, args: Sequence[str], **options: Any) -> str:
        if list(args[:2]) == ["container", "restart"]:
            begun.set()
            await release.wait()
        return await original(self, args, **options)

    monkeypatch.setattr(Docker, "run", gated)
    return begun, release


@pytest.mark.both_databases
async def test_one_operation_at_a_time(
    deploy: Deploy, held_restart: tuple[asyncio.Event, asyncio.Event]
) -> None:
    await installed_web(deploy, free_port())
    service = deploy.runtime.deployment
    begun, release = held_restart
    first = asyncio.create_task(run_verb(service, "restart", "web"))
    await asyncio.wait_for(begun.wait(), 30)
    with pytest.raises(InstallationBusy, match="installation 'web' is busy \\(restart\\)"):
        await run_verb(service, "stop", "web")
    release.set()
    assert (await first).status == "running"
    assert (await run_verb(service, "stop", "web")).status == "stopped"


@pytest.mark.both_databases
async def test_uninstall_keeps_data_unless_asked_and_never_touches_user_paths(
    deploy: Deploy, tmp_path: Path
) -> None:
    media, volumes = config_and_media(tmp_path, "movie.mkv", "precious")
    await installed_web(deploy, free_port(), volumes=volumes)
    instance = deploy.data_root / "web"
    docker("exec", "web", "sh", "-c", "echo settings > /config/app.conf")
    assert docker("exec", "web", "cat", "/media/movie.mkv") == "precious"

    kept = await carried_out(deploy.runtime.deployment.prepare_uninstall("web"))
    assert kept.summary == [
        "removed container 'web'", f"removed {instance}/.tomo.env",
        f"kept the data under {instance}",
    ]  # fmt: skip
    assert docker("ps", "-a", "--filter", "name=^/web$", "--format", "{{.Names}}") == ""
    assert (instance / "config" / "app.conf").read_text() == "settings\n"  # data kept
    assert (media / "movie.mkv").read_text() == "precious"
    with pytest.raises(InstallationNotFound):
        await deploy.runtime.deployment.get_installation("web")

    await installed_web(deploy, free_port(), volumes=volumes)  # again, over the kept data
    assert docker("exec", "web", "cat", "/config/app.conf") == "settings\n"
    (instance / "notes.txt").write_text("the user's own file")
    removed = await carried_out(
        deploy.runtime.deployment.prepare_uninstall("web", remove_data=True)
    )
    # The folders tomo placed for this instance are its data, whichever attempt made
    # them; a file the user put beside them keeps the instance folder, and says so.
    assert removed.summary == [
        "removed container 'web' and its volumes", f"removed {instance}/.tomo.env",
        f"removed {instance}/config",
        f"kept {instance} (holds files tomo did not place)",
    ]  # fmt: skip
    assert sorted(p.name for p in instance.iterdir()) == ["notes.txt"]
    assert (media / "movie.mkv").read_text() == "precious"
    assert deploy.data_root.is_dir()


async def test_remove_data_never_follows_a_planted_symlink(deploy: Deploy, tmp_path: Path) -> None:
    await installed_web(deploy, free_port())
    outside = tmp_path / "outside"
    (outside / "data").mkdir(parents=True)
    (outside / "data" / "keep.txt").write_text("not tomo's")
    instance = deploy.data_root / "web"
    docker("stop", "web")
    (instance / "data").rmdir()
    (instance / "data").symlink_to(outside / "data")  # someone with access to the data root
    await carried_out(deploy.runtime.deployment.prepare_uninstall("web", remove_data=True))
    assert (outside / "data" / "keep.txt").read_text() == "not tomo's"


async def test_remove_data_removes_what_tomo_created(deploy: Deploy, tmp_path: Path) -> None:
    media, volumes = config_and_media(tmp_path, "song.flac", "keep me")
    await installed_web(deploy, free_port(), volumes=volumes)
    docker("exec", "web", "sh", "-c", "echo x > /config/app.conf")
    await carried_out(deploy.runtime.deployment.prepare_uninstall("web", remove_data=True))
    assert not (deploy.data_root / "web").exists()
    assert (media / "song.flac").read_text() == "keep me"
    assert deploy.data_root.is_dir()


@pytest.mark.both_databases
async def test_update_to_a_tag_keeps_config_and_data(deploy: Deploy) -> None:
    port = free_port()
    installation_id = await installed_web(deploy, port)
    docker("exec", "web", "sh", "-c", "echo kept > /data/state")
    updated = (
        await carried_out(deploy.runtime.deployment.prepare_update("web", tag="2"))
    ).installation
    assert (updated.status, updated.image) == ("running", deploy.images.web_v2)
    assert page(port) == "web v2\n"
    assert docker("exec", "web", "cat", "/data/state") == "kept\n"
    labels = json.loads(docker("inspect", "--format", "{{json .Config.Labels}}", "web"))
    assert labels["tomo.installation"] == installation_id
    assert "web-tomo-previous" not in docker("ps", "-a", "--format", "{{.Names}}")


async def test_update_keeps_data_in_the_images_own_volumes(deploy: Deploy) -> None:
    await installed_web(deploy, free_port())  # the image declares VOLUME /store
    docker("exec", "web", "sh", "-c", "echo kept > /store/state")
    volume = docker("inspect", "--format", "{{range .Mounts}}{{if eq .Destination \"/store\"}}"
                    "{{.Name}}{{end}}{{end}}", "web").strip()  # fmt: skip
    assert volume
    await carried_out(deploy.runtime.deployment.prepare_update("web", tag="2"))
    assert docker("exec", "web", "cat", "/store/state") == "kept\n"

    await carried_out(deploy.runtime.deployment.prepare_uninstall("web", remove_data=True))
    gone = subprocess.run(["docker", "volume", "inspect", volume], capture_output=True, check=False)
    assert gone.returncode != 0


async def test_uninstall_without_remove_data_keeps_the_images_volumes(deploy: Deploy) -> None:
    await installed_web(deploy, free_port())
    volume = docker("inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", "web").strip()
    await carried_out(deploy.runtime.deployment.prepare_uninstall("web"))
    try:
        assert docker("volume", "inspect", "--format", "{{.Name}}", volume).strip() == volume
    finally:
        docker("volume", "rm", volume)


async def test_failed_update_puts_the_previous_container_back(deploy: Deploy) -> None:
    port = free_port()
    await installed_web(deploy, port)
    await deploy.publish("web", docker=deploy.web_app(port=port, image=deploy.images.broken))
    with pytest.raises(InstallFailed) as failed:
        await carried_out(deploy.runtime.deployment.prepare_update("web"))
    assert failed.value.message.startswith("update failed: the container exited with code 3")
    assert failed.value.message.endswith(
        "removed container 'web'; put the previous container back as 'web' and started it"
    )
    assert page(port) == "web v1\n"
    restored = await deploy.runtime.deployment.get_installation("web")
    assert (restored.status, restored.image) == ("running", deploy.images.web_v1)
    assert docker("ps", "-a", "--format", "{{.Names}}").split().count("web") == 1


async def test_failed_update_of_a_stopped_app_leaves_it_stopped(deploy: Deploy) -> None:
    port = free_port()
    await installed_web(deploy, port)
    await run_verb(deploy.runtime.deployment, "stop", "web")
    await deploy.publish("web", docker=deploy.web_app(port=port, image=deploy.images.broken))
    with pytest.raises(InstallFailed, match=r"put the previous container back as 'web'$"):
        await carried_out(deploy.runtime.deployment.prepare_update("web"))
    restored = await deploy.runtime.deployment.get_installation("web")
    assert (restored.status, restored.image) == ("stopped", deploy.images.web_v1)
    assert docker("inspect", "--format", "{{.State.Status}}", "web").strip() == "exited"


async def test_update_recreates_a_container_removed_behind_tomos_back(deploy: Deploy) -> None:
    port = free_port()
    await installed_web(deploy, port)
    docker("rm", "-f", "web")
    assert (await deploy.runtime.deployment.refresh_status("web")).status == "missing"
    updated = (await carried_out(deploy.runtime.deployment.prepare_update("web"))).installation
    assert updated.status == "running"
    assert page(port) == "web v1\n"


async def test_bad_tag_is_refused(deploy: Deploy) -> None:
    await installed_web(deploy, free_port())
    with pytest.raises(InvalidInput, match="is not a valid image tag"):
        await carried_out(deploy.runtime.deployment.prepare_update("web", tag="bad tag;rm"))


async def test_managing_survives_the_catalog_losing_the_app(deploy: Deploy) -> None:
    await installed_web(deploy, free_port())
    await deploy.runtime.marketplace.remove_repo(deploy.repo_id)
    assert (await run_verb(deploy.runtime.deployment, "stop", "web")).status == "stopped"
    updated = await carried_out(deploy.runtime.deployment.prepare_update("web", tag="2"))
    assert updated.installation.image == deploy.images.web_v2


@pytest.mark.both_databases
async def test_tomo_killed_mid_install_is_reconciled_on_restart(deploy: Deploy) -> None:
    deploy.runtime.settings.install_wait_timeout = 60
    app = await deploy.publish(
        "slow", docker=deploy.web_app(healthcheck={"endpoint": "/nope", "port": 80})
    )
    data_dir = deploy.runtime.settings.data_dir
    env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "TOMO_PUBLISH_ADDRESS": "127.0.0.1",
           "TOMO_INSTALL_WAIT_TIMEOUT": "60"}  # fmt: skip
    if deploy.runtime.settings.database_url:
        env["TOMO_DATABASE_URL"] = deploy.runtime.settings.database_url
    process = subprocess.Popen(
        [sys.executable, "-m", "tomo", "--data-dir", str(data_dir), "install", app, "--server", "box"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    await wait_until(lambda: at_step(deploy, "slow", "install", "wait"), within=60)
    assert process.poll() is None
    os.killpg(process.pid, signal.SIGKILL)  # tomo dies while waiting for health
    process.wait()
    assert (deploy.data_root / "slow").exists()

    listed = subprocess.run(
        [sys.executable, "-m", "tomo", "--data-dir", str(data_dir), "ps", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    # The next start undid the install: nothing is left, so no installation either;
    # the job says what happened and what was removed.
    assert json.loads(listed.stdout) == []
    assert "tomo stopped during the install (wait)" in listed.stderr
    (job,) = await deploy.runtime.deployment.list_jobs(installation="slow")
    assert job.status == "interrupted"
    assert job.error is not None and job.error.startswith(
        "tomo stopped during the install (wait); removed container 'slow'; removed "
    )
    assert "slow" not in docker("ps", "-a", "--format", "{{.Names}}").split()
    assert not (deploy.data_root / "slow").exists()


@pytest.mark.both_databases
async def test_update_asks_for_what_the_new_definition_requires(deploy: Deploy) -> None:
    port = free_port()
    await installed_web(deploy, port)
    environment = [{"name": "TZ", "default": "UTC"}, {"name": "API_URL", "required": True},
                   {"name": "API_KEY", "required": True, "secret": True},
                   {"name": "SALT", "secret": True, "generate": "hex"}]  # fmt: skip
    await deploy.publish("web", docker=deploy.web_app(port=port, environment=environment))
    service = deploy.runtime.deployment
    with pytest.raises(InvalidInput) as refused:
        await carried_out(service.prepare_update("web"))
    # Refused when asked: no job started, nothing on the server touched.
    assert refused.value.message == (
        "required environment variables missing: API_URL, API_KEY (give each with --env NAME=VALUE)"
    )
    assert [j.kind for j in await service.list_jobs(installation="web")] == ["install"]
    assert page(port) == "web v1\n"  # untouched

    changes = InstallConfig(env={"API_URL": "http://api", "API_KEY": "k3y"})
    updated = await carried_out(service.prepare_update("web", changes=changes))
    assert updated.installation.status == "running"
    assert container_env("web", "API_URL") == "http://api"
    assert container_env("web", "API_KEY") == "k3y"
    salt = updated.generated_secrets["SALT"]  # shown once
    assert container_env("web", "SALT") == salt and len(salt) == 32
    assert "k3y" not in json.dumps(updated.installation.config)  # secrets stay sealed

    again = await carried_out(service.prepare_update("web", tag="2"))  # what was given stays given
    assert again.generated_secrets == {}
    assert (container_env("web", "API_KEY"), container_env("web", "SALT")) == ("k3y", salt)


async def test_update_moves_to_another_host_port_only_if_it_is_free(
    deploy: Deploy, busy_port: int
) -> None:
    old, new = free_port(), free_port()
    await installed_web(deploy, old)
    service = deploy.runtime.deployment
    taken = InstallConfig(ports=[PortOverride(host=busy_port, container=80)])
    with pytest.raises(PreflightFailed, match=f"host port {busy_port}/tcp is already in use"):
        await carried_out(service.prepare_update("web", changes=taken))
    assert page(old) == "web v1\n"
    moved = await carried_out(service.prepare_update("web", changes=InstallConfig(ports=[
        PortOverride(host=new, container=80)])))  # fmt: skip
    assert moved.installation.ports == [f"{new}/tcp"]
    assert page(new) == "web v1\n"


async def test_a_server_that_never_answers_does_not_hold_up_ps(deploy: Deploy) -> None:
    app = await deploy.publish("web", docker=deploy.web_app(port=free_port()))
    for name in ("web", "web-mute"):
        _, view = await install(deploy, app, name=name,
                                ports=[PortOverride(host=free_port(), container=80)])  # fmt: skip
        assert view.status == "done", view.error
    # "web-mute" moves to a second server whose address leads to a TCP listener that
    # never speaks SSH (its pinned key kept, as after a machine hung): tomo must not
    # wait the 30 s its login would take.
    runtime = deploy.runtime
    runtime.settings.ssh_status_timeout = 1.0
    with mute_tcp_server() as mute_port:
        async with runtime.db.session() as session, session.begin():
            box = await session.get(Server, "box")
            assert box is not None
            mute = Server(**{column: getattr(box, column) for column in SERVER_COLUMNS},
                          id="mute", name="mute", port=mute_port)  # fmt: skip
            session.add(mute)
        async with runtime.db.session() as session, session.begin():
            await session.execute(
                update(Installation).where(Installation.name == "web-mute")
                .values(server_id="mute")
            )  # fmt: skip
        listed = {i.name: i for i in await runtime.deployment.list_with_status()}
    assert (listed["web"].status, listed["web"].status_message) == ("running", None)
    assert (listed["web-mute"].status, listed["web-mute"].status_message) == (
        "unknown", "mute: no answer within 1s",
    )  # fmt: skip


SERVER_COLUMNS = [c.key for c in Server.__table__.columns if c.key not in ("id", "name", "port")]
