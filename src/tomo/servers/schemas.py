"""What the servers feature's faces send and receive. Secrets go in, never out."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tomo.deployment.schemas import ResourceUse
from tomo.marketplace.fields import check_absolute_path
from tomo.servers.facts import ServerFacts
from tomo.slugs import SLUG

if TYPE_CHECKING:
    from tomo.servers.models import Server

_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")  # fmt: skip
_USERNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")

AuthType = Literal["key", "password"]


def check_host(value: str) -> str:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(value):
        raise ValueError(f"'{value}' is not a host name or IP address")
    return value


def check_username(value: str) -> str:
    if not _USERNAME.fullmatch(value):
        raise ValueError(f"'{value}' is not a valid user name")
    return value


def check_fingerprint(value: str) -> str:
    value = value.strip()
    if not _FINGERPRINT.fullmatch(value):
        raise ValueError(f"'{value}' is not a SHA256 fingerprint (SHA256:<43 base64 characters>)")
    return value.rstrip("=")


def _documented(regex: re.Pattern[str]) -> Any:
    """The OpenAPI pattern of a field whose validator gives the message."""
    return Field(json_schema_extra={"pattern": f"^{regex.pattern}$"})


Host = Annotated[str, AfterValidator(check_host), Field(min_length=1, max_length=255)]
Username = Annotated[str, AfterValidator(check_username), _documented(_USERNAME)]
Fingerprint = Annotated[str, AfterValidator(check_fingerprint), _documented(_FINGERPRINT)]
DataRoot = Annotated[str, AfterValidator(check_absolute_path), _documented(re.compile("/.*"))]
Port = Annotated[int, Field(ge=1, le=65535)]


ONE_LOGIN = "one_login"  # the error type of a server given no way, or two, to log in


class ServerCreate(BaseModel):
    """Sent to add a server: one way to log in (a private key, a password, or a key
    pair tomo generates), optionally the expected host key."""

    name: str = Field(min_length=1, max_length=128)
    host: Host
    port: Port = 22
    username: Username
    private_key: SecretStr | None = None
    passphrase: SecretStr | None = None
    password: SecretStr | None = None
    generate_key: bool = False
    fingerprint: Fingerprint | None = None
    data_root: DataRoot = "/opt/tomo/apps"
    use_sudo: bool = False
    id: Annotated[str | None, _documented(SLUG)] = None

    @model_validator(mode="after")
    def _one_login(self) -> ServerCreate:
        if _ways_to_log_in(self.private_key, self.password, self.generate_key) != 1:
            raise PydanticCustomError(ONE_LOGIN, "give a private key, a password or generate_key "
                                                 "(one of them)")  # fmt: skip
        _check_passphrase(self.passphrase, self.private_key)
        return self

    @field_validator("fingerprint")
    @classmethod
    def _not_with_a_new_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Pinning needs a login, and a key made now is on no server yet.
        if value is not None and info.data.get("generate_key"):
            raise ValueError("trust the host key once the generated public key is on the server")
        return value


def _ways_to_log_in(private_key: object, password: object, generated: bool | None) -> int:
    return (private_key is not None) + (password is not None) + bool(generated)


def _check_passphrase(passphrase: object, private_key: object) -> None:
    if passphrase is not None and private_key is None:
        raise ValueError("a passphrase goes with a private key")


class ServerUpdate(BaseModel):
    """Sent to change a server; absent fields stay as they are. A new login (a
    private key, a password, or the key pair made by POST …/key-pair) is tried
    first on a trusted server, and refused if the server refuses it."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    host: Host | None = None
    port: Port | None = None
    username: Username | None = None
    data_root: DataRoot | None = None
    use_sudo: bool | None = None
    private_key: SecretStr | None = None
    passphrase: SecretStr | None = None
    password: SecretStr | None = None
    generated_key: bool | None = None

    @model_validator(mode="after")
    def _one_login(self) -> ServerUpdate:
        if _ways_to_log_in(self.private_key, self.password, self.generated_key) > 1:
            raise PydanticCustomError(ONE_LOGIN, "give one new login at most: a private key, "
                                                 "a password or generated_key")  # fmt: skip
        _check_passphrase(self.passphrase, self.private_key)
        return self

    @property
    def changes_login(self) -> bool:
        return _ways_to_log_in(self.private_key, self.password, self.generated_key) == 1

    @property
    def moves(self) -> bool:
        """A new address: another machine until its host key is trusted again."""
        return self.host is not None or self.port is not None


