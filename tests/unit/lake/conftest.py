"""Shared fixtures of the lake tests: a lake in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest
from lake_helpers import DAY

from shriven.lake.layout import Window
from shriven.lake.writer import Lake


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def day_window() -> Window:
    return Window.days(DAY)
