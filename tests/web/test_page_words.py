"""The pages speak a page's words: never an option of the command line (`--name`),
never a command to type (`tomo uninstall wiki`). The command line words its own
hints (Refusal.hint); a page names the field to fill, the box to tick, the button to
press (Refusal.page_hint, tomo.web.forms.page_words). Checked on the text of every
template, on every page an admin and a viewer reach with a synced catalog, on the
page of each refusal worded with a hint, and on the job page of an install that
failed and left something behind (on a scripted host: no sshd, no Docker)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from html import unescape
from pathlib import Path
from typing import Any

import typer.main
import yaml
from fastapi.testclient import TestClient

from tests.api.conftest import users_of
from tests.api.test_security import instance_of
from tests.deployment import conftest as deployment
from tests.deployment.scripted import SERVER, Scripted, wiki_definition
from tests.deployment.test_rollback_scripted import install, neighbours
from tests.gitrepo import CatalogRepo, app_yaml
from tests.test_errors import all_errors
from tests.web.conftest import Web, text_of
from tests.web.test_every_page import page_routes
from tests.web.test_store_pages import RISKY
from tomo.app import create_app
from tomo.cli import app as cli
from tomo.config import Settings
from tomo.deployment.install import name_taken
from tomo.deployment.spec import missing_values, risk_problem, unnamable
from tomo.errors import (
    HostKeyChanged,
    InvalidInput,
    MissingDependencies,
    NeededByOthers,
    Refusal,
    TomoError,
)
from tomo.web.forms import page_words
from tomo.web.templating import TEMPLATES

# tomo on a scripted host (tests/deployment/scripted.py): a real job, no server needed.
scripted = deployment.scripted
scripted_database = deployment.scripted_database

# "tomo logs in to the server" is English, not the `tomo logs` command.
PROSE = {"logs": r"logs(?! in\b)"}

# Pages that document the command line on purpose, each phrase with why. (The install
# form's preview shows the docker commands tomo runs, `docker container run --detach …`:
# Docker's syntax, shown as data and only with a server, so no check here meets it.)
DOCUMENTS_THE_CLI = {
    ("admin/token_created.html", "tomo login"): "a new token's page says the CLI makes its own",
    ("admin/token_created.html", "tomo logout"): "and how the CLI revokes it",
    ("auth/account.html", "tomo login"): "the account page says the same beside the tokens",
}
# The pages the crawl below reaches that show one of those templates.
DOCUMENTING_PAGES = {"/account": "auth/account.html"}


@cache
def cli_words() -> re.Pattern[str]:
    """An option, or a command of tomo's command line as it has them now."""
    root: Any = typer.main.get_command(cli)
    commands = []
    for name, command in root.commands.items():
        if subcommands := getattr(command, "commands", None):  # `tomo server` alone: help
            commands.append(f"{name} (?:{'|'.join(map(re.escape, subcommands))})")
        else:
            commands.append(PROSE.get(name, re.escape(name)))
    return re.compile(rf"--[a-z]|\btomo (?:{'|'.join(commands)})\b")


def cli_wording(text: str) -> list[str]:
    return [found.group(0) for found in cli_words().finditer(text)]


def test_the_pattern_knows_the_command_line() -> None:
    assert cli_wording("choose --name; run `tomo uninstall wiki`") == ["--n", "tomo uninstall"]
    assert cli_wording("tomo server trust, then tomo repo add") == ["tomo server trust",
                                                                     "tomo repo add"]  # fmt: skip
    assert cli_wording("How tomo logs in. tomo installs it; no tomo user with that name") == []


# -- every template's own words -----------------------------------------------------------


def shown_by(source: str) -> str:
    """What a template can show by itself: its text and the attributes people read, and
    the string literals of its Jinja code (a hint given to a macro, a choice of words)."""
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{[{%].*?[}%]\}", lambda code: " ".join(
        a or b for a, b in re.findall(r'"([^"]*)"|\'([^\']*)\'', code.group(0))), source,
        flags=re.S)  # fmt: skip
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S)
    read = re.findall(r'\b(?:title|placeholder|aria-label|data-confirm|alt)="([^"]*)"', source)
    return " ".join([re.sub(r"<[^>]+>", " ", source), *read])


