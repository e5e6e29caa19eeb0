"""Trades -> bars against an independent pandas reference (groupby on floored timestamps)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shriven.aggregation import bars
from shriven.aggregation.bars import aggregate_files, aggregate_partitions, aggregate_trades
from shriven.config import INTERVALS_NS
from shriven.schemas import BARS, TRADES

ALL = list(INTERVALS_NS)
NS_S = 1_000_000_000
NS_MIN = 60 * NS_S
NS_DAY = 86_400 * NS_S
DAY0 = 19_700 * NS_DAY  # 2023-12-09 00:00 UTC

EXACT = ["ts", "symbol", "open", "high", "low", "close", "trades"]
SUMS = ["volume", "notional", "vwap", "buy_volume", "sell_volume", "realized_vol"]


# --- helpers -----------------------------------------------------------------------------------


def make_trades(ts, price, size, side, trade_id=None, symbol="AAA") -> pa.Table:
    n = len(ts)
    trade_id = np.arange(n) if trade_id is None else trade_id
    return pa.Table.from_arrays(
        [
            pa.array(
                np.asarray(ts, dtype=np.int64).view("datetime64[ns]"), type=TRADES.field("ts").type
            ),
            pa.array([symbol] * n, pa.string()),
            pa.array(np.asarray(trade_id, dtype=np.int64)),
            pa.array(np.asarray(price, dtype=np.float64)),
            pa.array(np.asarray(size, dtype=np.float64)),
            pa.array(np.asarray(side, dtype=np.int8)),
        ],
        schema=TRADES,
    )


def random_trades(seed: int, n: int, span_ns: int, start: int = DAY0, tick_ns: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = start + (rng.integers(0, span_ns // tick_ns, n) * tick_ns)
    price = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    price = np.round(price, 2)
    size = np.round(rng.lognormal(2.0, 1.0, n), 3) + 0.001
    side = rng.choice(np.array([-1, 0, 1], dtype=np.int8), n)
    trade_id = rng.permutation(n) + 1_000
    return make_trades(ts, price, size, side, trade_id)


def reference_bars(trades: pa.Table, interval: str) -> pd.DataFrame:
    """Plain pandas: sort by (ts, trade_id), floor ts, groupby, aggregate."""
    iv = INTERVALS_NS[interval]
    df = pd.DataFrame(
        {
            "ts": trades.column("ts").cast(pa.int64()).to_numpy(),
            "trade_id": trades.column("trade_id").to_numpy(),
            "price": trades.column("price").to_numpy(),
            "size": trades.column("size").to_numpy(),
            "side": trades.column("side").to_numpy(),
        }
    )
    df = df.sort_values(["ts", "trade_id"], kind="mergesort").reset_index(drop=True)
    df["bar"] = (df["ts"] // iv) * iv
    log_ret = np.log(df["price"] / df["price"].shift(1))
    df["r2"] = np.where(df["bar"] == df["bar"].shift(1), log_ret**2, 0.0)
    df["notional"] = df["price"] * df["size"]
    df["buy"] = np.where(df["side"] == 1, df["size"], 0.0)
    df["sell"] = np.where(df["side"] == -1, df["size"], 0.0)
    g = df.groupby("bar", sort=True)
    out = pd.DataFrame(
        {
            "open": g["price"].first(),
            "high": g["price"].max(),
            "low": g["price"].min(),
            "close": g["price"].last(),
            "volume": g["size"].sum(),
            "notional": g["notional"].sum(),
            "trades": g["price"].size().astype(np.int64),
            "buy_volume": g["buy"].sum(),
            "sell_volume": g["sell"].sum(),
            "realized_vol": np.sqrt(g["r2"].sum()),
        }
    )
    out["vwap"] = out["notional"] / out["volume"]
    out["ofi"] = (out["buy_volume"] - out["sell_volume"]) / out["volume"]
    out = out.reset_index(names="ts")
    out["symbol"] = trades.column("symbol")[0].as_py()
    return out


def assert_matches_reference(result: pa.Table, trades: pa.Table, interval: str) -> None:
    assert result.schema.equals(BARS, check_metadata=True)
    expected = reference_bars(trades, interval)
    got = result.to_pandas()
    got["ts"] = result.column("ts").cast(pa.int64()).to_numpy()
    assert len(got) == len(expected), f"{interval}: {len(got)} bars, expected {len(expected)}"
    for col in EXACT:
        np.testing.assert_array_equal(
            got[col].to_numpy(), expected[col].to_numpy(), err_msg=f"{interval} {col}"
        )
    for col in SUMS:
        np.testing.assert_allclose(
            got[col], expected[col], rtol=1e-12, atol=0, err_msg=f"{interval} {col}"
        )
    # ofi is a difference over a sum: relative error is meaningless near 0, it lives in [-1, 1]
    np.testing.assert_allclose(
        got["ofi"], expected["ofi"], rtol=0, atol=1e-12, err_msg=f"{interval} ofi"
    )


# --- against the reference ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "n", "span_ns", "tick_ns"),
    [
        (0, 1_000, 2 * NS_DAY, 1),  # spans a day boundary: two daily bars
        (1, 5_000, 3 * 3600 * NS_S, 1_000_000),  # millisecond stamps: ties
        (2, 3_000, 20 * NS_S, 1_000_000_000),  # whole seconds: many ties, dense 1s bars
        (3, 200, 30 * NS_DAY, 1),  # sparse: mostly one-trade bars
        (4, 20_000, NS_DAY, 1_000),  # more than one kernel block of trades
    ],
)
def test_random_samples_match_pandas_reference(seed, n, span_ns, tick_ns):
    trades = random_trades(seed, n, span_ns, tick_ns=tick_ns)
    result = aggregate_trades(trades, ALL)
    assert list(result) == ALL
    for interval in ALL:
        assert_matches_reference(result[interval], trades, interval)


def test_single_trade_gives_one_bar_per_interval_with_zero_vol():
    trades = make_trades([DAY0 + 12_345], [101.5], [3.0], [1])
    result = aggregate_trades(trades, ALL)
    for interval, table in result.items():
        assert table.num_rows == 1
        row = table.to_pylist()[0]
        iv = INTERVALS_NS[interval]
        assert row["ts"].timestamp() * NS_S == pytest.approx(((DAY0 + 12_345) // iv) * iv)
        assert (row["open"], row["high"], row["low"], row["close"]) == (101.5,) * 4
        assert row["volume"] == 3.0
        assert row["vwap"] == 101.5
        assert row["trades"] == 1
        assert row["buy_volume"] == 3.0
        assert row["sell_volume"] == 0.0
        assert row["realized_vol"] == 0.0
        assert row["ofi"] == 1.0
        assert row["symbol"] == "AAA"


def test_trade_exactly_on_boundary_opens_the_next_bar():
    t = DAY0 + 10 * NS_MIN
    trades = make_trades(
        [t - 1, t, t + 1, t + NS_MIN], [10.0, 11.0, 12.0, 13.0], [1, 2, 3, 4], [1, -1, 0, 1]
    )
    bars_1m = aggregate_trades(trades, ["1m"])["1m"]
    assert bars_1m.column("ts").cast(pa.int64()).to_pylist() == [t - NS_MIN, t, t + NS_MIN]
    assert bars_1m.column("trades").to_pylist() == [1, 2, 1]
    assert bars_1m.column("open").to_pylist() == [10.0, 11.0, 13.0]
    assert bars_1m.column("close").to_pylist() == [10.0, 12.0, 13.0]
    assert bars_1m.column("realized_vol").to_pylist()[0] == 0.0
    assert bars_1m.column("realized_vol").to_pylist()[1] == pytest.approx(
        abs(np.log(12.0 / 11.0)), rel=1e-15
    )
    assert_matches_reference(bars_1m, trades, "1m")


def test_unsorted_input_is_sorted_by_ts_then_trade_id():
    trades = random_trades(7, 2_000, 6 * 3600 * NS_S, tick_ns=NS_S)
    order = np.random.default_rng(0).permutation(trades.num_rows)
    shuffled = trades.take(pa.array(order))
    result = aggregate_trades(shuffled, ALL)
    expected = aggregate_trades(
        trades.sort_by([("ts", "ascending"), ("trade_id", "ascending")]), ALL
    )
    for interval in ALL:
        assert result[interval].equals(expected[interval])
        assert_matches_reference(result[interval], shuffled, interval)


def test_equal_timestamps_are_ordered_by_trade_id():
    t = DAY0 + 5 * NS_S
    # row order disagrees with trade_id order on the tie: trade 2 is first, trade 1 second
    trades = make_trades(
        [t, t, t + 10], [20.0, 10.0, 30.0], [1, 1, 1], [1, 1, 1], trade_id=[2, 1, 3]
    )
    bar = aggregate_trades(trades, ["1m"])["1m"].to_pylist()[0]
    assert bar["open"] == 10.0
    assert bar["close"] == 30.0
    expected_rv = np.sqrt(np.log(20.0 / 10.0) ** 2 + np.log(30.0 / 20.0) ** 2)
    assert bar["realized_vol"] == pytest.approx(expected_rv, rel=1e-14)
    # ties already in trade_id order are kept as they are
    in_order = make_trades(
        [t, t, t + 10], [10.0, 20.0, 30.0], [1, 1, 1], [1, 1, 1], trade_id=[1, 2, 3]
    )
    assert aggregate_trades(in_order, ["1m"])["1m"].equals(aggregate_trades(trades, ["1m"])["1m"])


def test_unknown_side_counts_in_volume_but_not_in_buy_or_sell():
    trades = make_trades(DAY0 + np.arange(4), [10.0] * 4, [1.0, 2.0, 3.0, 4.0], [0, 1, -1, 0])
    bar = aggregate_trades(trades, ["1s"])["1s"].to_pylist()[0]
    assert bar["volume"] == 10.0
    assert bar["buy_volume"] == 2.0
    assert bar["sell_volume"] == 3.0
    assert bar["ofi"] == pytest.approx(-0.1, rel=1e-15)
    assert bar["realized_vol"] == 0.0  # constant price


def test_day_boundary_splits_every_interval():
    last = DAY0 + NS_DAY - 1  # 23:59:59.999999999
    trades = make_trades([last - NS_S, last, last + 1], [10.0, 11.0, 12.0], [1, 1, 1], [1, 1, 1])
    result = aggregate_trades(trades, ALL)
    for interval in ALL:
        assert result[interval].column("ts").cast(pa.int64()).to_pylist()[-1] == DAY0 + NS_DAY
        assert result[interval].column("trades").to_pylist()[-1] == 1
        assert_matches_reference(result[interval], trades, interval)
    assert result["1d"].column("trades").to_pylist() == [2, 1]


def test_timestamps_before_1970_floor_down():
    trades = make_trades([-1, 0, NS_S - 1], [10.0, 11.0, 12.0], [1, 1, 1], [1, 1, 1])
    bars_1s = aggregate_trades(trades, ["1s"])["1s"]
    assert bars_1s.column("ts").cast(pa.int64()).to_pylist() == [-NS_S, 0]
    assert_matches_reference(bars_1s, trades, "1s")


def test_intervals_that_do_not_nest_run_in_separate_passes(monkeypatch):
    monkeypatch.setitem(INTERVALS_NS, "7s", 7 * NS_S)
    assert bars._chains(["1m", "7s", "1s", "1h"]) == [["1s", "7s"], ["1m", "1h"]]
    trades = random_trades(11, 3_000, 3600 * NS_S, tick_ns=1_000)
    result = aggregate_trades(trades, ["1m", "7s", "1s", "1h"])
    assert list(result) == ["1m", "7s", "1s", "1h"]
    for interval, table in result.items():
        assert_matches_reference(table, trades, interval)


def test_empty_trades_give_empty_bars():
    result = aggregate_trades(TRADES.empty_table(), ALL)
    for table in result.values():
        assert table.num_rows == 0
        assert table.schema.equals(BARS)


def test_rejects_bad_arguments():
    trades = random_trades(0, 10, NS_S)
    with pytest.raises(ValueError, match="unknown bar intervals"):
        aggregate_trades(trades, ["2m"])
    with pytest.raises(TypeError, match="sequence of names"):
        aggregate_trades(trades, "1m")
    with pytest.raises(ValueError, match="several symbols"):
        aggregate_trades(pa.concat_tables([trades, random_trades(0, 10, NS_S).set_column(
            1, TRADES.field("symbol"), pa.array(["BBB"] * 10))]), ["1m"])  # fmt: skip
    with pytest.raises(ValueError, match="lacks columns"):
        aggregate_trades(trades.drop_columns(["side"]), ["1m"])


def test_duplicate_intervals_are_computed_once():
    trades = random_trades(0, 100, NS_DAY)
    result = aggregate_trades(trades, ["5m", "1m", "5m"])
    assert list(result) == ["5m", "1m"]


# --- files and partitions ----------------------------------------------------------------------


def write_partition(tmp_path, trades: pa.Table, cuts: list[int], name: str = "p") -> list[str]:
    """Write trades (sorted by ts, trade_id) as non-overlapping window files; paths in reverse order."""
    trades = trades.sort_by([("ts", "ascending"), ("trade_id", "ascending")])
    directory = tmp_path / name
    directory.mkdir()
    bounds = [0, *cuts, trades.num_rows]
    paths = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        piece = trades.slice(a, b - a)
        path = directory / f"part-{a:09d}-{b:09d}.parquet"
        pq.write_table(piece, path, compression="snappy", use_dictionary=["symbol"])
        paths.append(str(path))
    return paths[::-1]


def test_aggregate_files_reads_window_files_in_any_order(tmp_path):
    trades = random_trades(5, 5_000, 2 * NS_DAY, tick_ns=1_000_000)
    paths = write_partition(tmp_path, trades, [1_000, 1_000, 3_000])  # includes an empty window
    result = aggregate_files(paths, ALL)
    for interval in ALL:
        assert_matches_reference(result[interval], trades, interval)


def test_aggregate_files_orders_ties_by_trade_id_across_files(tmp_path):
    t = DAY0 + 42 * NS_S
    trades = make_trades([t, t, t], [5.0, 6.0, 7.0], [1, 1, 1], [1, 1, 1], trade_id=[1, 2, 3])
    directory = tmp_path / "ties"
    directory.mkdir()
    # one file whose rows are out of trade_id order on a tie
    pq.write_table(trades.take(pa.array([2, 0, 1])), directory / "part-0-1.parquet")
    result = aggregate_files([str(directory / "part-0-1.parquet")], ["1s"])["1s"].to_pylist()[0]
    assert (result["open"], result["close"]) == (5.0, 7.0)


def test_aggregate_files_empty_partition(tmp_path):
    paths = write_partition(tmp_path, TRADES.empty_table(), [])
    result = aggregate_files(paths, ["1m"])
    assert result["1m"].num_rows == 0
    assert aggregate_files([], ["1m"])["1m"].num_rows == 0


def test_aggregate_files_rejects_mixed_symbols(tmp_path):
    a = random_trades(1, 10, NS_S)
    b = random_trades(2, 10, NS_S, start=DAY0 + 2 * NS_S).set_column(
        1, TRADES.field("symbol"), pa.array(["BBB"] * 10)
    )
    pa_, pb = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(a, pa_)
    pq.write_table(b, pb)
    with pytest.raises(ValueError, match="several symbols"):
        aggregate_files([str(pa_), str(pb)], ["1m"])


@pytest.mark.parametrize("max_workers", [1, 3])
def test_aggregate_partitions_keeps_partition_order(tmp_path, max_workers):
    partitions, inputs = [], []
    for i in range(5):
        trades = random_trades(100 + i, 500 + 100 * i, NS_DAY, start=DAY0 + i * NS_DAY)
        trades = trades.set_column(1, TRADES.field("symbol"), pa.array([f"S{i}"] * trades.num_rows))
        inputs.append(trades)
        partitions.append(write_partition(tmp_path, trades, [trades.num_rows // 2], name=f"p{i}"))
    results = aggregate_partitions(partitions, ["1m", "1d"], max_workers=max_workers)
    assert len(results) == 5
    for trades, result in zip(inputs, results, strict=True):
        assert result["1d"].column("symbol").to_pylist() == [trades.column("symbol")[0].as_py()]
        assert_matches_reference(result["1m"], trades, "1m")
    assert aggregate_partitions([], ["1m"]) == []


# --- properties --------------------------------------------------------------------------------


trade_rows = st.lists(
    st.tuples(
        # a few distinct seconds around a day boundary, plus sub-second offsets: ties and edges
        st.integers(0, 7).map(lambda k: DAY0 + NS_DAY - 4 * NS_S + k * NS_S)
        | st.integers(0, 3 * NS_DAY).map(lambda x: DAY0 + x),
        st.floats(0.01, 1e5, allow_nan=False, allow_infinity=False),
        st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False),
        st.sampled_from([-1, 0, 1]),
    ),
    min_size=1,
    max_size=300,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=trade_rows)
def test_properties_conservation_and_ordering(rows):
    ts, price, size, side = (np.array(c) for c in zip(*rows, strict=True))
    trades = make_trades(ts, price, size, side)
    result = aggregate_trades(trades, ALL)
    for interval, table in result.items():
        b = table.to_pandas()
        assert b["trades"].sum() == len(rows)
        np.testing.assert_allclose(b["volume"].sum(), size.sum(), rtol=1e-12)
        assert (b["trades"] >= 1).all()
        hi_oc = np.maximum(b["open"], b["close"])
        lo_oc = np.minimum(b["open"], b["close"])
        assert (b["high"] >= hi_oc).all()
        assert (hi_oc >= lo_oc).all()
        assert (lo_oc >= b["low"]).all()
        tol = 1e-12  # vwap of equal prices may round an ulp past them
        assert (b["vwap"] >= b["low"] * (1 - tol)).all()
        assert (b["vwap"] <= b["high"] * (1 + tol)).all()
        assert ((b["ofi"] >= -1 - tol) & (b["ofi"] <= 1 + tol)).all()
        assert (b["realized_vol"] >= 0).all()
        ts_ns = table.column("ts").cast(pa.int64()).to_numpy()
        assert (np.diff(ts_ns) > 0).all()
        assert (ts_ns % INTERVALS_NS[interval] == 0).all()


def test_aggregate_files_through_urls_and_fsspec(tmp_path):
    import fsspec

    trades = random_trades(9, 2_000, NS_DAY, tick_ns=1_000)
    local = write_partition(tmp_path, trades, [700])
    expected = aggregate_files(local, ["1m", "1h"])
    # a pyarrow-native URL
    via_url = aggregate_files([f"file://{p}" for p in local], ["1m", "1h"])
    # a scheme only fsspec knows
    mem = fsspec.filesystem("memory")
    mem_paths = []
    for i, p in enumerate(local):
        target = f"memory://bars-test/date=x/symbol=AAA/part-{i}.parquet"
        with mem.open(target, "wb") as fh, open(p, "rb") as src:
            fh.write(src.read())
        mem_paths.append(target)
    try:
        via_fsspec = aggregate_files(mem_paths, ["1m", "1h"])
        via_fs_object = aggregate_partitions(
            [[p.removeprefix("memory://") for p in mem_paths]], ["1m", "1h"], filesystem=mem
        )[0]
    finally:
        mem.rm("bars-test", recursive=True)
    for result in (via_url, via_fsspec, via_fs_object):
        for interval in ("1m", "1h"):
            assert result[interval].equals(expected[interval])
