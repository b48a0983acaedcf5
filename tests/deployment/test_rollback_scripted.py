"""Rollback and journal replay at unit speed, on a scripted host (tests/scripted_host.py).

The same flows run against a real sshd and Docker engine in test_install_failures.py
and test_honest_jobs.py; here every step of them can fail, in any order, in
milliseconds. What is asserted is the server's state and the order of the commands
that changed it, never timing.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.deployment.scripted import DATA_ROOT, SERVER, Scripted, scripted_tomo
from tests.gitrepo import CatalogRepo
from tests.scripted_host import ScriptedHost
from tomo.deployment.schemas import JobPublic
from tomo.deployment.spec import ConfigChanges, InstallConfig
from tomo.errors import OperationInterrupted, TomoError
from tomo.marketplace.schemas import RepoCreate

WIKI_DIR = f"{DATA_ROOT}/wiki"
# What taking the wiki's install back says, once all of it was made (newest first).
TAKEN_BACK = (
    "removed container 'wiki'; removed container 'wiki-migrate'; removed container 'wiki-db'; "
    "removed volume wiki_dbdata; removed network 'tomo-wiki'; "
    f"removed {WIKI_DIR}/.tomo.env; removed 1 directory; removed {WIKI_DIR}/.tomo.db.env; "
    "removed 1 directory"
)
# The commands that take it back, in that order.
TAKING_BACK = [
    "container rm wiki", "container rm wiki-migrate", "container rm wiki-db",
    "volume rm wiki_dbdata", "network rm tomo-wiki",
    f"tomo-rm {WIKI_DIR}/.tomo.env", f"tomo-remove {DATA_ROOT} {WIKI_DIR} {WIKI_DIR}/uploads",
    f"tomo-rm {WIKI_DIR}/.tomo.db.env", f"tomo-remove {DATA_ROOT} {WIKI_DIR}",
]  # fmt: skip


def neighbours(host: ScriptedHost) -> None:
    """Another installation already on the server, and a folder of the user's under
    the data root: nothing the wiki's operations may touch."""
    host.images.add("example/notes:1")
    host.networks["tomo-notes"] = {"tomo.installation": "notes0000000"}
    host.volumes["notes_data"] = {"tomo.installation": "notes0000000"}
    host.add_container(
        "notes", "example/notes:1", labels={"tomo.installation": "notes0000000"},
        network="tomo-notes", volumes=[("notes_data", "/data")],
        ports=["127.0.0.1:9090->80/tcp"], status="running",
    )  # fmt: skip
    host.mkdir(f"{DATA_ROOT}/notes/files")
    host.files[f"{DATA_ROOT}/notes/.tomo.env"] = "TZ=UTC\n"
    host.mkdir(f"{DATA_ROOT}/backups")


async def install(scripted: Scripted) -> JobPublic:
    started = await scripted.deployment.install_app(SERVER, scripted.app, InstallConfig())
    return await scripted.deployment.run_job(started.job_id)


async def installed(scripted: Scripted) -> dict[str, Any]:
    """The wiki installed; the host's state then."""
    view = await install(scripted)
    assert view.status == "done", view.error
    return scripted.host.snapshot()


def after(commands: list[str], first: str) -> list[str]:
    """The commands from `first` on."""
    return commands[commands.index(first) :]


# -- a failed install takes back exactly what it made ---------------------------------


async def test_an_install_whose_last_container_cannot_start_is_taken_back_newest_first(
    scripted: Scripted,
) -> None:
    host = scripted.host
    neighbours(host)
    before = host.snapshot()
    host.behave("wiki", start_error="exec: /app/run: no such file or directory")

    view = await install(scripted)

    assert view.status == "failed"
    assert view.error == (
        "docker run failed: docker: Error response from daemon: exec: /app/run: no such file "
        f"or directory.; {TAKEN_BACK}"
    )
    assert [s.name for s in view.steps] == ["validate", "preflight", "pull", "create"]
    assert after(host.changes(), "container run wiki") == ["container run wiki", *TAKING_BACK]
    assert host.snapshot() == before
    assert await scripted.deployment.list_installations() == []


def _fail(command: str, stderr: str) -> Callable[[ScriptedHost], None]:
    return lambda host: host.fail(command, stderr=stderr)


def _behave(container: str, **behaviour: Any) -> Callable[[ScriptedHost], None]:
    return lambda host: host.behave(container, **behaviour)


