"""Floating tags checked against their registry, end to end: apps installed on the
test server (real sshd and Docker) from the test registry by a floating tag, a new
image pushed under that tag, the check, the offer (service, API, `tomo outdated
--check`), the update and after it; a registry that is down; a pinned installation."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import users_of
from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy, carried_out
from tests.deployment.test_install import page
from tests.registry import Registry, TestImages, local_registry
from tests.services import free_port
from tests.sshd import SshUsers
from tests.updates.registries import FloatingTag, basic_registry, docker_login
from tests.updates.test_registry import CountingTransport
from tomo.app import create_app
from tomo.deployment.schemas import UpdateOffer
from tomo.deployment.spec import InstallConfig
from tomo.updates.images import check_images
from tomo.updates.policy import UpdatePolicy
from tomo.updates.registry import RegistryClient
from tomo.updates.schemas import UpdateSettings


async def installed(deploy: Deploy, name: str, image: str, **config: Any) -> str:
    """The app `name` running `image`, installed on the test server; its id."""
    app = await deploy.publish(name, docker=deploy.web_app(image=image, **config.pop("docker", {})))
    service = deploy.runtime.deployment
    started = await service.install_app("box", app, InstallConfig(name=name, **config))
    view = await service.run_job(started.job_id)
    assert view.status == "done", view.error
    return started.installation.id


def new_image(reference: str, digest: str) -> str:
    return f"{reference} has a new image ({digest[:19]}…)"


async def test_a_new_image_under_the_same_tag_is_offered_until_the_update(
    deploy: Deploy, floating: FloatingTag, tomo: Tomo
) -> None:
    first = floating.push(floating.images.web_v1)
    port = free_port()
    web = await installed(deploy, "web", floating.reference, docker={"ports": [
        {"container": 80, "host": port}]})  # fmt: skip
    service = deploy.runtime.deployment

    report = await service.check_image_updates()
    (checked,) = report.checked
    assert (checked.installation, checked.service, checked.image) == (
        web,
        "app",
        floating.reference,
    )
    assert (checked.running, checked.latest, checked.new) == (first, first, False)
    assert report.offered == report.not_checked == []
    assert (await service.get_installation(web)).update is None

    second = floating.push(floating.images.web_v2)  # the tag moves; the app still runs v1
    listed = tomo.run("outdated", "--check")
    assert "web" in listed.stdout and "1.0.0 (new image)" in listed.stdout, listed.stdout
    offer = UpdateOffer(from_version="1.0.0", to_version="1.0.0",
                        images=[new_image(floating.reference, second)])  # fmt: skip
    assert (await service.get_installation(web)).update == offer
    assert [i.id for i in await service.list_outdated("box")] == [web]
    assert await service.count_updates_offered() == 1
    (shown,) = json.loads(tomo.run("outdated", "--json").stdout)
    assert shown["update"]["images"] == offer.images

    await carried_out(service.prepare_update(web))
    assert page(port) == "web v2\n"  # the tag pulled again: the new image runs
    assert (await service.get_installation(web)).update is None  # not offered again
    again = await service.check_image_updates()
    assert [(c.running, c.latest, c.new) for c in again.checked] == [(second, second, False)]
    assert again.offered == [] and await service.list_outdated() == []


async def test_the_api_checks_for_admins_and_offers_the_new_image(
    deploy: Deploy, floating: FloatingTag
) -> None:
    floating.push(floating.images.web_v1)
    web = await installed(deploy, "web", floating.reference)
    second = floating.push(floating.images.web_v2)
    quiet = deploy.runtime.settings.model_copy(update={"monitor_interval": 0,
                                                       "update_check_interval": 0})  # fmt: skip
    with TestClient(create_app(quiet)) as client:
        api = users_of(client)
        assert api.viewer.post("/api/image-checks").status_code == 403
        assert api.viewer.get(f"/api/installations/{web}").json()["update"] is None

        checked = api.admin.post("/api/image-checks", params={"server": "box"})
        assert checked.status_code == 200, checked.text
        assert checked.json()["offered"] == [web]
        assert [c["latest"] for c in checked.json()["checked"]] == [second]
        offer = api.viewer.get(f"/api/installations/{web}").json()["update"]
        assert offer == {"from_version": "1.0.0", "to_version": "1.0.0", "release_notes": None,
                         "images": [new_image(floating.reference, second)]}  # fmt: skip


async def test_a_registry_that_is_down_leaves_its_images_unchecked(
    deploy: Deploy, floating: FloatingTag, images: TestImages
) -> None:
    floating.push(images.web_v1)
    fine = await installed(deploy, "fine", floating.reference)
    twin = await installed(deploy, "twin", floating.reference)
    with local_registry() as elsewhere:
        gone = FloatingTag(elsewhere, images)
        gone.push(images.web_v1)
        lost = await installed(deploy, "lost", gone.reference)
    service = deploy.runtime.deployment

    sent = CountingTransport()
    async with RegistryClient(transport=sent) as client:  # that registry is stopped now
        report = await check_images(service, client=client)

    assert [(c.installation, c.new) for c in report.checked] == [(fine, False), (twin, False)]
    # One question per image and check, however many installations run it.
    assert sorted(path for _, path in sent.sent) == sorted(
        f"/v2/{tag.repository}/manifests/latest" for tag in (floating, gone))  # fmt: skip
    (unchecked,) = report.not_checked
    assert (unchecked.installation, unchecked.service, unchecked.image) == (
        lost, "app", gone.reference)  # fmt: skip
    assert unchecked.reason.startswith(f"{elsewhere.address} did not answer"), unchecked.reason
    assert report.offered == [] and await service.list_outdated() == []
    assert (await service.get_installation(lost)).update is None


async def test_a_pinned_installation_is_never_checked_nor_offered(
    deploy: Deploy, floating: FloatingTag
) -> None:
    floating.push(floating.images.web_v1)
    pinned = UpdateSettings(policy=UpdatePolicy.PINNED)
    web = await installed(deploy, "web", floating.reference, updates=pinned)
    floating.push(floating.images.web_v2)
    service = deploy.runtime.deployment

    report = await service.check_image_updates()
    assert report.checked == report.not_checked == report.offered == []
    await deploy.publish("web", version="2.0.0", docker=deploy.web_app(image=floating.reference))
    assert (await service.get_installation(web)).update is None  # nor a newer catalog version
    assert await service.count_updates_offered() == 0


async def test_a_registry_that_asks_for_a_login_gets_the_one_the_servers_docker_keeps(
    deploy: Deploy, registry: Registry, floating: FloatingTag, ssh_users: SshUsers
) -> None:
    floating.push(floating.images.web_v1)
    with (
        basic_registry(registry, "reader", "s3cret") as guarded,  # the same images, behind a login
        docker_login(ssh_users.user, guarded, "reader", "s3cret"),
    ):
        reference = f"{guarded}/{floating.repository}:latest"
        web = await installed(deploy, "web", reference)  # the server pulls with its login
        second = floating.push(floating.images.web_v2)
        report = await deploy.runtime.deployment.check_image_updates()
    assert report.not_checked == [] and report.offered == [web]
    assert [c.latest for c in report.checked] == [second]
