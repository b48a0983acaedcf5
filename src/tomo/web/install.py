"""Pages: installing an app, and following a job to its end.

The install form is generated from the app's definition and read into the same
InstallConfig the API takes; the service validates it. Before an install is
recorded, the server is asked whether it can take the app (the API's
`?preview=true` with its checks), so a port already in use or a server without
room is told beside the form rather than after the redirect, with a free port or
name to put in by one click. A preview needs no risk accepted: it names those to
accept. The job page shows the stored steps; static/progress.js follows the job's
events where a browser runs it. What the browser keeps between these pages (the
form for a retry, the generated secrets until the install is done) is in
install_memory.py.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.auth.service import Principal
from tomo.deployment.app_spec import user_variables
from tomo.deployment.schemas import (
    ISOLATED_NETWORK_SAID,
    InstallationPublic,
    InstallPreview,
    InstallStarted,
    JobPublic,
    StepPublic,
)
from tomo.deployment.service import DeploymentService
from tomo.deployment.spec import InstallConfig, unaccepted
from tomo.deployment.statuses import UNDER_WAY, JobStatus
from tomo.errors import (
    InvalidInput,
    MissingDependencies,
    NotFound,
    PreflightFailed,
    Refusal,
    TomoError,
)
from tomo.http.deps import run_in_background, runtime_of
from tomo.marketplace.definition import AppEnvVar, AppVolume
from tomo.marketplace.risk_words import explain_risk
from tomo.marketplace.schemas import MarketplaceApp
from tomo.proxy.schemas import login_said
from tomo.runtime import Runtime
from tomo.servers.schemas import ServerPublic
from tomo.web.domains import base_url
from tomo.web.forms import INDEXED_FIELD, FormErrors, form_lists, form_values, page_words
from tomo.web.install_memory import (
    Holder,
    KeptForm,
    drop_generated,
    generated_held,
    hold_generated,
    keep_form,
    kept_form,
)
from tomo.web.session import Admin, Viewer
from tomo.web.templating import accepted, render

router = APIRouter()


@router.get("/apps/{repo}/{app}/install", name="web_install_form")
async def install_form(
    request: Request, repo: str, app: str, admin: Admin, server: str | None = None,
    job: str | None = None,
) -> Response:  # fmt: skip
    """Choose a server (the chosen one checked for real) and the app's settings; after
    a failed install (`job`), what was sent then."""
    runtime = runtime_of(request)
    entry = await runtime.marketplace.get_app(f"{repo}/{app}")
    servers = await runtime.servers.list_servers()
    chosen = _chosen(servers, server)
    kept = kept_form(request, _holder(request, runtime, admin), job) if job else None
    form = InstallForm(entry, accepted=kept.risks if kept else None)
    page = InstallPage(entry, servers, chosen, None, form, form.defaults() | _values_of(kept))
    page.kept = kept
    if chosen:
        page.fit = form.judged(await _fit(runtime.deployment, chosen, entry))
        page.first = await _first(runtime.deployment, chosen, entry)
    return render(request, "install/form.html", page.context())


def _values_of(kept: KeptForm | None) -> dict[str, str]:
    return kept.values if kept else {}


async def _first(
    deployment: DeploymentService, server: ServerPublic | None, entry: MarketplaceApp
) -> list[str]:
    """The apps it requires that the server lacks, in the order to install them."""
    if server is None or not entry.requires:
        return []
    try:
        return await deployment.install_order(server.id, _ref(entry))
    except TomoError:  # a circle, an app missing from the catalog: the app page says it
        return []


@router.post("/apps/{repo}/{app}/install", name="web_install")
async def install(request: Request, repo: str, app: str, admin: Admin) -> Response:
    """Preview or install what the form says; a refusal comes back beside its field.
    A suggestion taken (`fill`: a free port or name) is put in and previewed."""
    runtime = runtime_of(request)
    page = await _typed_page(request, runtime, await runtime.marketplace.get_app(f"{repo}/{app}"))
    if page.chosen is None:
        return page.refused(request, FormErrors(general=["Choose a server to install on."]))
    installing = page.values.get("action") == "install"
    if installing and page.first and page.values.get("with_dependencies") == "on":
        return await _install_chain(request, runtime, page, admin)
    try:
        config = page.form.config(page.values)
        plan = await runtime.deployment.preview_install(page.chosen.id, page.form.ref, config,
                                                        check=True)  # fmt: skip
        if not installing or plan.problems or plan.risks_to_accept:
            return page.previewed(request, plan, installing=installing)
        started = await runtime.deployment.install_app(page.chosen.id, page.form.ref, config)
    except (ValidationError, TomoError) as exc:
        page.fit = page.form.judged(await _fit(runtime.deployment, page.chosen, page.entry))
        return page.refused(request, page.form.place(exc, page.values))
    run_in_background(request, runtime.deployment.run_job(started.job_id))  # as the API does
    return _to_the_job(request, _holder(request, runtime, admin), page, started)


def _to_the_job(
    request: Request, holder: Holder, page: InstallPage, started: InstallStarted, note: str = ""
) -> Response:
    """On to the job's page, which shows the generated secrets once the install is
    done; the form as sent is kept for a retry (see install_memory)."""
    response = accepted(request, f"/jobs/{started.job_id}", note or None)
    keep_form(response, holder, page.form.ref, started.job_id, page.kept_for_retry())
    hold_generated(response, holder, started.job_id, started.generated_secrets)
    return response


def _holder(request: Request, runtime: Runtime, principal: Principal) -> Holder:
    secure = request.url.scheme == "https" or runtime.settings.secure_cookies
    return Holder(runtime.servers.secrets, principal.user_id, secure)


@router.get("/jobs/{job_id}", name="web_job")
async def job_page(request: Request, job_id: str, viewer: Viewer) -> Response:
    """A job's steps and how it ended; the page's script follows it while it runs.
    The secrets tomo generated for it are shown once, when the install is done."""
    runtime = runtime_of(request)
    job = await runtime.deployment.get_job(job_id)
    installation = await _installation_of(runtime, job)
    server = await _server_of(runtime, job.server_id)
    held = generated_held(request, _holder(request, runtime, viewer), job_id)
    labels = step_labels(installation)
    context = {"job": job, "steps": _steps_of(job, labels),
               "installation": installation, "server": server,
               "end": JobEnd.of(job, installation, server, runtime.settings.publish_address),
               "labels": labels, "title": _job_title(job),
               "generated": held if job.status == JobStatus.DONE else None}  # fmt: skip
    response = render(request, "jobs/job.html", context)
    if held is not None and job.status not in UNDER_WAY:  # shown once, or never (failed)
        drop_generated(response, job_id)
    return response


async def _typed_page(request: Request, runtime: Runtime, entry: MarketplaceApp) -> InstallPage:
    """The install page as the form was sent: the server chosen, what was typed (and
    a suggestion taken: `fill` is `port.0=8081`, `name=web-2`)."""
    values = await form_values(request)
    form = InstallForm(entry, accepted=(await form_lists(request)).get("risk", []))
    key, _, offered = values.pop("fill", "").partition("=")
    if key in form.fillable():
        values[key] = offered
    servers = await runtime.servers.list_servers()
    chosen = _chosen(servers, values.get("server"))
    page = InstallPage(entry, servers, chosen, None, form, values)
    page.first = await _first(runtime.deployment, chosen, entry)
    return page


# -- choosing a server ------------------------------------------------------------


async def _install_chain(
    request: Request, runtime: Runtime, page: InstallPage, admin: Principal
) -> Response:
    """What the app needs first, then the app, each a job of its own run in order
    (DeploymentService.run_chain); on to the app's job, which starts once they are up."""
    assert page.chosen is not None
    try:
        config = page.form.config(page.values)
        deployment = runtime.deployment
        started = await deployment.install_with_dependencies(page.chosen.id, page.form.ref, config)
    except (ValidationError, TomoError) as exc:
        return page.refused(request, page.form.place(exc, page.values))
    run_in_background(request, runtime.deployment.run_chain(started))
    first = ", then ".join(step.installation.name for step in started.dependencies)
    said = f"Installing {first} first, then {started.installation.name} (this page)."
    return _to_the_job(request, _holder(request, runtime, admin), page, started, said)


