"""ACME against a real ACME server: a second container of the test Caddy image runs
Caddy's `acme_server` (a private CA with its own root) on the front door's network.
The front door dials the CA by its alias there and trusts it through `acme_ca_root`;
the CA reaches the routed name on the front door's port 80 (HTTP-01) through an
/etc/hosts entry (`--add-host NAME:<the front door's address>`)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import ssl
import subprocess
import tarfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.cli.tomo_cli import Tomo
from tests.conftest import RUN_LABEL
from tests.deployment.conftest import Deploy, tomo  # noqa: F401 - a fixture
from tests.proxy.test_cli import curl
from tests.proxy.test_door import plain_get
from tests.proxy.test_routes import root_pem
from tests.services import free_port
from tomo.deployment.spec import InstallConfig
from tomo.proxy.door import CONTAINER, NETWORK, FrontDoor
from tomo.proxy.schemas import DomainSettings
from tomo.runtime import open_runtime

CA_CONTAINER = "tomo-test-acme-ca"
CA_HOST = "ca.acme.test"  # its alias on the front door's network
CA_NAME = "tomo test ACME CA"  # its root's name; the intermediate is "<name> - ECC Intermediate"
DIRECTORY = f"https://{CA_HOST}/acme/local/directory"
NOWHERE = f"https://{CA_HOST}:1/directory"  # the CA's host, where nothing listens
CA_ROOT = "/data/caddy/pki/authorities/local/root.crt"
NAMES = ("web.acme.test", "more.acme.test")  # what the CA resolves to the front door
WAIT_SECONDS = 20.0  # for the CA to make its root and answer


@dataclass(frozen=True)
class AcmeCa:
    root: str  # PEM
    root_file: Path


def docker(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The test engine's docker (the server's: both are this host's engine)."""
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, timeout=120,
                          check=False)  # fmt: skip


def ca_config() -> dict[str, object]:
    """Caddy as an ACME CA: `acme_server` at https://CA_HOST/acme/local/, its own site's
    certificate from its own internal CA (the root the front door must trust)."""
    return {
        "storage": {"module": "file_system", "root": "/data/caddy"},
        "apps": {
            "http": {"servers": {"ca": {"listen": [":443"], "routes": [{
                "match": [{"host": [CA_HOST]}], "handle": [{"handler": "acme_server"}]}]}}},
            "tls": {"automation": {"policies": [{
                "subjects": [CA_HOST], "issuers": [{"module": "internal"}]}]}},
            "pki": {"certificate_authorities": {"local": {
                "name": CA_NAME, "install_trust": False}}},
        },
    }  # fmt: skip


def one_file_tar(name: str, content: bytes) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return archive.getvalue()


def ca_root() -> str | None:
    """The CA's root (PEM) once Caddy has made it."""
    copied = docker("container", "cp", f"{CA_CONTAINER}:{CA_ROOT}", "-")
    if copied.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as tar:
        member = tar.extractfile("root.crt")
        return member.read().decode() if member else None


def ca_answers(port: int, root: str) -> bool:
    """Whether the CA's directory answers over TLS checked against its root."""
    context = ssl.create_default_context(cadata=root)
    request = f"GET /acme/local/directory HTTP/1.1\r\nHost: {CA_HOST}\r\nConnection: close\r\n\r\n"
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=CA_HOST) as tls,
        ):
            tls.sendall(request.encode())
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
    except (OSError, ssl.SSLError):
        return False
    return b"newOrder" in received


