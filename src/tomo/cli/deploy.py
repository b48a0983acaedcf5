"""`tomo install`, `ps`, `outdated`, `start|stop|restart|update|uninstall`, `logs`, `job`."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Awaitable
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from tomo.cli.context import CliState, JsonOption, read, run, state_of
from tomo.cli.install_options import config_from_options, update_settings
from tomo.cli.output import console, emit, emit_json, err_console
from tomo.cli.output import table as print_table
from tomo.deployment.statuses import JobStatus
from tomo.errors import InstallFailed, InvalidInput, TomoError

if TYPE_CHECKING:
    from rich.table import Table

    from tomo.cli.services import PreparedOperation, Services
    from tomo.deployment.schemas import (
        InstallationPublic,
        InstallPreview,
        JobPublic,
        OperationDone,
        PreflightProblem,
        UpdateOffer,
    )
    from tomo.deployment.spec import InstallConfig
    from tomo.marketplace.schemas import PersonalAppCreate
    from tomo.updates.images import ImageCheckReport

T = TypeVar("T")

InstallationArg = Annotated[
    str, typer.Argument(help="Installation id or instance name.", metavar="INSTALLATION")
]
ServerOption = Annotated[
    str | None, typer.Option("--server", help="Server id or name.", metavar="SERVER")
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", help="An environment variable (repeatable).", metavar="NAME=VALUE"),
]
PortOption = Annotated[
    list[str] | None,
    typer.Option("--port", help="Publish the app's container port on another host port.",
                 metavar="HOST:CONTAINER[/udp]"),
]  # fmt: skip
VolumeOption = Annotated[
    list[str] | None,
    typer.Option("--volume", help="Mount a host path at one of the app's volumes.",
                 metavar="HOST:CONTAINER"),
]  # fmt: skip
WithDependantsOption = Annotated[
    bool,
    typer.Option("--with-dependants", help="First do the same to the installations that "
                 "require it."),
]  # fmt: skip
AcceptRiskOption = Annotated[
    list[str] | None,
    typer.Option("--accept-risk", help="A risk flag the app carries (or several, comma-separated).",
                 metavar="FLAG[,FLAG…]"),
]  # fmt: skip
jobs = typer.Typer(help="Background jobs.", no_args_is_help=True)


def install(
    ctx: typer.Context,
    server: Annotated[str, typer.Option("--server", help="Server id or name.", metavar="SERVER")],
    app: Annotated[
        str | None,
        typer.Argument(
            help="repo-id/app-id, or a bare app id (none with --compose).", metavar="[APP]"
        ),
    ] = None,
    compose: Annotated[
        typer.FileText | None,
        typer.Option(
            "--compose",
            help="A compose file of your own ('-': standard input): it "
            "becomes the app --name of the personal catalog, then is installed.",
            metavar="FILE",
        ),
    ] = None,
    run_line: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="A docker run command, quoted: it becomes the app --name "
            "of the personal catalog, then is installed.",
            metavar="'docker run …'",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Instance name (default: the app id).", metavar="NAME"),
    ] = None,
    env: EnvOption = None,
    port: PortOption = None,
    volume: VolumeOption = None,
    accept_risk: AcceptRiskOption = None,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="Show what it would create, the risk flags to accept "
                     "and what the server says; change nothing."),
    ] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Return while it installs.")] = False,
    with_dependencies: Annotated[
        bool,
        typer.Option("--with-dependencies", help="First install the apps it requires that "
                     "the server lacks, with their defaults and the risk flags accepted here "
                     "(all taken back if one fails)."),
    ] = False,
    updates: Annotated[str | None, typer.Option(
        "--updates", help="How updates reach it: manual (the default), notify, auto or pinned "
        "(see `tomo update-policy --help`).", metavar="POLICY")] = None,
    update_window: Annotated[str | None, typer.Option(
        "--update-window", help="With --updates auto: its maintenance window, HH:MM-HH:MM "
        "(default 03:00-05:00).", metavar="HH:MM-HH:MM")] = None,
    hostname: Annotated[list[str] | None, typer.Option(
        "--hostname", help="A name the server's front door routes to the app (repeatable): "
        "whole, a label under the server's domain, or 'auto' (<name>.<domain>).",
        metavar="NAME")] = None,
    login: Annotated[str | None, typer.Option(
        "--login", help="tomo's login in front of its names: signed-in users, admins only, "
        "or off (default: as the app asks).", metavar="users|admins|off")] = None,
    swarm: Annotated[bool | None, typer.Option(
        "--swarm/--no-swarm", help="As Docker Swarm services, or as plain containers on the "
        "manager (default: Swarm services when the server is a Swarm manager).")] = None,
    node: Annotated[str | None, typer.Option(
        "--node", help="On a Swarm: the node its data goes on, by hostname or id (default: "
        "the ready node with the fewest apps' data).", metavar="NODE")] = None,
    replicas: Annotated[list[str] | None, typer.Option(
        "--replicas", help="On a Swarm: the tasks a service without data runs, as "
        "SERVICE=N, or N for the app's main service (repeatable).",
        metavar="[SERVICE=]N")] = None,
    publish_mode: Annotated[str | None, typer.Option(
        "--publish-mode", help="On a Swarm: host (the node that runs a task binds its ports; "
        "the default) or ingress (every node, routed by the Swarm; needs IPVS).",
        metavar="host|ingress")] = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Install an app on a server; exits 0 only when it runs and stays up (Ctrl-C undoes it)."""
    config = config_from_options(name, env, port, volume, accept_risk)
    if swarm is not None:
        config = config.model_copy(update={"swarm": swarm})
    config = _on_swarm_options(config, node, replicas or [], publish_mode)
    if hostname:
        config = config.model_copy(update={"hostnames": hostname})
    if login is not None:
        from tomo.proxy.schemas import LOGIN_WORDS

        if login not in LOGIN_WORDS:
            raise InvalidInput(f"--login: '{login}' is not one of {', '.join(LOGIN_WORDS)}")
        config = config.model_copy(update={"login": login})
    if updates is not None or update_window is not None:
        chosen = update_settings(updates or "auto", update_window, False, policy_option="--updates",
                                 window_option="--update-window")  # fmt: skip
        config = config.model_copy(update={"updates": chosen})
    state: CliState = ctx.find_root().obj
    pasted = _pasted(app, compose, run_line, name)

    async def action(runtime: Services) -> None:
        nonlocal app
        if pasted is not None:
            app = await _add_pasted(runtime, pasted, quiet=json_)
        assert app is not None
        if preview:
            plan = await runtime.deployment.preview_install(server, app, config)
            emit(plan, json_, lambda: _print_preview(plan, app, server))
            return
        first = (await _dependencies(runtime, server, app, config.accept_risks, quiet=json_)
                 if with_dependencies else [])  # fmt: skip
        try:
            await _install_one(runtime, state, server, app, config, detach=detach, json_=json_)
        except TomoError:
            await _take_back(runtime, first, quiet=json_)
            raise

    run(ctx, action)