# Each step of the wiki's install made to fail: (how, the step it fails in, the
# start of the job's error).
FAILURES = {
    "pull of the first image": (
        _fail("image pull postgres:16", "manifest for postgres:16 not found"), "pull",
        "pulling postgres:16 failed: box: `docker image pull postgres:16` exited with 1: "
        "manifest for postgres:16 not found",
    ),
    "pull of the second image": (
        _fail("image pull example/wiki:2.5", "toomanyrequests"), "pull",
        "pulling example/wiki:2.5 failed: ",
    ),
    "folders of the last service": (
        _fail(f"tomo-prepare {WIKI_DIR}/.tomo.env ''", "mkdir: No space left on device"), "pull",
        f"box: `mkdir -p {WIKI_DIR} {WIKI_DIR}/uploads` exited with 1: mkdir: No space left",
    ),
    "network": (
        _fail("network create tomo-wiki", "Error response from daemon: pool overlaps"),
        "create", "network tomo-wiki could not be created: Error response from daemon: pool",
    ),
    "volume": (
        _fail("volume create wiki_dbdata", "Error response from daemon: no space"), "create",
        "box: `docker volume create --label",
    ),
    "create of the first container": (
        _fail("container run wiki-db", "docker: Error response from daemon: no space"),
        "create", "docker run failed: docker: Error response from daemon: no space",
    ),
    "create of the second container": (
        _fail("container run wiki-migrate", "docker: Error response from daemon: no space"),
        "create", "docker run failed: docker: Error response from daemon: no space",
    ),
    "start of the first container": (
        _behave("wiki-db", start_error="failed to create task: cgroup"), "create",
        "docker run failed: docker: Error response from daemon: failed to create task: cgroup",
    ),
    "first container crashing": (
        _behave("wiki-db", exit_code=1, output=("FATAL: bad config",)), "create",
        "service db: the container exited with code 1; last output: FATAL: bad config",
    ),
    "migration": (
        _behave("wiki-migrate", exit_code=2, output=("relation exists",)), "create",
        "service migrate: the container exited with code 2; last output: relation exists",
    ),
    "last container crashing": (
        _behave("wiki", exit_code=3, output=("boom",)), "wait",
        "service web: the container exited with code 3; last output: boom",
    ),
    "Docker not answering an inspect": (
        _fail("container inspect wiki-migrate", "Error response from daemon: i/o timeout"),
        "create", "box: `docker container inspect wiki-migrate` exited with 1: Error response",
    ),
}  # fmt: skip


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_failure_at_any_step_of_an_install_leaves_the_server_as_it_was(
    scripted: Scripted, failure: str
) -> None:
    arrange, step, cause = FAILURES[failure]
    host = scripted.host
    neighbours(host)
    before = host.snapshot()
    arrange(host)

    view = await install(scripted)

    assert view.status == "failed"
    assert view.steps[-1].name == step
    assert view.error is not None and view.error.startswith(cause), view.error
    assert host.snapshot() == before, view.error
    assert await scripted.deployment.list_installations() == []


async def test_what_was_there_before_the_install_is_not_the_rollbacks_to_remove(
    scripted: Scripted,
) -> None:
    """Data kept by an earlier uninstall (its folder, its named volume) stays."""
    host = scripted.host
    host.volumes["wiki_dbdata"] = {"tomo.installation": "earlier00000"}
    host.mkdir(f"{WIKI_DIR}/uploads")
    host.files[f"{WIKI_DIR}/uploads/photo.jpg"] = "jpeg"
    before = host.snapshot()
    host.behave("wiki", exit_code=3)

    view = await install(scripted)

    assert view.error is not None and view.error.endswith(
        "removed container 'wiki'; removed container 'wiki-migrate'; removed container "
        f"'wiki-db'; removed network 'tomo-wiki'; removed {WIKI_DIR}/.tomo.env; "
        f"removed {WIKI_DIR}/.tomo.db.env"
    ), view.error
    assert host.snapshot() == before


# -- interrupted operations --------------------------------------------------------------


