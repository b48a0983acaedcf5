"""Pages: the backup repositories (see tomo/backups/repositories.py). The Backups page
lists them; admins add one (a folder on tomo's host, a folder on a server tomo
manages, or S3-compatible storage), make one the default, and remove one after
being asked on a page of its own.

Adding runs `restic init` there and then, in the request: it takes seconds, and a
failure is restic's words beside the form, with what was typed kept, except the S3
secret, which is never sent back to the browser.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import SecretStr, ValidationError

from tomo.backups.schemas import RepositoryCreate, RepositoryPublic
from tomo.backups.service import BackupService
from tomo.errors import InvalidInput, Refusal, RepositoryNotFound, TomoError
from tomo.http.deps import BackupsDep, runtime_of
from tomo.web.forms import FormErrors, as_sentence, errors_of, form_status, form_values
from tomo.web.session import Admin
from tomo.web.templating import redirect, refused, render

router = APIRouter()
# The form's fields; the service names a folder `path` whatever its kind, and the
# form has one per kind (so each kind's fields stand apart).
FIELDS = {"name", "kind", "path", "server", "server_path", "url", "access_key_id",
          "secret_access_key", "region"}  # fmt: skip
SECRET = "secret_access_key"  # noqa: S105 - the field's name, not a secret


@router.get("/backups/repositories/add", name="web_repository_add_form")
async def add_repository_form(request: Request, _: Admin) -> Response:
    return await _add_page(request, {"kind": "local"}, FormErrors())


@router.post("/backups/repositories/add", name="web_repository_add")
async def add_repository(request: Request, _: Admin, backups: BackupsDep) -> Response:
    """Make the repository where the form says; on a refusal or restic's failure,
    the form again with its words beside the field (the secret not filled back)."""
    values = await form_values(request)
    try:
        made = await backups.add_repository(request_of(values))
    except (ValidationError, TomoError) as exc:
        status = form_status(exc)
        errors = _placed(errors_of(exc, FIELDS), values.get("kind", ""))
        kept = {key: value for key, value in values.items() if key != SECRET}
        dropped = values.get("kind") == "s3" and bool(values.get(SECRET))
        return await _add_page(request, kept, errors, secret_dropped=dropped, status=status)
    return redirect("/backups", f"Backup repository {made.name} is made ({made.location})")


def request_of(values: dict[str, str]) -> RepositoryCreate:
    """The service's request from the form: only the chosen kind's fields count (the
    others may hold what was typed before the kind was changed)."""
    kind = values.get("kind", "")
    given: dict[str, object] = {"name": values.get("name", "").strip()}
    if kind == "sftp":
        if not values.get("server"):
            raise _refused("server", "choose the server that holds the folder")
        given.update(server=values["server"], path=_text(values, "server_path"))
    elif kind == "s3":
        secret = values.get(SECRET, "")
        given.update(url=_text(values, "url"), access_key_id=_text(values, "access_key_id"),
                     secret_access_key=SecretStr(secret) if secret else None,
                     region=_text(values, "region") or None)  # fmt: skip
    elif kind == "local":
        given.update(path=_text(values, "path"))
    else:
        raise _refused("kind", "choose where the repository is: a folder on tomo's host, a "
                       "folder on a server, or S3-compatible storage")  # fmt: skip
    return RepositoryCreate.model_validate(given)


@router.post("/backups/repositories/{name}/default", name="web_repository_default")
async def make_default(request: Request, name: str, _: Admin, backups: BackupsDep) -> Response:
    """Installations without a choice of their own back up into it from now on."""
    await _repository(backups, name)
    try:
        made = await backups.make_default_repository(name)
    except TomoError as exc:
        return refused(request, "/backups", exc)
    return redirect("/backups", f"Backup repository {made.name} is the default: installations "
                    "without a repository of their own back up into it")  # fmt: skip


@router.get("/backups/repositories/{name}/remove", name="web_repository_remove_form")
async def remove_form(request: Request, name: str, _: Admin, backups: BackupsDep) -> Response:
    """What removing a repository does (and does not), before anything is removed."""
    context = {"repository": await _repository(backups, name)}
    return render(request, "backups/remove_repository.html", context)


@router.post("/backups/repositories/{name}/remove", name="web_repository_remove")
async def remove(request: Request, name: str, _: Admin, backups: BackupsDep) -> Response:
    """Forget the repository (its data stays), then back to the list, saying so; one
    still used is refused, saying by what."""
    await _repository(backups, name)
    try:
        gone = await backups.remove_repository(name)
    except TomoError as exc:
        return refused(request, "/backups", exc)
    return redirect("/backups", f"Backup repository {gone.name} is removed from tomo; what it "
                    f"holds stays at {gone.location}")  # fmt: skip


def _text(values: dict[str, str], key: str) -> str:
    return values.get(key, "").strip()


def _refused(field: str, text: str) -> InvalidInput:
    return InvalidInput([Refusal(text, (field,))])


def _placed(found: FormErrors, kind: str) -> FormErrors:
    """The service's `path` beside the chosen kind's folder field; each as a sentence."""
    fields = {("server_path" if name == "path" and kind == "sftp" else name): as_sentence(text)
              for name, text in found.fields.items()}  # fmt: skip
    return FormErrors(fields, found.general)


async def _add_page(request: Request, values: dict[str, str], errors: FormErrors, *,
                    secret_dropped: bool = False, status: int = 200) -> Response:  # fmt: skip
    servers = [server.name for server in await runtime_of(request).servers.list_servers()]
    context = {"values": values, "errors": errors.fields, "general": errors.general,
               "servers": servers, "secret_dropped": secret_dropped}  # fmt: skip
    return render(request, "backups/add_repository.html", context, status=status)


async def _repository(backups: BackupService, name: str) -> RepositoryPublic:
    """The repository, or a 404 page in a page's words (the service's names a command)."""
    for found in await backups.list_repositories():
        if found.name == name:
            return found
    raise RepositoryNotFound(name, "tomo has no backup repository by that name (the Backups "
                             "page lists them)")  # fmt: skip
