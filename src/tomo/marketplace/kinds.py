"""Names the faces offer as choices (light: the CLI builds its options from them)."""

from __future__ import annotations

from typing import Literal

RepoType = Literal["official", "community", "personal"]
REPO_TYPES: tuple[RepoType, ...] = ("official", "community", "personal")
