"""The dashboards in a real browser: ``streamlit run`` over a demo lake, driven by Debian chromium.

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
DAY = date(2026, 1, 5)
STARTUP_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Dashboard:
    """A running dashboard server over a demo lake."""

    url: str
    data_dir: Path


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


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the Makefile does on CI)")
    data_dir = tmp_path_factory.mktemp("dashboard")
    write_demo_lake(str(data_dir / "lake"), day=DAY)
    port = _free_port()
    env = {**os.environ, "SHRIVEN_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("SHRIVEN_CONFIG", None)
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
            yield Dashboard(url, data_dir)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


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
