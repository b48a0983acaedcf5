"""`tomo app …`: search the catalog, show an app, rate it."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tomo.cli.context import JsonOption, read, run, state_of
from tomo.cli.output import console, emit, emit_json, fields, table
from tomo.marketplace.search.query import SortKey

if TYPE_CHECKING:
    from tomo.cli.services import Services
    from tomo.marketplace.definition import AppVolume
    from tomo.marketplace.schemas import MarketplaceApp

app = typer.Typer(help="The app catalog.", no_args_is_help=True)
AppArg = Annotated[str, typer.Argument(help="repo-id/app-id, or a bare app id if unambiguous.")]


@app.command("search")
def search(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="Words to look for.")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Repeat to require several.")
    ] = None,
    repo: Annotated[str | None, typer.Option("--repo")] = None,
    installable: Annotated[
        bool, typer.Option("--installable", help="Only apps tomo can install.")
    ] = False,
    sort: Annotated[SortKey | None, typer.Option("--sort")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    json_: JsonOption = False,
) -> None:
    """Search the catalog by text, category, tags and repo."""
    request = {"text": text, "category": category, "tags": tag or (), "repo": repo,
               "installable_only": installable, "sort": sort, "limit": limit,
               "offset": offset}  # fmt: skip
    page = _quick_page(ctx, request)
    if page is None:  # remote, or the full runtime has something to do first (a migration…)
        page = run(ctx, lambda runtime: _page(runtime, request))
    if json_:
        emit_json(page)
        return
    items = page["items"]
    shown = f"{offset + 1}-{offset + len(items)}" if items else "0"
    about = "about " if page["estimated"] else ""
    table(
        f"{about}{page['total']} apps (showing {shown})",
        ["app", "name", "version", "category", "rating", "installs", "risks"],
        [(f"{a['repo_id']}/{a['id']}", a["name"], a["version"], a["category"],
          f"{a['avg_rating']:.1f}", a["install_count"], a["risks"]) for a in items],
        empty=_nothing_shown(request, page["total"]),
    )  # fmt: skip


EMPTY_CATALOG = (
    "The catalog has no apps yet. Add a repository of app definitions with "
    "`tomo repo add URL --name NAME`."
)


def _nothing_shown(request: dict[str, Any], total: int) -> str:
    """Why a page of results is empty, and what to do, in a sentence."""
    if total:  # past the last match
        matches = "1 app matches" if total == 1 else f"{total} apps match"
        return f"{matches}, none from number {request['offset'] + 1} on: give a lower --offset."
    filters = _filters(request)
    if request["text"]:
        found = f"No app matches “{request['text']}”{''.join(f' {f}' for f in filters)}."
    elif filters:
        found = f"No app is {', '.join(filters)}."
    else:
        return EMPTY_CATALOG
    change = "other words or fewer filters" if filters else "other words"
    return f"{found} Try {change}; `tomo app search` alone lists every app."


def _filters(request: dict[str, Any]) -> list[str]:
    """The search's filters, as a sentence names them."""
    filters = [f"in category {request['category']}"] if request["category"] else []
    if request["tags"]:
        filters.append(f"tagged {', '.join(request['tags'])}")
    if request["repo"]:
        filters.append(f"in repo {request['repo']}")
    if request.get("installable_only"):
        filters.append("among those tomo can install")
    return filters


def _quick_page(ctx: typer.Context, request: dict[str, Any]) -> dict[str, Any] | None:
    """The page straight from the local database file, when there is one to read."""
    state = state_of(ctx)
    if state.remote is not None:
        return None
    from tomo.marketplace.search.quick import quick_search

    return quick_search(state.data_dir_path, **request)


async def _page(runtime: Services, request: dict[str, Any]) -> dict[str, Any]:
    page = await runtime.marketplace.search_apps(
        search=request["text"], category=request["category"], tags=request["tags"],
        repo=request["repo"], sort=request["sort"], limit=request["limit"],
        offset=request["offset"], installable_only=request["installable_only"],
    )  # fmt: skip
    return page.model_dump(mode="json")


@app.command("show")
def show(ctx: typer.Context, app_ref: AppArg, json_: JsonOption = False) -> None:
    """Show an app's full definition."""
    from tomo.marketplace import readonly

    entry = read(ctx, lambda db: readonly.get_app(db, app_ref),
                 lambda runtime: runtime.marketplace.get_app(app_ref))  # fmt: skip
    emit(entry, json_, lambda: _print_app(entry))