async def test_an_install_interrupted_during_its_wait_is_taken_back(scripted: Scripted) -> None:
    host = scripted.host
    neighbours(host)
    before = host.snapshot()
    waiting = host.hold("tomo-watch")
    started = await scripted.deployment.install_app(SERVER, scripted.app, InstallConfig())
    running = asyncio.create_task(scripted.deployment.run_job(started.job_id))
    await waiting.wait()
    running.cancel()  # Ctrl-C, or tomo being stopped

    with pytest.raises(OperationInterrupted) as interrupted:
        await running
    assert interrupted.value.message == f"install interrupted during wait; {TAKEN_BACK}"
    assert host.snapshot() == before
    (job,) = await scripted.deployment.list_jobs()
    assert (job.status, job.error) == ("interrupted", interrupted.value.message)


async def test_an_install_tomo_died_in_is_taken_back_on_the_next_start(
    scripted: Scripted,
) -> None:
    host = scripted.host
    neighbours(host)
    before = host.snapshot()
    started = await scripted.deployment.install_app(SERVER, scripted.app, InstallConfig())
    dead = await scripted.dies_at(scripted.deployment.run_job(started.job_id),
                                  "container run wiki")  # fmt: skip
    assert {"wiki-db", "wiki-migrate"} <= set(host.containers)  # as tomo left them

    async with scripted_tomo(dead, host) as restarted:  # settles it as it starts
        assert await restarted.list_installations() == []
        (job,) = await restarted.list_jobs()
    assert job.status == "interrupted"
    assert job.error == (
        "tomo stopped during the install (create); removed container 'wiki-migrate'; "
        "removed container 'wiki-db'; removed volume wiki_dbdata; removed network 'tomo-wiki'; "
        f"removed {WIKI_DIR}/.tomo.env; removed 1 directory; removed {WIKI_DIR}/.tomo.db.env; "
        "removed 1 directory"
    )
    assert host.snapshot() == before


async def test_an_update_tomo_died_in_is_put_back_on_the_next_start(scripted: Scripted) -> None:
    host = scripted.host
    before = await installed(scripted)
    update = await scripted.deployment.prepare_update("wiki", tag="3")
    dead = await scripted.dies_at(update.run(), "tomo-watch")
    assert {"wiki", "wiki-tomo-previous"} <= set(host.containers)  # new one up, old aside

    async with scripted_tomo(dead, host) as restarted:
        (wiki,) = await restarted.list_installations()
        job = (await restarted.list_jobs(installation="wiki"))[0]
    assert (wiki.status, wiki.image, wiki.operation) == ("running", "example/wiki:2.5", None)
    assert job.status == "interrupted"
    assert job.error == (
        "tomo stopped during the update (wait); removed container 'wiki'; removed container "
        "'wiki-migrate'; removed container 'wiki-db'; put the previous container back as "
        "'wiki-db' and started it; put the previous container back as 'wiki-migrate'; "
        "put the previous container back as 'wiki' and started it"
    )
    assert host.snapshot()["containers"] == before["containers"]  # the very same ones


async def test_an_uninstall_tomo_died_in_past_its_commit_point_is_finished_on_the_next_start(
    scripted: Scripted,
) -> None:
    host = scripted.host
    neighbours(host)
    before = host.snapshot()
    await installed(scripted)
    uninstall = await scripted.deployment.prepare_uninstall("wiki", remove_data=True)
    dead = await scripted.dies_at(uninstall.run(), "tomo-remove")
    assert not {"wiki", "wiki-db", "wiki-migrate"} & set(host.containers)  # committed
    assert f"{WIKI_DIR}/uploads" in host.dirs

    async with scripted_tomo(dead, host) as restarted:
        assert await restarted.list_installations() == []
        job = (await restarted.list_jobs(installation="wiki"))[0]
    assert job.status == "interrupted"
    assert job.error is not None
    assert job.error.startswith("tomo stopped during the uninstall (remove data); removed ")
    assert host.snapshot() == before


# -- updates ------------------------------------------------------------------------------


