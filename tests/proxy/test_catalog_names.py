"""A store's app that is served by its name only (Runtipi's `force_expose`), installed
for real: it is named under the server's domain, its front door serves it, and its
container is told that name; where there is no domain to name it under, or its
last name would go, tomo refuses."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from tests.deployment.conftest import Deploy
from tests.proxy.test_door import served
from tests.proxy.test_service import install, proxied  # noqa: F401 - a fixture
from tests.services import free_port
from tomo.errors import InvalidInput
from tomo.runtime import Runtime

APP = "named-web"


async def publish_runtipi_app(deploy: Deploy) -> str:
    """The test catalog as a Runtipi store of one app that Runtipi always exposes;
    its values ask how it is reached, in Runtipi's variables."""
    config = {"id": APP, "name": "Named web", "version": "1", "port": free_port(),
              "exposable": True, "force_expose": True}  # fmt: skip
    environment = [{"key": "SEEN_DOMAIN", "value": "${APP_DOMAIN}"},
                   {"key": "SEEN_URL", "value": "${APP_PROTOCOL:-http}://${APP_DOMAIN}"},
                   {"key": "SEEN_HOST", "value": "${APP_HOST}"},
                   {"key": "SEEN_EXPOSED", "value": "${APP_EXPOSED}"}]  # fmt: skip
    compose = {"schemaVersion": 2, "services": [
        {"name": APP, "image": deploy.images.web_v1, "isMain": True, "internalPort": 80,
         "environment": environment}]}  # fmt: skip
    deploy.repo.write(f"apps/{APP}/config.json", json.dumps(config))
    deploy.repo.write(f"apps/{APP}/docker-compose.json", json.dumps(compose))
    deploy.repo.commit()
    report = await deploy.runtime.marketplace.sync_repo(deploy.repo_id)
    assert report.format == "runtipi" and not report.errors, report.errors
    entry = await deploy.runtime.marketplace.get_app(f"{deploy.repo_id}/{APP}")
    assert entry.not_installable is None
    return f"{deploy.repo_id}/{APP}"


def environment_of(container: str) -> dict[str, str]:
    shown = subprocess.run(["docker", "container", "inspect", container, "--format",
                            "{{json .Config.Env}}"], capture_output=True, text=True, check=True)  # fmt: skip
    pairs = (item.partition("=") for item in json.loads(shown.stdout))
    return {name: value for name, _, value in pairs if name.startswith("SEEN_")}


async def test_an_app_served_by_name_only_is_named_under_the_domain_and_told_so(
    proxied: Runtime,  # noqa: F811
    deploy: Deploy,
    ports: tuple[int, int],
) -> None:
    app = await publish_runtipi_app(deploy)

    job = await install(proxied, app, APP)  # no --hostname given

    assert job.status == "done", job.error
    name = f"{APP}.test.lan"
    assert (await proxied.proxy.get_hostnames(APP, None)).hostnames == [name]
    # The test's front door listens on a free port, not 443: the address carries it.
    assert environment_of(APP) == {
        "SEEN_DOMAIN": f"{name}:{ports[1]}", "SEEN_URL": f"https://{name}:{ports[1]}",
        "SEEN_HOST": name, "SEEN_EXPOSED": "true",
    }  # fmt: skip
    root = await proxied.proxy.root_certificate("box")
    answer, _ = await asyncio.to_thread(served, name, ports[1], root)
    assert answer.startswith("HTTP/1.1 200") and "web v1" in answer

    with pytest.raises(InvalidInput) as refused:
        await proxied.proxy.set_hostnames(APP, [], None)
    assert "named-web is served by its name only (its catalog says so): keep at least one " \
           "hostname" in refused.value.message  # fmt: skip
    assert (await proxied.proxy.get_hostnames(APP, None)).hostnames == [name]

    more = await proxied.proxy.set_hostnames(APP, [name, "more.test.lan"], None)
    assert "environment" not in more.said  # the built-ins follow the first name
    other = await proxied.proxy.set_hostnames(APP, ["more.test.lan"], None)
    assert other.said.endswith(  # what its container was told stays as it was, and says so
        "; named-web's environment (TOMO_ADDRESS, TOMO_EXPOSED, TOMO_HOSTNAME, TOMO_SCHEME) "
        "keeps what it was until its next update (tomo update named-web)"
    ), other.said
    assert environment_of(APP)["SEEN_HOST"] == name


async def test_without_a_base_domain_its_preflight_names_the_server_and_the_fix(
    deploy: Deploy,
) -> None:
    app = await publish_runtipi_app(deploy)

    job = await install(deploy.runtime, app, APP)

    assert job.status == "failed"
    assert [s.name for s in job.steps] == ["validate", "preflight"]
    assert job.error is not None
    assert ("named-web is served by its name only (its catalog says so) and server 'box' has "
            "no base domain to name it under: set one (tomo server update box --domain "
            "DOMAIN)") in job.error  # fmt: skip
    assert subprocess.run(["docker", "container", "inspect", APP], capture_output=True,
                          check=False).returncode != 0  # fmt: skip


async def test_an_update_to_a_version_served_by_name_only_needs_a_name_first(
    deploy: Deploy,
) -> None:
    docker = deploy.web_app()
    web = await deploy.publish("web", docker=docker)
    assert (await install(deploy.runtime, web, "web")).status == "done"
    await deploy.publish("web", docker=docker, version="2.0.0", proxy={"hostname": "required"})

    with pytest.raises(InvalidInput) as refused:
        await deploy.runtime.deployment.prepare_update("web")

    assert refused.value.problems[0].fields == ("hostnames",)
    assert "web is served by its name only (its catalog says so) and has no hostname: give " \
           "it one first (tomo hostname add web NAME)" in refused.value.message  # fmt: skip
    installed = await deploy.runtime.deployment.get_installation("web")
    assert (installed.version, installed.status) == ("1.0.0", "running")
