"""Which digest an image registry gives a tag now (the Registry HTTP API V2).

Which tags float: a tag that can name another image tomorrow without anyone
changing the catalog. A tag is taken as fixed when it names a full release,
three numbers or more (`1.2.3`, `v1.2.3-alpine`, `2024.06.1`, `10.1.2-ls45`);
every other tag floats (`latest`, `16`, `16.2`, `16-alpine`, `stable`, `alpine`,
`edge`), and so does a reference without a tag (Docker reads it as `latest`).
An image pinned by digest (`redis@sha256:…`, `redis:7@sha256:…`) never moves
and is never asked about.

The question is one `HEAD /v2/<name>/manifests/<tag>` accepting an OCI index,
a Docker manifest list, an OCI manifest and a Docker v2 manifest (the digest a
multi-platform image was pulled by is its index's, as Docker records it); its
`Docker-Content-Digest` is the answer, or the sha256 of the manifest when a
registry leaves that header out (then a GET). A registry that answers 401 with
a `Bearer` challenge gets a token from the realm it names (anonymous, or with
the credentials given: Docker Hub's flow); one with a `Basic` challenge gets the
credentials, when there are any.

Docker's naming: `redis` is `registry-1.docker.io` and `library/redis`; a first
part with a dot or a port, or `localhost`, is a registry. Plain HTTP only for
loopback registries (as Docker allows them); HTTPS everywhere else.

One RegistryClient per check: each image is asked once however many
installations run it (registries limit requests: Docker Hub counts them per
address), and each token is fetched once. A HEAD is the lightest question there
is; a 429 (too many requests) is reported with the wait the registry asks for.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from tomo.lazy import lazy_import
from tomo.marketplace.definition import IMAGE_REFERENCE

if TYPE_CHECKING:
    import httpx
else:  # loaded when a registry is first asked: httpx brings its own CLI (rich, pygments)
    httpx = lazy_import("httpx")

DOCKER_HUB = "registry-1.docker.io"
_HUB_NAMES = ("docker.io", "index.docker.io", DOCKER_HUB)
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
TIMEOUT_SECONDS = 10.0
_FIXED_RELEASE = re.compile(r"v?\d+\.\d+\.\d+(?:[.\-+_~].*)?", re.IGNORECASE)
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]*))')

Credentials = tuple[str, str]  # user name, password (or token)
TokenKey = tuple[str, str, str, Credentials | None]  # realm, service, scope, credentials


class RegistryError(Exception):
    """Why a registry gave no digest (a sentence, shown as the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageName:
    """An image reference as a registry reads it."""

    registry: str  # host[:port]; Docker Hub's is registry-1.docker.io
    repository: str  # `library/redis`, `tomo-test/web`
    tag: str | None
    digest: str | None

    @property
    def floating(self) -> bool:
        """Whether the tag may name another image later (see the module's docstring)."""
        return self.digest is None and is_floating_tag(self.tag or "latest")

    @property
    def repo(self) -> str:
        """Registry and repository: what two references of one image share."""
        return f"{self.registry}/{self.repository}"


def parse_image(reference: str) -> ImageName:
    """Docker's reading of a reference; ValueError for one that is not a reference."""
    match = IMAGE_REFERENCE.fullmatch(reference.strip())
    if match is None:
        raise ValueError(f"'{reference}' is not an image reference")
    first, _, rest = match["name"].partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, match["name"]
    if registry in _HUB_NAMES:
        registry = DOCKER_HUB
        path = path if "/" in path else f"library/{path}"
    return ImageName(registry, path, match["tag"], match["digest"])


def logins_in(docker_config: str) -> dict[str, Credentials]:
    """registry -> the login Docker keeps for it in a `config.json` (`auths`: `auth`,
    base64 of `user:password`, or `username` and `password`); a login kept by a
    credential helper is not in the file, and a file that does not read gives none."""
    try:
        auths = json.loads(docker_config or "{}").get("auths") or {}
    except (ValueError, AttributeError):
        return {}
    logins = {}
    for key, entry in auths.items() if isinstance(auths, dict) else ():
        login = _login(entry) if isinstance(entry, dict) else None
        if login is not None:
            logins[_registry_of(str(key))] = login
    return logins


def _login(entry: dict[str, Any]) -> Credentials | None:
    if entry.get("username") and entry.get("password"):
        return str(entry["username"]), str(entry["password"])
    try:
        decoded = base64.b64decode(str(entry.get("auth") or "")).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon and user else None


def _registry_of(key: str) -> str:
    """`https://index.docker.io/v1/` -> registry-1.docker.io; `https://ghcr.io` -> ghcr.io."""
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return DOCKER_HUB if host in _HUB_NAMES else host


def is_floating_tag(tag: str) -> bool:
    """`latest`, `16`, `16.2`, `stable`: yes; `1.2.3`, `v2.0.1-alpine`: no."""
    return _FIXED_RELEASE.fullmatch(tag) is None


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RegistryClient:
    """Asks registries for tags' digests, each (image, credentials) once."""

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport,
                                       follow_redirects=True)  # fmt: skip
        self._asked: dict[tuple[str, Credentials | None], asyncio.Task[str]] = {}
        self._tokens: dict[TokenKey, str] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def digest(self, reference: str, credentials: Credentials | None = None) -> str:
        """The digest the reference's tag names now; RegistryError saying why not.
        Asked once per client: a second call (even a concurrent one) shares the answer."""
        image = parse_image(reference)
        key = (f"{image.repo}:{image.tag or 'latest'}", credentials)
        if key not in self._asked:
            self._asked[key] = asyncio.ensure_future(self._digest(image, credentials))
        return await asyncio.shield(self._asked[key])

    async def _digest(self, image: ImageName, credentials: Credentials | None) -> str:
        scheme = "http" if is_loopback(image.registry) else "https"
        url = (f"{scheme}://{image.registry}/v2/{image.repository}"
               f"/manifests/{image.tag or 'latest'}")  # fmt: skip
        try:
            response = await self._ask("HEAD", url, image, credentials)
            if response.status_code == 200 and "docker-content-digest" not in response.headers:
                response = await self._ask("GET", url, image, credentials)
                return "sha256:" + hashlib.sha256(response.content).hexdigest()
        except httpx.HTTPError as exc:
            raise RegistryError(f"{image.registry} did not answer: {_said(exc)}") from None
        return response.headers["docker-content-digest"]

    async def _ask(self, method: str, url: str, image: ImageName,
                   credentials: Credentials | None) -> httpx.Response:  # fmt: skip
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response = await self._http.request(method, url, headers=headers)
        if response.status_code == 401:
            headers["Authorization"] = await self._authorization(response, image, credentials)
            response = await self._http.request(method, url, headers=headers)
        _check(response, image)
        return response

    async def _authorization(self, refused: httpx.Response, image: ImageName,
                             credentials: Credentials | None) -> str:  # fmt: skip
        scheme, params = _challenge(refused.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if credentials is None:
                raise RegistryError(f"{image.registry} asks for a login, and none is known for it")
            return _basic(credentials)
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"{image.registry} refused the request (HTTP 401) without a "
                                "way to log in that tomo knows")  # fmt: skip
        scope = params.get("scope") or f"repository:{image.repository}:pull"
        key = (params["realm"], params.get("service", ""), scope, credentials)
        return f"Bearer {await self._token(key, image)}"

    async def _token(self, key: TokenKey, image: ImageName) -> str:
        """A token from the realm (anonymous, or with the credentials), once per client."""
        realm, service, scope, credentials = key
        if key not in self._tokens:
            query = {"scope": scope, **({"service": service} if service else {})}
            auth = {"Authorization": _basic(credentials)} if credentials else {}
            answer = await self._http.get(realm, params=query, headers=auth)
            if answer.status_code != 200:
                raise RegistryError(f"{image.registry}'s token service ({realm}) refused "
                                    f"a token (HTTP {answer.status_code})")  # fmt: skip
            token = _token_in(answer)
            if not token:
                raise RegistryError(f"{image.registry}'s token service ({realm}) gave no token")
            self._tokens[key] = str(token)
        return self._tokens[key]


def _basic(credentials: Credentials) -> str:
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _token_in(answer: httpx.Response) -> str | None:
    """The token of a token service's JSON answer (`token`, or OAuth's `access_token`)."""
    try:
        body = answer.json()
    except ValueError:
        return None
    token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
    return str(token) if token else None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): m[2] or m[3] for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def _check(response: httpx.Response, image: ImageName) -> None:
    status = response.status_code
    tag = f"{image.repository}:{image.tag or 'latest'}"
    if status == 200:
        return
    if status == 404:
        raise RegistryError(f"{image.registry} has no {tag} (HTTP 404)")
    if status == 401:
        raise RegistryError(f"{image.registry} refused the login for {tag} (HTTP 401)")
    if status == 429:
        wait = response.headers.get("retry-after")
        later = f"; it asks to wait {wait}s" if wait else ""
        raise RegistryError(f"{image.registry} limits requests now (HTTP 429){later}")
    raise RegistryError(f"{image.registry} answered HTTP {status} for {tag}")


def _said(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__