def _on_swarm_options(
    config: InstallConfig, node: str | None, replicas: list[str], publish_mode: str | None
) -> InstallConfig:
    """--node, --replicas and --publish-mode into the config (the main service's
    replicas under the name "": see app_spec)."""
    from tomo.marketplace.definition import MAX_REPLICAS

    counts: dict[str, int] = {}
    for given in replicas:
        service, _, count = given.rpartition("=")
        if not count.isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise InvalidInput(f"--replicas: '{given}' is not [SERVICE=]N with N from 1 to "
                               f"{MAX_REPLICAS}")  # fmt: skip
        counts[service] = int(count)
    if publish_mode not in (None, "host", "ingress"):
        raise InvalidInput(f"--publish-mode: '{publish_mode}' is not host or ingress")
    update: dict[str, object] = {"replicas": counts} if counts else {}
    if node is not None:
        update["swarm_node"] = node
    if publish_mode is not None:
        update["publish_mode"] = publish_mode
    return config.model_copy(update=update)


async def _install_one(
    runtime: Services, state: CliState, server: str, app: str, config: InstallConfig, *,
    detach: bool, json_: bool,
) -> None:  # fmt: skip
    try:
        started = await runtime.deployment.install_app(server, app, config)
    except InvalidInput as exc:
        if not any("name" in problem.fields for problem in exc.problems):
            raise
        raise await _offering_free(runtime, server, app, config, exc) from None  # name taken
    if detach:
        if state.remote is None:  # a remote tomo runs the job itself already
            _spawn_job(state, started.job_id)
        emit_json(started) if json_ else err_console().print(
            f"Installing {started.installation.name} (job {started.job_id})", markup=False
        )
        return
    view = await _follow(runtime, started.job_id, quiet=json_)
    if view.status != JobStatus.DONE:  # the installation may be gone: the job tells it all
        if json_:
            emit_json({"installation": None, "job": view.model_dump(mode="json"),
                       "generated_secrets": {}})  # fmt: skip
        name = started.installation.name
        error = view.error or "install failed"
        if f"when {name} is uninstalled" in error:  # something is left: the way out, here
            error += f" (`tomo uninstall {name}` removes it now)"
        failed = InstallFailed(error)
        if any(step.name == "preflight" and step.status == "failed" for step in view.steps):
            raise await _offering_free(runtime, server, app, config, failed)
        raise failed
    installed = await runtime.deployment.get_installation(started.installation.id)
    if json_:
        emit_json({"installation": installed.model_dump(mode="json"),
                   "job": view.model_dump(mode="json"),
                   "generated_secrets": started.generated_secrets})  # fmt: skip
    else:
        _print_installed(installed, started.generated_secrets)


