"""Paste a compose file of your own, or a `docker run …` line: it becomes an app of
the personal catalog (tomo.marketplace.personal), and the install page of any app
takes it from there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.errors import TomoError
from tomo.http.deps import runtime_of
from tomo.marketplace.schemas import PersonalAppCreate
from tomo.web.forms import errors_of, form_status, form_values
from tomo.web.session import Admin
from tomo.web.templating import redirect, render

router = APIRouter()
FIELDS = {"name", "compose", "run"}  # a docker run line is told beside the same box


@router.get("/apps/paste", name="web_paste_form")
async def paste_form(request: Request, _admin: Admin) -> Response:
    return _page(request, {})


@router.post("/apps/paste", name="web_paste")
async def paste(request: Request, _admin: Admin) -> Response:
    """Add the file to the personal catalog, then go on as for any app: its install
    page (what the reading warned of is said there once)."""
    values = await form_values(request)
    text = values.get("compose", "")
    given = {"run": text} if text.lstrip().startswith("docker ") else {"compose": text or None}
    try:
        wanted = PersonalAppCreate.model_validate({"name": values.get("name", ""), **given})
        added = await runtime_of(request).marketplace.add_personal_app(wanted)
    except (ValidationError, TomoError) as exc:
        return _page(request, values, exc)
    said = "; ".join(added.warnings)
    return redirect(f"/apps/{added.app}/install", f"Added {added.app} to your personal apps."
                    + (f" Warnings: {said}." if said else ""),
                    kind="warning" if said else "ok")  # fmt: skip


def _page(
    request: Request, values: dict[str, str], exc: ValidationError | TomoError | None = None
) -> Response:
    context: dict[str, Any] = {"values": values}
    if exc is None:
        return render(request, "store/paste.html", context)
    found = errors_of(exc, FIELDS)
    context.update(errors=found.fields, general=found.general)
    return render(request, "store/paste.html", context, status=form_status(exc))
