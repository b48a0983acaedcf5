"""The front door on a real server: Caddy (Debian's binary, in an image pulled from the
test registry) in front of busybox web apps, reached over TLS on loopback ports."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
import urllib.request
from typing import Any

import pytest

from tests.conftest import RUN_LABEL
from tests.deployment.conftest import Deploy
from tests.services import free_port
from tomo.errors import CommandFailed, FrontDoorFailed, InvalidInput
from tomo.proxy.door import CONTAINER, NETWORK, VOLUME, FrontDoor, app_network
from tomo.proxy.routes import FrontDoorConfig, Route, Upstream

WAIT_SECONDS = 15.0  # for a name to be served once its config runs


def route(name: str, app: str) -> Route:
    return Route((name,), Upstream(app, 80))


def https_get(name: str, port: int, root: str) -> tuple[str, list[str]]:
    """GET / from NAME on 127.0.0.1:PORT over TLS trusting only `root`, the server's
    certificate checked for NAME: the answer, and the names the certificate is for."""
    context = ssl.create_default_context(cadata=root)
    request = f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        tls.sendall(request)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
        certificate = tls.getpeercert() or {}
    alternatives: Any = certificate.get("subjectAltName", ())
    names = [str(value) for _, value in alternatives]
    return received.decode(errors="replace"), names


def served(name: str, port: int, root: str) -> tuple[str, list[str]]:
    """https_get, tried again until WAIT_SECONDS have passed (Caddy signs a new name's
    certificate just after its config runs); the last failure when it never answers."""
    deadline = time.monotonic() + WAIT_SECONDS
    for _ in range(int(WAIT_SECONDS / 0.1)):
        try:
            return https_get(name, port, root)
        except (OSError, ssl.SSLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return https_get(name, port, root)


def tls_handshake(port: int) -> None:
    """A TLS handshake with whatever answers on the port, trusting anything."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        context.wrap_socket(raw, server_hostname="plain.lan").close()


def plain_get(name: str, port: int) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": name})
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


async def start_app(door: FrontDoor, name: str, image: str) -> str:
    """A busybox httpd container, joined to the front door's network as `name`."""
    await door.docker.run(["container", "run", "--detach", "--name", name,
                           "--label", f"tomo.owner={RUN_LABEL}", image], time_limit=120)  # fmt: skip
    await door.connect(name, name)
    return name


@pytest.fixture
async def running(
    door: FrontDoor, deploy: Deploy, caddy_image: str, ports: tuple[int, int]
) -> FrontDoor:
    """The front door made on 127.0.0.1, with one app (`first`, page "web v1") on
    its network."""
    await door.ensure(caddy_image, "127.0.0.1", *ports)
    await start_app(door, "first", deploy.images.web_v1)
    return door


async def test_an_app_is_served_by_name_with_a_certificate_for_that_name(
    running: FrontDoor, ports: tuple[int, int]
) -> None:
    config = FrontDoorConfig(routes=(route("photos.home.example", "first"),))
    await running.apply(config)
    root = await running.root_certificate()

    answer, names = await asyncio.to_thread(served, "photos.home.example", ports[1], root)

    assert answer.startswith("HTTP/1.1 200"), answer
    assert "web v1" in answer
    assert names == ["photos.home.example"]
    assert "BEGIN CERTIFICATE" in root
    status = await running.status()
    assert status.running and status.applies(config)


async def test_a_second_route_is_added_while_the_first_keeps_answering(
    running: FrontDoor, deploy: Deploy, ports: tuple[int, int]
) -> None:
    first = route("one.lan", "first")
    await running.apply(FrontDoorConfig(routes=(first,)))
    root = await running.root_certificate()
    await asyncio.to_thread(served, "one.lan", ports[1], root)
    await start_app(running, "second", deploy.images.web_v2)
    answers: list[str] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set() and len(answers) < 10_000:
            try:
                answers.append(https_get("one.lan", ports[1], root)[0])
            except (OSError, ssl.SSLError) as exc:
                failures.append(exc)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        await asyncio.sleep(0.3)
        began = time.monotonic()
        await running.apply(FrontDoorConfig(routes=(first, route("two.lan", "second"))))
        second, _ = await asyncio.to_thread(served, "two.lan", ports[1], root)
        live = time.monotonic() - began
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.to_thread(asker.join, 30)

    assert "web v2" in second
    # The issue asks for 1 s (0.3 s here, idle); a loaded CI machine gets some slack.
    assert live < 3, f"the new route was live {live:.2f} s after apply began"
    assert failures == []
    assert len(answers) > 5 and all("web v1" in answer for answer in answers)