async def _offering_free(
    runtime: Services, server: str, app: str, config: InstallConfig, refusal: TomoError
) -> TomoError:
    """The refusal, with the option that gives a free port or name for each conflict:
    the server is asked again (a job's words and a stored refusal name no option)."""
    try:
        plan = await runtime.deployment.preview_install(server, app, config)
    except TomoError:
        return refusal  # what the preview refuses, the refusal said already
    offers = {p.fields[0]: offer for p in plan.problems or [] if (offer := _offer(p, plan))}
    # The command line's way to mend the rest (a job keeps none: in_any_face).
    hints = [p.hint for p in plan.problems or [] if p.hint and not _offer(p, plan)]
    if not offers and not hints:
        return refusal
    if isinstance(refusal, InvalidInput):  # each offer in place of its problem's hint
        return InvalidInput([replace(p, hint=offers.get(p.fields[0], p.hint)) if p.fields else p
                             for p in refusal.problems])  # fmt: skip
    ways = [*offers.values(), *(hint for hint in hints if hint not in refusal.message)]
    return refusal.with_message(f"{refusal.message}; {'; '.join(ways)}")


def _offer(problem: PreflightProblem, plan: InstallPreview) -> str:
    """A conflict's free port or name as this command's option ('' for none)."""
    offered, fields = problem.suggestion, problem.fields
    if not offered or len(fields) != 1:
        return ""
    if fields[0] == "name":
        return f"{offered} is free: use --name {offered}"
    main = next((c for c in plan.containers if c.argv == plan.argv), None)
    index = fields[0].removeprefix("ports[").removesuffix("]")
    if main is None or not index.isdigit() or int(index) >= len(main.ports):
        return ""
    container, _, protocol = main.ports[int(index)].partition(":")[2].partition("/")
    shown = container if protocol == "tcp" else f"{container}/{protocol}"
    return f"{offered} is free: use --port {offered}:{shown}"


async def _dependencies(
    runtime: Services, server: str, app: str, accepted: list[str], *, quiet: bool
) -> list[str]:
    """Install the apps `app` requires that the server lacks, in order, with the risk
    flags accepted for it (an app requiring lightning, which requires bitcoin: both
    join bitcoin's network); the ids of those installed. One that fails: those
    installed before it are taken back."""
    from tomo.deployment.spec import InstallConfig

    made: list[str] = []
    for needed in await runtime.deployment.install_order(server, app):
        if not quiet:
            err_console().print(f"{app} requires {needed}: installing it first", markup=False)
        started = await runtime.deployment.install_app(
            server, needed, InstallConfig(accept_risks=accepted)
        )
        view = await _follow(runtime, started.job_id, quiet=quiet)
        if view.status != JobStatus.DONE:
            await _take_back(runtime, made, quiet=quiet)
            raise InstallFailed(f"{needed}, which {app} requires: {view.error or 'install failed'}")
        made.append(started.installation.id)
        if not quiet:
            _print_installed(await runtime.deployment.get_installation(started.installation.id),
                             started.generated_secrets)  # fmt: skip
    return made


