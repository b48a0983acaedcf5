"""What a browser keeps between the pages of one install: two cookies, each for one
job and the user who started it, sealed with tomo's secret key (so it cannot be
read or made up outside tomo) and sent only to the page that reads it.

- The form as it was sent (on the app's install form): "Back to the install form"
  after a failed install fills it in again. A secret the user typed is left out:
  kept, it would outlive the install that failed, in a browser tomo does not look
  after; the form names each one to type again instead.
- The secrets tomo generated for settings left empty (on the job's page): shown
  there once the install has succeeded, then dropped; an install that failed drops
  them unseen, as nothing that uses them was installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tomo.crypto import Secrets
from tomo.errors import SecretsUnavailable

FORM_COOKIE = "tomo_install_form"
GENERATED_COOKIE = "tomo_generated"
FORM_DAYS = 7  # long enough to come back to a failed install after a weekend
GENERATED_HOURS = 24  # a job page not seen by then: the values stay sealed in tomo only
LARGEST_COOKIE = 3800  # browsers keep about 4 KB per cookie: a larger form is not kept


@dataclass(frozen=True)
class KeptForm:
    """The install form as it was sent, without the secrets typed into it."""

    values: dict[str, str]
    risks: list[str] = field(default_factory=list)  # the risk flags ticked
    retype: list[str] = field(default_factory=list)  # secret inputs that had a value


@dataclass(frozen=True)
class Holder:
    """Who a cookie is for, and how to seal and set it."""

    secrets: Secrets
    user_id: str
    secure: bool  # over https, or behind TLS (Settings.secure_cookies)

    def seal(self, job_id: str, content: dict[str, Any]) -> str:
        return self.secrets.encrypt(json.dumps({"job": job_id, "user": self.user_id, **content}))

    def opened(self, token: str | None, job_id: str) -> dict[str, Any] | None:
        """The cookie's content if it is this user's, for this job."""
        if not token:
            return None
        try:
            found: dict[str, Any] = json.loads(self.secrets.decrypt(token))
        except (SecretsUnavailable, ValueError):  # the key changed, or not one of ours
            return None
        return found if (found.get("job"), found.get("user")) == (job_id, self.user_id) else None

    def set(self, response: Response, name: str, token: str, path: str, seconds: int) -> None:
        if len(token) <= LARGEST_COOKIE:
            response.set_cookie(name, token, max_age=seconds, path=path, httponly=True,
                                samesite="strict", secure=self.secure)  # fmt: skip


def form_path(app_ref: str) -> str:
    return f"/apps/{app_ref}/install"


def job_path(job_id: str) -> str:
    return f"/jobs/{job_id}"


def keep_form(
    response: Response, holder: Holder, app_ref: str, job_id: str, kept: KeptForm
) -> None:
    content = {"values": kept.values, "risks": kept.risks, "retype": kept.retype}
    holder.set(response, FORM_COOKIE, holder.seal(job_id, content), form_path(app_ref),
               FORM_DAYS * 86400)  # fmt: skip


def kept_form(request: Request, holder: Holder, job_id: str) -> KeptForm | None:
    found = holder.opened(request.cookies.get(FORM_COOKIE), job_id)
    if found is None:
        return None
    return KeptForm({str(k): str(v) for k, v in dict(found.get("values", {})).items()},
                    [str(flag) for flag in found.get("risks", [])],
                    [str(key) for key in found.get("retype", [])])  # fmt: skip


def hold_generated(response: Response, holder: Holder, job_id: str, values: dict[str, str]) -> None:
    if values:
        holder.set(response, GENERATED_COOKIE, holder.seal(job_id, {"values": values}),
                   job_path(job_id), GENERATED_HOURS * 3600)  # fmt: skip


def generated_held(request: Request, holder: Holder, job_id: str) -> dict[str, str] | None:
    found = holder.opened(request.cookies.get(GENERATED_COOKIE), job_id)
    return {str(k): str(v) for k, v in dict(found["values"]).items()} if found else None


def drop_generated(response: Response, job_id: str) -> None:
    response.delete_cookie(GENERATED_COOKIE, path=job_path(job_id))