async def test_an_update_whose_new_container_crashes_puts_the_old_ones_back_exactly(
    scripted: Scripted,
) -> None:
    host = scripted.host
    before = await installed(scripted)
    host.behave("example/wiki:3", exit_code=1, output=("boom",))

    update = await scripted.deployment.prepare_update("wiki", tag="3")
    with pytest.raises(TomoError) as failed:
        await update.run()

    assert failed.value.message == (
        "update failed: service web: the container exited with code 1; last output: boom; "
        "removed container 'wiki'; removed container 'wiki-migrate'; removed container "
        "'wiki-db'; put the previous container back as 'wiki-db' and started it; put the "
        "previous container back as 'wiki-migrate'; put the previous container back as 'wiki' "
        "and started it"
    )
    assert after(host.changes(), "container rename wiki wiki-tomo-previous") == [
        # set aside, the last started first
        "container rename wiki wiki-tomo-previous", "container stop wiki-tomo-previous",
        "container rename wiki-migrate wiki-migrate-tomo-previous",
        "container stop wiki-migrate-tomo-previous",
        "container rename wiki-db wiki-db-tomo-previous", "container stop wiki-db-tomo-previous",
        # the new ones
        "container run wiki-db", "container run wiki-migrate", "container run wiki",
        # and back, newest first
        "container rm wiki", "container rm wiki-migrate", "container rm wiki-db",
        "container rename wiki-db-tomo-previous wiki-db", "container start wiki-db",
        "container rename wiki-migrate-tomo-previous wiki-migrate",
        "container rename wiki-tomo-previous wiki", "container start wiki",
        # the env files, as they were (these were written again unchanged: nothing said)
        f"tomo-put-back {WIKI_DIR}/.tomo.env", f"tomo-put-back {WIKI_DIR}/.tomo.db.env",
    ]  # fmt: skip
    assert host.snapshot()["containers"] == before["containers"]  # same ids, names, states
    (wiki,) = await scripted.deployment.list_installations()
    assert (wiki.status, wiki.image) == ("running", "example/wiki:2.5")


# -- a rollback the server cut short --------------------------------------------------------


async def test_a_rollback_the_server_cut_short_is_finished_when_it_is_back(
    scripted: Scripted,
) -> None:
    host = scripted.host
    neighbours(host)
    before = host.snapshot()
    host.behave("wiki", exit_code=3)
    host.unreachable_from("container rm wiki-migrate")  # mid-rollback

    view = await install(scripted)

    (left,) = await scripted.deployment.list_installations()
    assert left.status == "failed"
    assert view.error is not None and view.error.endswith(
        "removed container 'wiki'; could not remove container 'wiki-migrate' (box: connection "
        "lost during a command); tomo removes the rest the next time it reaches box, "
        "or when wiki is uninstalled"
    ), view.error
    assert {"wiki-db", "wiki-migrate"} <= set(host.containers)  # honestly still there

    host.reachable()
    removed = await (await scripted.deployment.prepare_uninstall("wiki")).run()
    assert removed.summary[0] == "removed container 'wiki-migrate'"  # settling it first
    assert host.snapshot() == before
    assert await scripted.deployment.list_installations() == []


# -- managing -------------------------------------------------------------------------------


async def test_stop_and_start_follow_the_dependency_order(scripted: Scripted) -> None:
    host = scripted.host
    await installed(scripted)
    changed_before = len(host.changes())

    stopped = await (await scripted.deployment.prepare_verb("stop", "wiki")).run()
    started = await (await scripted.deployment.prepare_verb("start", "wiki")).run()

    assert host.changes()[changed_before:] == [
        "container stop wiki", "container stop wiki-db",  # the one-shot step is not stopped
        "container start wiki-db", "container start wiki",
    ]  # fmt: skip
    assert (stopped.installation.status, started.installation.status) == ("stopped", "running")


async def test_an_uninstall_with_its_data_leaves_the_server_as_it_was(scripted: Scripted) -> None:
    host = scripted.host
    neighbours(host)
    before = host.snapshot()
    await installed(scripted)

    await (await scripted.deployment.prepare_uninstall("wiki", remove_data=True)).run()

    assert host.snapshot() == before


# -- found through the scripted host --------------------------------------------------------


async def test_an_uninstall_claims_only_the_files_it_removed(scripted: Scripted) -> None:
    await installed(scripted)

    done = await (await scripted.deployment.prepare_uninstall("wiki")).run()

    assert f"removed {WIKI_DIR}/.tomo.env" in done.summary
    assert f"removed {WIKI_DIR}/.tomo.migrate.env" not in done.summary


async def test_a_failed_update_puts_the_env_files_back_too(scripted: Scripted) -> None:
    host = scripted.host
    before = await installed(scripted)
    host.behave("example/wiki:3", exit_code=1)
    changes = ConfigChanges(env={"SITE_NAME": "Other wiki"})

    update = await scripted.deployment.prepare_update("wiki", tag="3", changes=changes)
    with pytest.raises(TomoError):
        await update.run()

    assert host.snapshot()["containers"] == before["containers"]
    assert host.files == before["files"]


