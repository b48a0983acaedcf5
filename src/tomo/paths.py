"""Where tomo keeps its state unless told otherwise (light: the CLI reads it
without loading the settings class)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_DATA_DIR = Path("data")
# Where a server keeps its installations' folders unless its owner chose another.
DEFAULT_DATA_ROOT = "/opt/tomo/apps"
