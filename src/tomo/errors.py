"""The domain errors of tomo, one tree.

Services raise these; the faces (CLI, API) turn each into a one-line message
and an exit code or HTTP status. Errors of lower libraries (git, YAML,
SQLAlchemy) are translated where they are caught, never passed through.

    TomoError
    ├── InvalidInput                 the user or a catalog gave something unusable
    │   ├── InvalidRepoUrl           a repository URL tomo will not hand to git
    │   ├── InvalidDefinition        an app definition file that does not validate
    │   ├── MissingDependencies      an app whose required apps are not installed there
    │   └── HostnameTaken            a hostname two routes of a front door would both answer
    ├── NotFound
    │   ├── RepoNotFound
    │   ├── AppNotFound
    │   ├── ImageNotFound            an image a repository does not hold
    │   ├── ServerNotFound
    │   ├── InstallationNotFound
    │   ├── JobNotFound
    │   ├── RepositoryNotFound       no backup repository at the location (or by that name)
    │   ├── SnapshotNotFound         no such snapshot (or whole backup) in the repository
    │   └── BackupNotFound           no whole backup by that id in tomo's list
    ├── Conflict
    │   ├── RepoExists               the id or name is taken
    │   │   └── RepoAlreadySubscribed  the URL and branch are another repo's already
    │   ├── AmbiguousApp             a bare app id defined by several repos
    │   ├── SyncInProgress           another sync of this repo is running
    │   ├── ServerExists             the server's id or name is taken
    │   ├── ServerInUse              installations still live on the server
    │   ├── InstallationBusy         another operation runs on this installation
    │   ├── NeededByOthers           installations that require this one are there
    │   ├── TooManyStreams           live log streams past their budget (per user, per server)
    │   └── RepositoryLocked         another restic process holds the repository's lock
    ├── SyncFailed                   a sync that failed as a whole (catalog kept)
    │   └── GitError                 a git command failed
    │       └── GitTimeout           a git command ran past its timeout
    ├── RemoteError                  something went wrong on or on the way to a server
    │   ├── ServerUnreachable        refused, no route, name not found, connection lost
    │   ├── ServerTimeout            connect, login or command ran past its timeout
    │   ├── AuthenticationFailed     the server refused the credentials
    │   ├── HostKeyUnknown           the host key is not trusted yet
    │   ├── HostKeyChanged           the host key differs from the pinned one
    │   ├── CommandFailed            a remote command exited non-zero
    │   ├── DockerUnavailable        Docker is missing, stopped or not permitted
    │   └── FrontDoorFailed          the server's front door (Caddy) refused or is not there
    ├── InstallFailed                an install or update step failed (its traces removed)
    │   └── PreflightFailed          the server cannot take the app (every reason listed)
    ├── AccessDenied                 the request may not do this
    │   ├── Unauthenticated          no valid session or token (or a wrong login)
    │   ├── Forbidden                the role does not allow it, or the CSRF token is missing
    │   └── TooManyAttempts          logins are throttled for a while (retry_after seconds)
    ├── OperationInterrupted         Ctrl-C (or a stop) ended an operation; it was undone
    ├── InternalError                a bug: the job failed and was undone; details in the log
    ├── SecretsUnavailable           stored secrets cannot be decrypted with this key
    │   └── RepositoryPasswordWrong  the stored password does not open a backup repository
    ├── BackupFailed                 restic failed, or the data could not be read or written
    │   ├── RepositoryFull           the repository's disk has no space left
    │   └── RepositoryUnreachable    its server or storage did not answer or refused tomo
    └── StorageError                 the database cannot be opened or migrated
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self


class TomoError(Exception):
    """Base of every error tomo reports to a user."""

    exit_code = 1
    http_status = 500
    # The request's fields it concerns (`name`, `url`…): a form shows it beside
    # them, the API names them in `errors[]`. InvalidInput says it per problem.
    fields: tuple[str, ...] = ()

    def __init__(self, message: str, *, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        if fields:
            self.fields = tuple(fields)

    def concerning(self, *fields: str) -> Self:
        """The same error, about these fields of the request."""
        changed = self.with_message(self.message)
        changed.fields = fields
        return changed

    def with_message(self, message: str) -> Self:
        """The same error (class, exit code, status, fields) saying more."""
        changed = type(self).__new__(type(self))
        changed.__dict__.update(self.__dict__)
        changed.message = message
        changed.args = (message,)
        return changed


@dataclass(frozen=True)
class Refusal:
    """One thing wrong with a request, as data: its words, the request's fields it
    concerns (`name`, `env.TZ`, `ports[0]`, `volumes[1]`, `accept_risks`), how to
    mend it on the command line, and what it names when a face needs that (the
    risk flags to accept), and a value its field would take instead (a free port, a
    free name). Each face renders it: the CLI says text and hint, the API fills
    `errors[]`, a page puts the text beside each field and offers the suggestion.
    `page_hint` is the hint in a page's words (a field to fill, a box to tick): a
    page never tells anyone to type an option."""

    text: str
    fields: tuple[str, ...] = ()
    hint: str = ""
    values: tuple[str, ...] = ()
    suggestion: str = ""
    page_hint: str = ""

    def __str__(self) -> str:
        return f"{self.text} ({self.hint})" if self.hint else self.text

    @property
    def said_on_page(self) -> str:
        """The text and the page's hint, as a page says it away from the field."""
        return f"{self.text} ({self.page_hint})" if self.page_hint else self.text


