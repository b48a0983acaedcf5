"""Pages: the installed apps. Every installation with its live status, one
installation (its config, its jobs, what may be done to it), and the forms that
start, stop, restart, update and uninstall it, and its logs.

Each change is the API's: the same service call prepares the job, the API's
`run_in_background` carries it out, and the browser goes to the job's page to
follow it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.deployment.app_spec import user_variables
from tomo.deployment.manage import AT_REST
from tomo.deployment.operation import Prepared
from tomo.deployment.schemas import InstallationPublic
from tomo.deployment.service import DeploymentService
from tomo.deployment.spec import ConfigChanges, UpdateRequest, publishes_ports
from tomo.deployment.states import allowed_actions
from tomo.errors import InvalidInput, NotFound, PreflightFailed, Refusal, TomoError
from tomo.http.deps import DeploymentDep, run_in_background, runtime_of
from tomo.http.middleware import note_outcome
from tomo.marketplace.schemas import MarketplaceApp
from tomo.servers.schemas import ServerPublic
from tomo.web.forms import INDEXED_FIELD, FormErrors, form_lists, form_values
from tomo.web.session import Admin, LogReader, Viewer, may_read_logs
from tomo.web.templating import redirect, refused, render

router = APIRouter()
Verb = Literal["start", "stop", "restart"]
LOG_TAILS = (100, 200, 1000, 5000)


# -- reading ------------------------------------------------------------------


@router.get("/installed", name="web_installed")
async def installed(
    request: Request, _: Viewer, deployment: DeploymentDep, server: str | None = None
) -> Response:
    """Every installation, its status asked of Docker now (each server at once; a
    server slow to answer shows `unknown` and holds up no other)."""
    rows = await deployment.list_with_status(server or None)
    servers = await _servers(request)
    context = {"installations": rows, "servers": servers, "server": server or "",
               "server_name": _name_of(servers, server)}  # fmt: skip
    return render(request, "installed/list.html", context)


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
        "actions": allowed_actions(current),
        "may_read_logs": may_read_logs(request, principal),  # no link to a refusal
        "needed_by": await _needed_by(deployment, current),
    }
    return render(request, "installed/detail.html", context)


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
    lines: list[str] = []
    error = None
    try:
        lines = [line async for line in deployment.logs(current.id, tail=tail, service=service,
                                                        reader=viewer.user_id)]  # fmt: skip
    except TomoError as exc:  # the server or its Docker: said on the page, not instead of it
        error = exc.message
    follow = {"follow": "true", "tail": "0", **({"service": service} if service else {})}
    context = {"installation": current, "lines": lines, "tail": tail, "tails": LOG_TAILS,
               "service": service, "follow_url": f"/api/installations/{current.id}/logs?"
               + urlencode(follow), "error": error}  # fmt: skip
    return render(request, "installed/logs.html", context, status=502 if error else 200)


# -- the forms --------------------------------------------------------------------


@router.get("/installed/{installation}/update", name="web_update_form")
async def update_form(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    """The version installed and the one the catalog offers, and what may change."""
    current = await deployment.get_installation(installation)
    context = {"installation": current, "form": await _update_form(request, current),
               "values": {}, "checked": [], "errors": {}, "general": []}  # fmt: skip
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
                   "general": errors.general}  # fmt: skip
        return render(request, "installed/update.html", context, status=_status(exc))
    return _started(request, prepared, current)


@router.post("/installed/{installation}/uninstall", name="web_uninstall")
async def uninstall(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    """Start the uninstall; the data goes only when the box was ticked; the apps
    that require it first, when that box was ticked (else it is refused)."""
    values = await form_values(request)
    remove_data = values.get("remove_data") == "yes"
    try:
        if values.get("with_dependants") == "yes":
            prepared = await deployment.prepare_uninstall_with_dependants(
                installation, remove_data=remove_data)  # fmt: skip
        else:
            prepared = await deployment.prepare_uninstall(installation, remove_data=remove_data)
    except TomoError as exc:
        return _refused(request, installation, exc)
    return _started(request, prepared)


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
            return FormErrors(general=[exc.message])
        for problem in exc.problems:
            for name, said in self._placed(problem) or [("", problem.text)]:
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
        if v.volume is None  # a named volume is Docker's to place
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
