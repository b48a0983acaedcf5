"""Server routes: the fleet, its host keys and health checks. No answer carries a
password, private key or passphrase."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel

from tomo.http.deps import DeploymentDep, ServersDep
from tomo.http.problems import error_responses
from tomo.http.security import PrincipalDep
from tomo.servers.schemas import (
    Fingerprint,
    HostKeyScan,
    PublicKey,
    ServerAdded,
    ServerCreate,
    ServerPublic,
    ServerUpdate,
)
from tomo.servers.swarm import SwarmNode

router = APIRouter(prefix="/servers", tags=["servers"])


class TrustRequest(BaseModel):
    """Sent to trust a server's host key: the fingerprint the user checked."""

    fingerprint: Fingerprint


@router.get("", name="list_servers", responses=error_responses(401))
async def list_servers(servers: ServersDep, deployment: DeploymentDep) -> list[ServerPublic]:
    """Every server, with its status, the facts of its last check and what its
    installations use (as the health monitor last measured it)."""
    return deployment.resources.with_servers(await servers.list_servers())


@router.post("", name="add_server", status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 409, 422, 502, 504))  # fmt: skip
async def add_server(request: ServerCreate, servers: ServersDep) -> ServerAdded:
    """Register a server and read its host key. With `fingerprint` (the one you
    expect) the key is pinned and tomo logs in once; without it, check the key
    shown and trust it (POST …/trust)."""
    return await servers.add_server(request)


@router.get("/{server}", name="get_server", responses=error_responses(401, 404))
async def get_server(server: str, servers: ServersDep, deployment: DeploymentDep) -> ServerPublic:
    """One server, with what its installations use (as last measured)."""
    return deployment.resources.with_servers([await servers.get_server(server)])[0]


@router.patch("/{server}", name="update_server",
              responses=error_responses(401, 403, 404, 409, 422, 502, 504))  # fmt: skip
async def update_server(server: str, changes: ServerUpdate, servers: ServersDep) -> ServerPublic:
    """Change a server; a new host or port must be trusted again. A new login
    (`password`, `private_key` with its `passphrase`, or `generated_key`) is tried
    first on a trusted server: refused, it names the field and the old one stays."""
    return await servers.update_server(server, changes)


@router.delete("/{server}", name="remove_server", responses=error_responses(401, 403, 404, 409))
async def remove_server(server: str, servers: ServersDep, force: bool = False) -> ServerPublic:
    """Forget a server (refused while installations live there, unless `force`)."""
    return await servers.remove_server(server, force=force)


@router.post("/{server}/key-pair", name="generate_key", status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 404))  # fmt: skip
async def generate_key(server: str, servers: ServersDep) -> PublicKey:
    """Make an Ed25519 key pair for the server and answer its public key: add it to
    ~/.ssh/authorized_keys of the server's user, then PATCH the server with
    `generated_key: true` to try it and keep it. Until then (or until tomo restarts)
    the login does not change; the private key is never answered."""
    return await servers.generate_key(server)


@router.get("/{server}/public-key", name="get_public_key", responses=error_responses(401, 404))
async def get_public_key(server: str, servers: ServersDep) -> PublicKey:
    """The public half of tomo's key for the server: the one made by POST …/key-pair
    and not tried yet (`pending`), else the one it logs in with."""
    return await servers.public_key(server)


@router.get("/{server}/host-key", name="scan_host_key",
            responses=error_responses(401, 404, 502, 504))  # fmt: skip
async def scan_host_key(server: str, servers: ServersDep) -> HostKeyScan:
    """The host key the server presents now, beside the pinned one."""
    return await servers.scan_host_key(server)


@router.post("/{server}/trust", name="trust_server",
             responses=error_responses(401, 403, 404, 409, 422, 502, 504))  # fmt: skip
async def trust_server(server: str, request: TrustRequest, servers: ServersDep) -> ServerPublic:
    """Pin the presented host key if it has this fingerprint and tomo can log in."""
    return await servers.trust_server(server, request.fingerprint)


@router.post("/{server}/test", name="test_server",
             responses=error_responses(401, 403, 404, 409, 502, 504))  # fmt: skip
async def test_server(server: str, servers: ServersDep) -> ServerPublic:
    """Log in, refresh the facts and the status."""
    return await servers.test_server(server)


@router.get("/{server}/nodes", name="list_swarm_nodes",
            responses=error_responses(401, 404, 409, 502, 504))  # fmt: skip
async def list_swarm_nodes(
    server: str, servers: ServersDep, principal: PrincipalDep, fresh: bool = False
) -> list[SwarmNode]:
    """The nodes of the Docker Swarm the server manages: role, availability, state,
    architecture, CPUs, memory, labels, engine version. Read from the manager at most
    once every 30 s; `fresh` (an admin's: a viewer's loop must not become SSH calls)
    reads now. 409 on a server that is no Swarm manager."""
    return await servers.swarm_nodes(server, fresh=fresh and principal.role == "admin")
