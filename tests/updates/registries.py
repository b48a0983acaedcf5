"""A floating tag moved by real pushes, and registries that ask for a login, each a real `docker-registry` serving the test
registry's storage: one with Docker Hub's token flow (`auth: token`, its tokens
made by a small token service here, signed with a test key the registry trusts
through `rootcertbundle`), one with `Basic` logins (`auth: htpasswd`)."""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.registry import Registry, TestImages
from tests.services import free_port

SERVICE = "tomo-test-registry"
ISSUER = "tomo-test-tokens"


class FloatingTag:
    """`<registry>/tomo-test/floating-<random>:latest`, pointed at one test image or
    another by a real `docker push` (each test its own repository)."""

    def __init__(self, registry: Registry, images: TestImages, tag: str = "latest") -> None:
        self.images = images
        self.repository = f"tomo-test/floating-{uuid.uuid4().hex[:8]}"
        self.reference = f"{registry.address}/{self.repository}:{tag}"

    def push(self, source: str) -> str:
        """Point the tag at `source` (one of the test images); the digest it names now."""
        _docker("pull", "-q", source)
        _docker("tag", source, self.reference)
        pushed = _docker("push", self.reference)
        (digest,) = [word for line in pushed.splitlines() if "digest: " in line
                     for word in line.split() if word.startswith("sha256:")]  # fmt: skip
        return digest


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


@dataclass
class TokenService:
    """Gives any asker a token for the scope asked (pull or push), as Docker Hub gives
    anonymous pulls of public images; remembers each request."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    requests: list[dict[str, Any]] = field(default_factory=list)

    def token(self, scope: str) -> str:
        kind, name, actions = scope.split(":") if scope.count(":") == 2 else ("", "", "")
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex,
                  "access": [{"type": kind, "name": name, "actions": actions.split(",")}]}  # fmt: skip
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _key_and_certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, certificate


@contextlib.contextmanager
def token_service() -> Iterator[tuple[TokenService, str]]:
    """The service and its realm's URL, on loopback."""
    service = TokenService(*_key_and_certificate())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            service.requests.append({**query, "authorization": self.headers.get("Authorization")})
            token = service.token(query.get("scope", ""))
            body = json.dumps({"token": token, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield service, f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def guarded_registry(storage: Registry, auth: str) -> Iterator[str]:
    """A registry over `storage`'s images with `auth` (its config's `auth:` section,
    indented): its address."""
    root = Path(tempfile.mkdtemp(prefix="tomo-guarded-registry-"))
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {storage.root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\nauth:\n{auth}"
    )
    binary = shutil.which("docker-registry") or "docker-registry"
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for(f"http://127.0.0.1:{port}/v2/")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (401: it asks for a login, as configured)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the registry did not start")


@contextlib.contextmanager
def token_registry(storage: Registry) -> Iterator[tuple[str, TokenService]]:
    """A registry with Docker Hub's token flow, and its token service."""
    with token_service() as (service, realm), tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder) / "tokens.pem"
        bundle.write_bytes(service.certificate.public_bytes(serialization.Encoding.PEM))
        auth = (f"  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
                f"    rootcertbundle: {bundle}\n")  # fmt: skip
        with guarded_registry(storage, auth) as address:
            yield address, service


@contextlib.contextmanager
def docker_login(user: str, registry: str, login: str, password: str) -> Iterator[None]:
    """The login `docker login` would keep for `user` (in ~/.docker/config.json, as
    plain `auth`), the user's own file put back afterwards."""
    folder = Path(pwd.getpwnam(user).pw_dir) / ".docker"
    config = folder / "config.json"
    before = config.read_bytes() if config.exists() else None
    folder.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{login}:{password}".encode()).decode()
    config.write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    for path in (folder, config):
        shutil.chown(path, user=user)
    try:
        yield
    finally:
        if before is None:
            config.unlink()
        else:
            config.write_bytes(before)


@contextlib.contextmanager
def basic_registry(storage: Registry, user: str, password: str) -> Iterator[str]:
    """A registry that takes one Basic login."""
    with tempfile.TemporaryDirectory() as folder:
        users = Path(folder) / "htpasswd"
        users.write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}\n")
        auth = f"  htpasswd:\n    realm: tomo-test\n    path: {users}\n"
        with guarded_registry(storage, auth) as address:
            yield address