async def test_a_config_caddy_refuses_leaves_the_running_one_serving(
    running: FrontDoor, ports: tuple[int, int]
) -> None:
    config = FrontDoorConfig(routes=(route("kept.lan", "first"),))
    await running.apply(config)
    root = await running.root_certificate()
    refused = {"apps": {"http": {"servers": {"tomo": {"listen": [":443"], "routes": [
        {"handle": [{"handler": "no_such_handler"}]}]}}}}}  # fmt: skip

    with pytest.raises(FrontDoorFailed) as caught:
        await running.apply_document(refused)

    assert "unknown module: http.handlers.no_such_handler" in caught.value.message
    assert caught.value.message.startswith("box: Caddy refused the config")
    answer, _ = await asyncio.to_thread(served, "kept.lan", ports[1], root)
    assert "web v1" in answer
    assert (await running.status()).applies(config)


async def test_the_root_and_the_routes_survive_a_restart_and_a_new_container(
    running: FrontDoor, caddy_image: str, ports: tuple[int, int]
) -> None:
    config = FrontDoorConfig(routes=(route("kept.lan", "first"),))
    await running.apply(config)
    root = await running.root_certificate()
    await running.docker.run(["container", "restart", CONTAINER])

    assert "web v1" in (await asyncio.to_thread(served, "kept.lan", ports[1], root))[0]
    assert await running.root_certificate() == root
    await running.docker.run(["container", "stop", CONTAINER])
    stopped = await running.status()
    assert (stopped.exists, stopped.running, stopped.applies(config)) == (True, False, True)
    with pytest.raises(
        FrontDoorFailed, match=r"^box: the front door \(tomo-proxy\) is exited, not running"
    ):
        await running.apply(config)
    await running.ensure(caddy_image, "127.0.0.1", *ports)  # as it was: started again
    assert "web v1" in (await asyncio.to_thread(served, "kept.lan", ports[1], root))[0]
    moved = (free_port(), free_port())
    await running.ensure(caddy_image, "127.0.0.1", *moved)  # other ports: made anew
    assert await running.root_certificate() == root
    assert "web v1" in (await asyncio.to_thread(served, "kept.lan", moved[1], root))[0]
    assert (await running.status()).applies(config)


async def test_an_app_off_the_network_is_unreachable_until_connected_again(
    running: FrontDoor, ports: tuple[int, int]
) -> None:
    await running.apply(FrontDoorConfig(routes=(route("app.lan", "first"),)))
    root = await running.root_certificate()
    await asyncio.to_thread(served, "app.lan", ports[1], root)

    await running.disconnect("first")
    await running.disconnect("first")  # not on it: nothing to do
    assert await running.docker.network_owner(app_network("first")) is None
    assert (await asyncio.to_thread(https_get, "app.lan", ports[1], root))[0].startswith(
        "HTTP/1.1 502"
    )
    await running.connect("first", "first")
    await running.connect("first", "first")  # there already
    assert "web v1" in (await asyncio.to_thread(https_get, "app.lan", ports[1], root))[0]


async def test_a_network_of_that_name_that_tomo_did_not_make_is_left_alone(
    running: FrontDoor,
) -> None:
    await running.disconnect("first")
    theirs = app_network("first")
    await running.docker.run(["network", "create", "--label", f"tomo.owner={RUN_LABEL}", theirs])
    try:
        with pytest.raises(FrontDoorFailed, match=f"network {theirs} is there and is not"):
            await running.connect("first", "first")
        await running.disconnect("first")
        assert await running.docker.network_owner(theirs) == ""  # still there
    finally:
        await running.docker.run(["network", "rm", theirs])


async def networks_of(door: FrontDoor, container: str) -> set[str]:
    args = ["container", "inspect", "--format",
            "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}", container]  # fmt: skip
    return set((await door.docker.run(args)).split())


