"""What a server's front door serves: routes from hostnames to app containers, and how
it speaks TLS. Built only through FrontDoorConfig, which refuses anything Caddy
should never see (every problem at once, each naming its field).

A hostname is an RFC 1123 name as DNS and certificates take it: lowercase letters,
digits and hyphens, labels of 1-63 characters that neither start nor end with a
hyphen, 253 characters in all, no trailing dot, and a last label that is not all
digits (that would be an IP address). A wildcard (`*.home.example`) only in a
route that asks for one (`wildcard=True`), and never with ACME's HTTP-01 challenge,
which cannot prove one.

A private ACME CA (step-ca, a Caddy `acme_server`, a homelab's own) signs with a root
no trust store has: `acme_ca_root` is its PEM, which Caddy then trusts both for the
CA's own HTTPS and for the certificates it issues.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from tomo.errors import HostnameTaken, InvalidInput, Refusal

TlsMode = Literal["internal", "acme", "off"]
TLS_MODES: tuple[str, ...] = ("internal", "acme", "off")
MAX_HOSTNAME = 253
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# A container name or network alias as Docker takes it (and as Caddy dials it).
CONTAINER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
# A path pattern Caddy's path matcher takes: absolute, no space, control or `%`
# (Caddy compares the decoded path; an escape here would never match).
_PATH = re.compile(r"/[^\s\x00-\x1f\x7f%]{0,255}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
# A root, with an intermediate or two, is a few kilobytes; a bound keeps a pasted
# bundle of a whole trust store (hundreds of kilobytes) out of the database.
MAX_CA_ROOT = 64 * 1024
# A DNS provider's name, and each of its fields' (as Caddy's modules name them).
_DNS_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_DNS_VALUE = 4096


def container_problem(name: str) -> str:
    """Why `name` cannot be an upstream's container or alias ("" when it can).

    Never the front door's own loopback: Caddy's admin API listens there, and a
    route to it would hand the admin API to anyone who asks for that name."""
    if not CONTAINER_NAME.fullmatch(name):
        return "is not a container name (letters, digits, '_', '.', '-'; up to 128)"
    if _loopback(name):
        return "is the front door's own container, not an app's"
    return ""


def _loopback(host: str) -> bool:
    """Whether `host` is the front door's own container as Caddy resolves it."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def hostname_problem(name: str, *, wildcard: bool = False) -> str:
    """Why `name` is not a hostname ("" when it is one)."""
    if not name:
        return "is empty"
    if name != name.lower():
        return "must be lowercase"
    if name.endswith("."):
        return "must not end with a dot"
    if len(name) > MAX_HOSTNAME:
        return f"is {len(name)} characters long; a hostname has at most {MAX_HOSTNAME}"
    labels = name.split(".")
    if labels[0] == "*":
        if not wildcard:
            return "is a wildcard, and this route does not ask for one"
        labels = labels[1:]
        if len(labels) < 2:
            return "is a wildcard over a whole top-level domain"
    if "*" in name.removeprefix("*."):
        return "may hold a wildcard only as its whole first label (*.example.com)"
    for label in labels:
        if not _LABEL.fullmatch(label):
            return _label_problem(label)
    if labels[-1].isdigit():
        return "ends in a number: that is an IP address, not a name"
    return ""


def _label_problem(label: str) -> str:
    if not label:
        return "has an empty label (two dots in a row, or a leading dot)"
    if len(label) > 63:
        return f"has a label of {len(label)} characters; a label has at most 63"
    if label.startswith("-") or label.endswith("-"):
        return f"has a label that starts or ends with a hyphen ({label})"
    return f"may hold only letters, digits, hyphens and dots ({label})"


@dataclass(frozen=True)
class Upstream:
    """Where a route's requests go: a container (or its alias) on the proxy's network."""

    container: str
    port: int
    tls: bool = False  # the app's port speaks HTTPS, with a certificate of its own

    @property
    def dial(self) -> str:
        """As Caddy dials it, and as errors name it."""
        return f"{self.container}:{self.port}"

    def problems(self, at: str) -> Iterator[Refusal]:
        problem = container_problem(self.container)
        if problem:
            yield Refusal(f"'{self.container}' {problem}", (f"{at}.container",))
        if not 1 <= self.port <= 65535:
            yield Refusal(f"port {self.port} is not between 1 and 65535", (f"{at}.port",))


