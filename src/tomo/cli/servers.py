"""`tomo server …`: the fleet, its host keys and health checks."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, read, run
from tomo.cli.output import console, emit, emit_json, err_console, fields
from tomo.cli.output import table as print_table
from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.cli.services import Services
    from tomo.servers.facts import ServerFacts
    from tomo.servers.schemas import HostKeyScan, PublicKey, ServerAdded, ServerPublic, ServerUpdate
    from tomo.servers.swarm import SwarmNode

    NodesRead = tuple[list[SwarmNode] | None, str | None]  # the nodes, or why not

app = typer.Typer(help="Servers tomo deploys to.", no_args_is_help=True)
ServerArg = Annotated[str, typer.Argument(help="Server id or name.")]
KeyOption = Annotated[Path | None, typer.Option("--key", help="Private key file.")]
GenerateKeyOption = Annotated[bool, typer.Option(
    "--generate-key", help="tomo makes an Ed25519 key pair and prints the public key to add.",
)]  # fmt: skip


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the server (its id is derived).")],
    host: Annotated[str, typer.Argument(help="Host name or IP address.")],
    user: Annotated[str, typer.Option("--user", help="SSH user.")],
    port: Annotated[int, typer.Option("--port")] = 22,
    key: KeyOption = None,
    passphrase_stdin: Annotated[bool, typer.Option("--passphrase-stdin")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    generate_key: GenerateKeyOption = False,
    fingerprint: Annotated[
        str | None, typer.Option("--fingerprint", help="SHA256:… to trust.")
    ] = None,
    data_root: Annotated[str, typer.Option("--data-root")] = "/opt/tomo/apps",
    sudo: Annotated[bool, typer.Option("--sudo", help="Run docker through sudo -n.")] = False,
    json_: JsonOption = False,
) -> None:
    """Add a server; its host key is shown and trusted only when you say so. With
    --generate-key, the public key to add to the server is printed first."""
    if (key is not None) + password_stdin + generate_key != 1:
        raise InvalidInput("give --key PATH, --password-stdin or --generate-key (one of them)")
    if passphrase_stdin and key is None:
        raise InvalidInput("--passphrase-stdin goes with --key")
    from pydantic import SecretStr

    from tomo.servers.schemas import ServerCreate

    secret = _stdin_line() if (password_stdin or passphrase_stdin) else None
    request = ServerCreate(
        name=name, host=host, port=port, username=user, fingerprint=fingerprint,
        private_key=SecretStr(_read_key(key)) if key else None,
        passphrase=SecretStr(secret) if passphrase_stdin and secret is not None else None,
        password=SecretStr(secret) if password_stdin and secret is not None else None,
        generate_key=generate_key, data_root=data_root, use_sudo=sudo,
    )  # fmt: skip

    async def action(runtime: Services) -> None:
        # --json is for scripts: nobody answers a prompt there. A generated key is on
        # no server yet: the host key is asked about once it is there.
        confirm = None if json_ or generate_key else functools.partial(_confirm_key, name)
        added = await runtime.servers.add_server(request, confirm=confirm)
        if json_:
            emit_json(added)
            return
        _print_added(added)
        if added.public_key is None:
            return
        server, fingerprint = added.server.id, added.host_key.fingerprint
        if not _key_is_there(added):
            err_console().print(f"Once the line is there, trust its host key and log in: "
                                f"tomo server trust {server} --fingerprint {fingerprint}",
                                markup=False)  # fmt: skip
            return
        trusted = await runtime.servers.trust_server(server, fingerprint)
        err_console().print(f"Trusted {fingerprint} for {server}; {_health(trusted)}",
                            markup=False)  # fmt: skip

    run(ctx, action)


@app.command("trust")
def trust(
    ctx: typer.Context,
    server: ServerArg,
    fingerprint: Annotated[str | None, typer.Option("--fingerprint", help="SHA256:…")] = None,
    json_: JsonOption = False,
) -> None:
    """Trust the server's host key (shown and confirmed, or matching --fingerprint),
    then log in once and record its facts."""

    async def action(runtime: Services) -> ServerPublic:
        expected = fingerprint
        if expected is None:
            expected = _confirmed_fingerprint(await runtime.servers.scan_host_key(server))
        return await runtime.servers.trust_server(server, expected)

    trusted = run(ctx, action)
    emit(
        trusted,
        json_,
        f"Trusted {trusted.host_key_fingerprint} for {trusted.id}; {_health(trusted)}",
    )


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List servers."""
    from tomo.servers import readonly

    servers = read(ctx, readonly.list_servers, lambda runtime: runtime.servers.list_servers())
    if json_:
        emit_json(servers)
        return
    print_table(
        None,
        ["id", "name", "address", "user", "status", "trusted", "arch", "docker", "last seen"],
        [(s.id, s.name, f"{s.host}:{s.port}", s.username, s.status, s.trusted,
          s.facts.architecture if s.facts else None,
          s.facts.docker_version if s.facts else None, s.last_seen) for s in servers],
        empty="No servers yet. Add one with `tomo server add NAME HOST --user USER --key PATH`.",
    )  # fmt: skip


