"""The page that sets how an installation is backed up on its own (see
tomo/backups/schedule.py): its schedule, the backups it keeps, whether an update
backs it up first, and the repository its backups go into. The installation's page
says the settings in words and links here (admins).

The schedule is picked, not typed: how often (a select), the day (weekly) and the
time (daily, weekly), put together here as the service reads it (`weekly mon 02:00`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.backups.repositories import DEFAULT
from tomo.backups.schedule import DAYS, Every, parse_schedule
from tomo.backups.schemas import DEFAULT_KEEP, KEEP_RULES, BackupSettings, RepositoryPublic
from tomo.backups.service import BackupService
from tomo.deployment.schemas import InstallationPublic
from tomo.errors import InvalidInput, Refusal, TomoError
from tomo.http.deps import BackupsDep, DeploymentDep
from tomo.web.forms import FormErrors, as_sentence, errors_of, form_values
from tomo.web.session import Admin
from tomo.web.templating import redirect, render

router = APIRouter()
T = TypeVar("T")
NEVER = "none"  # the select's choice of backups on demand only
EVERY = (NEVER, Every.HOUR.value, Every.DAY.value, Every.WEEK.value)
KEEP_FIELDS = tuple(f"keep_{rule}" for rule in KEEP_RULES)
FIELDS = {"every", "day", "time", "before_update", "repository", *KEEP_FIELDS}
DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                            "Saturday", "Sunday"), strict=True))  # fmt: skip
WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")
DEFAULT_TIME = "02:00"  # what the time field offers before one is chosen


@dataclass(frozen=True)
class SettingsInWords:
    """An installation's backup settings as its page says them."""

    schedule: str  # "Every day at 02:00"
    keeps: str  # "the last 3 backups and the newest of each of the last 7 days, …"
    before_update: bool
    repository: str  # "the default repository (default)", or its own choice


@router.get("/installed/{installation}/backup-settings", name="web_backup_settings_form")
async def backup_settings_form(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep, backups: BackupsDep
) -> Response:
    current = await deployment.get_installation(installation)
    values = form_of(await backups.get_settings(current.id))
    return await _page(request, backups, current, values, FormErrors())


@router.post("/installed/{installation}/backup-settings", name="web_backup_settings")
async def set_backup_settings(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep, backups: BackupsDep
) -> Response:
    """Keep the settings the form gives, whole; a refusal shows beside its field with
    what was typed, and nothing is kept."""
    current = await deployment.get_installation(installation)
    values = await form_values(request)
    try:
        settings = settings_of(values)
        await _check_choice(backups, settings.repository)
        saved = await backups.set_settings(current.id, settings)
    except (ValidationError, TomoError) as exc:
        found = errors_of(exc, FIELDS)
        errors = FormErrors({name: as_sentence(text) for name, text in found.fields.items()},
                            found.general)  # fmt: skip
        return await _page(request, backups, current, values, errors, status=422)
    said = schedule_words(saved.schedule)
    message = f"Backup settings of {current.name} saved: {said[:1].lower()}{said[1:]}"
    return redirect(f"/installed/{current.id}", message)


def settings_of(values: dict[str, str]) -> BackupSettings:
    """The settings a sent form gives; refused with every field to mend at once (the
    schedule's `every`, `day` or `time`, each rule that is no number of at least 1)."""
    problems: list[Refusal] = []
    schedule = _checked(problems, partial(_schedule_of, values))
    keep = {field: _checked(problems, partial(_whole_number, field, values))
            for field in KEEP_FIELDS}  # fmt: skip
    if problems:
        raise InvalidInput(problems)
    return BackupSettings.model_validate({
        "schedule": schedule, **keep,
        "before_update": values.get("before_update") == "yes",
        "repository": values.get("repository") or None,
    })  # fmt: skip


def form_of(settings: BackupSettings) -> dict[str, str]:
    """The form's fields as the settings fill them."""
    words = (settings.schedule or NEVER).split()
    every = words[0]
    values = {"every": every, "day": words[1] if every == Every.WEEK else DAYS[0],
              "time": words[-1] if every in (Every.DAY, Every.WEEK) else DEFAULT_TIME,
              "before_update": "yes" if settings.before_update else "",
              "repository": settings.repository or ""}  # fmt: skip
    for field in KEEP_FIELDS:
        kept = getattr(settings, field)
        values[field] = "" if kept is None else str(kept)
    return values