class ServerResources(BaseModel):
    """What a server has, and what its installations use (see monitor/stats.py)."""

    cpu_count: int  # its whole CPU is 100 times this, in ResourceUse's percent
    memory_total_bytes: int
    installations: int  # measured
    used: ResourceUse  # the sum over its installations


class ServerPublic(BaseModel):
    """A server as every face shows it: no credential, ever."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    host: str
    port: int
    username: str
    auth_type: AuthType
    host_key_fingerprint: str | None
    trusted: bool
    data_root: str
    use_sudo: bool
    status: Literal["unknown", "online", "offline", "error"]
    last_error: str | None
    last_seen: datetime | None
    facts: ServerFacts | None
    facts_at: datetime | None
    # Its front door (see tomo.proxy): the base domain apps are named under, the TLS
    # mode, the ACME CA and email, and the host ports it publishes.
    domain: str | None = None
    tls_mode: Literal["internal", "acme", "off"] = "internal"
    acme_ca: str | None = None
    acme_email: str | None = None
    acme_ca_root: str | None = None  # PEM: a private ACME CA's root
    # ACME's DNS-01 challenge through this provider; its credentials are never shown,
    # only whether it has them.
    dns_provider: str | None = None
    dns_credentials_set: bool = False
    proxy_http_port: int = 80
    proxy_https_port: int = 443
    # As the health monitor's last pass measured it; None: not measured yet (or
    # not asked: the list and the one server's read of the API fill it).
    resources: ServerResources | None = None


def public(server: Server) -> ServerPublic:
    """A server's row as every face shows it (here, light, so that the CLI's quick
    path shows a row sqlite3 read the same way: see tomo.servers.readonly)."""
    return ServerPublic(
        id=server.id, name=server.name, host=server.host, port=server.port,
        username=server.username, auth_type=server.auth_type,
        host_key_fingerprint=server.host_key_fingerprint, trusted=server.host_key is not None,
        data_root=server.data_root, use_sudo=server.use_sudo,
        status=server.status,
        last_error=server.last_error, last_seen=server.last_seen,
        facts=ServerFacts.model_validate(server.facts) if server.facts else None,
        facts_at=server.facts_at, domain=server.domain, tls_mode=server.tls_mode or "internal",
        acme_ca=server.acme_ca, acme_email=server.acme_email,
        acme_ca_root=server.acme_ca_root, dns_provider=server.dns_provider,
        dns_credentials_set=server.dns_credentials_enc is not None,
        proxy_http_port=server.proxy_http_port or 80,
        proxy_https_port=server.proxy_https_port or 443,
    )  # fmt: skip


class HostKeyScan(BaseModel):
    """The key a server presents now, compared with the pinned one."""

    server_id: str
    fingerprint: str
    algorithm: str
    pinned_fingerprint: str | None
    matches_pinned: bool


class PublicKey(BaseModel):
    """The public half of tomo's key for a server: the line to add to
    ~/.ssh/authorized_keys of `username` there. `pending`: made by POST …/key-pair
    and not used yet (PATCH the server with `generated_key` to try it and keep it);
    otherwise the key tomo logs in with now."""

    server_id: str
    username: str
    public_key: str
    fingerprint: str
    pending: bool


class ServerAdded(BaseModel):
    """The new server, the host key it presented and, when tomo generated the key
    pair, the public key to add to the server before trusting its host key."""

    server: ServerPublic
    host_key: HostKeyScan
    public_key: PublicKey | None = None