@app.command("show")
def show(ctx: typer.Context, server: ServerArg, json_: JsonOption = False) -> None:
    """Show one server and its last facts; for a Docker Swarm manager, the Swarm's
    nodes as they are now (with --json, under `swarm_nodes`)."""

    async def action(runtime: Services) -> tuple[ServerPublic, NodesRead]:
        found = await runtime.servers.get_server(server)
        return found, await _nodes_of(runtime, found)

    found, (nodes, problem) = run(ctx, action)
    if json_:
        emit_json(_with_nodes(found, nodes, problem))
        return
    _print_server(found)
    _print_nodes(nodes, problem)


async def _nodes_of(runtime: Services, server: ServerPublic) -> NodesRead:
    """A manager's nodes, read now; a failure said in words beside the server."""
    swarm = server.facts.swarm if server.facts else None
    if swarm is None or swarm.role != "manager":
        return None, None
    from tomo.errors import TomoError

    try:
        return await runtime.servers.swarm_nodes(server.id, fresh=True), None
    except TomoError as exc:
        return None, exc.message


def _with_nodes(
    server: ServerPublic, nodes: list[SwarmNode] | None, problem: str | None
) -> dict[str, object]:
    shown: dict[str, object] = server.model_dump(mode="json")
    if nodes is not None or problem is not None:
        shown["swarm_nodes"] = [node.model_dump(mode="json") for node in nodes or []]
        shown["swarm_nodes_problem"] = problem
    return shown


def _print_nodes(nodes: list[SwarmNode] | None, problem: str | None) -> None:
    if problem is not None:
        err_console().print(f"Swarm nodes not read: {problem}", markup=False)
    if nodes is None:
        return
    print_table(
        "Swarm nodes",
        ["node", "role", "availability", "state", "arch", "cpus", "memory", "engine", "labels",
         "attention"],
        [(n.hostname, _role(n), n.availability, n.state, n.architecture, _cpus(n.cpus),
          f"{n.memory_mb} MB" if n.memory_mb is not None else None, n.engine_version,
          " ".join(f"{k}={v}" for k, v in sorted(n.labels.items())) or None, n.trouble)
         for n in nodes],
        empty="The Swarm lists no node.",
    )  # fmt: skip


def _role(node: SwarmNode) -> str:
    if node.role != "manager":
        return node.role
    return "manager (leader)" if node.leader else "manager"


def _cpus(cpus: float | None) -> str | None:
    return None if cpus is None else f"{cpus:g}"


@app.command("test")
def check(ctx: typer.Context, server: ServerArg, json_: JsonOption = False) -> None:
    """Log in, refresh the facts and print them."""
    checked = run(ctx, lambda runtime: runtime.servers.test_server(server))
    emit(checked, json_, lambda: _print_server(checked))