@dataclass(frozen=True)
class ForwardAuth:
    """A login in front of an app: Caddy asks `url` (GET, with the request's method
    and URI in X-Forwarded-Method and X-Forwarded-Uri) before each request. A 2xx
    answer lets the request through, taking the `copy_headers` of that answer
    along; any other answer (401, a redirect to the login page) goes back to the
    client as it is. `open_paths` (Caddy path patterns, `/api/*`) are never asked
    about: an app's own API clients have their own tokens; `closed_paths` are asked
    about even when an open path matches them too (Umbrel's blacklist)."""

    url: str
    open_paths: tuple[str, ...] = ()
    copy_headers: tuple[str, ...] = ()
    closed_paths: tuple[str, ...] = ()

    @property
    def parts(self) -> tuple[str, str, bool]:
        """(host:port to dial, path and query to ask, whether over TLS)."""
        split = urlsplit(self.url)
        tls = split.scheme == "https"
        port = split.port or (443 if tls else 80)
        host = f"[{split.hostname}]" if ":" in (split.hostname or "") else split.hostname
        uri = (split.path or "/") + (f"?{split.query}" if split.query else "")
        return f"{host}:{port}", uri, tls

    def problems(self, at: str) -> Iterator[Refusal]:
        yield from _url_problems(self.url, f"{at}.url", ("http", "https"))
        for kind in ("open_paths", "closed_paths"):
            for index, path in enumerate(getattr(self, kind)):
                if not _PATH.fullmatch(path):
                    yield Refusal(f"'{path}' is not a path pattern (it starts with '/', and "
                                  "holds no space or '%')", (f"{at}.{kind}[{index}]",))  # fmt: skip
        for index, header in enumerate(self.copy_headers):
            if not _HEADER.fullmatch(header):
                yield Refusal(f"'{header}' is not a header name",
                              (f"{at}.copy_headers[{index}]",))  # fmt: skip


def _url_problems(url: str, at: str, schemes: tuple[str, ...]) -> Iterator[Refusal]:
    try:
        split = urlsplit(url)
        split.port  # noqa: B018  raises on a port out of range
    except ValueError as exc:
        yield Refusal(f"'{url}' is not a URL: {exc}", (at,))
        return
    if split.scheme not in schemes or not split.hostname:
        yield Refusal(f"'{url}' is not an {' or '.join(schemes)} URL with a host", (at,))
    elif _loopback(split.hostname):
        yield Refusal(f"'{url}' names the front door's own container: give an address it "
                      "reaches tomo at", (at,))  # fmt: skip
    elif split.username or split.password or split.fragment:
        yield Refusal(f"'{url}' must hold no user, password or #fragment", (at,))
    elif any(c.isspace() or ord(c) < 32 for c in url):
        yield Refusal(f"'{url}' holds a space or a control character", (at,))


@dataclass(frozen=True)
class Route:
    """Requests for any of `hostnames` go to `upstream` (behind a login when `auth`)."""

    hostnames: tuple[str, ...]
    upstream: Upstream
    auth: ForwardAuth | None = None
    wildcard: bool = False  # may a hostname be `*.domain`? (deliberately, never by a typo)

    def problems(self, at: str, *, http_challenge: bool) -> Iterator[Refusal]:
        """Its problems; `http_challenge`: its certificates come by ACME's HTTP-01."""
        if not self.hostnames:
            yield Refusal("a route needs at least one hostname", (f"{at}.hostnames",))
        seen: set[str] = set()
        for index, name in enumerate(self.hostnames):
            field_ = f"{at}.hostnames[{index}]"
            problem = hostname_problem(name, wildcard=self.wildcard)
            if problem:
                yield Refusal(f"hostname '{name}' {problem}", (field_,),
                              suggestion=name.lower().rstrip("."))  # fmt: skip
            elif name in seen:
                yield Refusal(f"hostname '{name}' is listed twice in this route", (field_,))
            elif name.startswith("*.") and http_challenge:
                yield Refusal(f"hostname '{name}' is a wildcard: ACME's HTTP-01 challenge "
                              "cannot prove one (use tls internal, or a DNS provider)",
                              (field_,))  # fmt: skip
            seen.add(name)
        yield from self.upstream.problems(f"{at}.upstream")
        if self.auth is not None:
            yield from self.auth.problems(f"{at}.auth")