def _chosen(servers: list[ServerPublic], wanted: str | None) -> ServerPublic | None:
    """The server asked for by id or name; else the first one online (or the first)."""
    if wanted:
        return next((s for s in servers if wanted in (s.id, s.name)), None)
    return next((s for s in servers if s.status == "online"), servers[0] if servers else None)


async def _fit(
    deployment: DeploymentService, server: ServerPublic, entry: MarketplaceApp
) -> list[Refusal]:
    """Every reason the server cannot take the app as the definition has it, asked of
    the server now. The answer depends on ports, paths and the name, not on values the
    user has yet to type: required ones get a stand-in and the app's flags are taken as
    accepted, so only the server's side is judged here."""
    stand_ins = {v.name: "x" for v in user_variables(entry)
                 if v.required and not v.default and not v.generate}  # fmt: skip
    probe = InstallConfig(env=stand_ins, accept_risks=list(entry.risks))
    try:
        plan = await deployment.preview_install(server.id, _ref(entry), probe, check=True)
    except MissingDependencies:
        return []  # said above the servers, with a way to install them first
    except (InvalidInput, PreflightFailed) as exc:
        return list(exc.problems)  # their words, without the command line's hints
    except TomoError as exc:
        return [Refusal(exc.message)]
    return [problem.problem() for problem in plan.problems or []]