def test_no_template_tells_anyone_to_type_a_command() -> None:
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 30
    found = {}
    for template in templates:
        name = template.relative_to(TEMPLATES).as_posix()
        text = shown_by(template.read_text())
        for (where, phrase), _why in DOCUMENTS_THE_CLI.items():
            text = text.replace(phrase, "") if where == name else text
        if said := cli_wording(text):
            found[name] = said
    assert found == {}


def test_each_exception_is_still_needed() -> None:
    for where, phrase in DOCUMENTS_THE_CLI:
        assert phrase in shown_by((TEMPLATES / where).read_text()), (where, phrase)


# -- every page, as people reach them ---------------------------------------------------


def catalog(make_repo: Callable[..., CatalogRepo]) -> CatalogRepo:
    """An app that takes every kind of risk (its pages explain and ask for them)."""
    repo = make_repo()
    repo.write("apps/tools/tools.yaml", app_yaml("tools", **RISKY))
    repo.add_app("notes")
    repo.commit("apps")
    return repo


def subscribe(web: Web, url: str, name: str) -> str:
    added = web.api.admin.post("/api/marketplace/repos",
                               json={"url": url, "name": name, "branch": "main"})  # fmt: skip
    assert added.status_code == 201, added.text
    repo_id = str(added.json()["id"])
    web.api.admin.post(f"/api/marketplace/repos/{repo_id}/sync")
    return repo_id


def every_page(web: Web, values: dict[str, str]) -> list[str]:
    """The URL of each page (GET) of the app, its path's parts filled from `values`
    (a part with no value names nothing: its page is the 404 page)."""
    urls = []
    for route in page_routes(web.client.app):  # type: ignore[arg-type]
        if route.method == "GET" and route.name != "web_image":  # an image, not a page
            urls.append(re.sub(r"\{(\w+)(?::\w+)?\}",
                               lambda part: values.get(part.group(1), "nothing-here"), route.path))  # fmt: skip
    return urls


def test_no_page_tells_anyone_to_type_a_command(
    web: Web, make_repo: Callable[..., CatalogRepo], tmp_path: Path
) -> None:
    repo_id = subscribe(web, catalog(make_repo).url, "Lab")
    failed = subscribe(web, str(tmp_path / "gone"), "Broken")  # its sync fails
    vera = next(u for u in web.api.admin.get("/api/users").json() if u["username"] == "vera")
    pages = {"admin": web.admin(), "viewer": web.viewer()}
    found: dict[str, list[str]] = {}
    shown = 0
    for who, page in pages.items():
        for repo in (repo_id, failed):
            values = {"repo": repo, "app": "tools", "user_id": str(vera["id"])}
            for url in every_page(web, values):
                answer = page.get(url)
                if answer.headers.get("content-type", "").startswith("text/html"):
                    shown += 1
                    if said := cli_wording(without_documented(url, text_of(answer))):
                        found[f"{who} {url} ({answer.status_code})"] = said
    assert shown > 40
    assert found == {}


def without_documented(url: str, text: str) -> str:
    """The page's text without what it documents of the command line on purpose."""
    for where, phrase in DOCUMENTS_THE_CLI:
        text = text.replace(phrase, "") if DOCUMENTING_PAGES.get(url) == where else text
    return text


# -- refusals worded for the command line, on a page -----------------------------------


def refusals_with_hints() -> list[TomoError]:
    """Each refusal the services word with a command line's hint, and the errors whose
    message names an option or a command."""
    return [
        InvalidInput([risk_problem("this app needs risk flags you have not accepted", ["x"])]),
        InvalidInput([unnamable("x")]),
        InvalidInput([missing_values("environment variables", ["API_KEY"])]),
        name_taken("wiki", "wiki-2"),
        MissingDependencies("box", "wiki", ["postgres"]),
        NeededByOthers("postgres", "stop", ["wiki"]),
        HostKeyChanged("box", "SHA256:old", "SHA256:new"),
    ]


def test_every_hint_has_a_pages_words() -> None:
    for error in refusals_with_hints():
        assert cli_wording(error.message), error  # the command line's words, as before
        assert cli_wording(page_words(error)) == [], error
        for problem in getattr(error, "problems", ()):
            assert isinstance(problem, Refusal) and problem.page_hint, problem


