"""BarAggregator: only partitions whose trades changed are rebuilt, and bars follow the trades."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa

from shriven.aggregation.incremental import BarAggregator
from shriven.lake.layout import Window
from shriven.lake.writer import Lake

DAY = Window.days(date(2026, 1, 5))
INTERVALS = ("1m", "1d")


def _trades(symbol: str, n: int, offset_s: int = 0, price: float = 10.0) -> pa.Table:
    ts = [DAY.start_ns + (offset_s + i) * 1_000_000_000 for i in range(n)]
    return pa.table(
        {"ts": pa.array(ts, pa.timestamp("ns", tz="UTC")), "symbol": [symbol] * n, "trade_id": list(range(n)),
         "price": [price + i for i in range(n)], "size": [1.0] * n, "side": pa.array([1] * n, pa.int8())}
    )


def _setup(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    lake.write_window("trades", pa.concat_tables([_trades("ACME", 120), _trades("BOLT", 30)]), DAY)
    return lake, BarAggregator(lake, str(tmp_path / "state"), INTERVALS)


def test_first_run_builds_every_partition_then_nothing(tmp_path):
    lake, agg = _setup(tmp_path)
    first = agg.run()
    assert (first.partitions_seen, first.partitions_aggregated, first.trades_read) == (2, 2, 150)
    assert lake.read("bars_1m").num_rows == 2 + 1
    assert lake.read("bars_1d").column("trades").to_pylist() == [120, 30]
    assert agg.run().partitions_aggregated == 0


def test_changed_partition_alone_is_rebuilt_and_its_bars_replaced(tmp_path):
    lake, agg = _setup(tmp_path)
    agg.run()
    lake.write_window("trades", _trades("BOLT", 90, price=20.0), DAY, symbols=["BOLT"])
    again = agg.run()
    assert again.partitions_aggregated == 1
    daily = {r["symbol"]: r for r in lake.read("bars_1d").to_pylist()}
    assert daily["BOLT"]["trades"] == 90
    assert daily["BOLT"]["open"] == 20.0
    assert daily["ACME"]["trades"] == 120


def test_emptied_partition_loses_its_bars(tmp_path):
    lake, agg = _setup(tmp_path)
    agg.run()
    lake.write_window("trades", _trades("BOLT", 0), DAY, symbols=["BOLT"])
    agg.run()
    assert lake.read("bars_1d").column("symbol").to_pylist() == ["ACME"]


def test_changed_intervals_rebuild_everything(tmp_path):
    lake, agg = _setup(tmp_path)
    agg.run()
    wider = BarAggregator(lake, str(tmp_path / "state"), ("1m", "5m", "1d"))
    assert wider.run().partitions_aggregated == 2
    assert lake.read("bars_5m").num_rows == 2
    state = json.loads((tmp_path / "state" / "aggregate_bars.json").read_text())
    assert state["intervals"] == ["1m", "5m", "1d"]


def test_full_rebuild_ignores_the_state(tmp_path):
    _, agg = _setup(tmp_path)
    agg.run()
    assert agg.run(full=True).partitions_aggregated == 2