async def _take_back(runtime: Services, made: list[str], *, quiet: bool) -> None:
    """Uninstall, data and all, what this command installed (the last first)."""
    for installation in reversed(made):
        prepared = await runtime.deployment.prepare_uninstall(installation, None, remove_data=True)
        done = await operate(runtime, prepared, quiet=quiet)
        if not quiet:
            err_console().print(f"took back {done.installation.name}", markup=False)


def _pasted(
    app: str | None, compose: typer.FileText | None, run_line: str | None, name: str | None
) -> PersonalAppCreate | None:
    """The compose file or docker run line to add first, or None; usage errors name
    the option."""
    from tomo.marketplace.schemas import PersonalAppCreate

    given = [option for option, value in (("APP", app), ("--compose", compose),
                                          ("--run", run_line)) if value is not None]  # fmt: skip
    if len(given) != 1:
        raise typer.BadParameter("give one of an app, --compose FILE or --run 'docker run …'",
                                 param_hint=" / ".join(given) or "APP")  # fmt: skip
    if app is not None:
        return None
    if name is None:
        raise typer.BadParameter(f"names the pasted app (required with {given[0]})",
                                 param_hint="--name")  # fmt: skip
    if compose is not None:
        return PersonalAppCreate(name=name, compose=compose.read())
    return PersonalAppCreate(name=name, run=run_line)


async def _add_pasted(runtime: Services, pasted: PersonalAppCreate, *, quiet: bool) -> str:
    added = await runtime.marketplace.add_personal_app(pasted)
    if not quiet:
        for warning in added.warnings:
            err_console().print(f"warning: {warning}", markup=False)
    return added.app


