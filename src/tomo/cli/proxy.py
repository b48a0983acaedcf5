"""A server's front door on the command line: `tomo server proxy`, `tomo server
root-cert`, the domain options of `tomo server update`, and `tomo hostname …`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, run
from tomo.cli.output import console, emit, err_console, fields
from tomo.cli.output import table as print_table
from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from tomo.cli.services import Services
    from tomo.proxy.schemas import CertificateShown, InstallationHostnames, ProxyStatus
    from tomo.servers.schemas import ServerPublic

hostnames = typer.Typer(
    help="The names a server's front door routes to an installation.", no_args_is_help=True
)
ServerArg = Annotated[str, typer.Argument(help="Server id or name.")]
InstallationArg = Annotated[
    str, typer.Argument(help="Installation id or instance name.", metavar="INSTALLATION")
]
NamesArg = Annotated[
    list[str],
    typer.Argument(help="Whole names, labels under the server's domain, or 'auto'.",
                   metavar="NAME…"),
]  # fmt: skip
ServerOption = Annotated[
    str | None, typer.Option("--server", help="Server id or name.", metavar="SERVER")
]


@dataclass(frozen=True)
class AcmeOptions:
    """`tomo server update`'s ACME options as given (None: not given; "": cleared)."""

    ca: str | None = None
    email: str | None = None
    ca_root: str | None = None  # the PEM the file held (see read_ca_root)
    dns_provider: str | None = None
    dns_credentials: dict[str, str] | None = None  # read from stdin (read_dns_credentials)

    @property
    def given(self) -> bool:
        return any(value is not None for value in astuple(self))


async def set_domain_from_options(
    runtime: Services, server: str, domain: str | None, tls: str | None,
    acme: AcmeOptions, proxy_ports: str | None,
) -> ServerPublic:  # fmt: skip
    """`tomo server update`'s domain options over what the server has: an option not
    given keeps its value ("" clears the domain, the ACME CA, its root or email, the
    DNS provider); the DNS provider's credentials stay unless new ones are given."""
    from pydantic import SecretStr, ValidationError

    from tomo.cli.install_options import first_error
    from tomo.proxy.schemas import DomainSettings

    now = await runtime.servers.get_server(server)
    http_port, https_port = _ports(proxy_ports)
    mode = tls or now.tls_mode
    kept_acme = mode == "acme"  # another mode drops the ACME settings
    credentials = acme.dns_credentials
    try:
        settings = DomainSettings(
            domain=_given(domain, now.domain), tls=mode,
            acme_ca=_given(acme.ca, now.acme_ca if kept_acme else None),
            acme_email=_given(acme.email, now.acme_email if kept_acme else None),
            acme_ca_root=_given(acme.ca_root, now.acme_ca_root if kept_acme else None),
            dns_provider=_given(acme.dns_provider, now.dns_provider if kept_acme else None),
            dns_credentials=None if credentials is None else {
                key: SecretStr(value) for key, value in credentials.items()},
            http_port=http_port, https_port=https_port,
        )  # fmt: skip
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]).replace("_", "-")
        raise InvalidInput(f"--{field}: {first_error(exc)}") from None
    return await runtime.proxy.set_domain(server, settings)


def read_ca_root(option: str | None) -> str | None:
    """The PEM in the file `--acme-ca-root` names (None: not given, "": cleared);
    InvalidInput naming the file when it cannot be read or is no certificate."""
    if not option:
        return option
    from tomo.proxy.routes import ca_root_problem

    path = Path(option)
    try:
        pem = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--acme-ca-root: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--acme-ca-root: {path} is not text: a DER certificate? (openssl "
                           "x509 -inform der -in FILE makes it PEM)") from None  # fmt: skip
    problem = ca_root_problem(pem)
    if problem:
        raise InvalidInput(f"--acme-ca-root: {path} {problem}")
    return pem


def read_dns_credentials(lines: Iterable[str]) -> dict[str, str]:
    """`--dns-credentials-stdin`: the DNS provider's fields as KEY=VALUE lines (an API
    token never goes on the command line)."""
    from tomo.proxy.schemas import credential_lines

    try:
        return credential_lines(lines)
    except ValueError as exc:
        raise InvalidInput(f"--dns-credentials-stdin: {exc}") from None


def _given(option: str | None, kept: str | None) -> str | None:
    if option is None:
        return kept
    return option or None


def _ports(option: str | None) -> tuple[int | None, int | None]:
    if option is None:
        return None, None
    http, comma, https = option.partition(",")
    if not comma or not http.isdigit() or not https.isdigit():
        raise InvalidInput(f"--proxy-ports {option!r}: expected HTTP,HTTPS (two port numbers)")
    return int(http), int(https)


def proxy(ctx: typer.Context, server: ServerArg, json_: JsonOption = False) -> None:
    """The server's front door: whether it runs, its TLS mode, routes, root
    certificate's expiry and the DNS records to create."""

    async def action(runtime: Services) -> ProxyStatus:
        return await runtime.proxy.status(server)

    found = run(ctx, action)
    emit(found, json_, lambda: _print_status(found))


