"""The Jinja2 environment, and `render`: a page with what every page shows (who is
logged in, their role, the CSRF token for forms, a message from the last action)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from tomo import __version__
from tomo.auth.roles import allows
from tomo.auth.service import Principal
from tomo.errors import TomoError
from tomo.http.middleware import note_outcome, note_refusal
from tomo.marketplace.categories import category_label
from tomo.marketplace.github import github_repository
from tomo.marketplace.reasons import located_reasons, plain_reasons
from tomo.marketplace.risk_words import explain_risk
from tomo.marketplace.service import image_type
from tomo.web.forms import page_words, with_stop
from tomo.web.markdown import markdown
from tomo.web.session import csrf_of

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "tomo_flash"

templates = Jinja2Templates(directory=TEMPLATES)
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


# A catalog may name its own files by a web address of its repository (CasaOS links
# to jsDelivr's copies of its GitHub files): such an image is tomo's to serve, from
# the synced commit, so that it shows offline and no CDN learns who looks at what.
# The address is mapped here, when a page is made with the repository's URL at hand,
# rather than at sync: formats never see that URL (they are pure, formats/base.py),
# the API keeps answering with what the catalog wrote, and no parser change is
# needed for catalogs already synced. Paths of these hosts, by host:
_REPO = r"/(?P<owner>[^/]+)/(?P<repo>[^/@]+)"
_REF = r"(?:refs/(?:heads|tags)/)?[^/]+"
_REPOSITORY_FILES = {
    "cdn.jsdelivr.net": re.compile(rf"/gh{_REPO}(?:@[^/]+)?/(?P<path>.+)"),
    "raw.githubusercontent.com": re.compile(rf"{_REPO}/{_REF}/(?P<path>.+)"),
    "github.com": re.compile(rf"{_REPO}/(?:raw|blob)/{_REF}/(?P<path>.+)"),
}


def image_url(repo_id: str, image: str | None, repo_url: str | None = None) -> str | None:
    """An app's icon or screenshot as the browser loads it: tomo's own address of an
    image in the repository (see the web_image route), also when the catalog names it
    by a URL of that same repository (`repo_url`), else the URL the catalog gives."""
    if not image:
        return None
    if image.lower().startswith(("https://", "http://")):
        own = repository_path(image, repo_url) if repo_url else None
        if own is None:
            return image
        image = own
    return f"/images/{quote(repo_id)}/{quote(image)}"


def repository_path(url: str, repo_url: str) -> str | None:
    """The image of the repository at `repo_url` that `url` names on GitHub or its
    CDN (owner and name alike, whatever their case; whatever branch it names: the
    image is read from the synced commit), else None."""
    own = github_repository(repo_url)
    parts = urlsplit(url.strip())
    pattern = _REPOSITORY_FILES.get(parts.netloc.lower())
    found = pattern.fullmatch(parts.path) if pattern and parts.scheme.startswith("http") else None
    if found is None or own is None:
        return None
    if (found["owner"].lower(), found["repo"].lower().removesuffix(".git")) != own:
        return None
    path = unquote(found["path"])
    return path if image_type(path) else None


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    flash = _flash_of(request)
    common = {
        "user": principal,
        "is_admin": principal is not None and allows(principal.role, "admin"),
        "csrf_token": csrf_of(request) if principal else "",
        "flash": flash,
        "version": __version__,
        "path": request.url.path,
        "unread_events": getattr(request.state, "unread_events", None),  # web/events.py
        "updates_offered": getattr(request.state, "updates_offered", None),  # web/installed.py
    }
    response = templates.TemplateResponse(request, template, {**common, **(context or {})},
                                          status_code=status)  # fmt: skip
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE)
    return response


def redirect(url: str, message: str | None = None, *, kind: str = "ok") -> RedirectResponse:
    """See Other, to a page that shows `message` once (a form's outcome)."""
    response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie(FLASH_COOKIE, quote(f"{kind}:{message}"[:1500]), max_age=120,
                            httponly=True, samesite="lax")  # fmt: skip
    return response


def refused(
    request: Request, url: str, exc: TomoError, message: str | None = None, *, kind: str = "error"
) -> RedirectResponse:
    """Back to `url`, saying why `exc` refused (or failed) the form's work, in a
    page's words; the audit records the refusal's status, not the See Other's."""
    note_refusal(request, exc)
    return redirect(url, message or page_words(exc), kind=kind)


def accepted(
    request: Request, url: str, message: str | None = None, *, kind: str = "ok"
) -> RedirectResponse:
    """To the page of work carried on after the answer (a job, a sync): the audit
    records the request as accepted, the work records how it ends."""
    note_outcome(request, "accepted")
    return redirect(url, message, kind=kind)


def _flash_of(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, message = unquote(raw).partition(":")
    # Every page's outcome is said as a sentence, whoever worded it (a service's
    # refusal is a fragment, for the command line's `error: ` line).
    return {"kind": kind if kind in ("ok", "error", "warning") else "ok",
            "message": with_stop(message)}  # fmt: skip


def local_path(target: str | None, default: str = "/store") -> str:
    """A `next` that stays on this tomo: a path, never another site (`//evil`, `/\\evil`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def ago(moment: datetime | None) -> str:
    """'3 min ago' (or 'in 2 days'), for a person; the exact time goes in a title."""
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    span = _span(abs(seconds))
    if span is None:
        return "just now" if seconds >= 0 else "in a moment"
    return f"{span} ago" if seconds >= 0 else f"in {span}"


def _span(seconds: int) -> str | None:
    units = ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour"),
             (60, "min"))  # fmt: skip
    for length, unit in units:
        if seconds >= length:
            count = seconds // length
            return f"{count} {unit}{'s' if count > 1 and unit != 'min' else ''}"
    return None


def exact(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def size(count: int | float | None) -> str:
    """Bytes for a person: 1.5 GB."""
    if count is None:
        return "unknown"
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


templates.env.filters.update(ago=ago, exact=exact, size=size, plain_reasons=plain_reasons,
                             located_reasons=located_reasons, markdown=markdown,
                             sentence=with_stop)  # fmt: skip
templates.env.globals.update(
    explain_risk=explain_risk, image_url=image_url, category_name=category_label
)  # a flag as a title and a sentence