def _ref(entry: MarketplaceApp) -> str:
    return f"{entry.repo_id}/{entry.id}"


# -- the form ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One input of the form: its field name, label, hint, and how it is typed."""

    key: str
    label: str
    hint: str = ""
    default: str = ""
    required: bool = False
    secret: bool = False
    kind: str = "text"
    placeholder: str = ""
    choices: tuple[str, ...] = ()  # the only values it takes: offered as a list


# The front door's inputs: the names it routes to the app (typed apart by spaces or
# commas), and who it lets through (a word of proxy.schemas.LOGIN_WORDS).
DOOR_INPUTS = ("hostnames", "login")
# The install form's "Runs as", on a Swarm manager: InstallConfig.swarm (absent: None,
# as the server is).
RUNS_AS = {"services": True, "containers": False}
# Its other inputs there: the node the data goes on, the main service's replicas, and
# how ports are published (InstallConfig.publish_mode), as offered.
SWARM_INPUTS = ("swarm", "swarm_node", "replicas", "publish_mode")
PUBLISH_MODES = {"host": "On the node that runs it", "ingress": "On every node (routing mesh)"}
NAMES_APART = re.compile(r"[\s,]+")


class InstallForm:
    """The inputs an app's definition asks for, and the reading of them into the
    InstallConfig the API takes (names: name, env.NAME, port.N, volume.N, risk)."""

    def __init__(self, entry: MarketplaceApp, accepted: list[str] | None = None) -> None:
        self.entry = entry
        self.ref = _ref(entry)
        self.accepted = list(accepted or [])
        docker = entry.docker
        self.variables = user_variables(entry)
        self.env = [_env_row(variable) for variable in self.variables]
        self.ports = [Row(f"port.{i}", f"Host port for {p.container}/{p.protocol}",
                          _sentences(p.description, f"Default: {p.host or p.container}"),
                          str(p.host or p.container), kind="number")
                      for i, p in enumerate(docker.ports)]  # fmt: skip
        # Folders on the server; a named volume is Docker's to place, not a folder to
        # choose, and a required app's folder is that app's.
        self.folders = [volume for volume in docker.volumes
                        if volume.volume is None and volume.imported_folder is None]  # fmt: skip
        self.volumes = [_volume_row(i, volume) for i, volume in enumerate(self.folders)]
        self.risks: list[str] = list(entry.risks)  # and any an override adds (see place)
        self.suggestions: dict[str, str] = {}  # input -> a free value the server offers

    def defaults(self) -> dict[str, str]:
        rows = [*self.env, *self.ports, *self.volumes]
        return {"name": self.entry.id} | {row.key: row.default for row in rows if not row.secret}

    def config(self, values: dict[str, str]) -> InstallConfig:
        """What was typed, as the API's request; an empty input leaves the definition's
        choice (its default, a generated secret, a folder under the instance's own)."""
        docker = self.entry.docker
        ports = [{"host": values.get(row.key, "").strip() or row.default,
                  "container": port.container, "protocol": port.protocol}
                 for row, port in zip(self.ports, docker.ports, strict=True)]  # fmt: skip
        volumes = [{"host_path": values[row.key].strip(), "container_path": volume.container_path}
                   for row, volume in zip(self.volumes, self.folders, strict=True)
                   if values.get(row.key, "").strip() not in ("", row.default)]  # fmt: skip
        env = {v.name: values[row.key] for row, v in zip(self.env, self.variables, strict=True)
               if values.get(row.key, "") != ""}  # fmt: skip
        return InstallConfig.model_validate({
            "name": values.get("name", "").strip() or None, "env": env, "ports": ports,
            "volumes": volumes, "accept_risks": self.accepted,
            "updates": {"policy": values.get("updates") or "manual"},
            "hostnames": [name for name in NAMES_APART.split(values.get("hostnames", "")) if name],
            "login": values.get("login") or None,
            "swarm": RUNS_AS.get(values.get("swarm", "")), **self._on_swarm(values),
        })  # fmt: skip

    def _on_swarm(self, values: dict[str, str]) -> dict[str, object]:
        """The Swarm's inputs that were filled: the data's node, the main service's
        replicas, the ports' mode."""
        chosen: dict[str, object] = {}
        if values.get("swarm_node", "").strip():
            chosen["swarm_node"] = values["swarm_node"].strip()
        if values.get("replicas", "").strip():
            chosen["replicas"] = {"": values["replicas"].strip()}
        if values.get("publish_mode"):  # another word is refused beside its input
            chosen["publish_mode"] = values["publish_mode"]
        return chosen

    def known(self) -> set[str]:
        rows = [*self.env, *self.ports, *self.volumes]
        return ({"name", "updates", *SWARM_INPUTS, *DOOR_INPUTS} | {row.key for row in rows}
                | {f"risk.{flag}" for flag in self.risks})  # fmt: skip

    def fillable(self) -> set[str]:
        """The inputs a suggestion may fill: the name and the host ports."""
        return {"name"} | {row.key for row in self.ports}

    def judged(self, problems: list[Refusal]) -> list[str]:
        """What the server said, as sentences; the free values it offers noted."""
        for problem in problems:
            self._note_suggestion(problem)
        return [problem.said_on_page for problem in problems]

    def _note_suggestion(self, problem: Refusal) -> None:
        if problem.suggestion:
            for name in problem.fields:
                for key in set(self._keys_of(name, [])) & self.fillable():
                    self.suggestions.setdefault(key, problem.suggestion)

    def place(self, exc: ValidationError | TomoError, values: dict[str, str]) -> FormErrors:
        """The service's refusal, each problem beside the inputs it names."""
        if isinstance(exc, ValidationError):
            placed = FormErrors()
            for error in exc.errors():
                key = self._key_of_location(error["loc"], values)
                placed.add(key, str(error["msg"]).removeprefix("Value error, "), self.known())
            return placed
        if isinstance(exc, InvalidInput | PreflightFailed):
            return self.place_all(list(exc.problems), on_server=isinstance(exc, PreflightFailed))
        return FormErrors(general=[page_words(exc)])

    def place_all(
        self, problems: list[Refusal], *, on_server: bool = False, into: FormErrors | None = None
    ) -> FormErrors:
        """Each problem beside its inputs; the server's (a preflight's) also above the
        form, as what the chosen server said."""
        placed = FormErrors() if into is None else into
        for problem in problems:
            self._place_problem(placed, problem, on_server=on_server)
        return placed

    def _key_of_location(self, loc: tuple[int | str, ...], values: dict[str, str]) -> str:
        if loc[:1] == ("ports",) and len(loc) > 1:
            return f"port.{loc[1]}"
        if loc[:1] == ("volumes",) and len(loc) > 1:  # only changed volumes are sent
            changed = [r.key for r in self.volumes
                       if values.get(r.key, "").strip() not in ("", r.default)]  # fmt: skip
            return changed[int(loc[1])] if int(loc[1]) < len(changed) else ""
        if loc[:1] == ("env",) and len(loc) > 1:
            return f"env.{loc[1]}"
        return str(loc[0]) if loc else ""

    def _place_problem(self, placed: FormErrors, problem: Refusal, *, on_server: bool) -> None:
        self._note_suggestion(problem)
        flags = list(problem.values) if "accept_risks" in problem.fields else []
        self.risks += [flag for flag in flags if flag not in self.risks]
        keys = [key for name in problem.fields for key in self._keys_of(name, flags)]
        for key in keys:
            placed.add(key, _beside(key, problem), self.known())
        if not keys or (on_server and flags):  # a risk the server found: say where
            placed.general.append(problem.said_on_page)

    def _keys_of(self, name: str, flags: list[str]) -> list[str]:
        """The inputs of a request's field: `env.X`, `ports[0]` → `port.0`,
        `volumes[1]` → `volume.1`, `accept_risks` → each flag's box, `name`."""
        if name == "accept_risks":
            return [f"risk.{flag}" for flag in flags]
        if (field_name := name.partition("[")[0]) in DOOR_INPUTS:  # `hostnames[1]`: one input
            return [field_name]
        if found := INDEXED_FIELD.fullmatch(name):
            return [f"{found['kind']}.{found['index']}"]
        return [name] if name in ("name", *SWARM_INPUTS) or name.startswith("env.") else []