async def address_on(door: FrontDoor, container: str, network: str) -> str:
    args = ["container", "inspect", "--format",
            f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}', container]  # fmt: skip
    return (await door.docker.run(args)).strip()


# busybox's wget there, given up after 3 s (its own -T crashes in the test image).
FETCH = 'wget -q -O- "$0" & fetching=$!; (sleep 3; kill $fetching) 2>/dev/null & wait $fetching'


async def fetch_from(door: FrontDoor, container: str, url: str) -> tuple[int, str]:
    """What `container` gets from `url` (wget's exit code and page or complaint)."""
    args = ["container", "exec", container, "sh", "-c", FETCH, url]
    result = await door.docker.ssh.run_docker(door.docker.target, args, check=False)
    return result.exit_code, result.stdout + result.stderr


async def test_each_app_shares_a_network_with_the_front_door_alone(
    running: FrontDoor, deploy: Deploy, ports: tuple[int, int]
) -> None:
    """An app's container reaches no other app's by its name or its address there,
    only through the front door like anyone; one that an older tomo left on the
    front door's own network (where every app reached every other) is taken off it."""
    await running.docker.run(["container", "run", "--detach", "--name", "second",
                              "--label", f"tomo.owner={RUN_LABEL}", deploy.images.web_v2],
                             time_limit=120)  # fmt: skip
    await running.docker.run(["network", "connect", "--alias", "second", NETWORK, "second"])
    await running.connect("second", "second")
    await running.apply(FrontDoorConfig(routes=(route("one.lan", "first"),
                                                route("two.lan", "second"))))  # fmt: skip
    root = await running.root_certificate()

    assert "web v1" in (await asyncio.to_thread(served, "one.lan", ports[1], root))[0]
    assert "web v2" in (await asyncio.to_thread(served, "two.lan", ports[1], root))[0]
    assert await networks_of(running, "first") == {"bridge", app_network("first")}
    assert await networks_of(running, "second") == {"bridge", app_network("second")}
    assert {NETWORK, app_network("first"), app_network("second")} <= await networks_of(
        running, CONTAINER
    )
    door_side = await address_on(running, "second", app_network("second"))
    for url in ("http://second/", f"http://{door_side}/"):
        code, said = await fetch_from(running, "first", url)
        assert code != 0 and "web v2" not in said, (url, said)
    # The check can tell: on its own network, the app is reached by its name.
    assert await fetch_from(running, "first", "http://first/") == (0, "web v1\n")


async def test_tls_off_serves_plain_http(running: FrontDoor, ports: tuple[int, int]) -> None:
    await running.apply(FrontDoorConfig(tls="off", routes=(route("plain.lan", "first"),)))

    assert "web v1" in await asyncio.to_thread(plain_get, "plain.lan", ports[0])
    with pytest.raises((ssl.SSLError, ConnectionError)):  # no TLS behind the HTTPS port
        await asyncio.to_thread(tls_handshake, ports[1])


async def test_remove_leaves_nothing_and_the_volume_only_when_asked(
    running: FrontDoor,
) -> None:
    await running.remove()

    assert not (await running.status()).exists
    assert await running.docker.network_owner(NETWORK) is None
    assert await running.docker.network_owner(app_network("first")) is None
    assert await running.docker.volume_exists(VOLUME)
    await running.remove(with_volume=True)
    assert not await running.docker.volume_exists(VOLUME)
    with pytest.raises(FrontDoorFailed, match="there is no front door"):
        await running.apply(FrontDoorConfig())
    await running.remove()  # nothing there: nothing to do


async def test_a_port_taken_is_refused_and_leaves_no_container(
    door: FrontDoor, caddy_image: str, busy_port: int
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await door.ensure("--privileged", "localhost", 8080, 8080)
    assert [p.fields for p in refused.value.problems] == [
        ("image",),
        ("publish_address",),
        ("https_port",),
    ]
    with pytest.raises(InvalidInput, match="'-x' is not a container name"):
        await door.connect("-x", "x")
    with pytest.raises(CommandFailed) as caught:
        await door.ensure(caddy_image, "127.0.0.1", busy_port, free_port())

    assert str(busy_port) in caught.value.message
    assert not (await door.status()).exists
