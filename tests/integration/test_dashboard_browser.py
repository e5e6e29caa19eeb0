"""The dashboards in a real browser: ``streamlit run`` over a demo lake, driven by Debian chromium.

The lake holds a backtest account on the synthetic day ``TRADING_DAY`` (the trading and
Performance pages) with that day's option chains and book snapshots (Options & depth), a
registered model, ML signals and sentiment (ML & sentiment), and demo bars on ``DAY`` (the
Market page); the server reads flow runs from Prefect's test server,
where one small flow has run (the Pipelines page).

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (the Makefile
installs it on CI). The Streamlit server listens on 127.0.0.1 only and is always stopped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest

from shriven.lake.writer import Lake
from shriven.testing.demo_lake import write_demo_lake
from shriven.testing.processes import stop_process
from tests.unit.dashboards.ml_lake import MODEL, write_ml_lake
from tests.unit.dashboards.trading_lake import (
    ACCOUNT,
    TradingLake,
    write_options_and_depth,
    write_trading_lake,
)
from tests.unit.dashboards.trading_lake import DAY as TRADING_DAY  # noqa: F401 (docstring)

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "dashboards" / "streamlit_app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DAY = date(2026, 1, 7)
STARTUP_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Dashboard:
    """A running dashboard server over a demo lake."""

    url: str
    data_dir: Path
    trading: TradingLake


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with {server.returncode}:\n{log_path.read_text(errors='replace')}"
            )
        try:
            with opener.open(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(
        f"streamlit not healthy after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text(errors='replace')}"
    )


def _one_flow_run() -> str:
    """Run one tiny flow on the current Prefect API and return that API's URL."""
    from prefect import flow
    from prefect.settings import PREFECT_API_URL

    @flow(name="dashboard-check")
    def dashboard_check() -> int:
        return 1

    dashboard_check()
    return PREFECT_API_URL.value()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> Iterator[Dashboard]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the Makefile does on CI)")
    data_dir = tmp_path_factory.mktemp("dashboard")
    trading = write_trading_lake(data_dir)
    write_options_and_depth(trading.settings)
    write_ml_lake(data_dir, trading.settings.lake_root)
    write_demo_lake(str(data_dir / "lake"), day=DAY)
    _write_sweep(str(data_dir / "lake"))
    api_url = _one_flow_run()
    port = _free_port()
    env = {
        **os.environ,
        "SHRIVEN_DATA_DIR": str(data_dir),
        "SHRIVEN_CONFIG": str(trading.config),
        "PREFECT_API_URL": api_url,
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    log_path = data_dir / "streamlit.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(url, server, log_path)
            yield Dashboard(url, data_dir, trading)
        finally:
            stop_process(server, timeout_s=15)


def _write_sweep(lake_root: str) -> None:
    """A 3 x 2 EMA-cross sweep over a random walk, as the sweep flow leaves it in the lake."""
    import numpy as np
    import polars as pl

    from shriven.research.results import SweepStore
    from shriven.research.sweep import Costs, run_sweep

    n = 2_000
    ts = np.datetime64("2026-01-05T14:30", "ns") + np.arange(n) * np.timedelta64(60, "s")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 1e-3, n)))
    bars = pl.DataFrame({"ts": ts, "symbol": ["ACME"] * n, "close": close}).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    grid = {"fast": [2, 3, 5], "slow": [8, 13], "quantity": [10.0], "allow_short": [True]}
    SweepStore(lake_root, "browser", started=DAY).write(0, run_sweep(bars, grid, Costs(starting_cash=1e6)))


def _last_price(data_dir: Path, symbol: str) -> float:
    trades = Lake(str(data_dir / "lake")).read("trades")
    trades = trades.filter(pc.equal(trades.column("symbol"), symbol)).sort_by(
        [("ts", "ascending"), ("trade_id", "ascending")]
    )
    return trades.column("price")[-1].as_py()


def test_market_page_in_chromium(dashboard: Dashboard) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(dashboard.url, timeout=PAGE_TIMEOUT_MS)

            page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for(
                timeout=PAGE_TIMEOUT_MS
            )
            page.locator(".js-plotly-plot .main-svg .trace").first.wait_for(timeout=PAGE_TIMEOUT_MS)
            metrics = page.locator('[data-testid="stMetric"]')
            metrics.nth(5).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.wait_for_timeout(500)  # let the last deltas of the run land
            page.screenshot(path=str(dashboard.data_dir / "market.png"), full_page=True)

            assert metrics.count() == 6
            last = metrics.filter(has_text="Last").first.inner_text()
            assert f"{_last_price(dashboard.data_dir, 'ACME'):,.2f}" in last
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator(".js-plotly-plot").count() == 1
        finally:
            browser.close()


