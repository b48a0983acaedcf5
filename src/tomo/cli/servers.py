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
    from tomo.servers.schemas import HostKeyScan, ServerAdded, ServerPublic

app = typer.Typer(help="Servers tomo deploys to.", no_args_is_help=True)
ServerArg = Annotated[str, typer.Argument(help="Server id or name.")]


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the server (its id is derived).")],
    host: Annotated[str, typer.Argument(help="Host name or IP address.")],
    user: Annotated[str, typer.Option("--user", help="SSH user.")],
    port: Annotated[int, typer.Option("--port")] = 22,
    key: Annotated[Path | None, typer.Option("--key", help="Private key file.")] = None,
    passphrase_stdin: Annotated[bool, typer.Option("--passphrase-stdin")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    fingerprint: Annotated[
        str | None, typer.Option("--fingerprint", help="SHA256:… to trust.")
    ] = None,
    data_root: Annotated[str, typer.Option("--data-root")] = "/opt/tomo/apps",
    sudo: Annotated[bool, typer.Option("--sudo", help="Run docker through sudo -n.")] = False,
    json_: JsonOption = False,
) -> None:
    """Add a server; its host key is shown and trusted only when you say so."""
    if (key is None) == (not password_stdin):
        raise InvalidInput("give --key PATH or --password-stdin (one of them)")
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
        data_root=data_root, use_sudo=sudo,
    )  # fmt: skip

    async def action(runtime: Services) -> None:
        # --json is for scripts: nobody answers a prompt there.
        confirm = None if json_ else functools.partial(_confirm_key, name)
        added = await runtime.servers.add_server(request, confirm=confirm)
        if json_:
            emit_json(added)
        else:
            _print_added(added)

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
    """Show one server and its last facts."""
    found = run(ctx, lambda runtime: runtime.servers.get_server(server))
    emit(found, json_, lambda: _print_server(found))


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
    json_: JsonOption = False,
) -> None:
    """Change a server; a new host or port must be trusted again."""
    from tomo.servers.schemas import ServerUpdate

    changes = ServerUpdate(name=name, host=host, port=port, username=user, data_root=data_root,
                           use_sudo=sudo)  # fmt: skip
    updated = run(ctx, lambda runtime: runtime.servers.update_server(server, changes))
    emit(updated, json_, f"Updated server {updated.id}")


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
    if server.trusted:
        err_console().print(f"Added server {server.id} ({where}); {_health(server)}", markup=False)
        return
    err_console().print(f"Added server {server.id} ({where})", markup=False)
    err_console().print(
        f"Host key {presented} is not trusted yet; nothing runs there "
        f"until: tomo server trust {server.id} --fingerprint {presented}",
        markup=False,
    )


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
    return f"{server.status}: {facts.os or 'unknown OS'}, {arch}, {docker}"


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
        ]  # fmt: skip
    fields(rows)
    if facts is not None and facts.docker_problem:
        console().print(f"To fix: {facts.docker_problem}", markup=False)
