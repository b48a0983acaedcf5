"""What the front door's faces send and receive: a server's domain settings, the
front door's status, an installation's hostnames. Light (pydantic only): the CLI's
client imports it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

AUTO = "auto"  # the hostname `<installation>.<domain>`
Login = Literal["viewer", "admin"]  # the role an app's login asks for at least
# The words users give for a login (`tomo hostname login`, `tomo install --login`).
LOGIN_WORDS: dict[str, Login | None] = {"users": "viewer", "admins": "admin", "off": None}
LoginWord = Literal["users", "admins", "off"]
WHO_GETS_THROUGH: dict[str, str] = {"viewer": "signed-in tomo users", "admin": "tomo's admins"}


def login_word(chosen: LoginWord | None, *, definition_asks: bool) -> LoginWord:
    """The login in front of a new installation's names: as chosen at its install,
    else as its definition asks (any signed-in tomo user), else none."""
    if chosen is not None:
        return chosen
    return "users" if definition_asks else "off"


def login_said(word: LoginWord) -> str:
    """Who a login word lets through, in words."""
    role = LOGIN_WORDS[word]
    return f"only {WHO_GETS_THROUGH[role]} get through" if role else "no login in front of it"


def credential_lines(lines: Iterable[str]) -> dict[str, str]:
    """A DNS provider's fields written as KEY=VALUE lines (blank ones skipped);
    ValueError naming the line (never its value) when one is not."""
    found: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        key, equals, value = line.rstrip("\r\n").partition("=")
        if not equals or not key.strip():
            raise ValueError(f"line {number} is not KEY=VALUE (api_token=…, say)")
        found[key.strip()] = value
    if not found:
        raise ValueError("no KEY=VALUE line")
    return found


class DomainSettings(BaseModel):
    """Sent to set how a server's front door names apps and speaks TLS. `domain`: the
    base domain apps are named under (None: names are given whole); `tls`: internal
    (Caddy's own CA), acme (a public or private ACME CA, HTTP-01) or off (plain
    HTTP); the ports the front door publishes (absent: as they are)."""

    domain: str | None = Field(default=None, max_length=253)
    tls: Literal["internal", "acme", "off"] = "internal"
    acme_ca: str | None = Field(default=None, max_length=2000)
    acme_email: str | None = Field(default=None, max_length=320)
    # PEM: a private ACME CA's root certificate for the front door to trust.
    acme_ca_root: str | None = Field(default=None, max_length=65536)
    # ACME's DNS-01 challenge, for names the ACME CA cannot reach: the provider (a
    # Caddy module `dns.providers.<name>` the front door's image holds; None: HTTP-01)
    # and its fields (`api_token`, say). Credentials None: those kept for the same
    # provider stay. Sealed by tomo, never shown again.
    dns_provider: str | None = Field(default=None, max_length=64)
    dns_credentials: dict[str, SecretStr] | None = Field(default=None, max_length=16)
    http_port: int | None = Field(default=None, ge=1, le=65535)
    https_port: int | None = Field(default=None, ge=1, le=65535)


class CertificateShown(BaseModel):
    """The certificate the front door holds for a name (as its storage has it)."""

    hostname: str
    issuer: Literal["internal", "acme"]  # tomo's own CA, or an ACME CA
    expires_at: datetime


class ProxyRoute(BaseModel):
    """One installation's names and where the front door sends them."""

    installation_id: str
    installation: str
    hostnames: list[str]
    upstream: str  # container:port on the front door's network
    # The role a tomo user needs to get through (None: no login in front of it).
    login: Literal["viewer", "admin"] | None = None


class ProxyStatus(BaseModel):
    """A server's front door: its settings, the container as Docker sees it, the
    routes tomo gives it, its internal root's expiry and the DNS records to make."""

    server_id: str
    domain: str | None
    tls_mode: Literal["internal", "acme", "off"]
    acme_ca: str | None
    acme_email: str | None
    dns_provider: str | None  # ACME's DNS-01 challenge through it (None: HTTP-01)
    http_port: int
    https_port: int
    image: str  # the one tomo runs it from (TOMO_PROXY_IMAGE)
    exists: bool
    running: bool
    running_image: str | None
    # Whether it runs exactly the config tomo makes from its records now.
    current: bool
    routes: list[ProxyRoute]
    root_expires_at: datetime | None  # tls internal: the root clients trust; None: none yet
    dns_records: list[str]  # "*.home.example A 192.0.2.10", one a line
    # The certificates it holds for the routed names (a name without one: none yet).
    certificates: list[CertificateShown] = []
    # When exists, running, running_image, current and root_expires_at were read from
    # the server (tomo reads a front door at most every 30 s; a change reads it anew).
    checked_at: datetime


class HostnamesChange(BaseModel):
    """Sent to set an installation's hostnames (all of them; [] removes its routes):
    each a whole name, a single label (named under the server's domain) or "auto"."""

    hostnames: list[str] = Field(max_length=16)


class LoginChange(BaseModel):
    """Sent to ask for a tomo login in front of an installation's names: the role a
    user needs at least (viewer: anyone signed in), or null for none."""

    login: Literal["viewer", "admin"] | None


class InstallationHostnames(BaseModel):
    """An installation's hostnames, and what the last change did."""

    installation_id: str
    installation: str
    server_id: str
    hostnames: list[str]
    # The role a tomo user needs to get through the front door to it (None: no login).
    login: Literal["viewer", "admin"] | None = None
    said: str = ""


def hostnames_under(given: list[str], installation: str, domain: str | None) -> list[str]:
    """The names `given` asks for: "auto" is `<installation>.<domain>` and a single
    label goes under the domain; without a domain they stay as given (for the check
    to refuse). Each once, in the order given."""
    if domain is None:
        return list(dict.fromkeys(given))
    named = [
        f"{installation.lower()}.{domain}"
        if name == AUTO
        else name
        if "." in name or not name
        else f"{name}.{domain}"
        for name in given
    ]
    return list(dict.fromkeys(named))
