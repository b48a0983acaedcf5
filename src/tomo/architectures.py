"""CPU architecture names: one table for what `uname -m` reports on a server and
what catalog authors write, mapped to Docker's platform names."""

from __future__ import annotations

ARCHITECTURES = {
    "amd64": "amd64", "x86_64": "amd64",
    "arm64": "arm64", "aarch64": "arm64",
    "armv7": "armv7", "armv7l": "armv7", "armhf": "armv7", "arm": "armv7",
    "armv6": "armv6", "armv6l": "armv6",
    "386": "386", "i386": "386", "i686": "386",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}  # fmt: skip


def normalize_architecture(name: str | None) -> str | None:
    """Docker's name for an architecture; an unknown one is kept (lowercased)."""
    if not name or not name.strip():
        return None
    cleaned = name.strip().lower()
    return ARCHITECTURES.get(cleaned, cleaned)
