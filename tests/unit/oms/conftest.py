"""Fixtures of the OMS tests: a journal path per test and a manager over it (no fsync)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shriven.oms import Journal, OrderManager


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "oms.journal"


@pytest.fixture
def manager(journal_path: Path) -> OrderManager:
    oms = OrderManager(Journal(journal_path, fsync=False))
    yield oms
    oms.journal.close()
