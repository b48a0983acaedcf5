"""Roles, and what each may do (the one place roles are decided; see api/security)."""

from __future__ import annotations

from typing import Literal

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")


def allows(role: str, needed: Role) -> bool:
    """Whether `role` may do what needs `needed` (admin may do everything)."""
    return role == "admin" or needed == "viewer"
