"""Which GitHub repository a repository URL names: the store's images are found by it
(a CDN address of the same repository, web/templating.py; Umbrel's gallery site,
formats/umbrel.py)."""

from __future__ import annotations

import re

_REPOSITORY = re.compile(
    r"(?:https://(?:[^@/]+@)?|ssh://git@|git@)github\.com[/:](?P<owner>[^/]+)/(?P<repo>[^/]+?)"
    r"(?:\.git)?/*", re.IGNORECASE
)  # fmt: skip


def github_repository(url: str) -> tuple[str, str] | None:
    """(owner, name) in lower case of a GitHub repository URL (https, ssh or scp form,
    with or without `.git`), else None."""
    found = _REPOSITORY.fullmatch(url.strip())
    return (found["owner"].lower(), found["repo"].lower()) if found else None
