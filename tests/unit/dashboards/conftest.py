"""Shared by the page tests: a lake with one backtest account, an empty data dir, the app runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.unit.dashboards.ml_lake import MlLake, write_ml_lake
from tests.unit.dashboards.trading_lake import (
    TradingLake,
    write_options_and_depth,
    write_trading_lake,
)

APP = Path(__file__).resolve().parents[3] / "dashboards" / "streamlit_app.py"


@pytest.fixture(scope="session")
def trading_lake(tmp_path_factory: pytest.TempPathFactory) -> TradingLake:
    return write_trading_lake(tmp_path_factory.mktemp("trading") / "data")


@pytest.fixture(scope="session")
def options_lake(tmp_path_factory: pytest.TempPathFactory) -> TradingLake:
    """A trading lake whose day also has daily bars, priced option chains and book snapshots."""
    lake = write_trading_lake(tmp_path_factory.mktemp("options") / "data")
    write_options_and_depth(lake.settings)
    return lake


@pytest.fixture(scope="session")
def ml_lake(tmp_path_factory: pytest.TempPathFactory) -> MlLake:
    """A data dir with a registered model, ML signals and sentiment (no trading data)."""
    data_dir = tmp_path_factory.mktemp("ml") / "data"
    data_dir.mkdir()
    return write_ml_lake(data_dir, str(data_dir / "lake"))


@pytest.fixture
def _fresh_caches() -> None:
    # Loaders are keyed by lake root, but the caches are process-wide: start every test clean.
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch, _fresh_caches: None):
    """``open_page(data_dir, "overview", config=None)``: the app, switched to one page and run."""

    def run(data_dir: Path, page: str, config: Path | None = None) -> AppTest:
        monkeypatch.setenv("SHRIVEN_DATA_DIR", str(data_dir))
        if config is None:
            monkeypatch.delenv("SHRIVEN_CONFIG", raising=False)
        else:
            monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
        monkeypatch.chdir(data_dir)  # no ./shriven.toml from the developer's checkout
        app = AppTest.from_file(str(APP), default_timeout=60).run()
        assert not app.exception, app.exception
        return app.switch_page(f"app_pages/{page}.py").run()

    return run


@pytest.fixture
def empty_data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    return data_dir