def test_a_refusal_met_on_a_page_is_said_in_a_pages_words(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    errors = {f"e{index}": error for index, error in enumerate(refusals_with_hints())}

    @app.get("/raise/{key}")
    async def raise_error(key: str) -> None:
        raise errors[key]

    @app.get("/api/raise/{key}")
    async def raise_api_error(key: str) -> None:
        raise errors[key]

    client = TestClient(app, raise_server_exceptions=False)
    for key, error in errors.items():
        page = client.get(f"/raise/{key}")
        assert page.status_code == error.http_status, key
        assert cli_wording(text_of(page)) == [], (key, text_of(page))
        assert page_words(error).split(" (")[0] in unescape(text_of(page)), key
        answer = client.get(f"/api/raise/{key}")  # the API keeps the command line's hints
        assert answer.json()["detail"] == error.message, key


def test_every_domain_error_on_a_page_names_no_command(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    by_name = {cls.__name__: cls for cls in all_errors()}

    @app.get("/raise/{name}")
    async def raise_error(name: str) -> None:
        raise instance_of(by_name[name])

    client = TestClient(app, raise_server_exceptions=False)
    for name, cls in by_name.items():
        if cls.http_status != 401:
            assert cli_wording(text_of(client.get(f"/raise/{name}"))) == [], name


# -- a job page after an install that left something behind ---------------------------


async def test_a_failed_install_says_what_is_left_and_offers_to_uninstall_it(
    scripted: Scripted,
) -> None:
    host = scripted.host
    neighbours(host)
    host.behave("wiki", exit_code=3)
    host.unreachable_from("container rm wiki-migrate")  # the rollback is cut short
    job = await install(scripted)
    assert job.status == "failed" and job.error is not None
    assert "or when wiki is uninstalled" in job.error  # the fact, in no face's syntax
    assert cli_wording(job.error) == []

    with TestClient(create_app(scripted.settings)) as client:
        browser = users_of(client)
        web = Web(browser, client)
        page = web.admin().get(f"/jobs/{job.id}")
        assert page.status_code == 200, page.text[:2000]
        text = text_of(page)
        assert cli_wording(text) == [], text
        assert f"tomo removes the rest the next time it reaches {SERVER}, or when wiki is " in text
        (left,) = re.findall(r'href="(/installed/[^"/]+/uninstall)">Uninstall wiki</a>', page.text)
        assert web.admin().get(left).status_code == 200
        viewer = web.viewer().get(f"/jobs/{job.id}")
        assert "Uninstall wiki" not in viewer.text  # a viewer may not
        # The wiki has several containers: each step says so.
        assert "Create its own containers" in text and "Create the container" not in text


# -- breadcrumbs --------------------------------------------------------------------------


def test_a_breadcrumb_ends_with_the_page_it_is_on_never_a_separator() -> None:
    dangling = set()
    for template in sorted(TEMPLATES.rglob("*.html")):
        source = re.sub(r"\{#.*?#\}", " ", template.read_text(), flags=re.S)
        for trail in re.findall(r'class="crumbs".*?</(?:p|nav)>', source, flags=re.S):
            if re.sub(r"<[^>]+>|\s", "", trail.split(">", 1)[1]).endswith("›"):
                dangling.add(template.relative_to(TEMPLATES).as_posix())
    assert dangling == set()


def test_the_repository_pages_crumbs_name_the_page(
    web: Web, make_repo: Callable[..., CatalogRepo]
) -> None:
    repo_id = subscribe(web, catalog(make_repo).url, "Lab")
    admin = web.admin()
    for url, current in ((f"/repos/{repo_id}", "Lab"), (f"/repos/{repo_id}/edit", "Edit"),
                         ("/repos/add", "Add"), ("/apps/paste", "Your own compose file")):  # fmt: skip
        trail = re.search(r'<nav class="crumbs".*?</nav>', admin.get(url).text, re.S)
        assert trail, url
        assert trail.group(0).endswith(f'<span aria-current="page">{current}</span>\n</nav>'), url


# -- an app of several containers ---------------------------------------------------------


def test_an_app_of_several_containers_is_said_to_have_its_own_containers(
    web: Web, make_repo: Callable[..., CatalogRepo]
) -> None:
    wiki = yaml.safe_load(wiki_definition())
    wiki["services"]["web"]["privileged"] = True
    repo = make_repo()
    repo.write("apps/tools/wiki.yaml", yaml.safe_dump(wiki))
    repo.commit("the wiki")
    repo_id = subscribe(web, repo.url, "Lab")
    text = text_of(web.viewer().get(f"/apps/{repo_id}/wiki"))
    assert "asks for 1 power beyond its own containers." in text, text
    assert "its own container." not in text
