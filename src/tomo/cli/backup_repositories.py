"""`tomo backup repository add|list|default|remove|password`: where backups go (see
tomo/backups/repositories.py)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, run
from tomo.cli.output import emit, fields, table
from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.backups.schemas import RepositoryCreate, RepositoryPublic

app = typer.Typer(help="Backup repositories: a folder on tomo's host or on a server, or S3.",
                  no_args_is_help=True)  # fmt: skip
NameArg = Annotated[str, typer.Argument(help="The repository's name.", metavar="NAME")]
SECRET_VARIABLE = "TOMO_S3_SECRET_ACCESS_KEY"  # noqa: S105 - a variable's name


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    server: Annotated[str | None, typer.Option(
        "--server", help="A server tomo manages (key login) that holds the folder.")] = None,
    path: Annotated[str | None, typer.Option(
        "--path", help="The folder: on --server, or else on tomo's host.")] = None,
    s3: Annotated[str | None, typer.Option(
        "--s3", metavar="URL", help="S3-compatible storage: http(s)://HOST[:PORT]/BUCKET[/PREFIX].",
    )] = None,
    access_key_id: Annotated[str | None, typer.Option("--access-key-id")] = None,
    secret_stdin: Annotated[bool, typer.Option(
        "--secret-access-key-stdin",
        help=f"Read the S3 secret key from standard input (else from ${SECRET_VARIABLE}).",
    )] = False,
    region: Annotated[str | None, typer.Option("--region", help="The S3 region.")] = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Make a repository (restic init) and add it. Its password is made by tomo and
    kept sealed; `tomo state export` carries it."""
    request = _request(name, server, path, s3, access_key_id, secret_stdin, region)
    added = run(ctx, lambda runtime: runtime.backups.add_repository(request))
    emit(added, json_, lambda: _details(added))


def _request(
    name: str, server: str | None, path: str | None, s3: str | None,
    access_key_id: str | None, secret_stdin: bool, region: str | None,
) -> RepositoryCreate:  # fmt: skip
    from pydantic import SecretStr

    from tomo.backups.schemas import RepositoryCreate

    if s3 is None and (access_key_id or secret_stdin or region):
        raise InvalidInput("--access-key-id, --secret-access-key-stdin and --region go with --s3")
    if s3 is not None and (server or path):
        raise InvalidInput("--s3: give --s3 or --path (with --server), not both")
    if s3 is None and path is None:
        raise InvalidInput("--path: give --path (with --server for a folder on a server), "
                           "or --s3 URL")  # fmt: skip
    secret = None
    if s3 is not None:
        given = _stdin_line() if secret_stdin else os.environ.get(SECRET_VARIABLE)
        if not access_key_id or not given:
            raise InvalidInput(
                f"--access-key-id: S3 storage needs --access-key-id and the "
                f"secret key (--secret-access-key-stdin or ${SECRET_VARIABLE})"
            )
        secret = SecretStr(given)
    return RepositoryCreate(name=name, server=server, path=path, url=s3,
                            access_key_id=access_key_id, secret_access_key=secret,
                            region=region)  # fmt: skip


def _stdin_line() -> str:
    import sys

    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput("--secret-access-key-stdin: expected the secret key on standard "
                           "input, got nothing")  # fmt: skip
    return line


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """The repositories: kind, place, whether it is the default, how many backups."""
    found = run(ctx, lambda runtime: runtime.backups.list_repositories())
    emit(found, json_, lambda: _table(found))


def _table(found: list[RepositoryPublic]) -> None:
    table(None, ["NAME", "KIND", "WHERE", "DEFAULT", "BACKUPS"],
          [(r.name, r.kind, r.location, "yes" if r.default else "", r.backups) for r in found],
          empty="no repository yet: the first backup makes the default one "
                "(or: tomo backup repository add)")  # fmt: skip


@app.command("default")
def default(ctx: typer.Context, name: NameArg, json_: JsonOption = False) -> None:
    """Back installations without a repository of their own up into NAME from now on."""
    made = run(ctx, lambda runtime: runtime.backups.make_default_repository(name))
    emit(made, json_, f"backups go to {made.name} ({made.location}) unless an installation "
                      "chose another (tomo backup settings INSTALLATION --repository)")  # fmt: skip


@app.command("remove")
def remove(ctx: typer.Context, name: NameArg, json_: JsonOption = False) -> None:
    """Forget a repository no backup and no installation uses. What it holds stays
    where it is (remove the folder or bucket yourself)."""
    gone = run(ctx, lambda runtime: runtime.backups.remove_repository(name))
    emit(gone, json_, f"forgot repository {gone.name}; its data stays at {gone.location}")


@app.command("password")
def password(ctx: typer.Context, name: NameArg) -> None:
    """Print the repository's password, to open it with restic by hand (only on tomo's
    own host: the API never returns it). Keep it as safe as the backups."""
    shown = run(ctx, lambda runtime: runtime.backups.repository_password(name))
    typer.echo(shown)


def _details(repository: RepositoryPublic) -> None:
    fields([("repository", repository.name), ("kind", repository.kind),
            ("where", repository.location), ("default", "yes" if repository.default else "no"),
            ("backups", repository.backups)])  # fmt: skip
