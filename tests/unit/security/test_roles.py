"""Roles form a hierarchy (admin ⊇ trader ⊇ viewer); principals are frozen and validated."""

from __future__ import annotations

import dataclasses

import pytest

from shriven.security.roles import Principal, Role


@pytest.mark.parametrize(
    ("held", "required", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.TRADER, False),
        (Role.VIEWER, Role.ADMIN, False),
        (Role.TRADER, Role.VIEWER, True),
        (Role.TRADER, Role.TRADER, True),
        (Role.TRADER, Role.ADMIN, False),
        (Role.ADMIN, Role.VIEWER, True),
        (Role.ADMIN, Role.TRADER, True),
        (Role.ADMIN, Role.ADMIN, True),
    ],
)
def test_allows_follows_the_hierarchy(held: Role, required: Role, allowed: bool) -> None:
    assert held.allows(required) is allowed


def test_roles_are_their_string_values() -> None:
    assert [r.value for r in Role] == ["viewer", "trader", "admin"]
    assert Role("trader") is Role.TRADER
    with pytest.raises(ValueError, match="root"):
        Role("root")


def test_principal_is_frozen_and_coerces_role() -> None:
    principal = Principal("alice", "trader")  # type: ignore[arg-type]
    assert principal.role is Role.TRADER
    assert principal.key_id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.subject = "mallory"  # type: ignore[misc]


@pytest.mark.parametrize(("subject", "role"), [("", Role.ADMIN), ("bob", "god")])
def test_principal_rejects_bad_fields(subject: str, role: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - both messages are checked by type only
        Principal(subject, role)  # type: ignore[arg-type]
