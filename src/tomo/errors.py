"""The domain errors of tomo, one tree.

Services raise these; the faces (CLI, API) turn each into a one-line message
and an exit code or HTTP status. Errors of lower libraries (git, YAML,
SQLAlchemy) are translated where they are caught, never passed through.

    TomoError
    ├── InvalidInput                 the user or a catalog gave something unusable
    │   ├── InvalidRepoUrl           a repository URL tomo will not hand to git
    │   └── InvalidDefinition        an app definition file that does not validate
    ├── NotFound
    │   ├── RepoNotFound
    │   └── AppNotFound
    ├── Conflict
    │   ├── RepoExists               the id or name is taken
    │   ├── AmbiguousApp             a bare app id defined by several repos
    │   └── SyncInProgress           another sync of this repo is running
    ├── SyncFailed                   a sync that failed as a whole (catalog kept)
    │   └── GitError                 a git command failed
    │       └── GitTimeout           a git command ran past its timeout
    └── StorageError                 the database cannot be opened or migrated
"""

from __future__ import annotations


class TomoError(Exception):
    """Base of every error tomo reports to a user."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(TomoError):
    exit_code = 2
    http_status = 422


class InvalidRepoUrl(InvalidInput):
    pass


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


class Conflict(TomoError):
    exit_code = 4
    http_status = 409


class RepoExists(Conflict):
    pass


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


class StorageError(TomoError):
    exit_code = 6
    http_status = 503
