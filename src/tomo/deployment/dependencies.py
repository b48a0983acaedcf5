"""Apps that need other apps (a definition's `requires`, Umbrel's `dependencies`).

An app that requires another is installed on a server where that app is
installed already; its values take what the installation there exports
(`exports`: the host name of one of its services on its network, which the
requiring app's containers join, or a value made of its settings, a generated
password sealed like any secret) through the same `${NAME}` table as settings.

What is worked out here, from the records (no server is asked):
- the installations an app's requirements are met by, and the values they give
  (`imports_for`), at an install, an update and every install job;
- what must be installed first, in order (`install_order`), for `tomo install
  --with-dependencies`;
- which installations need one (`dependants_of`), so that stopping or removing
  it is refused unless they go too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tomo.deployment.app_spec import AppSpec, Exported
from tomo.deployment.context import DeploymentContext
from tomo.deployment.models import Installation
from tomo.errors import InvalidInput, MissingDependencies, TomoError
from tomo.marketplace.definition import AppDefinition, AppRequirement
from tomo.servers.schemas import ServerPublic

# How deep requirements may chain (an app requiring an app requiring …).
MAX_DEPTH = 8


@dataclass(frozen=True)
class Met:
    """A requirement, the app it names (`repo/app`) and the installation that meets it."""

    requirement: AppRequirement
    app: str
    installation: Installation | None  # None: not installed on the server


async def requirements_met(
    ctx: DeploymentContext, server_id: str, definition: AppDefinition, repo_id: str
) -> list[Met]:
    """Each requirement with the installation on the server that meets it; refused
    when several could (tomo does not pick one for the user)."""
    rows = await _installations(ctx, server_id)
    met = []
    for requirement in definition.requires:
        app = requirement.app_ref(repo_id)
        found = [row for row in rows if f"{row.repo_id}/{row.app_id}" == app]
        if len(found) > 1:
            names = ", ".join(row.name for row in found)
            raise InvalidInput(f"{definition.id} requires {app}, installed here several times "
                               f"({names}); tomo cannot tell which one it should use")  # fmt: skip
        met.append(Met(requirement, app, found[0] if found else None))
    return met


async def imports_for(
    ctx: DeploymentContext, server: ServerPublic, definition: AppDefinition, repo_id: str,
    depth: int = 0, worked_out: dict[str, dict[str, Exported]] | None = None,
) -> dict[str, Exported]:  # fmt: skip
    """What the installations meeting the app's requirements give it, by name (their
    exports, or those of the apps they require); its optional imports, "" where none
    gives one; MissingDependencies naming what is not installed."""
    imports, _ = await _from_required(ctx, server, definition, repo_id, depth,
                                      {} if worked_out is None else worked_out)  # fmt: skip
    return imports


# An optional import no app gives: empty, as umbrelOS leaves the variable of an app
# that is not installed.
NOT_GIVEN = Exported("", secret=False, network=None)


async def _from_required(
    ctx: DeploymentContext, server: ServerPublic, definition: AppDefinition, repo_id: str,
    depth: int, worked_out: dict[str, dict[str, Exported]],
) -> tuple[dict[str, Exported], dict[str, Exported]]:  # fmt: skip
    """The app's imports (imports_for), and all that the apps it requires give."""
    if not definition.requires and not definition.optional_imports:
        return {}, {}
    met = await requirements_met(ctx, server.id, definition, repo_id)
    missing = [m.app for m in met if m.installation is None]
    if missing:
        raise MissingDependencies(server.name, f"{repo_id}/{definition.id}", missing)
    found: dict[str, Exported] = {}
    given: dict[str, Exported] = {}  # by every app it requires, the nearest first
    for one in met:
        assert one.installation is not None
        theirs = await given_by(ctx, one.installation, server, depth + 1, worked_out)
        found |= {name: theirs[name] for name in one.requirement.imports if name in theirs}
        given = theirs | given
    optional = {name: given.get(name, NOT_GIVEN) for name in definition.optional_imports}
    return found | optional, given


async def given_by(
    ctx: DeploymentContext, row: Installation, server: ServerPublic, depth: int,
    worked_out: dict[str, dict[str, Exported]],
) -> dict[str, Exported]:  # fmt: skip
    """What an installation gives the apps that require it: its exports, then what
    the apps it requires give, through it (umbrelOS gives every app the exports of
    every installed app: Umbrel's apps use their dependencies' dependencies').
    `worked_out`: by installation, for one install: each is worked out once, however
    many of the apps below require it."""
    if row.id not in worked_out:
        spec, through = await _spec_and_given(ctx, row, server, depth, worked_out)
        worked_out[row.id] = through | spec.exports
    return worked_out[row.id]


async def spec_with_imports(
    ctx: DeploymentContext, row: Installation, server: ServerPublic, depth: int = 0
) -> AppSpec:
    """The containers an installation's record describes, its requirements' values in."""
    spec, _ = await _spec_and_given(ctx, row, server, depth, {})
    return spec


async def _spec_and_given(
    ctx: DeploymentContext, row: Installation, server: ServerPublic, depth: int,
    worked_out: dict[str, dict[str, Exported]],
) -> tuple[AppSpec, dict[str, Exported]]:  # fmt: skip
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{row.name}'s requirements chain deeper than {MAX_DEPTH} apps")
    definition = AppDefinition.model_validate(row.definition)
    imports, given = await _from_required(ctx, server, definition, row.repo_id, depth,
                                          worked_out)  # fmt: skip
    return ctx.spec_of(row, definition, server, imports=imports), given


async def install_order(ctx: DeploymentContext, server_id: str, app: str) -> list[str]:
    """The apps (`repo/app`) to install on the server before `app`, dependencies
    first; refused when requirements go round in a circle or a required app is not
    in the catalog."""
    installed = {f"{row.repo_id}/{row.app_id}" for row in await _installations(ctx, server_id)}
    order: list[str] = []

    async def visit(ref: str, path: list[str]) -> None:
        if ref in path:
            raise InvalidInput(f"apps require each other in a circle: {' → '.join([*path, ref])}")
        if ref in order or ref in installed or len(path) > MAX_DEPTH:
            return
        try:
            entry = await ctx.marketplace.get_app(ref)
        except TomoError as exc:
            raise InvalidInput(f"{path[-1]} requires {ref}: {exc.message}") from None
        definition = AppDefinition.model_validate(entry.model_dump())
        for requirement in definition.requires:
            await visit(requirement.app_ref(entry.repo_id), [*path, ref])
        order.append(ref)

    top = await ctx.marketplace.get_app(app)
    definition = AppDefinition.model_validate(top.model_dump())
    for requirement in definition.requires:
        await visit(requirement.app_ref(top.repo_id), [f"{top.repo_id}/{top.id}"])
    return order


async def dependants_of(ctx: DeploymentContext, row: Installation) -> list[Installation]:
    """The installations on the same server whose requirements this one meets."""
    mine = f"{row.repo_id}/{row.app_id}"
    return [
        other for other in await _installations(ctx, row.server_id)
        if other.id != row.id and any(
            r.app_ref(other.repo_id) == mine
            for r in AppDefinition.model_validate(other.definition).requires
        )
    ]  # fmt: skip


async def _installations(ctx: DeploymentContext, server_id: str) -> list[Installation]:
    async with ctx.db.session() as session:
        return list(await session.scalars(
            select(Installation).where(Installation.server_id == server_id)
            .order_by(Installation.name)
        ))  # fmt: skip