@app.command("categories")
def categories(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List categories with their number of apps."""
    found = run(ctx, lambda runtime: runtime.marketplace.get_categories())
    if json_:
        emit_json(found)
        return
    table(None, ["category", "apps"], [(c.name, c.count) for c in found], empty=EMPTY_CATALOG)


@app.command("rate")
def rate(
    ctx: typer.Context,
    app_ref: AppArg,
    stars: Annotated[int, typer.Argument(help="1 to 5.")],
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="The tomo user who rates (default: TOMO_USER, or your login name)."
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Rate an app from 1 to 5 as a tomo user; rating again replaces your rating."""
    if user is not None:  # through the API, a rating is always the logged-in user's
        state_of(ctx).refuse_remote("--user")
    who = user or os.environ.get("TOMO_USER") or getpass.getuser()
    result = run(ctx, lambda runtime: runtime.marketplace.rate_app(app_ref, user=who, rating=stars))
    if json_:
        emit_json(result)
        return
    console().print(
        f"{result.repo_id}/{result.app_id}: {result.avg_rating:.2f} from {result.rating_count} "
        f"rating(s)",
        markup=False,
    )


def _print_app(entry: MarketplaceApp) -> None:
    docker = entry.docker
    services = entry.all_services
    fields(
        [
            ("app", f"{entry.repo_id}/{entry.id}"),
            ("name", entry.name),
            ("tagline", entry.tagline or None),
            ("version", entry.version),
            ("category", entry.category),
            ("tags", entry.tags),
            ("description", entry.description),
            ("author", entry.author or None),
            ("license", entry.license or None),
            ("repository", entry.repository),
            ("documentation", entry.documentation),
            ("cannot install", entry.not_installable),
            ("image", docker.image),
            ("restart", docker.restart_policy),
            ("network", docker.network_mode),
            ("command", docker.command),
            ("rating", f"{entry.avg_rating:.2f} ({entry.rating_count})"),
            ("installs", entry.install_count),
            ("needs", _requirements(entry)),
            ("risks", entry.risks or "none"),
            ("defined in", entry.source_path),
        ]
    )
    several = len(services) > 1
    if several:
        table("services", ["service", "image", "after"], [
            (f"{name} (main)" if name == entry.main_service else name, service.image,
             ", ".join(f"{d} ({c})" for d, c in service.depends_on.items()) or "-")
            for name, service in services.items()
        ])  # fmt: skip
    ports = [(name, p) for name, service in services.items() for p in service.ports]
    if ports:
        table("ports", [*(["service"] if several else []), "host", "container", "protocol",
                        "description"],
              [(*([name] if several else []), p.host or p.container, p.container, p.protocol,
                p.description) for name, p in ports])  # fmt: skip
    volumes = [(name, v) for name, service in services.items() for v in service.volumes]
    if volumes:
        table("volumes", [*(["service"] if several else []), "host", "container", "read-only",
                          "description"],
              [(*([name] if several else []), _volume_source(v), v.container_path, v.readonly,
                v.description) for name, v in volumes])  # fmt: skip
    variables = entry.settings if entry.settings or several else docker.environment
    if variables:
        table(
            "settings" if entry.settings or several else "environment",
            ["name", "required", "default", "description"],
            [
                (
                    e.name,
                    e.required,
                    "(secret)" if e.secret else e.default,
                    _described(e.description, e.choices),
                )
                for e in variables
            ],
        )


def _described(description: str, choices: list[str]) -> str:
    """The description, and the values it takes unless it lists them already (the
    other stores' imports do, with their labels)."""
    if not choices or "(one of: " in description:
        return description
    return f"{description} (one of: {', '.join(choices)})".lstrip()


def _volume_source(volume: AppVolume) -> str:
    if volume.volume:
        return f"volume {volume.volume}"
    if volume.imported_folder:
        return f"a required app's folder {volume.imported_folder}"
    return volume.host_path or "(tomo chooses)"


def _requirements(entry: MarketplaceApp) -> str:
    needs = entry.requirements
    parts = []
    if needs.min_ram:
        parts.append(f"{needs.min_ram} MB RAM")
    if needs.min_storage:
        parts.append(f"{needs.min_storage} MB disk")
    if needs.min_cpu:
        parts.append(f"{needs.min_cpu:g} CPU")
    if needs.architectures:
        parts.append("/".join(needs.architectures))
    return ", ".join(parts) or "-"
