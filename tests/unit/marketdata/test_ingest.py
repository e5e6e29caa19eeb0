"""ingest_window: a source's window validated into the lake, counted, scoped and idempotent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from shriven.config import CcxtConfig
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ccxt_source import CcxtSource
from shriven.marketdata.ingest import ingest_window, origin_of
from shriven.marketdata.replay import FileReplaySource
from shriven.marketdata.source import MarketBatch
from shriven.testing.recorded_exchange import RecordedExchange

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NEW_YEAR = Window.days(date(2024, 1, 1))


class TableSource:
    """A source that hands over a fixed raw table (the stub for scope tests)."""

    name = "table"
    live = False

    def __init__(self, trades: pa.Table) -> None:
        self.trades = trades

    def fetch(self, start_ns, end_ns, symbols):
        return MarketBatch(trades=self.trades)


def _trades(symbols: list[str], start_ns: int) -> pa.Table:
    n = len(symbols)
    return pa.table(
        {"ts": pa.array([start_ns + i * 1_000_000_000 for i in range(n)], pa.timestamp("ns", tz="UTC")),
         "symbol": symbols, "trade_id": list(range(1, n + 1)), "price": [10.0] * n, "size": [1.0] * n,
         "side": pa.array([1] * n, pa.int8())}
    )


def test_file_window_counts_every_line_and_quarantines_with_reasons(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    source = FileReplaySource([str(FIXTURES / "replay" / "bad.csv")])
    result = ingest_window(source, lake, NEW_YEAR, [], ["BTCUSDT"])
    data_lines = [line for line in (FIXTURES / "replay" / "bad.csv").read_text().splitlines()[1:] if line]
    assert result.input_rows == len(data_lines) == result.valid_rows + result.quarantined_rows
    assert lake.read("trades").num_rows == result.valid_rows
    quarantine = lake.read("quarantine")
    assert quarantine.num_rows == result.quarantined_rows
    assert set(quarantine.column("source").to_pylist()) == {"file"}
    assert sum(result.reasons.values()) >= result.quarantined_rows


def test_rerun_replaces_quarantine_instead_of_appending(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    source = FileReplaySource([str(FIXTURES / "replay" / "bad.csv")])
    first = ingest_window(source, lake, NEW_YEAR, [], ["BTCUSDT"])
    second = ingest_window(source, lake, NEW_YEAR, [], ["BTCUSDT"])
    assert first.quarantined_rows == second.quarantined_rows == lake.read("quarantine").num_rows


def test_a_source_without_symbols_only_replaces_the_symbols_it_delivered(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    both = TableSource(_trades(["ACME", "BOLT"], NEW_YEAR.start_ns))
    ingest_window(both, lake, NEW_YEAR, [], ["ACME", "BOLT"])
    only_acme = TableSource(_trades(["ACME"], NEW_YEAR.start_ns + 5_000_000_000))
    ingest_window(only_acme, lake, NEW_YEAR, [], ["ACME", "BOLT"])
    trades = lake.read("trades")
    assert sorted(trades.column("symbol").to_pylist()) == ["ACME", "BOLT"]


def test_explicit_symbols_replace_even_when_the_source_now_has_nothing(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    ingest_window(TableSource(_trades(["ACME", "BOLT"], NEW_YEAR.start_ns)), lake, NEW_YEAR, [], ["ACME", "BOLT"])
    ingest_window(TableSource(_trades([], NEW_YEAR.start_ns)), lake, NEW_YEAR, ["BOLT"], ["ACME", "BOLT"])
    assert lake.read("trades").column("symbol").to_pylist() == ["ACME"]


def test_ccxt_window_writes_trades_and_vendor_bars_from_recorded_responses(tmp_path):
    exchange = RecordedExchange.from_directory(FIXTURES / "ccxt", "binance")
    source = CcxtSource(CcxtConfig(symbol_map={"BTCUSDT": "BTC/USDT"}), exchange=exchange, sleep=lambda s: None)
    lake = Lake(str(tmp_path / "lake"))
    result = ingest_window(source, lake, NEW_YEAR, ["BTCUSDT"], ["BTCUSDT"])
    assert result.valid_rows > 0
    assert result.ohlcv_rows > 0
    assert lake.read("trades").num_rows == result.valid_rows
    assert lake.read("ohlcv").num_rows == result.ohlcv_rows
    assert exchange.calls_of("fetch_trades")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("synthetic", "synthetic"), ("ccxt:binance", "ccxt-binance-"), ("file", "file")],
)
def test_origin_is_a_safe_partition_value(name, expected):
    assert origin_of(name).startswith(expected)
    assert "/" not in origin_of("/etc/../passwd")
    assert origin_of("/etc/../passwd")
