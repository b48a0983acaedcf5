"""Which tags float, how a reference names its registry, and the registry client
against real registries on loopback: the test registry (no login), one with Docker
Hub's token flow and one with Basic logins (tests/updates/registries.py)."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from tests.registry import Registry, TestImages
from tests.services import free_port
from tests.updates.registries import FloatingTag, basic_registry, token_registry
from tomo.updates.registry import (
    DOCKER_HUB,
    ImageName,
    RegistryClient,
    RegistryError,
    is_floating_tag,
    is_loopback,
    logins_in,
    parse_image,
)


@pytest.mark.parametrize("tag", ["latest", "16", "16.2", "stable", "alpine", "16-alpine",
                                 "edge", "v2", "lts", "2024.06"])  # fmt: skip
def test_tags_that_may_name_another_image_tomorrow_float(tag: str) -> None:
    assert is_floating_tag(tag)


@pytest.mark.parametrize("tag", ["1.2.3", "v1.2.3", "1.2.3-alpine", "2024.06.1", "10.1.2-ls45",
                                 "1.2.3.4", "7.2.4+build5"])  # fmt: skip
def test_tags_that_name_a_full_release_are_fixed(tag: str) -> None:
    assert not is_floating_tag(tag)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("redis", ImageName(DOCKER_HUB, "library/redis", None, None)),
        ("redis:7", ImageName(DOCKER_HUB, "library/redis", "7", None)),
        ("docker.io/library/redis:7", ImageName(DOCKER_HUB, "library/redis", "7", None)),
        ("index.docker.io/grafana/grafana", ImageName(DOCKER_HUB, "grafana/grafana", None, None)),
        ("grafana/grafana:latest", ImageName(DOCKER_HUB, "grafana/grafana", "latest", None)),
        ("ghcr.io/home-assistant/home-assistant:stable",
         ImageName("ghcr.io", "home-assistant/home-assistant", "stable", None)),
        ("localhost/app:1", ImageName("localhost", "app", "1", None)),
        ("127.0.0.1:5000/tomo-test/web:1", ImageName("127.0.0.1:5000", "tomo-test/web", "1", None)),
        ("redis:7@sha256:" + "a" * 64, ImageName(DOCKER_HUB, "library/redis", "7", "sha256:" + "a" * 64)),
    ],
)  # fmt: skip
def test_a_reference_names_its_registry_as_docker_reads_it(
    reference: str, expected: ImageName
) -> None:
    assert parse_image(reference) == expected


def test_an_image_pinned_by_digest_never_floats() -> None:
    assert parse_image("redis:latest").floating
    assert parse_image("redis").floating  # no tag: Docker's `latest`
    assert not parse_image("redis:7.2.4").floating
    assert not parse_image("redis@sha256:" + "b" * 64).floating
    assert not parse_image("redis:latest@sha256:" + "b" * 64).floating


def test_plain_http_is_for_loopback_registries_only() -> None:
    assert all(map(is_loopback, ["127.0.0.1:5000", "localhost:5000", "localhost", "[::1]:5000",
                                 "127.8.9.10"]))  # fmt: skip
    assert not any(map(is_loopback, ["ghcr.io", DOCKER_HUB, "10.0.0.5:5000", "my.host:5000"]))


def test_the_logins_docker_keeps_are_read_by_registry() -> None:
    config = json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubber:pa:ss").decode()},
        "ghcr.io": {"username": "octo", "password": "ghp_x"},
        "127.0.0.1:5000": {"auth": "not base64!"},
        "quay.io": {},  # kept by a credential helper: not in the file
    }, "credsStore": "desktop"})  # fmt: skip
    assert logins_in(config) == {DOCKER_HUB: ("hubber", "pa:ss"), "ghcr.io": ("octo", "ghp_x")}
    assert logins_in("") == logins_in("not json") == logins_in("[]") == {}


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real transport (real requests to the registry), counting what it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return await super().handle_async_request(request)


async def test_a_tag_pushed_again_names_its_new_image(floating: FloatingTag) -> None:
    first = floating.push(floating.images.web_v1)
    sent = CountingTransport()
    async with RegistryClient(transport=sent) as client:
        assert await client.digest(floating.reference) == first
        second = floating.push(floating.images.web_v2)
        # One question per image and check: the same client keeps its answer.
        assert await client.digest(floating.reference) == first
    assert second != first
    assert sent.sent == [("HEAD", f"/v2/{floating.repository}/manifests/latest")]
    async with RegistryClient() as client:  # the next check
        assert await client.digest(floating.reference) == second


async def test_concurrent_questions_about_one_image_are_one_request(
    floating: FloatingTag,
) -> None:
    digest = floating.push(floating.images.web_v1)
    sent = CountingTransport()
    async with RegistryClient(transport=sent) as client:
        answers = await asyncio.gather(*(client.digest(floating.reference) for _ in range(5)))
    assert answers == [digest] * 5
    assert len(sent.sent) == 1


async def test_a_tag_the_registry_lacks_and_a_registry_that_is_down_say_why(
    registry: Registry, images: TestImages
) -> None:
    async with RegistryClient(timeout=2) as client:
        with pytest.raises(RegistryError) as lacking:
            await client.digest(f"{registry.address}/tomo-test/web:nope")
        assert lacking.value.reason == f"{registry.address} has no tomo-test/web:nope (HTTP 404)"
        with pytest.raises(RegistryError) as down:
            await client.digest(f"127.0.0.1:{free_port()}/tomo-test/web:latest")
        assert "did not answer" in down.value.reason


async def test_a_registry_that_asks_for_a_token_gets_an_anonymous_one(
    registry: Registry, floating: FloatingTag
) -> None:
    digest = floating.push(floating.images.web_v1)
    with token_registry(registry) as (address, tokens):
        reference = f"{address}/{floating.repository}:latest"
        # Without a token, the registry refuses with a Bearer challenge, as Docker Hub does.
        async with httpx.AsyncClient() as plain:
            refused = await plain.head(
                f"http://{address}/v2/{floating.repository}/manifests/latest"
            )
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer realm=")

        async with RegistryClient() as client:
            assert await client.digest(reference) == digest
            assert await client.digest(reference) == digest  # asked once
    (asked,) = tokens.requests
    assert asked == {"service": "tomo-test-registry", "authorization": None,
                     "scope": f"repository:{floating.repository}:pull"}  # fmt: skip


async def test_a_registry_that_asks_for_a_basic_login_gets_the_credentials(
    registry: Registry, floating: FloatingTag
) -> None:
    digest = floating.push(floating.images.web_v1)
    with basic_registry(registry, "reader", "s3cret") as address:
        reference = f"{address}/{floating.repository}:latest"
        async with RegistryClient() as client:
            assert await client.digest(reference, ("reader", "s3cret")) == digest
            with pytest.raises(RegistryError) as anonymous:
                await client.digest(reference)
            assert anonymous.value.reason == (
                f"{address} asks for a login, and none is known for it"
            )
            with pytest.raises(RegistryError) as wrong:
                await client.digest(reference, ("reader", "wrong"))
            assert "refused the login" in wrong.value.reason