def _env_row(variable: AppEnvVar) -> Row:
    if variable.generate:
        empty = f"Leave empty and tomo generates a {variable.generate} (shown once, after)."
    elif variable.default is not None and variable.secret:
        empty = "Leave empty to keep the app's default."
    else:
        empty = ""
    secret = "Secret: stored encrypted, never shown again." if variable.secret else ""
    hint = _sentences(variable.description, empty, secret)
    return Row(f"env.{variable.name}", variable.name, hint,
               "" if variable.secret else (variable.default or ""),
               required=variable.required and not variable.generate and not variable.default,
               secret=variable.secret, kind="password" if variable.secret else "text",
               choices=tuple(variable.choices))  # fmt: skip


def _volume_row(index: int, volume: AppVolume) -> Row:
    where = ("Leave empty and tomo makes a folder for it under the instance's own folder."
             if volume.host_path is None else
             "A path starting with ./ is inside the instance's own folder.")  # fmt: skip
    access = "Read-only in the container." if volume.readonly else ""
    placeholder = "" if volume.host_path else "./" + posixpath.basename(volume.container_path)
    return Row(f"volume.{index}", f"Host folder for {volume.container_path}",
               _sentences(volume.description, access, where), volume.host_path or "",
               placeholder=placeholder)  # fmt: skip


