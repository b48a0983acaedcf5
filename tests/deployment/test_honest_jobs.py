"""Jobs and statuses never claim more than happened: Ctrl-C, bugs, a server that
goes away mid-rollback, tomo dying mid-update or mid-uninstall, crash loops."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy, at_step, carried_out, server_for
from tests.deployment.test_install import docker, install, page
from tests.faults import captured_log, exception_of, wait_until
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tomo.deployment import steps
from tomo.deployment.spec import InstallConfig


def names() -> list[str]:
    return docker("ps", "-a", "--format", "{{.Names}}").split()


async def never_healthy(deploy: Deploy, app_id: str = "slow", **docker_fields: Any) -> str:
    """An app that runs but whose health check never passes: an install of it waits."""
    healthcheck = {"endpoint": "/nope", "port": 80}
    return await deploy.publish(app_id, docker=deploy.web_app(healthcheck=healthcheck,
                                                              **docker_fields))  # fmt: skip


# -- interruptions ------------------------------------------------------------------


async def test_ctrl_c_during_install_undoes_it_and_exits_130(deploy: Deploy, tomo: Tomo) -> None:
    app = await never_healthy(deploy)
    tomo.env["TOMO_INSTALL_WAIT_TIMEOUT"] = "120"
    running = tomo.popen("install", app, "--server", "box")
    await wait_until(lambda: at_step(deploy, "slow", "install", "wait"))
    assert running.poll() is None, running.communicate()
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=60)

    assert running.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: install interrupted during wait; removed container 'slow'; ")
    assert "slow" not in names()
    assert not (deploy.data_root / "slow").exists()
    assert tomo.json("ps") == []
    (job,) = tomo.json("job", "list", "--installation", "slow")
    assert (job["status"], job["kind"], job["server_id"]) == ("interrupted", "install", "box")
    assert job["error"] == last.removeprefix("error: ")


async def test_sigterm_during_update_puts_the_previous_version_back(
    deploy: Deploy, tomo: Tomo
) -> None:
    port = free_port()
    await deploy.publish("web", docker=deploy.web_app(port=port))
    tomo.json("install", f"{deploy.repo_id}/web", "--server", "box")
    await never_healthy(deploy, "web", port=port, image=deploy.images.web_v2)
    tomo.env["TOMO_INSTALL_WAIT_TIMEOUT"] = "120"
    running = tomo.popen("update", "web")
    await wait_until(lambda: at_step(deploy, "web", "update", "wait"))
    assert running.poll() is None, running.communicate()
    running.send_signal(signal.SIGTERM)
    _, stderr = running.communicate(timeout=60)

    assert running.returncode == 130, stderr
    assert (
        stderr.strip()
        .splitlines()[-1]
        .endswith(
            "removed container 'web'; put the previous container back as 'web' and started it"
        )
    )
    assert page(port) == "web v1\n"
    assert "web-tomo-previous" not in names()
    (row,) = tomo.json("ps")
    assert (row["status"], row["image"]) == ("running", deploy.images.web_v1)


# -- bugs ---------------------------------------------------------------------------


async def test_a_bug_fails_the_job_undoes_it_and_is_logged_not_shown(
    deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def buggy_wait(*_args: object) -> str:  # fault injection: a bug in tomo
        raise ValueError("cannot parse docker's answer")

    monkeypatch.setattr(steps, "wait_until_up", buggy_wait)
    app = await deploy.publish("web", docker=deploy.web_app())
    with captured_log("tomo.deployment") as records:
        _, view = await install(deploy, app)

    log_file = deploy.runtime.settings.log_file
    assert view.status == "failed"
    assert view.error is not None and view.error.startswith(
        f"install failed during wait on an internal error (details in {log_file}); "
        "removed container 'web'; "
    )
    assert "cannot parse" not in view.error  # the user gets one line, the log the rest
    (record,) = [r for r in records if r.levelname == "ERROR"]
    assert isinstance(exception_of(record), ValueError)
    assert "web" not in names() and not (deploy.data_root / "web").exists()
    assert await deploy.runtime.deployment.list_installations() == []


async def test_a_bug_in_a_cli_operation_exits_70_in_one_line_and_frees_it(
    deploy: Deploy, tomo: Tomo
) -> None:
    await deploy.publish("web", docker=deploy.web_app())
    tomo.json("install", f"{deploy.repo_id}/web", "--server", "box")
    done = tomo.faulty("raise", "tomo.deployment.manage:record_state", "stop", "web", expect=70)
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: stop failed during stop on an internal error (details in ")
    log = (deploy.runtime.settings.log_file).read_text()
    assert "Traceback" in log and "injected fault: a bug" in log
    (job,) = [j for j in tomo.json("job", "list") if j["kind"] == "stop"]
    assert job["status"] == "failed"
    assert tomo.json("start", "web")["status"] == "running"  # the lease was given back


# -- a rollback that cannot finish --------------------------------------------------


async def test_a_rollback_that_fails_is_reported_and_settled_later(
    deploy: Deploy, own_sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> None:
    await deploy.runtime.servers.add_server(server_for("flaky", own_sshd, ssh_users, data_root))
    app = await never_healthy(deploy)
    deploy.runtime.settings.install_wait_timeout = 120
    service = deploy.runtime.deployment
    started = await service.install_app("flaky", app, InstallConfig())
    job = asyncio.create_task(service.run_job(started.job_id))
    await wait_until(lambda: at_step(deploy, "slow", "install", "wait"))
    own_sshd.stop()  # the server goes away while tomo waits for the app
    view = await asyncio.wait_for(job, 60)
    own_sshd.start()

    assert view.status == "failed"
    (left,) = await service.list_installations()
    assert left.status == "failed"
    message = left.status_message or ""
    assert "could not remove container 'slow' (flaky: " in message, message
    assert message.endswith(
        "tomo removes the rest the next time it reaches flaky, or when slow is uninstalled"
    )
    assert "slow" in names()  # honestly still there

    removed = await carried_out(service.prepare_uninstall("slow"))
    assert removed.summary[0] == "removed container 'slow'"  # settling the failed install
    assert "slow" not in names()
    assert await service.list_installations() == []


# -- tomo dies mid-operation --------------------------------------------------------


async def test_tomo_dying_mid_update_is_settled_on_the_next_start(
    deploy: Deploy, tomo: Tomo
) -> None:
    port = free_port()
    await deploy.publish("web", docker=deploy.web_app(port=port))
    tomo.json("install", f"{deploy.repo_id}/web", "--server", "box")
    tomo.faulty("die", "tomo.deployment.steps:wait_until_up", "update", "web", "--tag", "2",
                expect=137)  # fmt: skip
    assert {"web", "web-tomo-previous"} <= set(names())  # the new one runs, the old aside

    (row,) = tomo.json("ps")  # the next start settles it
    assert (row["status"], row["image"]) == ("running", deploy.images.web_v1)
    assert row["operation"] is None
    assert page(port) == "web v1\n"
    assert "web-tomo-previous" not in names()
    (job, _) = tomo.json("job", "list", "--installation", "web")
    assert job["status"] == "interrupted"
    assert job["error"] == (
        "tomo stopped during the update (wait); removed container 'web'; "
        "put the previous container back as 'web' and started it"
    )


async def test_tomo_dying_mid_uninstall_is_finished_on_the_next_start(
    deploy: Deploy, tomo: Tomo
) -> None:
    await deploy.publish("web", docker=deploy.web_app())
    tomo.json("install", f"{deploy.repo_id}/web", "--server", "box")
    tomo.faulty("die", "tomo.deployment.remote:Docker.remove_owned", "uninstall", "web",
                "--remove-data", expect=137)  # fmt: skip
    assert "web" not in names()  # past the commit point: the container is gone
    assert (deploy.data_root / "web" / "data").is_dir()

    assert tomo.json("ps") == []  # finished on the next start, as asked
    assert not (deploy.data_root / "web").exists()
    (job, _) = tomo.json("job", "list", "--installation", "web")
    assert job["status"] == "interrupted"
    assert job["error"].startswith("tomo stopped during the uninstall (remove data); removed ")


async def test_tomo_dying_before_an_uninstall_removed_anything_leaves_it_installed(
    deploy: Deploy, tomo: Tomo
) -> None:
    port = free_port()
    await deploy.publish("web", docker=deploy.web_app(port=port))
    tomo.json("install", f"{deploy.repo_id}/web", "--server", "box")
    tomo.faulty("die", "tomo.deployment.remote:Docker.remove_container", "uninstall", "web",
                expect=137)  # fmt: skip
    (row,) = tomo.json("ps")
    assert (row["status"], row["operation"]) == ("running", None)
    (job, _) = tomo.json("job", "list", "--installation", "web")
    assert (job["status"], job["error"]) == (
        "interrupted",
        "tomo stopped during the uninstall (remove container); nothing was removed; "
        "started container 'web' again",  # it had been stopped, to be removed gracefully
    )
    assert page(port) == "web v1\n"


# -- containers that do not stay up -------------------------------------------------


async def test_a_container_that_crashes_after_two_seconds_is_not_installed(
    deploy: Deploy,
) -> None:
    deploy.runtime.settings.install_stable_seconds = 3.0  # the default window
    app = await deploy.publish("crashy", docker=deploy.web_app(image=deploy.images.crashy))
    _, view = await install(deploy, app)
    assert view.status == "failed"
    assert view.error is not None
    assert re.match(
        r"the container exited with code 4 after 2\.\d s, restarted 1 time; "
        # Its output as tomo read it: the restarted container may have said "starting".
        r"last output: starting \| dying(?: \| starting)?; removed container 'crashy'; ",
        view.error,
    ), view.error
    assert "crashy" not in names()


async def test_a_crash_after_the_install_shows_in_the_status(deploy: Deploy) -> None:
    app = await deploy.publish("crashy", docker=deploy.web_app(image=deploy.images.crashy))
    _, view = await install(deploy, app)  # the test window (0.5 s) ends before the crash
    assert view.status == "done", view.error
    service = deploy.runtime.deployment

    async def crashed() -> bool:
        return (await service.refresh_status("crashy")).status_message is not None

    await wait_until(crashed)  # Docker's restart count tells, whenever tomo looks
    found = await service.get_installation("crashy")
    assert (found.status, found.status_message) in [
        ("running", "crashed; Docker restarted it once"),
        ("restarting", "exited with code 4 after 2.0 s; Docker keeps restarting it"),
    ] or re.fullmatch(
        r"exited with code 4 after 2\.\d s, restarted \d times?; Docker keeps "
        r"restarting it",
        found.status_message or "",
    ), found


async def test_a_bug_cannot_hide_behind_the_json_output(deploy: Deploy, tomo: Tomo) -> None:
    """`--json` of a failed install prints the job (the installation is gone)."""
    app = await deploy.publish("broken", docker=deploy.web_app(image=deploy.images.broken))
    done = tomo.run("install", app, "--server", "box", "--json", expect=8)
    printed = json.loads(done.stdout)
    assert printed["installation"] is None
    assert printed["job"]["status"] == "failed"
    assert printed["job"]["error"] in done.stderr