def _print_status(found: ProxyStatus) -> None:
    state = "running" if found.running else "stopped" if found.exists else "not made yet"
    if found.running and not found.current:
        state += " (not with tomo's current config: `tomo hostname` or a new install applies it)"
    fields([
        ("front door", state), ("image", found.running_image or found.image),
        ("domain", found.domain or "none (hostnames are given whole)"),
        ("tls", found.tls_mode + (f" ({found.acme_ca or 'public CAs'}, {_challenge(found)})"
                                  if found.tls_mode == "acme" else "")),
        ("ports", f"http {found.http_port}, https {found.https_port}"),
        ("root expires", found.root_expires_at.date().isoformat() if found.root_expires_at
         else "-" if found.tls_mode != "internal" else "no root yet"),
    ])  # fmt: skip
    print_table("Routes", ["INSTALLATION", "HOSTNAMES", "UPSTREAM", "LOGIN"],
                [(r.installation, ", ".join(r.hostnames), r.upstream, _login_word(r.login))
                 for r in found.routes],
                empty="No app is routed by name yet.")  # fmt: skip
    if found.tls_mode != "off" and found.routes:
        held = {c.hostname: c for c in found.certificates}
        print_table("Certificates", ["HOSTNAME", "FROM", "EXPIRES"],
                    [(name, *_certificate_words(held.get(name)))
                     for r in found.routes for name in r.hostnames])  # fmt: skip
    if found.dns_records:
        console().print("DNS records to create:", style="bold")
        for record in found.dns_records:
            console().print(f"  {record}", markup=False)


def _challenge(found: ProxyStatus) -> str:
    if found.dns_provider is None:
        return "HTTP-01"
    return f"DNS-01 through {found.dns_provider}"


def root_cert(
    ctx: typer.Context,
    server: ServerArg,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write it to FILE (default: standard output).",
                     metavar="FILE"),
    ] = None,
) -> None:  # fmt: skip
    """The front door's internal root certificate (PEM): trust it to reach the apps
    over HTTPS with tls internal (see docs/https-names.md)."""

    async def action(runtime: Services) -> str:
        return await runtime.proxy.root_certificate(server)

    pem = run(ctx, action)
    if output is None:
        print(pem, end="")
        return
    output.write_text(pem)
    err_console().print(f"Wrote the root certificate of {server}'s front door to {output}",
                        markup=False)  # fmt: skip


@hostnames.command("list")
def list_hostnames(
    ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """The names the front door routes to the installation."""

    async def action(runtime: Services) -> InstallationHostnames:
        return await runtime.proxy.get_hostnames(installation, server)

    found = run(ctx, action)
    emit(found, json_, lambda: _print_names(found))


@hostnames.command("add")
def add_hostnames(
    ctx: typer.Context, installation: InstallationArg, names: NamesArg,
    server: ServerOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    """Route more names to the installation (its others stay)."""
    _change(ctx, installation, server, json_, lambda now: [*now, *names])


@hostnames.command("remove")
def remove_hostnames(
    ctx: typer.Context, installation: InstallationArg, names: NamesArg,
    server: ServerOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    """Route these names to the installation no more."""

    def without(now: list[str]) -> list[str]:
        missing = [name for name in names if name not in now]
        if missing:
            raise InvalidInput(f"{installation} has no hostname {', '.join(missing)} (it has: "
                               f"{', '.join(now) or 'none'})")  # fmt: skip
        return [name for name in now if name not in names]

    _change(ctx, installation, server, json_, without)


def _certificate_words(held: CertificateShown | None) -> tuple[str, str]:
    if held is None:
        return "-", "none yet"
    source = "tomo's CA" if held.issuer == "internal" else "ACME CA"
    return source, held.expires_at.date().isoformat()


def _login_word(login: str | None) -> str:
    from tomo.proxy.schemas import LOGIN_WORDS

    return next(word for word, role in LOGIN_WORDS.items() if role == login)


@hostnames.command("login")
def set_login(
    ctx: typer.Context, installation: InstallationArg,
    who: Annotated[str, typer.Argument(
        metavar="users|admins|off",
        help="Who gets through the front door to the app: anyone signed in to tomo, "
             "tomo's admins, or anyone (no login).")],
    server: ServerOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    """Put tomo's login in front of the installation's names (see docs/https-names.md):
    only signed-in tomo users (or only admins) get through."""
    from tomo.proxy.schemas import LOGIN_WORDS

    if who not in LOGIN_WORDS:
        raise InvalidInput(f"'{who}' is not one of {', '.join(LOGIN_WORDS)}")
    login = LOGIN_WORDS[who]

    async def action(runtime: Services) -> InstallationHostnames:
        return await runtime.proxy.set_login(installation, login, server)

    done = run(ctx, action)
    emit(done, json_, done.said)


def _change(
    ctx: typer.Context, installation: str, server: str | None, json_: bool,
    changed: Callable[[list[str]], list[str]],
) -> None:  # fmt: skip
    async def action(runtime: Services) -> InstallationHostnames:
        now = await runtime.proxy.get_hostnames(installation, server)
        wanted = changed(now.hostnames)
        return await runtime.proxy.set_hostnames(installation, wanted, server)

    done = run(ctx, action)
    emit(done, json_, done.said or f"{done.installation}: {', '.join(done.hostnames)}")


def _print_names(found: InstallationHostnames) -> None:
    if not found.hostnames:
        err_console().print(f"No name is routed to {found.installation}.", markup=False)
    for name in found.hostnames:
        console().print(name, markup=False)