def _sentences(*parts: str) -> str:
    """Hints joined as sentences (a catalog's descriptions often end without a stop)."""
    return " ".join(p if p.endswith((".", "!", "?", ")")) else f"{p}." for p in parts if p)


def _beside(key: str, problem: Refusal) -> str:
    """A problem's words for the input it stands beside."""
    if key.startswith("env.") and key[4:] in problem.values:  # named as missing
        return "required: give it a value"
    if key.startswith("risk."):
        return "not accepted: tick it to install this app, or choose another"
    return problem.text


@dataclass
class InstallPage:
    """Everything the install page shows: the app, the servers and the chosen one's
    check, what was typed (secret values never sent back), errors, the preview."""

    entry: MarketplaceApp
    servers: list[ServerPublic]
    chosen: ServerPublic | None
    fit: list[str] | None
    form: InstallForm
    values: dict[str, str]
    errors: FormErrors = field(default_factory=FormErrors)
    preview: InstallPreview | None = None
    first: list[str] = field(default_factory=list)  # required apps the server lacks, in order
    kept: KeptForm | None = None  # the form of an install that failed, filled in again

    def context(self) -> dict[str, Any]:
        form = self.form
        retype = [row.key for row in form.env if row.secret and self.values.get(row.key)]
        retype += self.kept.retype if self.kept else []
        shown = {k: v for k, v in self.values.items() if k not in retype and k != "csrf_token"}
        return {"app": self.entry, "servers": self.servers, "chosen": self.chosen,
                "fit": self.fit, "form": form, "values": shown, "retype": retype,
                "errors": self.errors.fields, "general": self.errors.general,
                "accepted": form.accepted, "preview": self.preview,
                "command": shell_lines(self.preview.argv) if self.preview else "",
                "commands": [shell_lines(c.argv) for c in self.preview.containers]
                if self.preview else [],
                "creates": creations(self.preview) if self.preview else [],
                "error_links": self.error_links(), "first": self.first,
                "suggestions": form.suggestions, "kept": self.kept, "publish_modes": PUBLISH_MODES,
                "explain": explain_risk}  # fmt: skip

    def kept_for_retry(self) -> KeptForm:
        """The form as sent, for "Back to the install form": secrets typed left out."""
        secret = {row.key for row in self.form.env if row.secret}
        kept = self.form.known() - secret - {f"risk.{flag}" for flag in self.form.risks}
        values = {k: v for k, v in self.values.items() if k in kept | {"with_dependencies"}}
        return KeptForm(values, list(self.form.accepted),
                        sorted(key for key in secret if self.values.get(key)))  # fmt: skip

    def error_links(self) -> list[tuple[str, str, str]]:
        """(input id, label, message) of each input refused, for the list atop the form."""
        form = self.form
        labels = {
            "name": "Instance name",
            "hostnames": "Names",
            "login": "Login in front of it",
        } | {row.key: row.label for row in [*form.env, *form.ports, *form.volumes]}
        labels |= {f"risk.{flag}": explain_risk(flag)[0] for flag in form.risks}  # fmt: skip
        return [(f"f-{key}", labels.get(key, key), message)
                for key, message in self.errors.fields.items()]  # fmt: skip

    def previewed(self, request: Request, plan: InstallPreview, *, installing: bool) -> Response:
        """The preview, with the risk flags to accept; an install the server refuses,
        or whose flags are not all accepted, comes back with its reasons."""
        found = [problem.problem() for problem in plan.problems or []]
        self.preview = plan
        self.fit = self.form.judged(found) if plan.problems is not None else None
        self.form.risks += [flag for flag in plan.risks_to_accept if flag not in self.form.risks]
        if installing:
            self.errors = self.form.place_all(found, on_server=True)
            told = {flag for problem in found for flag in problem.values}
            missing = unaccepted([f for f in plan.risks_to_accept if f not in told], [])
            self.form.place_all([missing] if missing else [], into=self.errors)
        return render(request, "install/form.html", self.context(),
                      status=422 if installing else 200)  # fmt: skip

    def refused(self, request: Request, errors: FormErrors) -> Response:
        self.errors = errors
        return render(request, "install/form.html", self.context(), status=422)


