"""Roles and principals: who is calling and what they may do, shared by tokens and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Principal", "Role"]


class Role(StrEnum):
    """What a caller may do; each role includes everything the roles below it may do."""

    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the hierarchy (viewer 0 < trader 1 < admin 2), so checks are one comparison."""
        return _RANK[self]

    def allows(self, required: Role) -> bool:
        """Whether a caller with this role may do something that needs ``required`` (admin ⊇ trader ⊇ viewer)."""
        return _RANK[self] >= _RANK[Role(required)]


_RANK: dict[Role, int] = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the subject name, its role and the API key it used (if any)."""

    subject: str
    role: Role
    key_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.subject, str) or not self.subject:
            raise ValueError("principal subject must be a non-empty string")
        if not isinstance(self.role, Role):
            # Accept the plain string value ("trader") but store the enum.
            object.__setattr__(self, "role", Role(self.role))