def _open(browser, dashboard: Dashboard, url_path: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    page.goto(f"{dashboard.url}/{url_path}", timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("heading", level=1).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    return page


def _settle(page, dashboard: Dashboard, name: str) -> None:
    page.wait_for_timeout(500)  # let the last deltas of the run land
    page.screenshot(path=str(dashboard.data_dir / f"{name}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0


def _metric(page, label: str) -> str:
    tile = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    )
    return tile.first.locator('[data-testid="stMetricValue"]').inner_text()


def test_trading_and_pipeline_pages_in_chromium(dashboard: Dashboard) -> None:
    from playwright.sync_api import sync_playwright

    result = dashboard.trading.result
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = _open(browser, dashboard, "overview")
            page.locator(".js-plotly-plot .main-svg .trace").first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
            assert _metric(page, "Equity") == f"{result.final_equity:,.2f}"
            page.locator('[data-testid="stCaptionContainer"]', has_text=ACCOUNT).first.wait_for(
                timeout=PAGE_TIMEOUT_MS
            )
            _settle(page, dashboard, "overview")

            page = _open(browser, dashboard, "portfolio")
            page.locator('[data-testid="stDataFrame"]').nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator(".js-plotly-plot").nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)
            assert _metric(page, "Open positions") == "2"
            assert page.locator(".js-plotly-plot").count() == 2
            _settle(page, dashboard, "portfolio")

            page = _open(browser, dashboard, "risk")
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.get_by_text("Kill switch off").wait_for(timeout=PAGE_TIMEOUT_MS)
            assert _metric(page, "Denials") == f"{result.denied}"
            _settle(page, dashboard, "risk")

            page = _open(browser, dashboard, "blotter")
            page.locator('[data-testid="stDataFrame"]').nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)
            assert _metric(page, "Orders") == f"{result.orders + result.denied}"
            assert _metric(page, "Fills") == f"{result.fills}"
            _settle(page, dashboard, "blotter")

            page = _open(browser, dashboard, "pipelines")
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
            # the session's Prefect test server also holds other tests' runs (more than the page's
            # latest 50, and the grid renders only visible rows): ours makes at least one completed
            assert int(_metric(page, "completed")) >= 1
            _settle(page, dashboard, "pipelines")

            page = _open(browser, dashboard, "health")
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.get_by_text("No engine metrics yet").wait_for(timeout=PAGE_TIMEOUT_MS)  # no execution ran here
            # the test's Prefect server answers its /health: the page probed it for real
            page.get_by_text("Platform", exact=False).first.wait_for(timeout=PAGE_TIMEOUT_MS)
            _settle(page, dashboard, "health")
        finally:
            browser.close()


def test_options_performance_and_ml_pages_in_chromium(dashboard: Dashboard) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = _open(browser, dashboard, "options")
            page.locator(".js-plotly-plot").nth(2).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.get_by_role("heading", name="Volatility smile").wait_for(timeout=PAGE_TIMEOUT_MS)
            assert _metric(page, "Spread")
            assert page.locator(".js-plotly-plot").count() == 3
            _settle(page, dashboard, "options")

            page = _open(browser, dashboard, "performance")
            page.locator(".js-plotly-plot").nth(4).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator('[data-testid="stDataFrame"]').nth(2).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.get_by_text("Conventions: equities").first.wait_for(timeout=PAGE_TIMEOUT_MS)
            assert _metric(page, "Total return").endswith("%")
            _settle(page, dashboard, "performance")

            page = _open(browser, dashboard, "ml")
            page.locator('[data-testid="stDataFrame"]').nth(2).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator(".js-plotly-plot .main-svg .trace").first.wait_for(timeout=PAGE_TIMEOUT_MS)
            assert _metric(page, "In production") == f"{MODEL} v1"
            assert _metric(page, "Versions") == "2"
            _settle(page, dashboard, "ml")

            page = _open(browser, dashboard, "sweeps")
            page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=PAGE_TIMEOUT_MS)
            assert page.locator('[data-testid="stMetric"]').count() >= 1
            _settle(page, dashboard, "sweeps")
        finally:
            browser.close()