# `docker container run` options that take no value.
FLAG_OPTIONS = frozenset(
    "--detach --privileged --init --read-only --rm --interactive --tty".split()
)


def shell_lines(argv: list[str]) -> str:
    """The argv as one shell command (each piece quoted by shlex), an option a line."""
    lines, at = [shlex.join(argv[:3])], 3  # docker container run
    while at < len(argv):
        if not argv[at].startswith("--"):  # the image, and the command after it
            lines.append(shlex.join(argv[at:]))
            break
        width = 1 if argv[at] in FLAG_OPTIONS or "=" in argv[at] else 2
        lines.append(shlex.join(argv[at : at + width]))
        at += width
    return " \\\n    ".join(lines)


@dataclass(frozen=True)
class Creation:
    """One thing an install makes on the server, for a person: what, and its parts."""

    what: str  # "container", "network", "volume", "folder"
    name: str
    detail: str = ""
    parts: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, there, here)


def creations(plan: InstallPreview) -> list[Creation]:
    """What the preview says an install makes: its folder, network and volumes, then
    each container with the ports it publishes and what it mounts."""
    where = f", on node {plan.data_node}" if plan.data_node else ""
    made = [Creation("folder", plan.instance_dir, f"the installation's own{where}")]
    if plan.network:
        made.append(Creation("overlay network", plan.network, "its own") if plan.swarm
                    else Creation("network", plan.network))  # fmt: skip
    if plan.isolated_network:
        made.append(Creation("network", plan.isolated_network, ISOLATED_NETWORK_SAID))
    if plan.login:
        said = f"routed by the server's front door; {login_said(plan.login)}"
        made += [Creation("name", name, said) for name in plan.hostnames]
    made += [Creation("volume", volume) for volume in plan.volumes]
    for container in plan.containers:
        ports = [("port", *_port_sides(port)) for port in container.ports]
        mounts = [("folder", *_mount_sides(f)) for f in container.folders]
        mounts += [("volume", *_mount_sides(v)) for v in container.volumes]
        what, said = ("Swarm service", f"from {container.image}; {container.swarm}"
                      ) if plan.swarm else ("container", f"from {container.image}")  # fmt: skip
        made.append(Creation(what, container.name, said, [*ports, *mounts]))
    return made


