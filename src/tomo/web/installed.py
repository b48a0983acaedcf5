"""Pages: the installed apps. Every installation with its live status (as tiles
or a table), one installation (its config, its jobs, what may be done to it), and
the forms that start, stop, restart, update and uninstall it, and its logs.

Each change is the API's: the same service call prepares the job, the API's
`run_in_background` carries it out, and the browser goes to the job's page to
follow it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.deployment.app_spec import user_variables
from tomo.deployment.manage import AT_REST, LogPage
from tomo.deployment.operation import Prepared
from tomo.deployment.schemas import InstallationPublic
from tomo.deployment.service import DataFolders, DeploymentService
from tomo.deployment.spec import ConfigChanges, UpdateRequest, publishes_ports
from tomo.deployment.states import allowed_actions
from tomo.deployment.statuses import UNDER_WAY
from tomo.errors import (
    InvalidInput,
    NeededByOthers,
    NotFound,
    PreflightFailed,
    Refusal,
    TomoError,
)
from tomo.events.schemas import EventPublic
from tomo.http.deps import DeploymentDep, run_in_background, runtime_of
from tomo.http.middleware import note_outcome
from tomo.http.security import SESSION_COOKIE
from tomo.marketplace.schemas import MarketplaceApp
from tomo.monitor import stats
from tomo.servers.schemas import ServerPublic
from tomo.web.backups import recent_backups
from tomo.web.domains import base_url, hostnames_of
from tomo.web.events import wants_a_page
from tomo.web.forms import INDEXED_FIELD, FormErrors, form_lists, form_values, page_words
from tomo.web.session import Admin, LogReader, Viewer, may_read_logs
from tomo.web.templating import image_url, redirect, refused, render

router = APIRouter()
Verb = Literal["start", "stop", "restart"]
LOG_TAILS = (100, 200, 1000, 5000)
HISTORY = 10  # of an installation's newest events on its page; the Events page has the rest
# Seconds between two looks at the statuses; shorter while an operation runs, so
# "stopping…" turns into "stopped" soon after Docker is done.
REFRESH, REFRESH_BUSY = 10, 3


# -- reading ------------------------------------------------------------------


@router.get("/installed", name="web_installed")
async def installed(
    request: Request, _: Viewer, deployment: DeploymentDep, server: str | None = None,
    view: str = "", refresh: bool = False,
) -> Response:  # fmt: skip
    """Every installation with its status: as the health monitor last read it while
    that is fresh, else (or with `refresh`) asked of Docker now (each server at once; a
    server slow to answer shows `unknown` and holds up no other). Tiles unless the
    table is asked for (`view=table`); an unknown view is ignored, as a stale link."""
    rows = await deployment.list_for_page(server or None, refresh=refresh)
    servers = await _servers(request)
    busy = any(row.operation for row in rows)
    context = {"installations": rows, "servers": servers, "server": server or "",
               "server_name": _name_of(servers, server),
               # Tiles first: a dashboard of icons is what CasaOS and Umbrel users
               # expect to land on; the table is one click away for the details.
               "view": "table" if view == "table" else "tiles",
               "tiles": await _tiles(request, deployment, rows, servers),
               "name_bases": {key: base_url(found) for key, found in servers.items()},
               "view_links": {shown: _view_link(server, shown) for shown in ("tiles", "table")},
               "shown": stats.shown,  # each installation's figures, cached (no server asked)
               "refresh": REFRESH_BUSY if busy else REFRESH,
               "statuses_read_at": None if refresh else _monitor_read(deployment),
               "check_now": _check_now_link(server, view)}  # fmt: skip
    return render(request, "installed/list.html", context)


def _check_now_link(server: str | None, view: str) -> str:
    """The same list, its statuses asked of the servers now."""
    kept = [(name, value) for name, value in (("server", server or ""), ("view", view)) if value]
    return f"/installed?{urlencode([*kept, ('refresh', 'true')])}"


def _monitor_read(deployment: DeploymentService) -> datetime | None:
    """When the statuses shown were read by the health monitor (None: asked now)."""
    return deployment.statuses_read_at if deployment.statuses_fresh() else None


@dataclass
class Tile:
    """What the dashboard shows of an installation beyond its record."""

    icon: str | None = None  # the catalog app's icon, as a URL the page may load
    offered: str | None = None  # the newer version the catalog offers (deployment/outdated.py)
    job: str | None = None  # the job of the operation under way, to follow it
    open: str | None = None  # where a browser finds the app: its first TCP port
    grace: str | None = None  # how long Docker lets it stop (None: not known)


def _view_link(server: str | None, view: str) -> str:
    """The list as tiles or as a table, on the same server (tiles: no parameter)."""
    kept = urlencode([(name, value) for name, value in
                      (("server", server or ""), ("view", "" if view == "tiles" else view))
                      if value])  # fmt: skip
    return f"/installed?{kept}" if kept else "/installed"


async def _tiles(
    request: Request, deployment: DeploymentService, rows: list[InstallationPublic],
    servers: dict[str, ServerPublic],
) -> dict[str, Tile]:  # fmt: skip
    """installation id -> its tile (each catalog app read once, however many
    installations it has)."""
    apps: dict[tuple[str, str], MarketplaceApp | None] = {}
    tiles = {}
    for row in rows:
        key = (row.repo_id, row.app_id)
        if key not in apps:
            apps[key] = await _catalog_app(request, row)
        catalog = apps[key]
        tiles[row.id] = Tile(
            icon=image_url(row.repo_id, catalog.icon) if catalog else None,
            offered=row.update.offered if row.update else None,
            job=await _job_under_way(deployment, row),
            open=_open_link(row, servers.get(row.server_id)),
            grace=_grace(catalog, row),
        )
    return tiles


def _open_link(row: InstallationPublic, server: ServerPublic | None) -> str | None:
    """The app's page by its first name through its server's front door, else by its
    web port on the server's address (InstallationPublic.web)."""
    path = row.web.path if row.web is not None else "/"
    if server is not None and row.hostnames:
        base = base_url(server)
        return f"{base['scheme']}://{row.hostnames[0]}{base['port']}{path}"
    if server is None or row.web is None:
        return None
    return row.web.url(server.host)