def in_words(settings: BackupSettings, default_repository: str) -> SettingsInWords:
    """The settings as a page says them."""
    chosen = settings.repository
    repository = (f"the default repository ({default_repository})" if chosen is None
                  else f"the repository {chosen}")  # fmt: skip
    return SettingsInWords(schedule_words(settings.schedule), keep_words(settings.keep_rules()),
                           settings.before_update, repository)  # fmt: skip


def schedule_words(schedule: str | None) -> str:
    """`weekly mon 02:00` as "Every Monday at 02:00 (tomo's local time)"."""
    if schedule is None:
        return "Only when asked (no schedule)"
    words = schedule.split()
    if words[0] == Every.HOUR:
        return "Every hour, on the hour"
    when = "day" if words[0] == Every.DAY else DAY_NAMES[words[1]]
    return f"Every {when} at {words[-1]} (tomo's local time)"


def keep_words(rules: dict[str, int] | None) -> str:
    """A retention as a sentence's end: "the last 3 backups and the newest of …"."""
    if not rules:
        return "every backup"
    last = rules.get("last")
    parts = [("the last backup" if last == 1 else f"the last {last} backups") if last else ""]
    periods = [f"{n} {unit}{'s' if n > 1 else ''}" for rule, unit in
               (("daily", "day"), ("weekly", "week"), ("monthly", "month"))
               if (n := rules.get(rule))]  # fmt: skip
    if periods:
        parts.append("the newest of each of the last " + _listed(periods))
    return " and ".join(part for part in parts if part)


async def default_repository(backups: BackupService) -> str:
    """The name of the repository installations without a choice back up into (the
    folder on tomo's host, made on first use, while none is listed)."""
    found = [r.name for r in await backups.list_repositories() if r.default]
    return found[0] if found else DEFAULT


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _schedule_of(values: dict[str, str]) -> str | None:
    every = values.get("every", NEVER)
    if every not in EVERY:
        raise _refused("every", f"{every!r} is not a choice: none, hourly, daily or weekly")
    if every in (NEVER, Every.HOUR):
        return None if every == NEVER else every
    day, at = values.get("day", ""), values.get("time", "").strip()
    if every == Every.WEEK and day not in DAYS:
        raise _refused("day", f"{day!r} is not a day of the week")
    if not at:
        raise _refused("time", f"a {every} backup needs a time of day, HH:MM (e.g. 02:00)")
    schedule = f"{every} {day} {at}" if every == Every.WEEK else f"{every} {at}"
    return str(parse_schedule(schedule, ("time",)))  # its refusal beside the time


async def _check_choice(backups: BackupService, repository: str | None) -> None:
    """A choice of repository that tomo has (refused in a page's words: the service's
    refusal names a command)."""
    names = {found.name for found in await backups.list_repositories()}
    if repository is not None and repository not in names:
        raise _refused("repository", f"there is no backup repository {repository!r} any more "
                       "(the Backups page lists them)")  # fmt: skip


def _checked(problems: list[Refusal], read: Callable[[], T]) -> T | None:
    """What `read` gives, or None with its refusal's problems added to `problems`."""
    try:
        return read()
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return None


def _whole_number(field: str, values: dict[str, str]) -> int | None:
    text = values.get(field, "").strip()
    if not text:
        return None
    if not WHOLE_NUMBER.fullmatch(text) or int(text) < 1:
        raise _refused(field, f"{text!r} is not a number of at least 1 (leave it empty for no "
                       "rule)")  # fmt: skip
    return int(text)


def _refused(field: str, text: str) -> InvalidInput:
    return InvalidInput([Refusal(text, (field,))])


async def _page(
    request: Request, backups: BackupService, installation: InstallationPublic,
    values: dict[str, str], errors: FormErrors, *, status: int = 200,
) -> Response:  # fmt: skip
    repositories: list[RepositoryPublic] = await backups.list_repositories()
    context = {"installation": installation, "values": values, "errors": errors.fields,
               "general": errors.general, "days": DAY_NAMES, "repositories": repositories,
               "default_name": await default_repository(backups), "default_keep": DEFAULT_KEEP,
               "default_keep_words": keep_words(DEFAULT_KEEP)}  # fmt: skip
    return render(request, "installed/backup_settings.html", context, status=status)
