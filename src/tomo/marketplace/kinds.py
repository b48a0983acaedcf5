"""Names the faces offer as choices (light: the CLI builds its options from them)."""

from __future__ import annotations

from typing import Literal

RepoType = Literal["official", "community", "personal"]
REPO_TYPES: tuple[RepoType, ...] = ("official", "community", "personal")

# The catalog formats a repository can be in (see tomo.marketplace.formats).
CatalogFormatName = Literal["tomo", "casaos", "runtipi", "umbrel", "portainer"]
# What `repo update --format` takes: a format, or "auto" to detect it again.
FormatChoice = Literal["tomo", "casaos", "runtipi", "umbrel", "portainer", "auto"]