async def _job_under_way(deployment: DeploymentService, row: InstallationPublic) -> str | None:
    if row.operation is None:
        return None
    jobs = await deployment.list_jobs(installation=row.id, limit=1)
    return jobs[0].id if jobs and jobs[0].status in UNDER_WAY else None


@router.get("/installed/{installation}", name="web_installation")
async def installation_page(
    request: Request, installation: str, principal: Viewer, deployment: DeploymentDep
) -> Response:
    """One installation: what it runs, where its data is, its recent jobs, and what
    may be done to it now."""
    current = await _with_status(request, deployment, installation)
    catalog = await _catalog_app(request, current)
    context = {
        "installation": current,
        "server": await runtime_of(request).servers.get_server(current.server_id),
        "catalog": catalog,
        # Secret values are never shown: their names, from what the user sets.
        "secret_names": [v.name for v in user_variables(catalog) if v.secret] if catalog else [],
        "data": await deployment.data_folders(current.id),
        "jobs": await deployment.list_jobs(installation=current.id, limit=10),
        "history": await _history(request, principal.user_id, current.id),
        "actions": allowed_actions(current),
        "may_read_logs": may_read_logs(request, principal),  # no link to a refusal
        "needed_by": await _needed_by(deployment, current),
        "offer": current.update,
        "grace": _grace(catalog, current),
        "refresh": REFRESH_BUSY if current.operation else REFRESH,
        "shown": stats.shown,  # its figures, as the health monitor last measured them
        "backups": await recent_backups(request, current.id),  # web/backups.py
        "names": await hostnames_of(request, current.id),  # web/domains.py
        "human_bytes": stats.human_bytes,
    }
    return render(request, "installed/detail.html", context)


async def _history(request: Request, user_id: str, installation: str) -> list[EventPublic]:
    """The installation's newest events: what the health monitor saw, failed operations."""
    events = runtime_of(request).events
    return (await events.list_events(user_id=user_id, installation=installation,
                                     limit=HISTORY)).events  # fmt: skip


def _grace(catalog: MarketplaceApp | None, installation: InstallationPublic) -> str | None:
    """How long Docker waits for the app to stop before it forces it, as its
    definition says; None when the catalog no longer describes this version."""
    if catalog is None or catalog.version != installation.version:
        return None
    return catalog.docker.stop_grace_period or "10s"  # Docker's own default


