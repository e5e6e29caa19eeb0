"""Shared by the engine tests: one small synthetic day in a lake, read by every backtest."""

from __future__ import annotations

import tomllib
from datetime import date

import msgspec
import pytest

from shriven.config import Settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange
from tests.conftest import SMALL_CONFIG

DAY = date(2026, 1, 5)


def _settings(root, **trading) -> Settings:
    raw = tomllib.loads(SMALL_CONFIG)
    raw["trading"] = {"starting_cash": 1_000_000.0, **trading}
    return msgspec.convert({**raw, "data_dir": str(root)}, Settings)


@pytest.fixture(scope="session")
def lake_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    settings = _settings(root)
    ingest_window(SyntheticExchange(settings), Lake(settings.lake_root), Window.days(DAY), settings.universe, settings.universe)
    return root


@pytest.fixture
def settings(lake_dir, tmp_path):
    """Shares the module's lake (read-only) but gets its own trading state per test."""
    base = _settings(lake_dir)
    return msgspec.structs.replace(base, data_dir=str(lake_dir)), tmp_path


