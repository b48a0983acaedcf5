"""Pages: what else runs on a server (containers tomo did not create, with the
catalog apps that run their images), and adopting one of them as it runs
(tomo.deployment.adopt). For admins: what runs on a server is its owner's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.deployment.schemas import AdoptRequest
from tomo.errors import RemoteError, TomoError
from tomo.http.deps import get_servers, runtime_of
from tomo.web.forms import errors_of, form_values
from tomo.web.session import Admin
from tomo.web.templating import redirect, refused, render

router = APIRouter()
MAKE_ONE = ""  # the app choice "make one of the container" (the personal catalog)


@router.get("/servers/{server}/containers", name="web_server_containers")
async def containers_page(request: Request, server: str, _admin: Admin) -> Response:
    found = await get_servers(request).get_server(server)
    context: dict[str, object] = {"server": found, "containers": [], "error": None}
    try:
        context["containers"] = await runtime_of(request).deployment.foreign_containers(found.id)
    except RemoteError as exc:
        context["error"] = exc.message
    return render(request, "servers/containers.html", context)


@router.post("/servers/{server}/containers/adopt", name="web_server_adopt")
async def adopt(request: Request, server: str, _admin: Admin) -> Response:
    """Adopt one; on to its installation's page, the adoption's notes said there once."""
    values = await form_values(request)
    found = await get_servers(request).get_server(server)
    back = f"/servers/{found.id}/containers"
    try:
        wanted = AdoptRequest(
            container=values.get("container", ""), app=values.get("app") or None,
            name=values.get("name") or None,
        )  # fmt: skip
        [adopted] = await runtime_of(request).deployment.adopt(found.id, [wanted])
    except ValidationError as exc:
        said = errors_of(exc, {"container", "app", "name"})
        fields = [f"{name}: {message}" for name, message in said.fields.items()]
        return redirect(back, "; ".join([*fields, *said.general]), kind="error")
    except TomoError as exc:
        return refused(request, back, exc)
    installation = adopted.installation
    notes = "; ".join(adopted.notes)
    return redirect(f"/installed/{installation.id}",
                    f"Adopted {installation.name} as it runs: nothing was restarted."
                    + (f" {notes[0].upper()}{notes[1:]}." if notes else ""),
                    kind="warning" if any(n.startswith("not carried") for n in adopted.notes)
                    else "ok")  # fmt: skip