def started_ca(image: str, door_address: str) -> str:
    """The CA container, started and answering: its root."""
    hosts = [item for name in NAMES for item in ("--add-host", f"{name}:{door_address}")]
    port = free_port()  # published only to see when it answers
    made = docker("container", "create", "--name", CA_CONTAINER,
                  "--label", f"tomo.owner={RUN_LABEL}", "--network", NETWORK,
                  "--network-alias", CA_HOST, *hosts, "--publish", f"127.0.0.1:{port}:443",
                  "--env", "XDG_DATA_HOME=/data", "--env", "XDG_CONFIG_HOME=/data/config",
                  "--entrypoint", "caddy", image, "run", "--config", "/data/ca.json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    config = one_file_tar("ca.json", json.dumps(ca_config()).encode())
    copied = docker("container", "cp", "-", f"{CA_CONTAINER}:/data", stdin=config)
    assert copied.returncode == 0, copied.stderr
    assert docker("container", "start", CA_CONTAINER).returncode == 0
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        root = ca_root()
        if root is not None and ca_answers(port, root):
            return root
        time.sleep(0.2)
    logs = docker("container", "logs", "--tail", "20", CA_CONTAINER).stderr.decode()
    raise AssertionError(f"the ACME CA did not answer within {WAIT_SECONDS} s:\n{logs}")


def door_address() -> str:
    """The front door's address on its network, where the CA sends HTTP-01's request."""
    shown = docker("container", "inspect", "--format",
                   f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}', CONTAINER)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.decode().strip()


@pytest.fixture
async def acme_ca(
    door: FrontDoor, deploy: Deploy, caddy_image: str, ports: tuple[int, int], tmp_path: Path
) -> AsyncIterator[AcmeCa]:
    """A private ACME CA beside the server's front door, made first (as tomo makes
    it, on the test's ports) so that the CA knows the front door's address."""
    await door.ensure(caddy_image, deploy.runtime.settings.publish_address, *ports)
    try:
        root = await asyncio.to_thread(started_ca, caddy_image, door_address())
        root_file = tmp_path / "acme-root.crt"
        root_file.write_text(root)
        yield AcmeCa(root, root_file)
    finally:
        docker("container", "rm", "--force", CA_CONTAINER)


def issuer_of(name: str, port: int, root: str) -> str:
    """The common name of who signed the certificate NAME is served with on
    127.0.0.1:PORT (the chain checked against `root` only)."""
    context = ssl.create_default_context(cadata=root)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    issuer = x509.load_der_x509_certificate(der).issuer
    return str(issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


async def test_a_private_acme_ca_signs_the_certificate_of_an_installed_apps_name(
    tomo: Tomo,  # noqa: F811
    deploy: Deploy, caddy_image: str, acme_ca: AcmeCa, ports: tuple[int, int], tmp_path: Path,
) -> None:  # fmt: skip
    tomo.env["TOMO_PROXY_IMAGE"] = caddy_image
    http, https = ports
    name = NAMES[0]
    app = await deploy.publish("web", docker=deploy.web_app())
    with_key = tmp_path / "with-key.pem"
    with_key.write_text(
        f"{acme_ca.root}-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----\n"
    )
    refused = tomo.error("server", "update", "box", "--tls", "acme", "--acme-ca-root",
                         str(with_key), expect=2)  # fmt: skip
    assert refused == (f"error: --acme-ca-root: {with_key} holds a private key: give only the "
                       "CA's root certificate")  # fmt: skip
    tomo.run("server", "update", "box", "--tls", "acme", "--acme-ca", DIRECTORY,
             "--acme-ca-root", str(acme_ca.root_file), "--proxy-ports", f"{http},{https}")  # fmt: skip

    installed = tomo.run("install", "--server", "box", app, "--name", "web", "--hostname", name)

    said = installed.stderr + installed.stdout
    assert f"routed https://{name} to web:80 through the front door" in said
    assert "certificate" not in said, said
    fetched = curl(name, https, acme_ca.root_file)
    assert fetched.returncode == 0, fetched.stderr
    assert "web v1" in fetched.stdout
    issuer = await asyncio.to_thread(issuer_of, name, https, acme_ca.root)
    assert issuer == f"{CA_NAME} - ECC Intermediate"  # not the front door's own CA
    server = json.loads(tomo.run("server", "show", "box", "--json").stdout)
    assert (server["tls_mode"], server["acme_ca"]) == ("acme", DIRECTORY)
    assert server["acme_ca_root"] == acme_ca.root
    assert json.loads(tomo.run("server", "proxy", "box", "--json").stdout)["current"] is True


async def test_a_certificate_not_obtained_is_said_with_caddys_reason(
    deploy: Deploy, caddy_image: str, acme_ca: AcmeCa, ports: tuple[int, int]
) -> None:
    settings = deploy.runtime.settings.model_copy(update={"proxy_image": caddy_image})
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port))
    wrong = DomainSettings(tls="acme", acme_ca=DIRECTORY, acme_ca_root=root_pem("Not the CA"),
                           http_port=ports[0], https_port=ports[1])  # fmt: skip
    async with open_runtime(settings) as runtime:
        await runtime.proxy.set_domain("box", wrong)
        started = await runtime.deployment.install_app(
            "box", app, InstallConfig(name="web", hostnames=[NAMES[0]])
        )
        job = await runtime.deployment.run_job(started.job_id)
        # A CA nothing answers at: refused at once (a name nobody resolves may wait
        # on the host's resolvers past the wait, where there is no internet).
        nowhere = wrong.model_copy(update={"acme_ca": NOWHERE, "acme_ca_root": acme_ca.root})
        await runtime.proxy.set_domain("box", nowhere)
        changed = await runtime.proxy.set_hostnames("web", list(NAMES), None)

    assert job.status == "done", job.error
    said = job.summary[-1]
    assert said.startswith(f"routed https://{NAMES[0]} to web:80 through the front door; "
                           f"the certificate for {NAMES[0]} was not obtained: "), said  # fmt: skip
    assert "x509: certificate signed by unknown authority" in said
    assert said.endswith("(Caddy tries again later); web still answers on its ports")
    assert "web v1" in await asyncio.to_thread(plain_get, "anything", port)
    parts = changed.said.split("; the certificate for ")[1:]
    said_of = dict(part.split(" ", 1) for part in parts)  # name -> what is said of it
    assert list(said_of) == list(NAMES)
    # The name new to this config is asked of the new CA at once. The other one Caddy
    # may not ask again within the wait (it backs off after failures): then it is
    # said to be still asking. Never the old CA's failure, nor an attempt the change
    # stopped ("context canceled").
    fresh = said_of[NAMES[1]]
    assert fresh.startswith("was not obtained: ") and "connection refused" in fresh, fresh
    assert f'Get "{NOWHERE}"' in fresh
    for text in said_of.values():
        assert DIRECTORY not in text and "unknown authority" not in text, text
        assert "context canceled" not in text, text
        assert "connection refused" in text or text.startswith(
            "is not there after 30 s (Caddy is still asking"
        ), text
    assert "web v1" in await asyncio.to_thread(plain_get, "anything", port)