async def test_a_done_update_leaves_no_copy_of_what_its_files_were(scripted: Scripted) -> None:
    await installed(scripted)
    changes = ConfigChanges(env={"SITE_NAME": "Other wiki"})

    await (await scripted.deployment.prepare_update("wiki", tag="3", changes=changes)).run()

    assert "TITLE=Other wiki on " in scripted.host.files[f"{WIKI_DIR}/.tomo.env"]
    assert sorted(f for f in scripted.host.files if f.startswith(WIKI_DIR)) == [
        f"{WIKI_DIR}/.tomo.db.env", f"{WIKI_DIR}/.tomo.env",
    ]  # fmt: skip


# -- files the store ships ------------------------------------------------------------------


async def publish_notes(scripted: Scripted) -> str:
    """A one-container app that ships two files for its data directory."""
    files = [{"path": "./config/notes.conf", "content": base64.b64encode(b"theme=dark\n").decode()},
             {"path": "./scripts/start.sh", "content": base64.b64encode(b"#!/bin/sh\n").decode(),
              "mode": "0755"}]  # fmt: skip
    notes = {"id": "notes", "name": "Notes", "version": "1", "files": files,
             "docker": {"image": "example/notes:1",
                        "volumes": [{"host_path": "./config", "container_path": "/etc/notes"}]}}  # fmt: skip
    repo = CatalogRepo.create(scripted.tmp_path / "notes-catalog")
    repo.write("apps/tools/notes.yaml", yaml.safe_dump(notes))
    repo.commit()
    marketplace = scripted.deployment.ctx.marketplace
    added = await marketplace.add_repo(RepoCreate(url=repo.url, name="notes"))
    await marketplace.sync_repo(added.id)
    return f"{added.id}/notes"


async def test_the_files_a_store_ships_are_placed_where_none_is_yet(scripted: Scripted) -> None:
    host = scripted.host
    notes = await publish_notes(scripted)
    host.mkdir(f"{DATA_ROOT}/notes/config")  # kept from an earlier installation
    host.files[f"{DATA_ROOT}/notes/config/notes.conf"] = "theme=light\n"  # the user's choice

    started = await scripted.deployment.install_app(SERVER, notes, InstallConfig())
    view = await scripted.deployment.run_job(started.job_id)

    assert view.status == "done", view.error
    assert host.files[f"{DATA_ROOT}/notes/config/notes.conf"] == "theme=light\n"  # kept
    assert host.files[f"{DATA_ROOT}/notes/scripts/start.sh"] == "#!/bin/sh\n"


async def test_a_failed_install_takes_the_files_it_placed_back(scripted: Scripted) -> None:
    host = scripted.host
    notes = await publish_notes(scripted)
    host.mkdir(f"{DATA_ROOT}/notes/config")
    host.files[f"{DATA_ROOT}/notes/config/kept.txt"] = "mine\n"
    before = host.snapshot()
    host.behave("notes", start_error="exec format error")

    started = await scripted.deployment.install_app(SERVER, notes, InstallConfig())
    view = await scripted.deployment.run_job(started.job_id)

    assert view.status == "failed"
    assert f"removed {DATA_ROOT}/notes/config/notes.conf" in (view.error or "")
    assert host.snapshot() == before  # the placed files and the folder made for them gone


@pytest.mark.parametrize("options", [{}, {"com.docker.network.bridge.enable_icc": "true"}])
async def test_a_network_of_the_isolated_ones_name_that_lets_containers_meet_is_not_used(
    scripted: Scripted, options: dict[str, str]
) -> None:
    """Someone's own `tomo-isolated` (made by hand, not by tomo) would put the app
    where other containers reach it: the install fails, names it, and takes itself back."""
    host = scripted.host
    host.networks["tomo-isolated"], host.network_options["tomo-isolated"] = {}, options
    notes = await publish_notes(scripted)
    before = host.snapshot()

    started = await scripted.deployment.install_app(SERVER, notes, InstallConfig())
    view = await scripted.deployment.run_job(started.job_id)

    assert view.status == "failed"
    assert "the network tomo-isolated on box lets its containers reach each other" in (
        view.error or ""
    )
    assert host.snapshot() == before
    assert not any(c.startswith("container run") for c in host.changes())