def _port_sides(port: str) -> tuple[str, str]:
    """`HOST:CONTAINER/PROTOCOL` as (host port, container side)."""
    host, _, container = port.partition(":")
    return host, container


def _mount_sides(mount: str) -> tuple[str, str]:
    """`HOST:CONTAINER[:ro]` as (host, container side in words)."""
    source, _, target = mount.removesuffix(":ro").rpartition(":")
    return source, f"{target} (read-only)" if mount.endswith(":ro") else target


# -- the job page -----------------------------------------------------------------

STEP_LABELS = {
    "validate": "Check the settings", "preflight": "Check the server",
    "pull": "Pull the image", "create": "Create the container", "wait": "Wait until it runs",
    "replace": "Replace the container", "settle": "Finish an earlier job's cleanup",
    "start": "Start the container", "stop": "Stop the container",
    "restart": "Restart the container", "remove container": "Remove the container",
    "remove data": "Remove the data", "keep data": "Keep the data",
    "set aside": "Stop the running version", "save": "Back the data up",
    "record": "Save its settings with the backup", "check": "Check the server",
    "restore": "Restore the data", "swap": "Put the restored data in place",
    "retention": "Forget the backups no longer kept",
}  # fmt: skip
# The same steps of an app of several containers.
SEVERAL_STEP_LABELS = {
    **STEP_LABELS, "pull": "Pull the images", "create": "Create its own containers",
    "replace": "Replace its own containers", "start": "Start its own containers",
    "stop": "Stop its own containers", "restart": "Restart its own containers",
    "remove container": "Remove its own containers",
}  # fmt: skip


def step_labels(installation: InstallationPublic | None) -> dict[str, str]:
    several = installation is not None and len(installation.containers) > 1
    return SEVERAL_STEP_LABELS if several else STEP_LABELS


@dataclass(frozen=True)
class StepView:
    name: str
    label: str
    status: str
    message: str | None
    done: int | None
    total: int | None
    started: str  # ISO 8601 ('' until it starts): with the name, how progress.js finds it

    @classmethod
    def of(cls, step: StepPublic, labels: dict[str, str]) -> StepView:
        return cls(step.name, labels.get(step.name, step.name.capitalize()), step.status,
                   step.message, step.progress_done, step.progress_total,
                   step.started_at.isoformat())  # fmt: skip


# The steps a job of each kind goes through, shown as waiting until they start.
PLANNED = {"install": ["validate", "preflight", "pull", "create", "wait"],
           "update": ["validate", "preflight", "pull", "set aside", "replace", "wait"],
           "backup": ["stop", "save", "record"],
           "restore": ["check", "stop", "restore", "swap", "start"],
           "start": ["start"], "stop": ["stop"], "restart": ["restart"],
           "uninstall": ["remove container"]}  # fmt: skip


def _steps_of(job: JobPublic, labels: dict[str, str]) -> list[StepView]:
    """The steps so far and, while the job runs, those still to come."""
    steps = [StepView.of(step, labels) for step in job.steps]
    if job.status not in ("pending", "running"):
        return steps
    seen = {step.name for step in job.steps}
    return steps + [StepView(name, labels.get(name, name), "pending", None, None, None, "")
                    for name in PLANNED.get(job.kind, []) if name not in seen]  # fmt: skip


