"""Update policies carried out by the watcher, against real containers on the test
server and a real catalog repository: one pass at a time, on a clock the test sets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import SecretStr

from tests.deployment.conftest import Deploy, run_verb
from tests.deployment.test_install import docker
from tests.events.receivers import http_receiver
from tomo.deployment.spec import InstallConfig
from tomo.events.kinds import EventKind
from tomo.events.schemas import ChannelCreate, EventPublic
from tomo.updates.policy import UpdatePolicy
from tomo.updates.schemas import UpdateSettings
from tomo.updates.watcher import UpdateWatcher

IN_THE_WINDOW = datetime(2026, 12, 6, 3, 30).astimezone()  # the default window: 03:00-05:00
AT_NOON = datetime(2026, 12, 6, 12, 0).astimezone()
TOLD_BY_THE_WATCHER = {EventKind.UPDATE_AVAILABLE, EventKind.AUTO_UPDATE_APPLIED,
                       EventKind.AUTO_UPDATE_ROLLED_BACK, EventKind.UPDATE_FAILED}  # fmt: skip


def watcher_at(deploy: Deploy, moment: datetime) -> UpdateWatcher:
    """A watcher whose passes the test runs itself, its clock stopped at `moment`."""
    return UpdateWatcher(deploy.runtime.deployment, deploy.runtime.events, interval=0,
                         image_check_interval=3600, clock=lambda: moment)  # fmt: skip


async def publish(deploy: Deploy, name: str, version: str, image: str, **fields: Any) -> str:
    return await deploy.publish(name, version=version, docker=deploy.web_app(image=image),
                                **fields)  # fmt: skip


async def installed(deploy: Deploy, app: str, name: str, settings: UpdateSettings) -> str:
    service = deploy.runtime.deployment
    started = await service.install_app("box", app, InstallConfig(name=name, updates=settings))
    view = await service.run_job(started.job_id)
    assert view.status == "done", view.error
    return started.installation.id


async def told(deploy: Deploy) -> list[EventPublic]:
    """The watcher's events (and failed updates), oldest first."""
    listed = await deploy.runtime.events.list_events(user_id="nobody", limit=500)
    return [event for event in reversed(listed.events) if event.kind in TOLD_BY_THE_WATCHER]


def running_image(container: str) -> str:
    return docker("inspect", "--format", "{{.Config.Image}}", container).strip()


async def test_auto_applies_an_offer_inside_its_window_only_and_tells_it_once(
    deploy: Deploy,
) -> None:
    images = deploy.images
    app = await publish(deploy, "web", "1.0", images.web_v1)
    web = await installed(deploy, app, "web", UpdateSettings(policy=UpdatePolicy.AUTO))
    await publish(deploy, "web", "1.1", images.web_v2, release_notes="Faster pages.")

    held = await watcher_at(deploy, AT_NOON).run_pass()
    assert held.held_back == ["web"] and not held.applied
    assert running_image("web") == images.web_v1

    done = await watcher_at(deploy, IN_THE_WINDOW).run_pass()
    assert done.applied == ["web"]
    after = await deploy.runtime.deployment.get_installation(web)
    assert (after.version, after.status, after.update) == ("1.1", "running", None)
    assert running_image("web") == images.web_v2
    (applied,) = await told(deploy)
    assert (applied.kind, applied.title) == (
        EventKind.AUTO_UPDATE_APPLIED,
        "web on box was updated from 1.0 to 1.1 automatically",
    )
    assert applied.detail == "Faster pages."

    again = await watcher_at(deploy, IN_THE_WINDOW).run_pass()
    assert again == type(again)([], [], [], [], [])
    assert len(await told(deploy)) == 1