async def _needed_by(deployment: DeploymentService, installation: InstallationPublic) -> list[str]:
    """The installations that require this one and run: stopping it alone is refused."""
    needing = await deployment.dependants(installation.id)
    found = [await deployment.get_installation(ref) for ref in needing]
    return [other.name for other in found if other.status not in AT_REST]


@router.get("/installed/{installation}/logs", name="web_logs")
async def logs_page(
    request: Request,
    installation: str,
    viewer: LogReader,
    deployment: DeploymentDep,
    tail: Annotated[int, Query(ge=1, le=100_000)] = 200,
    service: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The last lines of the app's containers (merged) or of one service's; the
    page's script can follow the rest."""
    current = await deployment.get_installation(installation)
    await deployment.check_service(current.id, service)  # an unknown one: 422, as a page
    shown = LogPage(lines=[], after=[])
    error = None
    try:
        shown = await deployment.log_page(current.id, tail=tail, service=service,
                                          reader=viewer.user_id)  # fmt: skip
    except TomoError as exc:  # the server or its Docker: said on the page, not instead of it
        error = exc.message
    context = {"installation": current, "lines": shown.lines, "tail": tail, "tails": LOG_TAILS,
               "service": service, "follow_url": _follow_url(current.id, service, shown),
               "error": error}  # fmt: skip
    return render(request, "installed/logs.html", context, status=502 if error else 200)


def _follow_url(installation: str, service: str | None, shown: LogPage) -> str:
    """The API's stream that carries on right after the page's lines; stamped, so
    the page's script knows where it is when it has to reconnect."""
    query = [("follow", "true"), ("timestamps", "true"),
             *([("service", service)] if service else []),
             *(("after", place) for place in shown.after)]  # fmt: skip
    return f"/api/installations/{installation}/logs?{urlencode(query, safe=',:')}"


# -- the forms --------------------------------------------------------------------


@router.get("/installed/{installation}/update", name="web_update_form")
async def update_form(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    """The version installed and the one the catalog offers, and what may change."""
    current = await deployment.get_installation(installation)
    context = {"installation": current, "form": await _update_form(request, current),
               "values": {}, "checked": [], "errors": {}, "general": [],
               "changes": await deployment.update_changes(current.id)}  # fmt: skip
    return render(request, "installed/update.html", context)


@router.get("/installed/{installation}/uninstall", name="web_uninstall_form")
async def uninstall_form(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    """What an uninstall removes, and the folders "also delete data" would delete."""
    current = await deployment.get_installation(installation)
    server = await runtime_of(request).servers.get_server(current.server_id)
    needing = [(await deployment.get_installation(i)).name
               for i in await deployment.dependants(current.id)]  # fmt: skip
    context = {"installation": current, "data": await deployment.data_folders(current.id),
               "server": server, "dependants": needing}  # fmt: skip
    return render(request, "installed/uninstall.html", context)


# -- changes: each a job, followed on its page ---------------------------------


@router.post("/installed/{installation}/update", name="web_update")
async def update(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    """Start the update the form describes, as the API does; a refusal shows beside
    the fields with what was typed."""
    current = await deployment.get_installation(installation)
    form = await _update_form(request, current)
    values, lists = await form_values(request), await form_lists(request)
    body = form.read(values, lists.get("accept_risks", []))
    try:
        asked = UpdateRequest.model_validate(body)
        changes = ConfigChanges.model_validate(asked.model_dump(exclude={"tag"}))
        prepared = await deployment.prepare_update(current.id, tag=asked.tag, changes=changes)
    except (ValidationError, TomoError) as exc:
        errors = form.errors_of(exc)
        context = {"installation": current, "form": form, "values": values,
                   "checked": lists.get("accept_risks", []), "errors": errors.fields,
                   "general": errors.general,
                   "changes": await deployment.update_changes(current.id)}  # fmt: skip
        return render(request, "installed/update.html", context, status=_status(exc))
    return _started(request, prepared, current)


@router.post("/installed/{installation}/uninstall", name="web_uninstall")
async def uninstall(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    """Start the uninstall; the data goes only when the box was ticked and the
    page that names what goes was confirmed (a form without that confirmation gets
    the page); the apps that require it first, when that box was ticked (else it
    is refused)."""
    values = await form_values(request)
    remove_data = values.get("remove_data") == "yes"
    with_dependants = values.get("with_dependants") == "yes"
    try:
        if remove_data and values.get("confirm_delete") != "yes":
            return await _confirm_delete(request, deployment, installation, with_dependants)
        if with_dependants:
            prepared = await deployment.prepare_uninstall_with_dependants(
                installation, remove_data=remove_data)  # fmt: skip
        else:
            prepared = await deployment.prepare_uninstall(installation, remove_data=remove_data)
    except TomoError as exc:
        return await _uninstall_refused(request, deployment, installation, exc)
    return _started(request, prepared)


async def _confirm_delete(
    request: Request, deployment: DeploymentService, ref: str, with_dependants: bool
) -> Response:
    """The second question before data is deleted: every folder and volume that
    goes, of this app and of those uninstalled with it, named by the rule the
    uninstall follows. Nothing has started yet."""
    current = await deployment.get_installation(ref)
    dependants = [await deployment.get_installation(i)
                  for i in await deployment.dependants(current.id)]  # fmt: skip
    if dependants and not with_dependants:  # refused anyway: not worth confirming
        raise NeededByOthers(current.name, "uninstall", [other.name for other in dependants])
    losing: list[tuple[InstallationPublic, DataFolders]] = [
        (each, await deployment.data_folders(each.id)) for each in [*dependants, current]
    ]
    context = {"installation": current, "confirming": True, "losing": losing,
               "server": await runtime_of(request).servers.get_server(current.server_id),
               "with_dependants": with_dependants}  # fmt: skip
    return render(request, "installed/uninstall.html", context)


async def _uninstall_refused(
    request: Request, deployment: DeploymentService, ref: str, exc: TomoError
) -> Response:
    """As _refused; an app others need goes back to the uninstall form, whose box
    takes them along (the service's words name the command line's option)."""
    if not isinstance(exc, NeededByOthers):
        return _refused(request, ref, exc)
    name = (await deployment.get_installation(ref)).name
    them = ", ".join(exc.dependants)
    it = "them" if len(exc.dependants) > 1 else "it"
    said = f'{name} is needed by {them}: tick "Uninstall {them} first" to uninstall {it} too.'
    return refused(request, f"/installed/{ref}/uninstall", exc, said)


@router.post("/installed/{installation}/{verb}", name="web_installation_verb")
async def installation_verb(
    request: Request, installation: str, verb: Verb, _: Admin, deployment: DeploymentDep
) -> Response:
    """Start, stop or restart the container as a job, then follow it; a stop with the
    installations that require it, first, when asked."""
    values = await form_values(request)
    try:
        if verb == "stop" and values.get("with_dependants") == "yes":
            prepared = await deployment.prepare_stop_with_dependants(installation)
        else:
            prepared = await deployment.prepare_verb(verb, installation)
    except TomoError as exc:
        return _refused(request, installation, exc)
    return _started(request, prepared)


def _started(
    request: Request, prepared: Prepared, installation: InstallationPublic | None = None
) -> Response:
    """The job carried on after the answer, as the API's; secrets an update generated
    are shown this once, before its progress."""
    run_in_background(request, prepared.run())
    note_outcome(request, "accepted")  # the job records how it ends
    if prepared.generated_secrets and installation is not None:
        context = {"installation": installation, "job_id": prepared.job_id,
                   "secrets": prepared.generated_secrets}  # fmt: skip
        return render(request, "installed/secrets.html", context)
    return redirect(f"/jobs/{prepared.job_id}")


def _refused(request: Request, installation: str, exc: TomoError) -> Response:
    """Busy, or the installation is gone: back to where the user came from, saying so."""
    if isinstance(exc, NotFound):
        return refused(request, "/installed", exc)
    return refused(request, f"/installed/{installation}", exc)


# -- the update form, read ------------------------------------------------------


@dataclass
class Setting:
    """One field of the update form: its name, what it changes, its current value."""

    name: str
    label: str
    current: str
    hint: str = ""
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()


@dataclass
class UpdateForm:
    """The update form of one installation, from the catalog's definition (the one
    an update moves to) and the installation's config. Only fields whose value
    differs from the current one are sent as changes."""

    catalog: MarketplaceApp | None  # None: the catalog lost the app (the update keeps its own)
    env: list[Setting]
    ports: list[Setting]
    volumes: list[Setting]
    risks: list[str]  # the catalog's risk flags not accepted yet
    up_to_date: bool
    sent: dict[str, list[Setting]] = field(default_factory=dict)  # ports, volumes: as sent

    def read(self, values: dict[str, str], risks: list[str]) -> dict[str, Any]:
        """The UpdateRequest the form asks for (as the API would receive it)."""
        env = {s.name.removeprefix("env."): values[s.name] for s in self.env
               if _changed(s, values)}  # fmt: skip
        if extra := values.get("new_env_name", "").strip():
            env[extra] = values.get("new_env_value", "")
        self.sent = {"ports": [s for s in self.ports if _changed(s, values)],
                     "volumes": [s for s in self.volumes if _changed(s, values)]}  # fmt: skip
        return {
            "tag": values.get("tag", "").strip() or None,
            "env": env,
            "ports": [_port(s, values[s.name]) for s in self.sent["ports"]],
            "volumes": [_volume(s, values[s.name]) for s in self.sent["volumes"]],
            "accept_risks": risks,
        }

    def errors_of(self, exc: ValidationError | TomoError) -> FormErrors:
        """Each refusal beside the field it concerns (the service words them for
        the command line: the page puts them where the user looks)."""
        names = {"tag", "new_env_name", "accept_risks"} | {
            s.name for s in (*self.env, *self.ports, *self.volumes)
        }
        found = FormErrors()
        if isinstance(exc, ValidationError):
            for error in exc.errors():
                found.add(self._field_of(error["loc"]), _said(error["msg"]), names)
            return found
        if not isinstance(exc, InvalidInput | PreflightFailed):
            return FormErrors(general=[page_words(exc)])
        for problem in exc.problems:
            for name, said in self._placed(problem) or [("", problem.said_on_page)]:
                found.add(name, said, names)
        return found

    def _field_of(self, where: tuple[int | str, ...]) -> str:
        """The form field of a request's part (`ports.0.host`: the first port sent)."""
        name = str(where[0]) if where else ""
        if name in self.sent and len(where) > 1 and isinstance(where[1], int):
            return self.sent[name][where[1]].name
        return name

    def _placed(self, problem: Refusal) -> list[tuple[str, str]]:
        """The fields a refusal names, and what to say beside each."""
        if "accept_risks" in problem.fields:
            self.risks = list(dict.fromkeys([*self.risks, *problem.values]))
            return [("accept_risks", "accept each of these flags to update: "
                     + ", ".join(problem.values))]  # fmt: skip
        return [(self._form_field(name), self._beside(name, problem)) for name in problem.fields]

    def _form_field(self, name: str) -> str:
        """This form's input for a request's field (`ports[0]`: the definition's first)."""
        if found := INDEXED_FIELD.fullmatch(name):
            settings = self.ports if found["kind"] == "port" else self.volumes
            index = int(found["index"])
            return settings[index].name if index < len(settings) else ""
        if name.startswith("env.") and name not in {s.name for s in self.env}:
            return "new_env_name"
        return name

    def _beside(self, name: str, problem: Refusal) -> str:
        if name.startswith("env.") and name[4:] in problem.values:  # named as missing
            return "the new version needs a value"
        return problem.text


def _volume(setting: Setting, host_path: str) -> dict[str, str]:
    return {"host_path": host_path.strip(), "container_path": setting.name.removeprefix("volume.")}


def _changed(setting: Setting, values: dict[str, str]) -> bool:
    typed = values.get(setting.name, "")
    if setting.secret or setting.name.startswith("volume."):
        return typed.strip() != "" and typed != setting.current  # empty: keep it
    return setting.name in values and typed != setting.current


def _said(message: str) -> str:
    return message.removeprefix("Value error, ")


def _port(setting: Setting, host: str) -> dict[str, str]:
    container, _, protocol = setting.name.removeprefix("port.").partition("/")
    return {"host": host.strip(), "container": container, "protocol": protocol}


async def _update_form(request: Request, installation: InstallationPublic) -> UpdateForm:
    catalog = await _catalog_app(request, installation)
    config = installation.config
    env: dict[str, str] = dict(config.get("env") or {})
    accepted = set(config.get("accept_risks") or [])
    if catalog is None:
        settings = [Setting(f"env.{name}", name, value) for name, value in env.items()]
        return UpdateForm(None, settings, [], [], [], up_to_date=True)
    return UpdateForm(
        catalog,
        env=_env_settings(catalog, env),
        ports=_port_settings(catalog, config.get("ports") or []),
        volumes=_volume_settings(catalog, config.get("volumes") or []),
        risks=[flag for flag in catalog.risks if flag not in accepted],
        up_to_date=(catalog.docker.image, catalog.version)
        == (installation.image, installation.version),
    )


def _env_settings(catalog: MarketplaceApp, env: dict[str, str]) -> list[Setting]:
    settings = []
    variables = user_variables(catalog)  # an app with settings is set through them
    for variable in variables:
        hint = variable.description
        if variable.secret:
            hint = (hint + " " if hint else "") + "Hidden. Leave empty to keep the value it has."
        elif variable.default is not None and variable.name not in env:
            hint = (hint + " " if hint else "") + f"Default: {variable.default}"
        required = variable.required and variable.default is None and not variable.generate
        current = "" if variable.secret else env.get(variable.name, "")
        settings.append(Setting(f"env.{variable.name}", variable.name, current, hint, required,
                                variable.secret, tuple(variable.choices)))  # fmt: skip
    declared = {v.name for v in variables}
    settings += [Setting(f"env.{name}", name, value, "Set by you; not in the app's definition.")
                 for name, value in env.items() if name not in declared]  # fmt: skip
    return settings


def _port_settings(catalog: MarketplaceApp, overrides: list[dict[str, Any]]) -> list[Setting]:
    if not publishes_ports(catalog.docker.network_mode):
        return []
    chosen = {(o["container"], o["protocol"]): o["host"] for o in overrides}
    settings: dict[str, Setting] = {}
    for port in catalog.docker.ports:
        key = f"{port.container}/{port.protocol}"
        host = chosen.get((port.container, port.protocol), port.host or port.container)
        settings.setdefault(key, Setting(f"port.{key}", f"Host port for {key}", str(host),
                                         port.description))  # fmt: skip
    return list(settings.values())


def _volume_settings(catalog: MarketplaceApp, overrides: list[dict[str, Any]]) -> list[Setting]:
    chosen = {o["container_path"]: o["host_path"] for o in overrides}
    return [
        Setting(f"volume.{v.container_path}", f"Host folder for {v.container_path}",
                chosen.get(v.container_path, v.host_path or ""), v.description)
        for v in catalog.docker.volumes
        if v.volume is None and v.imported_folder is None  # Docker's, or another app's
    ]  # fmt: skip


# -- helpers --------------------------------------------------------------------


async def _servers(request: Request) -> dict[str, ServerPublic]:
    return {s.id: s for s in await runtime_of(request).servers.list_servers()}


def _name_of(servers: dict[str, ServerPublic], ref: str | None) -> str:
    if not ref:
        return ""
    found = servers.get(ref) or next((s for s in servers.values() if s.name == ref), None)
    return found.name if found else ref


async def _catalog_app(request: Request, installation: InstallationPublic) -> MarketplaceApp | None:
    """The catalog's entry for the installed app now (None when the catalog lost it)."""
    try:
        app: MarketplaceApp = await runtime_of(request).marketplace.get_app(
            f"{installation.repo_id}/{installation.app_id}"
        )
    except NotFound:
        return None
    return app


async def _with_status(
    request: Request, deployment: DeploymentService, ref: str
) -> InstallationPublic:
    """The installation with its status asked of Docker, or as last known when its
    server is slow to answer (the page must not hang on it)."""
    try:
        async with asyncio.timeout(runtime_of(request).settings.ssh_status_timeout):
            return await deployment.refresh_status(ref)
    except TimeoutError:
        return await deployment.get_installation(ref)


def _status(exc: Exception) -> int:
    return exc.http_status if isinstance(exc, TomoError) else 422


async def count_updates_offered(request: Request) -> None:
    """The navigation's figure beside "Installed", kept on the request for `render`:
    the installations the catalog offers a newer version of (one query, no server
    asked), for a page a browser asks for by a session (not its images or streams)."""
    if request.cookies.get(SESSION_COOKIE) and wants_a_page(request):
        deployment = runtime_of(request).deployment
        request.state.updates_offered = await deployment.count_updates_offered()