@dataclass(frozen=True)
class JobEnd:
    """How a job ended, for a person: where the app answers, or what went wrong,
    what was undone and what to do."""

    links: list[str]
    other_ports: list[str]  # UDP: no link to follow
    loopback_only: bool  # published on the server's loopback: not reachable from elsewhere
    cause: str | None
    cleanup: str | None
    next_step: str | None

    @classmethod
    def of(
        cls, job: JobPublic, installation: InstallationPublic | None,
        server: ServerPublic | None, publish_address: str,
    ) -> JobEnd:  # fmt: skip
        links, others = _addresses(job, installation, server)
        loopback = publish_address in LOOPBACK and (server is None or server.host not in LOOPBACK)
        if job.status not in ("failed", "interrupted") or not job.error:
            return cls(links, others, loopback, None, None, None)
        failed = next((s.message for s in job.steps if s.status == "failed" and s.message), None)
        cause, cleanup = job.error, None
        if failed and job.error.startswith(failed + "; "):
            cause, cleanup = failed, job.error[len(failed) + 2 :]
        return cls([], [], False, cause, cleanup, _next_step(job, installation))


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _addresses(
    job: JobPublic, installation: InstallationPublic | None, server: ServerPublic | None
) -> tuple[list[str], list[str]]:
    """Each name the front door routes to an app that runs now, then its page by its
    web port, then http://server:port for each other TCP port it publishes."""
    if job.status != "done" or installation is None or server is None:
        return [], []
    if job.kind not in ("install", "update", "start", "restart"):
        return [], []
    base = base_url(server)
    web = installation.web
    path = web.path if web is not None else "/"
    names = [f"{base['scheme']}://{name}{base['port']}{path}" for name in installation.hostnames]
    host = f"[{server.host}]" if ":" in server.host else server.host
    tcp = [p.split("/")[0] for p in installation.ports if p.endswith("/tcp")]
    # Its page first, then each other TCP port it publishes.
    others = [f"http://{host}:{port}" for port in tcp if web is None or int(port) != web.port]
    return [*names, *([web.url(server.host)] if web else []), *others], [
        p for p in installation.ports if not p.endswith("/tcp")
    ]


def _next_step(job: JobPublic, installation: InstallationPublic | None) -> str:
    """What a person can do after a job that failed, by where it failed."""
    if job.kind != "install":
        return "Look at the installation's page: its status and logs say more. Then try again."
    if installation is not None:  # an install whose traces could not all be taken back
        return ("Part of it could not be undone: once the server answers again, open the "
                "installation and uninstall it, then install again.")  # fmt: skip
    if job.status == "interrupted":
        return "tomo stopped before the install ended, and undid it. Install again."
    failed = next((step.name for step in job.steps if step.status == "failed"), "")
    return INSTALL_ADVICE.get(failed, "Fix what the message names and install again.")


INSTALL_ADVICE = {
    "preflight": "Free what the message names on the server (a port, a name, room), or choose "
    "other ports or another server, and install again.",
    "pull": "Check that the image exists and that the server can reach its registry, then "
    "install again.",
    "create": "Docker refused the container for the reason above: change what it names and "
    "install again.",
    "wait": "The container started but did not stay up; its last output above says why. Fix "
    "the settings it needs (environment, folders) and install again.",
}


async def _installation_of(runtime: Runtime, job: JobPublic) -> InstallationPublic | None:
    """The job's installation, if it still exists (an uninstall or a failed install
    leaves only the job)."""
    if job.installation_id is None:
        return None
    try:
        return await runtime.deployment.get_installation(job.installation_id)
    except NotFound:
        return None


async def _server_of(runtime: Runtime, server_id: str | None) -> ServerPublic | None:
    if server_id is None:
        return None
    try:
        return await runtime.servers.get_server(server_id)
    except NotFound:
        return None


def _job_title(job: JobPublic) -> str:
    name = job.installation_name or job.app or "an app"
    verb, done = JOB_VERBS.get(job.kind, (job.kind.capitalize(), job.kind.capitalize()))
    if job.status == "done":
        return f"{done} {name}"
    if job.status in ("failed", "interrupted"):
        return f"{job.kind.capitalize()} of {name} {job.status}"
    return f"{verb} {name}"


JOB_VERBS = {
    "install": ("Installing", "Installed"), "update": ("Updating", "Updated"),
    "uninstall": ("Uninstalling", "Uninstalled"), "start": ("Starting", "Started"),
    "stop": ("Stopping", "Stopped"), "restart": ("Restarting", "Restarted"),
    "backup": ("Backing up", "Backed up"), "restore": ("Restoring", "Restored"),
}  # fmt: skip