async def test_a_broken_automatic_update_puts_the_previous_app_back_and_alerts_once(
    deploy: Deploy,
) -> None:
    images, events = deploy.images, deploy.runtime.events
    with http_receiver() as receiver:
        await events.add_channel(ChannelCreate(name="hooks", url=SecretStr(receiver.url()),
                                               events=[EventKind.AUTO_UPDATE_ROLLED_BACK]))  # fmt: skip
        app = await publish(deploy, "web", "1.0", images.web_v1)
        web = await installed(deploy, app, "web", UpdateSettings(policy=UpdatePolicy.AUTO))
        await publish(deploy, "web", "1.1", images.broken)

        report = await watcher_at(deploy, IN_THE_WINDOW).run_pass()
        assert report.rolled_back == ["web"]
        after = await deploy.runtime.deployment.get_installation(web)
        assert (after.version, after.status) == ("1.0", "running")
        assert running_image("web") == images.web_v1
        (alert,) = await told(deploy)  # one event: not also a plain "update failed"
        assert alert.kind is EventKind.AUTO_UPDATE_ROLLED_BACK
        assert alert.title == "Automatic update of web on box from 1.0 to 1.1 failed"
        assert alert.detail is not None and "put the previous container back" in alert.detail
        await events.flush()
        (post,) = receiver.posts.wait_for(1)
        assert post["json"]["title"] == f"tomo: {alert.title}"

        # The same offer is not tried again every pass: the admin decides now.
        later = await watcher_at(deploy, IN_THE_WINDOW).run_pass()
        assert not later.rolled_back and not later.applied
        assert len(await told(deploy)) == 1
        assert (await deploy.runtime.deployment.get_installation(web)).update is not None


async def test_auto_stays_within_the_major_version_unless_allowed(deploy: Deploy) -> None:
    images, service = deploy.images, deploy.runtime.deployment
    app = await publish(deploy, "web", "1.4", images.web_v1)
    web = await installed(deploy, app, "web", UpdateSettings(policy=UpdatePolicy.AUTO))
    await publish(deploy, "web", "2.0", images.web_v2)

    held = await watcher_at(deploy, IN_THE_WINDOW).run_pass()
    assert held.held_back == ["web"] and running_image("web") == images.web_v1

    await service.set_update_policy(web, UpdateSettings(policy=UpdatePolicy.AUTO, major=True))
    moved = await watcher_at(deploy, IN_THE_WINDOW).run_pass()
    assert moved.applied == ["web"] and running_image("web") == images.web_v2


async def test_pinned_never_moves_and_notify_tells_each_offer_once(deploy: Deploy) -> None:
    images, service = deploy.images, deploy.runtime.deployment
    app = await publish(deploy, "web", "1.0", images.web_v1)
    pinned = await installed(deploy, app, "web", UpdateSettings(policy=UpdatePolicy.PINNED))
    other = await publish(deploy, "other", "1.0", images.web_v1)
    told_of = await installed(deploy, other, "other", UpdateSettings(policy=UpdatePolicy.NOTIFY))
    await publish(deploy, "web", "1.1", images.web_v2)
    await publish(deploy, "other", "1.1", images.web_v2)

    watcher = watcher_at(deploy, IN_THE_WINDOW)
    first = await watcher.run_pass()
    assert first.told == ["other"] and not first.applied
    assert (await service.get_installation(pinned)).update is None  # never offered
    assert [i.name for i in await service.list_outdated()] == ["other"]
    (available,) = await told(deploy)
    assert (available.kind, available.installation_id, available.title) == (
        EventKind.UPDATE_AVAILABLE,
        told_of,
        "other on box: update from 1.0 to 1.1 available",
    )

    await watcher.run_pass()
    await publish(deploy, "web", "1.2", images.web_v2)
    await watcher.run_pass()
    assert len(await told(deploy)) == 1  # the same offer is not told twice
    await publish(deploy, "other", "1.2", images.web_v2)
    assert (await watcher.run_pass()).told == ["other"]  # a newer one is
    assert running_image("web") == images.web_v1 and running_image("other") == images.web_v1


async def test_an_app_its_admin_stopped_is_not_started_by_an_automatic_update(
    deploy: Deploy,
) -> None:
    images = deploy.images
    app = await publish(deploy, "web", "1.0", images.web_v1)
    web = await installed(deploy, app, "web", UpdateSettings(policy=UpdatePolicy.AUTO))
    await run_verb(deploy.runtime.deployment, "stop", web)
    await publish(deploy, "web", "1.1", images.web_v2)

    report = await watcher_at(deploy, IN_THE_WINDOW).run_pass()
    assert report.held_back == ["web"] and not report.applied
    assert docker("inspect", "--format", "{{.State.Status}}", "web").strip() == "exited"
    assert (await deploy.runtime.deployment.get_installation(web)).version == "1.0"