def adopt(
    ctx: typer.Context,
    server: Annotated[str, typer.Argument(help="Server id or name.", metavar="SERVER")],
    containers: Annotated[
        list[str],
        typer.Argument(help="The containers' names or ids (see tomo server containers).",
                       metavar="CONTAINER..."),
    ],
    app: Annotated[
        str | None,
        typer.Option("--app", help="The catalog app they run (default: one made of each "
                     "container, in the personal catalog).", metavar="REPO/APP"),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Instance name of the one container (default: its "
                     "own; another renames it).", metavar="NAME"),
    ] = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Manage containers tomo did not create, as they run: nothing is stopped or
    restarted. Each is checked first: one refused, none adopted."""
    from tomo.deployment.schemas import AdoptRequest

    if name is not None and len(containers) > 1:
        raise typer.BadParameter("names one container; adopt the others on their own names",
                                 param_hint="--name")  # fmt: skip
    requests = [AdoptRequest(container=c, app=app, name=name) for c in containers]
    adopted = run(ctx, lambda runtime: runtime.deployment.adopt(server, requests))
    if json_:
        emit_json(adopted)
        return
    for one in adopted:
        installation = one.installation
        err_console().print(f"adopted {installation.name} on {installation.server_id} as "
                            f"{installation.repo_id}/{installation.app_id}: "
                            f"{installation.status}", markup=False)  # fmt: skip
        for note in one.notes:
            err_console().print(f"  {note}", markup=False)


StatsOption = Annotated[
    bool,
    typer.Option("--stats", help="With what each uses (CPU, memory, network, block IO): "
                 "read from the servers now, or a served tomo's last measure."),
]  # fmt: skip


def ps(ctx: typer.Context, server: ServerOption = None, stats: StatsOption = False,
       json_: JsonOption = False) -> None:  # fmt: skip
    """List installations, their status checked against Docker."""
    from tomo.deployment import readonly

    if stats:
        rows = run(ctx, lambda runtime: runtime.deployment.list_with_resources(server))
    else:
        rows = read(ctx, lambda db: readonly.list_with_status(db, server),
                    lambda runtime: runtime.deployment.list_with_status(server))  # fmt: skip
    if json_:
        emit_json(rows)
        return
    if stats:
        _print_stats(rows, server)
        return
    print_table(None, ["id", "name", "server", "app", "version", "status", "ports", "note"],
                [(i.id, i.name, i.server_id, f"{i.repo_id}/{i.app_id}", _version_cell(i),
                  i.status, i.ports, i.status_message) for i in rows],
                empty=f"No installation on {server}." if server else "No installations yet. "
                "Install an app with `tomo install APP --server SERVER`.")  # fmt: skip
    offered = sum(1 for i in rows if i.update is not None)
    if offered:
        err_console().print(f"{_installations(offered)} offered a newer version (→): "
                            "see `tomo outdated`.", markup=False)  # fmt: skip


def _print_stats(rows: list[InstallationPublic], server: str | None) -> None:
    from tomo.monitor.stats import shown

    print_table(None, ["id", "name", "server", "status", "CPU", "memory (used / limit)",
                       "net (in / out)", "block IO (read / write)"],
                [(i.id, i.name, i.server_id, i.status, *shown(i.resources)) for i in rows],
                empty=f"No installation on {server}." if server else "No installation yet.",
                )  # fmt: skip
    if any(i.resources is None for i in rows):
        err_console().print("—: not measured yet (or its server did not answer in time).",
                            markup=False)  # fmt: skip


def _version_cell(installation: InstallationPublic) -> str:
    """The installed version, and the catalog's newer one when it offers it."""
    offered = installation.update
    if offered is None:
        return installation.version
    if offered.to_version == offered.from_version:
        return f"{installation.version} (new image)"
    return f"{installation.version} → {offered.to_version}"


def _installations(count: int) -> str:
    return "1 installation is" if count == 1 else f"{count} installations are"


CheckOption = Annotated[
    bool,
    typer.Option("--check", help="First ask the registries whether the floating tags the "
                 "installations run (latest, 16, stable…) name new images now."),
]  # fmt: skip


def outdated(ctx: typer.Context, server: ServerOption = None, check: CheckOption = False,
             json_: JsonOption = False) -> None:  # fmt: skip
    """List installations offered an update: a newer version in their catalog (as of its
    last sync), or a new image under a floating tag (as of the last check; --check: now)."""

    async def offered(runtime: Services) -> list[InstallationPublic]:
        if check:
            _say_unchecked(await runtime.deployment.check_image_updates(server))
        return await runtime.deployment.list_outdated(server)

    rows = run(ctx, offered)
    if json_:
        emit_json(rows)
        return
    empty = f"No installation{f' on {server}' if server else ''} is offered a newer version."
    print_table(None, ["id", "name", "server", "app", "installed", "offered", "release notes"],
                [(i.id, i.name, i.server_id, f"{i.repo_id}/{i.app_id}", i.update.from_version,
                  _offered_cell(i.update), _first_line(i.update.release_notes))
                 for i in rows if i.update is not None],
                empty=empty)  # fmt: skip


def _offered_cell(offer: UpdateOffer) -> str:
    """`1.1`, `1.0 (new image)`, `1.1 (new image)`: --json names the images."""
    return f"{offer.to_version} (new image)" if offer.images else offer.to_version


def _say_unchecked(report: ImageCheckReport) -> None:
    """On stderr, so --json stays the list: the images that could not be checked."""
    for item in report.not_checked:
        what = f" ({item.service}: {item.image})" if item.image else ""
        err_console().print(f"{item.name}{what} not checked: {item.reason}", markup=False)


def _first_line(text: str | None) -> str:
    """What a table has room for of the release notes (--json gives them whole)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] + (" …" if len(lines) > 1 else "") if lines else ""


def start(ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
          json_: JsonOption = False) -> None:  # fmt: skip
    """Start an installation's container."""
    _show(_verb(ctx, "start", installation, server, json_), json_)


def stop(
    ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
    with_dependants: WithDependantsOption = False, json_: JsonOption = False,
) -> None:  # fmt: skip
    """Stop an installation's container (refused while installations that require it
    run, unless --with-dependants stops them first)."""
    _show(_verb(ctx, "stop", installation, server, json_, with_dependants=with_dependants),
          json_)  # fmt: skip


def restart(ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
            json_: JsonOption = False) -> None:  # fmt: skip
    """Restart an installation's container."""
    _show(_verb(ctx, "restart", installation, server, json_), json_)


def _verb(
    ctx: typer.Context, verb: str, installation: str, server: str | None, json_: bool, *,
    with_dependants: bool = False,
) -> InstallationPublic:  # fmt: skip
    async def action(runtime: Services) -> InstallationPublic:
        if with_dependants:
            for dependant in await runtime.deployment.dependants(installation, server):
                before = await runtime.deployment.prepare_verb(verb, dependant, None)
                _said_first(verb, (await operate(runtime, before, quiet=json_)), json_)
        prepared = await runtime.deployment.prepare_verb(verb, installation, server)
        return (await operate(runtime, prepared, quiet=json_)).installation

    return run(ctx, action)


def update(
    ctx: typer.Context,
    installation: InstallationArg,
    server: ServerOption = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Another image tag.")] = None,
    env: EnvOption = None,
    port: PortOption = None,
    volume: VolumeOption = None,
    accept_risk: AcceptRiskOption = None,
    json_: JsonOption = False,
) -> None:
    """Update to the catalog's definition (or --tag), changing what you give; the old
    container returns on failure."""
    changes = config_from_options(None, env, port, volume, accept_risk)

    async def action(runtime: Services) -> OperationDone:
        prepared = await runtime.deployment.prepare_update(
            installation, server, tag=tag, changes=changes
        )
        return await operate(runtime, prepared, quiet=json_)

    result = run(ctx, action)
    emit(result, json_, lambda: print_done(result))


def uninstall(
    ctx: typer.Context,
    installation: InstallationArg,
    server: ServerOption = None,
    remove_data: Annotated[
        bool, typer.Option("--remove-data", help="Also delete the data tomo created.")
    ] = False,
    with_dependants: WithDependantsOption = False,
    json_: JsonOption = False,
) -> None:
    """Remove an installation's container; its data stays unless --remove-data.
    Refused while installations that require it are there, unless --with-dependants
    uninstalls them first (with the same --remove-data)."""

    async def action(runtime: Services) -> OperationDone:
        if with_dependants:
            for dependant in await runtime.deployment.dependants(installation, server):
                before = await runtime.deployment.prepare_uninstall(
                    dependant, None, remove_data=remove_data
                )
                _said_first("uninstall", await operate(runtime, before, quiet=json_), json_)
        prepared = await runtime.deployment.prepare_uninstall(
            installation, server, remove_data=remove_data
        )
        return await operate(runtime, prepared, quiet=json_)

    result = run(ctx, action)
    emit(result, json_, lambda: print_done(result))


def logs(
    ctx: typer.Context,
    installation: InstallationArg,
    server: ServerOption = None,
    tail: Annotated[int, typer.Option("--tail")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    service: Annotated[
        str | None, typer.Option("--service", help="One service of an app of several.")
    ] = None,
) -> None:
    """Print an installation's container logs (an app of several: all merged, each
    line led by its service, or one with --service)."""

    async def action(runtime: Services) -> None:
        lines = runtime.deployment.logs(installation, server, tail=tail, follow=follow,
                                        service=service)  # fmt: skip
        async for line in lines:
            print(line, flush=True)

    run(ctx, action)


@jobs.command("run", hidden=True)
def job_run(ctx: typer.Context, job_id: str) -> None:
    """Carry out a stored job (used by install --detach)."""
    state_of(ctx).refuse_remote("`tomo job run`")
    view = run(ctx, lambda r: r.deployment.run_job(job_id))
    if view.status != JobStatus.DONE:
        raise InstallFailed(view.error or "job failed")


@jobs.command("list")
def job_list(
    ctx: typer.Context,
    installation: Annotated[
        str | None, typer.Option("--installation", help="Id or instance name (also gone ones).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
    json_: JsonOption = False,
) -> None:
    """List jobs, newest first."""
    from tomo.deployment import readonly

    found = read(
        ctx,
        lambda db: readonly.list_jobs(db, installation=installation, limit=limit),
        lambda runtime: runtime.deployment.list_jobs(installation=installation, limit=limit),
    )
    if json_:
        emit_json(found)
        return
    print_table(None, ["id", "kind", "installation", "server", "status", "started", "error"],
                [(j.id, j.kind, j.installation_name, j.server_id, j.status, j.started_at, j.error)
                 for j in found],
                empty=f"No job for {installation}." if installation else "No jobs yet: each "
                "install, update, start, stop or uninstall runs as one.")  # fmt: skip


@jobs.command("show")
def job_show(ctx: typer.Context, job_id: str, json_: JsonOption = False) -> None:
    """Show a job and its steps."""
    view = run(ctx, lambda r: r.deployment.get_job(job_id))
    emit(view, json_, lambda: console().print(_steps_table(view)))


async def _follow(runtime: Services, job_id: str, *, quiet: bool) -> JobPublic:
    """Run the install job here (so Ctrl-C interrupts it, and it is undone) and show
    its steps live until it ends."""
    view = await _watching(runtime, job_id, runtime.deployment.run_job(job_id), quiet=quiet)
    if not quiet:
        err_console().print(_steps_table(view))
    return view


async def operate(runtime: Services, prepared: PreparedOperation, *, quiet: bool) -> OperationDone:
    """Run a prepared operation here, its steps live on a terminal (Docker may take a
    while to stop a container); the final table only when it failed (success prints
    a summary)."""
    try:
        return await _watching(runtime, prepared.job_id, prepared.run(), quiet=quiet)
    except TomoError:  # which step failed, for a person (a script reads the error line)
        if not quiet and err_console().is_terminal:
            err_console().print(_steps_table(await runtime.deployment.get_job(prepared.job_id)))
        raise


async def _watching(runtime: Services, job_id: str, work: Awaitable[T], *, quiet: bool) -> T:
    """Await `work` while the job's steps show live on a terminal."""
    import asyncio

    live = not quiet and err_console().is_terminal
    display = asyncio.create_task(_show_live(runtime, job_id)) if live else None
    try:
        return await work
    finally:
        if display is not None:
            display.cancel()
            await asyncio.gather(display, return_exceptions=True)


async def _show_live(runtime: Services, job_id: str) -> None:
    import asyncio

    from rich.live import Live

    with Live(console=err_console(), transient=True, refresh_per_second=8) as live:
        while True:
            live.update(_steps_table(await runtime.deployment.get_job(job_id)))
            await asyncio.sleep(0.2)


def _steps_table(view: JobPublic) -> Table:
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=f"{view.kind} ({view.status})", title_justify="left", header_style="bold")
    for column in ("step", "status", "progress", "seconds", "message"):
        grid.add_column(column)
    for step in view.steps:
        seconds = (step.ended_at - step.started_at).total_seconds() if step.ended_at else None
        progress = (
            f"{step.progress_done}/{step.progress_total} layers" if step.progress_total else ""
        )
        grid.add_row(*(Text(str(cell)) for cell in (
            step.name, step.status, progress, f"{seconds:.1f}" if seconds is not None else "…",
            step.message or "",
        )))  # fmt: skip
    return grid


def _print_installed(installation: InstallationPublic, generated: dict[str, str]) -> None:
    ports = ", ".join(installation.ports) or "none"
    where = f"{installation.name} is {installation.status} on {installation.server_id}"
    err_console().print(f"{where} (ports: {ports})", markup=False)
    for key, value in generated.items():
        err_console().print(
            f"generated {key}={value}  (shown once; stored encrypted)", markup=False
        )


def _print_preview(plan: InstallPreview, app: str, server: str) -> None:
    """What the install page's preview shows, as lines: what it creates, the risk
    flags to accept, what the server says, then the commands."""
    lines = [f"Installing {app} on {server} would create (nothing was changed):",
             *_created(plan), *_risks_to_accept(plan), *_server_says(plan, server),
             "The commands tomo runs there (environment values go into the env file):"]  # fmt: skip
    if plan.network:
        driver = ["--driver", "overlay"] if plan.swarm else []
        lines.append(shlex.join(["docker", "network", "create", *driver, plan.network]))
    lines += [shlex.join(container.argv) for container in plan.containers]
    for line in lines:
        console().print(line, markup=False)


def _created(plan: InstallPreview) -> list[str]:
    node = f", on node {plan.data_node}" if plan.data_node else ""
    lines = [f"  folder {plan.instance_dir} (the installation's own{node})"]
    if plan.network:
        lines.append(f"  overlay network {plan.network} (its own)" if plan.swarm
                     else f"  network {plan.network}")  # fmt: skip
    if plan.isolated_network:
        from tomo.deployment.schemas import ISOLATED_NETWORK_SAID

        lines.append(f"  network {plan.isolated_network} ({ISOLATED_NETWORK_SAID})")
    if plan.login:
        from tomo.proxy.schemas import login_said

        said = login_said(plan.login)
        lines += [f"  name {name} (routed by the server's front door; {said})"
                  for name in plan.hostnames]  # fmt: skip
    lines += [f"  volume {volume}" for volume in plan.volumes]
    for container in plan.containers:
        if plan.swarm:
            lines.append(f"  Swarm service {container.name} (image {container.image}; "
                         f"{container.swarm})")  # fmt: skip
            lines += [f"    port {port}" for port in container.ports]
        else:
            lines.append(f"  container {container.name} (image {container.image})")
            lines += [f"    port {port}" for port in container.ports]
        lines += [f"    folder {folder}" for folder in container.folders]
        lines += [f"    volume {volume}" for volume in container.volumes]
        if container.env_file:
            values = ", ".join(f"{key}={value}" for key, value in container.env.items())
            lines.append(f"    env file {container.env_file} (mode 0600): {values}")
    return lines


def _risks_to_accept(plan: InstallPreview) -> list[str]:
    from tomo.marketplace.risk_words import explain_risk

    if not plan.risks_to_accept:
        return []
    return ["Risk flags to accept (it is not installed until each is):",
            *(f"  {flag}: {explain_risk(flag)[0]}" for flag in plan.risks_to_accept),
            f"  accept them with --accept-risk {','.join(plan.risks_to_accept)}"]  # fmt: skip


def _server_says(plan: InstallPreview, server: str) -> list[str]:
    if plan.problems is None:
        return []
    if not plan.problems:
        return [f"{server} can take it: checked on the server just now."]
    said = [f"{server} would refuse it now:"]
    for problem in plan.problems:
        hint = _offer(problem, plan) or problem.hint
        said.append(f"  {problem.text} ({hint})" if hint else f"  {problem.text}")
    return said


def _said_first(verb: str, result: OperationDone, quiet: bool) -> None:
    """What was done to a dependant first (a script sees the installation asked for)."""
    if not quiet:
        err_console().print(f"{verb}: {result.installation.name} first, as it requires it",
                            markup=False)  # fmt: skip
        print_done(result)


def print_done(result: OperationDone) -> None:
    installation = result.installation
    note = f" ({installation.status_message})" if installation.status_message else ""
    err_console().print(f"{installation.name} on {installation.server_id}: {installation.status}"
                      f"{note}", markup=False)  # fmt: skip
    for line in result.summary:
        err_console().print(f"  {line}", markup=False)
    for key, value in result.generated_secrets.items():
        err_console().print(
            f"generated {key}={value}  (shown once; stored encrypted)", markup=False
        )


def _show(installation: InstallationPublic, json_: bool) -> None:
    note = f" ({installation.status_message})" if installation.status_message else ""
    emit(installation, json_, f"{installation.name}: {installation.status}{note}")


def _spawn_job(state: CliState, job_id: str) -> None:
    data_dir = ["--data-dir", str(state.data_dir)] if state.data_dir else []
    subprocess.Popen(
        [sys.executable, "-m", "tomo", *data_dir, "job", "run", job_id],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