@app.command("containers")
def containers(ctx: typer.Context, server: ServerArg, json_: JsonOption = False) -> None:
    """Containers on the server that tomo did not create, and the catalog apps that
    run their images."""
    found = run(ctx, lambda runtime: runtime.deployment.foreign_containers(server))
    if json_:
        emit_json(found)
        return
    print_table(None, ["name", "image", "status", "ports", "catalog apps"],
                [(c.name, c.image, c.status, c.ports, ", ".join(c.apps) or None)
                 for c in found],
                empty=f"No container on {server} but tomo's own.")  # fmt: skip


@app.command("update")
def update(
    ctx: typer.Context,
    server: ServerArg,
    name: Annotated[str | None, typer.Option("--name")] = None,
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    user: Annotated[str | None, typer.Option("--user")] = None,
    data_root: Annotated[str | None, typer.Option("--data-root")] = None,
    sudo: Annotated[bool | None, typer.Option("--sudo/--no-sudo")] = None,
    key: KeyOption = None,
    passphrase_stdin: Annotated[bool, typer.Option("--passphrase-stdin")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    generate_key: GenerateKeyOption = False,
    domain: Annotated[str | None, typer.Option(
        "--domain", help="The base domain apps are named under ('' for none).")] = None,
    tls: Annotated[str | None, typer.Option(
        "--tls", help="How the front door speaks TLS: internal, acme or off.")] = None,
    acme_ca: Annotated[str | None, typer.Option(
        "--acme-ca", help="With --tls acme: the ACME directory URL (default: public CAs).",
        metavar="URL")] = None,
    acme_email: Annotated[str | None, typer.Option(
        "--acme-email", help="With --tls acme: the ACME account's email.")] = None,
    acme_ca_root: Annotated[str | None, typer.Option(
        "--acme-ca-root", help="With --tls acme: a PEM file of the ACME CA's root certificate, "
        "for a private CA ('' for none).", metavar="FILE")] = None,
    dns_provider: Annotated[str | None, typer.Option(
        "--dns-provider", help="With --tls acme: ACME's DNS-01 challenge through this "
        "provider's API (Caddy's dns.providers.NAME: cloudflare, duckdns, …; '' for HTTP-01).",
        metavar="NAME")] = None,
    dns_credentials_stdin: Annotated[bool, typer.Option(
        "--dns-credentials-stdin", help="Read the DNS provider's fields as KEY=VALUE lines "
        "from standard input (api_token=…); sealed, never shown.")] = False,
    proxy_ports: Annotated[str | None, typer.Option(
        "--proxy-ports", help="The host ports the front door publishes (default 80,443).",
        metavar="HTTP,HTTPS")] = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Change a server; a new host or port must be trusted again. A new login
    (--key, --password-stdin, --generate-key) is tried before it is kept. The
    domain options set its front door (see docs/https-names.md)."""
    if (key is not None) + password_stdin + generate_key > 1:
        raise InvalidInput("give one new login at most: --key PATH, --password-stdin or "
                           "--generate-key")  # fmt: skip
    if dns_credentials_stdin and (password_stdin or passphrase_stdin):
        raise InvalidInput("--dns-credentials-stdin reads standard input too: change the "
                           "login and the DNS credentials one at a time")  # fmt: skip
    if passphrase_stdin and key is None:
        raise InvalidInput("--passphrase-stdin goes with --key")
    if generate_key and not sys.stdin.isatty():
        raise InvalidInput("--generate-key waits for you to add the public key to the "
                           "server: run it on a terminal, or give a key of your own with "
                           "--key")  # fmt: skip
    from pydantic import SecretStr

    from tomo.cli.proxy import AcmeOptions, read_ca_root, read_dns_credentials
    from tomo.servers.schemas import ServerUpdate

    credentials = read_dns_credentials(sys.stdin) if dns_credentials_stdin else None
    acme = AcmeOptions(acme_ca, acme_email, read_ca_root(acme_ca_root), dns_provider, credentials)
    secret = _stdin_line() if (password_stdin or passphrase_stdin) else None
    changes = ServerUpdate(
        name=name, host=host, port=port, username=user, data_root=data_root, use_sudo=sudo,
        private_key=SecretStr(_read_key(key)) if key else None,
        passphrase=SecretStr(secret) if passphrase_stdin and secret is not None else None,
        password=SecretStr(secret) if password_stdin and secret is not None else None,
    )  # fmt: skip

    async def action(runtime: Services) -> ServerPublic:
        wanted = changes
        if generate_key:
            wanted = changes.model_copy(update={"generated_key": True})
            made = await runtime.servers.generate_key(server)
            _print_public_key(made, (await runtime.servers.get_server(server)).host)
            if not typer.confirm("Is the line there? Log in with the new key and keep it",
                                 default=False):  # fmt: skip
                raise InvalidInput("the new key was not tried: you did not confirm; the login "
                                   "did not change")  # fmt: skip
        updated = await runtime.servers.update_server(server, wanted)
        if (domain, tls, proxy_ports) == (None,) * 3 and not acme.given:
            return updated
        from tomo.cli.proxy import set_domain_from_options

        return await set_domain_from_options(runtime, updated.id, domain, tls, acme,
                                             proxy_ports)  # fmt: skip

    updated = run(ctx, action)
    emit(updated, json_, _updated(updated, changes, generate_key))


def _updated(server: ServerPublic, changes: ServerUpdate, generated: bool) -> str:
    if not (changes.changes_login or generated):
        return f"Updated server {server.id}"
    if not server.trusted:
        return (f"Updated server {server.id}; tomo tries its new login once its host key is "
                f"trusted: tomo server trust {server.id}")  # fmt: skip
    return f"Updated server {server.id}; tomo logged in with its new login: {_health(server)}"


@app.command("remove")
def remove(
    ctx: typer.Context,
    server: ServerArg,
    force: Annotated[
        bool, typer.Option("--force", help="Also forget its installations (containers stay).")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Forget a server (nothing on the host is touched)."""
    removed = run(ctx, lambda runtime: runtime.servers.remove_server(server, force=force))
    emit(removed, json_, f"Removed server {removed.id}")


def _print_added(added: ServerAdded) -> None:
    server, presented = added.server, added.host_key.fingerprint
    where = f"{server.host}:{server.port}"
    if added.public_key is not None:
        err_console().print(f"Added server {server.id} ({where}) with a key pair tomo made "
                            "for it.", markup=False)  # fmt: skip
        _print_public_key(added.public_key, server.host)
        return
    if server.trusted:
        err_console().print(f"Added server {server.id} ({where}); {_health(server)}", markup=False)
        return
    err_console().print(f"Added server {server.id} ({where})", markup=False)
    err_console().print(
        f"Host key {presented} is not trusted yet; nothing runs there "
        f"until: tomo server trust {server.id} --fingerprint {presented}",
        markup=False,
    )


def _print_public_key(key: PublicKey, host: str) -> None:
    """The public key on stdout (a script may keep it), what to do with it on stderr."""
    from tomo.servers.keys import authorize_command

    err_console().print(f"Add this line to ~/.ssh/authorized_keys of {key.username} on {host}:",
                        markup=False)  # fmt: skip
    console().print(key.public_key, markup=False, soft_wrap=True)
    example = f"For example, logged in there as {key.username}: "
    err_console().print(example + authorize_command(key.public_key), markup=False, soft_wrap=True)


def _key_is_there(added: ServerAdded) -> bool:
    """On a terminal, once the person has added the public key: trust and log in."""
    if not sys.stdin.isatty():
        return False
    fingerprint, server = added.host_key.fingerprint, added.server.id
    return typer.confirm(f"Is the line there? Trust host key {fingerprint} for {server} and "
                         "log in", default=False)  # fmt: skip


def _health(server: ServerPublic) -> str:
    """One line on what the last login found."""
    facts = server.facts
    if facts is None:
        return server.status
    docker = (
        f"Docker {facts.docker_version}"
        if facts.docker_version
        else f"Docker not usable: {facts.docker_problem}"
    )
    arch = facts.architecture or "unknown architecture"
    said = f"{server.status}: {facts.os or 'unknown OS'}, {arch}, {docker}"
    if facts.swarm is None:
        return said
    from tomo.servers.swarm import swarm_summary

    return f"{said}; {swarm_summary(facts.swarm)}"


def _confirmed_fingerprint(scan: HostKeyScan) -> str:
    """The presented fingerprint, once a person at a terminal has said yes."""
    if not sys.stdin.isatty():  # piped or CI: say how to confirm instead of waiting
        raise InvalidInput(
            "host key not trusted: standard input is not a terminal, so nobody can confirm "
            f"it here. {scan.server_id} presents {scan.fingerprint}{_unlike_pinned(scan)}; if "
            "that is the server's own key (`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on it), "
            f"run: tomo server trust {scan.server_id} --fingerprint {scan.fingerprint}"
        )
    if not _confirm_key(scan.server_id, scan.fingerprint, pinned=scan.pinned_fingerprint):
        raise InvalidInput("host key not trusted: you did not confirm it; nothing changed")
    return scan.fingerprint


def _unlike_pinned(scan: HostKeyScan) -> str:
    if scan.pinned_fingerprint is None or scan.matches_pinned:
        return ""
    return f" (not the pinned {scan.pinned_fingerprint})"


def _confirm_key(server: str, fingerprint: str, pinned: str | None = None) -> bool:
    """Ask on a terminal; never assume consent when nobody can answer."""
    if not sys.stdin.isatty():
        return False
    if pinned and pinned != fingerprint:
        err_console().print(f"WARNING: {server} presents a different key than the pinned {pinned}",
                          markup=False)  # fmt: skip
    return typer.confirm(f"Trust host key {fingerprint} for {server}?", default=False)


def _stdin_line() -> str:
    line = sys.stdin.readline()
    if not line:
        raise InvalidInput("expected the secret on standard input, got nothing")
    return line.rstrip("\r\n")


def _read_key(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"key file {path} is not a text private key") from None


def _print_server(server: ServerPublic) -> None:
    facts = server.facts
    rows: list[tuple[str, object]] = [
        ("id", server.id), ("name", server.name), ("address", f"{server.host}:{server.port}"),
        ("user", server.username), ("login", server.auth_type),
        ("host key", server.host_key_fingerprint or "not trusted"),
        ("data root", server.data_root), ("docker via sudo", server.use_sudo),
        ("status", server.status), ("last error", server.last_error),
        ("last seen", server.last_seen),
    ]  # fmt: skip
    if facts is not None:
        rows += [
            ("os", facts.os), ("kernel", facts.kernel), ("architecture", facts.architecture),
            ("cpus", facts.cpu_count),
            ("memory", f"{facts.memory_available_mb} of {facts.memory_total_mb} MB available"),
            ("disk free", f"{facts.disk_free_mb} MB under {server.data_root}"),
            ("data root writable", facts.data_root_writable),
            ("docker", facts.docker_version), ("docker access", facts.docker_access),
            ("docker runtimes", " ".join(facts.docker_runtimes or []) or None),
            ("docker problem", facts.docker_problem),
            ("swarm", _swarm(facts)),
        ]  # fmt: skip
    fields(rows)
    if facts is not None and facts.docker_problem:
        console().print(f"To fix: {facts.docker_problem}", markup=False)


def _swarm(facts: ServerFacts) -> str:
    from tomo.servers.swarm import swarm_summary

    if facts.swarm is not None:
        return swarm_summary(facts.swarm)
    return "none (a single Docker engine)" if facts.docker_version else "unknown"