class InvalidInput(TomoError):
    """Refused input; `problems` holds each thing wrong (one, naming no field, when
    it was given as a sentence)."""

    exit_code = 2
    http_status = 422

    def __init__(self, message: str | Sequence[Refusal]) -> None:
        problems = (Refusal(message),) if isinstance(message, str) else tuple(message)
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


class MissingDependencies(InvalidInput):
    """An install refused: the apps to install first, in order, are in `apps`."""

    def __init__(self, server: str, app: str, apps: list[str]) -> None:
        self.apps = apps
        super().__init__([Refusal(
            f"{app} needs {', '.join(apps)} installed on {server} first", ("app",),
            "install them first, or install with --with-dependencies", tuple(apps),
            page_hint="install them first, or tick 'Install what it needs first'",
        )])  # fmt: skip


class HostnameTaken(InvalidInput):
    """A hostname routed twice: to `first`, and to `second` by the route at `field`.
    A conflict (409), with the refusal's structure."""

    exit_code = 4
    http_status = 409

    def __init__(self, hostname: str, first: str, second: str, field: str) -> None:
        self.hostname, self.upstreams = hostname, (first, second)
        super().__init__([Refusal(
            f"{hostname} is routed to {first} already; it cannot also go to {second}",
            (field,), "choose another hostname, or remove the other route",
        )])  # fmt: skip


class InvalidRepoUrl(InvalidInput):
    """A repository's URL (or branch) refused."""

    def __init__(self, message: str, field: str = "url") -> None:
        super().__init__([Refusal(message, (field,))])


