"""Fixtures of the risk tests."""

from __future__ import annotations

import pytest

from shriven.risk import RiskEvent


@pytest.fixture
def events() -> list[RiskEvent]:
    """A list the engine's listener appends to."""
    return []
