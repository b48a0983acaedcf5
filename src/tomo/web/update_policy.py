"""The page that sets how updates reach an installation (see tomo/updates/policy.py);
the installation's page shows the policy and links here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.deployment.schemas import InstallationPublic
from tomo.errors import TomoError
from tomo.http.deps import DeploymentDep
from tomo.updates.policy import DEFAULT_WINDOW, POLICY_WORDS, UpdatePolicy
from tomo.updates.schemas import UpdateSettings
from tomo.web.forms import FormErrors, errors_of, form_values
from tomo.web.session import Admin
from tomo.web.templating import redirect, render

router = APIRouter()
FIELDS = {"policy", "window", "major"}


@router.get("/installed/{installation}/updates", name="web_update_policy_form")
async def update_policy_form(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    current = await deployment.get_installation(installation)
    settings = current.updates
    values = {"policy": settings.policy.value, "window": settings.window or "",
              "major": "yes" if settings.major else ""}  # fmt: skip
    return _page(request, current, values, FormErrors())


@router.post("/installed/{installation}/updates", name="web_update_policy")
async def set_update_policy(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep
) -> Response:
    """Keep the settings the form gives; a refusal shows beside its field with what
    was typed, and nothing is kept."""
    current = await deployment.get_installation(installation)
    values = await form_values(request)
    try:
        settings = UpdateSettings.model_validate({
            "policy": values.get("policy", ""), "window": values.get("window") or None,
            "major": values.get("major") == "yes",
        })  # fmt: skip
        changed = await deployment.set_update_policy(current.id, settings)
    except (ValidationError, TomoError) as exc:
        return _page(request, current, values, errors_of(exc, FIELDS), status=422)
    return redirect(f"/installed/{changed.id}", f"Updates of {changed.name}: "
                    f"{changed.updates.policy.value}.")  # fmt: skip


def _page(request: Request, installation: InstallationPublic, values: dict[str, str],
          errors: FormErrors, *, status: int = 200) -> Response:  # fmt: skip
    context = {"installation": installation, "values": values, "errors": errors.fields,
               "general": errors.general, "policies": list(UpdatePolicy),
               "words": POLICY_WORDS, "default_window": DEFAULT_WINDOW}  # fmt: skip
    return render(request, "installed/updates.html", context, status=status)