class InvalidDefinition(InvalidInput):
    """A definition file failed to load; `path` names it, `message` says why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class NotFound(TomoError):
    exit_code = 3
    http_status = 404


class RepoNotFound(NotFound):
    pass


class AppNotFound(NotFound):
    pass


class ImageNotFound(NotFound):
    pass


class Conflict(TomoError):
    exit_code = 4
    http_status = 409


class NeededByOthers(Conflict):
    """The installations that require the one asked about are in `dependants`."""

    def __init__(self, name: str, verb: str, dependants: list[str]) -> None:
        self.dependants = dependants
        self.name, self.verb = name, verb  # a page words its own way to take them along
        them = ", ".join(dependants)
        super().__init__(
            f"{name} is needed by {them}: {verb} {'them' if len(dependants) > 1 else 'it'} "
            f"first, or {verb} with --with-dependants", fields=("installation",),
        )  # fmt: skip


class TooManyStreams(Conflict):
    http_status = 429


class RepoExists(Conflict):
    pass


class RepoAlreadySubscribed(RepoExists):
    """A repository subscribed again at the same URL and branch; `repos` holds the ids
    of those that follow it already (empty when rebuilt from an API's answer)."""

    repos: tuple[str, ...] = ()

    def __init__(self, message: str, repos: Sequence[str]) -> None:
        super().__init__(message, fields=("url",))
        self.repos = tuple(repos)


class AmbiguousApp(Conflict):
    def __init__(self, app_id: str, candidates: list[str]) -> None:
        choices = ", ".join(candidates)
        super().__init__(f"app '{app_id}' is defined by several repos; name one of: {choices}")
        self.candidates = candidates


class SyncInProgress(Conflict):
    pass


class SyncFailed(TomoError):
    exit_code = 5
    http_status = 502


class GitError(SyncFailed):
    pass


class GitTimeout(GitError):
    pass


class ServerNotFound(NotFound):
    pass


class ServerExists(Conflict):
    pass


class ServerInUse(Conflict):
    pass


class InstallationNotFound(NotFound):
    pass


class InstallationBusy(Conflict):
    pass


class JobNotFound(NotFound):
    pass


class AccessDenied(TomoError):
    exit_code = 9
    http_status = 403


class Unauthenticated(AccessDenied):
    http_status = 401


class Forbidden(AccessDenied):
    # Logged in, but not allowed (a viewer's write): logging in again would not help,
    # so a script can tell it from a refused login (9).
    exit_code = 10
    http_status = 403


class TooManyAttempts(AccessDenied):
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OperationInterrupted(TomoError):
    exit_code = 130  # as a shell reports a command ended by Ctrl-C
    http_status = 503


class InternalError(TomoError):
    exit_code = 70
    http_status = 500


class InstallFailed(TomoError):
    exit_code = 8
    http_status = 502


class PreflightFailed(InstallFailed):
    """The server cannot take the app: every reason, as problems (see Refusal)."""

    http_status = 409

    def __init__(self, server: str, problems: Sequence[Refusal | str]) -> None:
        self.problems = tuple(p if isinstance(p, Refusal) else Refusal(p) for p in problems)
        super().__init__(f"{server}: " + "; ".join(map(str, self.problems)))
        self.server = server


def in_any_face(error: TomoError) -> str:
    """An error as a job keeps it, shown by the CLI and by a page alike: a refusal's
    words without the hint of either face (a page names a field, the command line an
    option); the CLI asks the server again for its own hints (see cli/deploy.py)."""
    if isinstance(error, PreflightFailed):
        return f"{error.server}: " + "; ".join(problem.text for problem in error.problems)
    return error.message


class RemoteError(TomoError):
    """A failure that concerns one server; the message names it."""

    exit_code = 7
    http_status = 502

    def __init__(self, server: str, message: str) -> None:
        super().__init__(f"{server}: {message}")
        self.server = server
        self.reason = message


class ServerUnreachable(RemoteError):
    pass


class ServerTimeout(RemoteError):
    http_status = 504


class AuthenticationFailed(RemoteError):
    pass


class HostKeyUnknown(RemoteError):
    http_status = 409


class HostKeyChanged(RemoteError):
    http_status = 409

    def __init__(self, server: str, pinned: str, presented: str, *, expected: bool = False) -> None:
        if expected:  # the user named a fingerprint that the server does not have
            message = (
                f"host key does not match: expected {pinned}, server presented {presented}; "
                "nothing was trusted"
            )
        else:
            message = (
                f"host key changed: pinned {pinned}, server presented {presented}; nothing "
                "will run there until you trust the new key (tomo server trust)"
            )
        super().__init__(server, message)
        self.pinned = pinned
        self.presented = presented
        self.expected = expected


class CommandFailed(RemoteError):
    def __init__(self, server: str, command: str, exit_code: int, stderr: str) -> None:
        tail = " | ".join(stderr.strip().splitlines()[-3:]) or "no error output"
        super().__init__(server, f"`{command}` exited with {exit_code}: {tail}")
        self.exit_code_remote = exit_code
        self.stderr = stderr


class DockerUnavailable(RemoteError):
    pass


class FrontDoorFailed(RemoteError):
    """The front door (tomo's Caddy on a server) refused a config (the message ends
    with Caddy's own words; the config it ran before still runs), or is missing or
    stopped."""


class SecretsUnavailable(TomoError):
    exit_code = 6
    http_status = 503


class StorageError(TomoError):
    exit_code = 6
    http_status = 503


class BackupFailed(TomoError):
    exit_code = 11
    http_status = 502

    def __init__(self, repository: str, message: str) -> None:
        super().__init__(f"backup repository '{repository}': {message}")
        self.repository = repository
        self.reason = message


class RepositoryFull(BackupFailed):
    http_status = 507


class RepositoryUnreachable(BackupFailed):
    """The repository's server or storage did not answer (or refused tomo's login)."""

    http_status = 503


class RepositoryNotFound(NotFound):
    def __init__(self, repository: str, message: str) -> None:
        super().__init__(f"backup repository '{repository}': {message}")
        self.repository = repository


class SnapshotNotFound(NotFound):
    def __init__(self, repository: str, message: str) -> None:
        super().__init__(f"backup repository '{repository}': {message}")
        self.repository = repository


class RepositoryLocked(Conflict):
    def __init__(self, repository: str, message: str) -> None:
        super().__init__(f"backup repository '{repository}': {message}")
        self.repository = repository


class RepositoryPasswordWrong(SecretsUnavailable):
    def __init__(self, repository: str, message: str) -> None:
        super().__init__(f"backup repository '{repository}': {message}")
        self.repository = repository


class BackupNotFound(NotFound):
    """No whole backup by that id (of that installation)."""