@dataclass(frozen=True)
class FrontDoorConfig:
    """Everything a server's front door serves, applied whole. Raises InvalidInput
    (every problem, each naming its field) or HostnameTaken when built wrong."""

    tls: TlsMode = "internal"
    base_domain: str | None = None
    acme_ca: str | None = None  # an ACME directory URL; None: Caddy's public CAs
    acme_email: str | None = None
    acme_ca_root: str | None = None  # PEM: the root(s) of a private ACME CA to trust
    # ACME's DNS-01 challenge through this provider's API (a Caddy module
    # `dns.providers.<name>`, with these of its fields): for names the ACME CA cannot
    # reach. None: HTTP-01.
    dns_provider: str | None = None
    dns_credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    routes: tuple[Route, ...] = field(default=())

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise InvalidInput(problems)
        _refuse_taken(self.routes)

    @property
    def hostnames(self) -> list[str]:
        """Every name served, in route order."""
        return [name for route in self.routes for name in route.hostnames]

    def default_hostname(self, installation: str) -> str:
        """`<installation>.<base domain>`: the name an installation gets unless one
        is chosen; InvalidInput when there is no base domain or no such name."""
        if self.base_domain is None:
            raise InvalidInput(
                [
                    Refusal(
                        "the server has no base domain to name apps under",
                        ("base_domain",),
                        "give it one, or choose a hostname",
                    )
                ]
            )
        name = f"{installation.lower()}.{self.base_domain}"
        problem = hostname_problem(name)
        if problem:
            raise InvalidInput([Refusal(f"hostname '{name}' {problem}", ("hostname",),
                                        "choose a hostname")])  # fmt: skip
        return name

    def _problems(self) -> Iterator[Refusal]:
        if self.tls not in TLS_MODES:
            yield Refusal(f"tls mode '{self.tls}' is not one of {', '.join(TLS_MODES)}", ("tls",))
        if self.base_domain is not None:
            problem = hostname_problem(self.base_domain)
            if problem:
                yield Refusal(f"base domain '{self.base_domain}' {problem}", ("base_domain",))
        yield from self._acme_problems()
        http_challenge = self.tls == "acme" and self.dns_provider is None
        for index, route in enumerate(self.routes):
            yield from route.problems(f"routes[{index}]", http_challenge=http_challenge)

    def _acme_problems(self) -> Iterator[Refusal]:
        settings = (("acme_ca", self.acme_ca), ("acme_email", self.acme_email),
                    ("acme_ca_root", self.acme_ca_root))  # fmt: skip
        for name, value in settings:
            if value is not None and self.tls != "acme":
                yield Refusal(f"{name} is used only with tls acme (not {self.tls})", (name,))
        if self.acme_ca is not None:
            yield from _url_problems(self.acme_ca, "acme_ca", ("https",))
        if self.acme_email is not None and not _EMAIL.fullmatch(self.acme_email):
            yield Refusal(f"'{self.acme_email}' is not an email address", ("acme_email",))
        if self.acme_ca_root is not None:
            problem = ca_root_problem(self.acme_ca_root)
            if problem:
                yield Refusal(f"acme_ca_root {problem}", ("acme_ca_root",))
        yield from self._dns_problems()

    def _dns_problems(self) -> Iterator[Refusal]:
        if self.dns_provider is None:
            if self.dns_credentials:
                yield Refusal("DNS credentials are used only with a DNS provider",
                              ("dns_credentials",))  # fmt: skip
            return
        if self.tls != "acme":
            yield Refusal(f"dns_provider is used only with tls acme (not {self.tls})",
                          ("dns_provider",))  # fmt: skip
        if not _DNS_NAME.fullmatch(self.dns_provider):
            yield Refusal(f"'{self.dns_provider}' is not a DNS provider's name: the last part "
                          "of a Caddy module dns.providers.NAME (lowercase letters, digits "
                          "and '_')", ("dns_provider",))  # fmt: skip
        if not self.dns_credentials:
            yield Refusal(f"the DNS provider {self.dns_provider} needs its credentials (its "
                          "API token, say: api_token=…)", ("dns_credentials",))  # fmt: skip
        for key, value in self.dns_credentials.items():
            if not _DNS_NAME.fullmatch(key) or key == "name":
                yield Refusal(f"'{key}' is not a field of a DNS provider (lowercase letters, "
                              "digits and '_', as the provider's module names them)",
                              ("dns_credentials",))  # fmt: skip
            elif not value or len(value) > MAX_DNS_VALUE or not value.isprintable():
                yield Refusal(f"the value of {key} is empty, too long or holds a control "
                              "character", ("dns_credentials",))  # fmt: skip


def ca_root_problem(pem: str) -> str:
    """Why `pem` is not one or more PEM certificates to trust ("" when it is)."""
    if len(pem) > MAX_CA_ROOT:
        return f"is {len(pem)} characters long; a CA's root certificate has at most {MAX_CA_ROOT}"
    if "PRIVATE KEY-----" in pem:
        return "holds a private key: give only the CA's root certificate"
    if "-----BEGIN CERTIFICATE-----" not in pem:
        return "holds no PEM certificate (-----BEGIN CERTIFICATE----- …): give the CA's root"
    from cryptography import x509  # here: most commands never read a certificate

    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return "holds a PEM certificate that cannot be read (cut short, or changed?)"
    return ""


def _refuse_taken(routes: tuple[Route, ...]) -> None:
    """HostnameTaken for the first name two routes share, naming both upstreams."""
    first: dict[str, Upstream] = {}
    for index, route in enumerate(routes):
        for position, name in enumerate(route.hostnames):  # each once (see Route.problems)
            if name in first:
                field_ = f"routes[{index}].hostnames[{position}]"
                raise HostnameTaken(name, first[name].dial, route.upstream.dial, field_)
            first[name] = route.upstream
