"""FileReplaySource: shriven CSV/Parquet and Binance dumps, raw rows, malformed lines, windows."""

from __future__ import annotations

import gzip
import json
import logging
import math
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shriven.marketdata.replay import RAW_TRADES, FileReplaySource, epoch_to_ns, to_ts_ns
from shriven.marketdata.source import MarketDataSource
from shriven.schemas import QUARANTINE, TRADES, conform

FIXTURES = Path(__file__).parents[2] / "fixtures" / "replay"
GOOD = str(FIXTURES / "good.csv")
BAD = str(FIXTURES / "bad.csv")
BINANCE = str(FIXTURES / "BTCUSDT-trades-2024-01-01.csv")
BINANCE_AGG = str(FIXTURES / "BTCUSDT-aggTrades-2024-01-01.csv")
PARQUET = str(FIXTURES / "trades.parquet")
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z in ns
SECOND = 1_000_000_000
NOW = 1_735_689_600_000_000_000
HEADER = "ts,symbol,trade_id,price,size,side\n"


def everything(source: FileReplaySource):
    low, high = source.time_range()
    return source.fetch(low, high + 1, [])


def ts_ns(table: pa.Table) -> list[int | None]:
    return table.column("ts").cast(pa.int64()).to_pylist()


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


# --- shriven CSV --------------------------------------------------------------------------------


def test_is_a_file_market_data_source() -> None:
    source = FileReplaySource([GOOD])
    assert isinstance(source, MarketDataSource)
    assert source.name == "file"
    assert source.live is False


def test_good_csv_reads_every_timestamp_form_and_side_encoding() -> None:
    batch = everything(FileReplaySource([GOOD], clock=lambda: NOW))
    trades = batch.trades
    assert trades.schema == RAW_TRADES
    assert batch.quarantine.num_rows == 0
    assert ts_ns(trades) == [
        T0,
        T0 + 250_000_000,
        T0 + SECOND,
        T0 + 1_500_000_000,
        T0 + 2 * SECOND,  # integer ns
        T0 + 3 * SECOND,  # integer ms
        T0 + 4 * SECOND,  # integer µs
        T0 + 5 * SECOND + 123_456_789,  # naive ISO with a space, nanoseconds
    ]
    assert trades.column("side").to_pylist() == [1, -1, 1, -1, 0, 1, -1, 1]
    assert trades.column("symbol").to_pylist()[:3] == ["BTCUSDT", "BTCUSDT", "ETHUSDT"]
    assert trades.column("trade_id").to_pylist()[0] == 1001
    assert trades.column("price").to_pylist()[0] == 42283.58
    assert trades.column("size").to_pylist()[0] == 0.00118
    assert trades.column("_row_number").to_pylist() == list(range(2, 10))
    # conform() gives the lake schema once validation is satisfied
    assert conform(trades, TRADES).schema == TRADES


def test_raw_column_keeps_the_original_text_and_the_file() -> None:
    trades = everything(FileReplaySource([GOOD])).trades
    raw = json.loads(trades.column("_raw")[5].as_py())
    assert raw == {
        "ts": "1704067203000",
        "symbol": "BTCUSDT",
        "trade_id": "1004",
        "price": "42285.10",
        "size": "0.01",
        "side": "buy",
        "_file": GOOD,
    }


def test_time_range_is_min_and_max_parseable_ts() -> None:
    assert FileReplaySource([GOOD]).time_range() == (T0, T0 + 5 * SECOND + 123_456_789)
    # the bad file's unparseable and out-of-order rows do not widen it wrongly
    assert FileReplaySource([BAD]).time_range() == (T0, T0 + 12 * SECOND)


# --- bad rows stay raw; malformed lines go to quarantine ------------------------------------------


@pytest.fixture
def bad_batch():
    return everything(FileReplaySource([BAD], clock=lambda: NOW))


def by_line(batch) -> dict[int, dict]:
    return {row["_row_number"]: row for row in batch.trades.to_pylist()}


def test_every_data_line_comes_out_exactly_once(bad_batch) -> None:
    lines = Path(BAD).read_text().splitlines()
    data_lines = {n for n, text in enumerate(lines, start=1) if n > 1 and text.strip()}
    trade_lines = bad_batch.trades.column("_row_number").to_pylist()
    quarantine_lines = bad_batch.quarantine.column("row_number").to_pylist()
    assert len(trade_lines) + len(quarantine_lines) == len(data_lines) == 16
    assert set(trade_lines) | set(quarantine_lines) == data_lines
    assert not set(trade_lines) & set(quarantine_lines)


def test_bad_values_are_returned_as_they_are(bad_batch) -> None:
    rows = by_line(bad_batch)
    assert math.isnan(rows[3]["price"])
    assert rows[4]["price"] == 0.0
    assert rows[5]["price"] == -42283.58
    assert rows[6]["size"] == -0.5
    assert rows[7]["symbol"] == "DOGEZZZ"
    assert rows[8] | {"_row_number": 0, "_raw": ""} == rows[9] | {"_row_number": 0, "_raw": ""}
    # out of order stays in file order
    assert bad_batch.trades.column("_row_number").to_pylist() == sorted(rows)
    assert ts_ns(bad_batch.trades)[8] == T0 + 3_500_000_000


def test_unparseable_values_are_null_with_the_text_in_raw(bad_batch) -> None:
    rows = by_line(bad_batch)
    assert rows[13]["ts"] is None
    assert json.loads(rows[13]["_raw"])["ts"] == "yesterday"
    wrong_types = rows[15]
    assert (wrong_types["trade_id"], wrong_types["price"], wrong_types["side"]) == (
        None,
        None,
        None,
    )
    assert wrong_types["size"] == 0.001
    raw = json.loads(wrong_types["_raw"])
    assert (raw["trade_id"], raw["price"], raw["side"]) == ("x2012", "abc", "up")


def test_quoted_fields_are_unquoted(bad_batch) -> None:
    row = by_line(bad_batch)[16]
    assert row["symbol"] == 'BTC"USDT'
    assert row["price"] == 42287.0


def test_malformed_lines_are_quarantined_with_reason_and_line(bad_batch) -> None:
    quarantine = bad_batch.quarantine
    assert quarantine.schema == QUARANTINE
    rows = quarantine.to_pylist()
    assert [(r["row_number"], r["reason"]) for r in rows] == [
        (11, "malformed_line: expected 6 fields, got 3"),
        (12, "malformed_line: expected 6 fields, got 7"),
        (17, "malformed_line: unparseable quoting"),
    ]
    first = rows[0]
    assert first["dataset"] == "trades"
    assert first["source"] == "file"
    assert first["symbol"] is None
    assert first["ingested_at"] == datetime.fromtimestamp(NOW / 1e9, UTC)
    assert json.loads(first["raw"]) == {"_file": BAD, "line": "2024-01-01T00:00:07Z,BTCUSDT,2009"}


def test_an_unbalanced_quote_does_not_swallow_the_next_lines(bad_batch) -> None:
    assert by_line(bad_batch)[18]["trade_id"] == 2015


def test_invalid_utf8_line_is_quarantined_alone(tmp_path) -> None:
    data = (HEADER + "2024-01-01T00:00:00Z,BTCUSDT,1,1.0,1.0,buy\n").encode()
    data += b"2024-01-01T00:00:01Z,BTC\xff\xfe,2,1.0,1.0,buy\n"
    data += b"2024-01-01T00:00:02Z,BTCUSDT,3,1.0,1.0,buy\n"
    batch = everything(FileReplaySource([write(tmp_path, "utf.csv", data)]))
    assert batch.trades.column("_row_number").to_pylist() == [2, 4]
    (bad,) = batch.quarantine.to_pylist()
    assert (bad["row_number"], bad["reason"]) == (3, "malformed_line: invalid UTF-8")
    assert "\\xff" in json.loads(bad["raw"])["line"]


def test_line_holding_the_splitters_pseudo_delimiter_keeps_its_place(tmp_path) -> None:
    text = (
        HEADER + "1704067200000,BTCUSDT,1,1.0,1.0,buy\n1704067201000,BTC\x1fUSDT,2,1.0,1.0,sell\n"
    )
    text += "1704067202000,BTCUSDT,3,1.0,1.0,buy\n"
    trades = everything(FileReplaySource([write(tmp_path, "us.csv", text)])).trades
    assert trades.column("_row_number").to_pylist() == [2, 3, 4]
    assert trades.column("symbol").to_pylist()[1] == "BTC\x1fUSDT"


def test_crlf_blank_lines_and_bom(tmp_path) -> None:
    text = (
        "\ufeff" + HEADER.replace("\n", "\r\n") + "\r\n1704067200000,BTCUSDT,1,1.5,2.5,sell\r\n\r\n"
    )
    trades = everything(FileReplaySource([write(tmp_path, "crlf.csv", text)])).trades
    assert trades.to_pylist()[0] | {"_raw": None, "ts": None} == {
        "ts": None, "symbol": "BTCUSDT", "trade_id": 1, "price": 1.5, "size": 2.5, "side": -1,
        "_row_number": 3, "_raw": None,
    }  # fmt: skip


def test_header_in_another_order_with_an_extra_column(tmp_path) -> None:
    text = "side,price,size,symbol,ts,trade_id,venue\nsell,10.5,2,ETHUSDT,1704067200,7,x\n"
    row = everything(FileReplaySource([write(tmp_path, "order.csv", text)])).trades.to_pylist()[0]
    assert (row["side"], row["price"], row["size"], row["symbol"], row["trade_id"]) == (
        -1,
        10.5,
        2.0,
        "ETHUSDT",
        7,
    )
    assert row["ts"].timestamp() == 1704067200  # seconds
    assert json.loads(row["_raw"])["venue"] == "x"


# --- windows and symbols --------------------------------------------------------------------------


def test_windows_that_partition_time_partition_the_file() -> None:
    source = FileReplaySource([BAD], clock=lambda: NOW)
    seen_trades: list[int] = []
    seen_quarantine: list[int] = []
    for second in range(13):
        batch = source.fetch(T0 + second * SECOND, T0 + (second + 1) * SECOND, [])
        seen_trades += batch.trades.column("_row_number").to_pylist()
        seen_quarantine += batch.quarantine.column("row_number").to_pylist()
        if second == 3:
            # 'yesterday' (line 13) and the malformed lines 11-12 follow line 10 (00:00:03.5)
            assert 13 in batch.trades.column("_row_number").to_pylist()
            assert batch.quarantine.column("row_number").to_pylist() == [11, 12]
    full = everything(source)
    assert sorted(seen_trades) == sorted(full.trades.column("_row_number").to_pylist())
    assert sorted(seen_quarantine) == sorted(full.quarantine.column("row_number").to_pylist())


def test_window_is_half_open() -> None:
    trades = FileReplaySource([GOOD]).fetch(T0 + SECOND, T0 + 2 * SECOND, []).trades
    assert ts_ns(trades) == [T0 + SECOND, T0 + 1_500_000_000]


def test_symbols_filter_keeps_those_symbols_and_rows_without_one(tmp_path) -> None:
    assert set(
        FileReplaySource([GOOD])
        .fetch(T0, T0 + 10 * SECOND, ["ETHUSDT"])
        .trades.column("symbol")
        .to_pylist()
    ) == {"ETHUSDT"}
    text = (
        HEADER
        + "1704067200000,BTCUSDT,1,1,1,buy\n1704067200001,,2,1,1,buy\n1704067200002,ETHUSDT,3,1,1,buy\n"
    )
    trades = (
        FileReplaySource([write(tmp_path, "s.csv", text)])
        .fetch(T0, T0 + SECOND, ["ETHUSDT"])
        .trades
    )
    assert trades.column("trade_id").to_pylist() == [2, 3]


def test_rows_left_out_by_the_symbols_filter_are_counted_in_a_warning(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="shriven.marketdata.replay")
    batch = FileReplaySource([BAD]).fetch(T0, T0 + 13 * SECOND, ["BTCUSDT"])
    assert "DOGEZZZ" not in batch.trades.column("symbol").to_pylist()
    assert "2 rows in the window left out" in caplog.text
    assert "'DOGEZZZ': 1" in caplog.text
    assert "'BTC\"USDT': 1" in caplog.text


def test_several_files_are_concatenated_in_order() -> None:
    source = FileReplaySource([GOOD, PARQUET])
    trades = source.fetch(T0, T0 + 10 * SECOND, [])
    raws = [json.loads(r)["_file"] for r in trades.trades.column("_raw").to_pylist()]
    assert raws == [GOOD] * 8 + [PARQUET] * 4


# --- Parquet --------------------------------------------------------------------------------------


def test_parquet_keeps_values_and_null_ts() -> None:
    trades = everything(FileReplaySource([PARQUET])).trades
    assert trades.schema == RAW_TRADES
    assert ts_ns(trades) == [T0, T0 + 500_000_000, T0 + SECOND, None]
    assert math.isnan(trades.column("price")[2].as_py())
    assert trades.column("side").to_pylist() == [1, -1, 0, 1]
    assert trades.column("_row_number").to_pylist() == [0, 1, 2, 3]


def test_parquet_with_other_column_types(tmp_path) -> None:
    table = pa.table(
        {
            "ts": pa.array([1704067200000, 1704067201000], pa.int64()),  # ms
            "symbol": pa.array(["BTCUSDT", "BTCUSDT"]).dictionary_encode(),
            "trade_id": pa.array([1.0, 2.5]),  # 2.5 is no id: null, not truncated
            "price": pa.array(["42000.5", "oops"]),
            "size": pa.array([1, 2], pa.int32()),
            "side": pa.array(["buy", "sell"]),
        }
    )
    path = str(tmp_path / "typed.parquet")
    pq.write_table(table, path)
    rows = everything(FileReplaySource([path])).trades.to_pylist()
    assert [r["trade_id"] for r in rows] == [1, None]
    assert [r["price"] for r in rows] == [42000.5, None]
    assert [r["size"] for r in rows] == [1.0, 2.0]
    assert [r["side"] for r in rows] == [1, -1]
    assert json.loads(rows[1]["_raw"])["trade_id"] == "2.5"


def test_parquet_naive_timestamps_are_utc(tmp_path) -> None:
    table = pa.table(
        {
            "ts": pa.array([T0 // 1000], pa.timestamp("us")),  # naive
            "symbol": ["BTCUSDT"], "trade_id": [1], "price": [1.0], "size": [1.0], "side": [1],
        }
    )  # fmt: skip
    path = str(tmp_path / "naive.parquet")
    pq.write_table(table, path)
    assert ts_ns(everything(FileReplaySource([path])).trades) == [T0]


# --- Binance dumps --------------------------------------------------------------------------------


def test_binance_trades_dump() -> None:
    trades = everything(FileReplaySource([BINANCE], "binance")).trades
    assert trades.schema == RAW_TRADES
    assert trades.num_rows == 20
    first = trades.to_pylist()[0]
    assert (first["symbol"], first["trade_id"], first["price"], first["size"], first["side"]) == (
        "BTCUSDT", 3355473612, 42283.58, 0.00118, 1,
    )  # fmt: skip
    assert ts_ns(trades)[0] == T0 + 7_000_000
    assert trades.column("side").to_pylist()[2] == -1  # isBuyerMaker True: a sell
    assert trades.column("_row_number").to_pylist() == list(range(1, 21))
    raw = json.loads(first["_raw"])
    assert raw["quote_qty"] == "49.89462440"
    assert raw["is_best_match"] == "True"


def test_binance_agg_trades_dump_is_told_by_its_column_count() -> None:
    trades = everything(FileReplaySource([BINANCE_AGG], "binance")).trades
    assert trades.column("trade_id").to_pylist() == [2974601180 + i for i in range(5)]
    assert trades.column("size").to_pylist()[0] == 0.00168
    assert "first_trade_id" in json.loads(trades.column("_raw")[0].as_py())


def test_binance_microsecond_dump_of_2025(tmp_path) -> None:
    path = write(
        tmp_path,
        "ETHUSDT-trades-2025-01-01.csv",
        "1,3332.1,0.5,1666.05,1735689600123456,True,True\n",
    )
    trades = everything(FileReplaySource([path], "binance")).trades
    assert ts_ns(trades) == [NOW + 123_456_000]
    assert trades.column("symbol").to_pylist() == ["ETHUSDT"]


def test_binance_zip_and_symbol_argument(tmp_path) -> None:
    archive = tmp_path / "dump.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(BINANCE, "BTCUSDT-trades-2024-01-01.csv")
    trades = everything(FileReplaySource([str(archive)], "binance", symbol="XBTUSD")).trades
    assert trades.num_rows == 20
    assert set(trades.column("symbol").to_pylist()) == {"XBTUSD"}


def test_binance_dump_with_a_header_and_malformed_lines(tmp_path) -> None:
    text = (
        "id,price,qty,quote_qty,time,is_buyer_maker\n1,10.0,2.0,20.0,1704067200000,false\n1,2,3\n"
    )
    text += "2,10.5,1.0,10.5,1704067200001,true\n"
    batch = everything(
        FileReplaySource([write(tmp_path, "BTCUSDT-trades-2024-01.csv", text)], "binance")
    )
    assert batch.trades.column("side").to_pylist() == [1, -1]
    assert batch.quarantine.column("reason").to_pylist() == [
        "malformed_line: expected 6 fields, got 3"
    ]
    assert batch.quarantine.column("row_number").to_pylist() == [3]


def test_gzip_files_are_read(tmp_path) -> None:
    path = write(tmp_path, "good.csv.gz", gzip.compress(Path(GOOD).read_bytes()))
    assert everything(FileReplaySource([path])).trades.num_rows == 8


# --- what cannot be read --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "layout", "match"),
    [
        ("empty.csv", b"", "shriven", "empty file"),
        ("blank.csv", b"\n \n\n", "shriven", "empty file"),
        ("garbage.csv", bytes(range(256)) * 4, "shriven", "not a shriven trades CSV"),
        ("header.csv", HEADER.encode(), "shriven", "no data lines"),
        (
            "malformed.csv",
            (HEADER + "a,b\nc\n1,2,3\n").encode(),
            "shriven",
            "all 3 data lines are malformed",
        ),
        (
            "nots.csv",
            (HEADER + "soon,BTCUSDT,1,1,1,buy\n").encode(),
            "shriven",
            "no row has a parseable ts",
        ),
        (
            "BTCUSDT-trades-2024-01-01.csv",
            Path(BINANCE).read_bytes(),
            "shriven",
            "not a shriven trades CSV",
        ),
        ("BTCUSDT-trades-2024-01-02.csv", Path(GOOD).read_bytes(), "binance", "not a Binance"),
        ("weird.csv", b"1,2,3\n4,5,6\n", "binance", "most lines have 3 fields"),
        ("noname.csv", Path(BINANCE).read_bytes(), "binance", "cannot tell the symbol"),
        (
            "trades.parquet",
            Path(PARQUET).read_bytes(),
            "binance",
            "Parquet file, but the binance layout",
        ),
        ("bad.zip", b"PK\x03\x04garbage", "shriven", "corrupt zip"),
    ],
)
def test_a_file_with_nothing_readable_raises_naming_it(
    tmp_path, name, content, layout, match
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(ValueError, match=match) as info:
        FileReplaySource([path], layout).time_range()
    assert path in str(info.value)


def test_missing_file_raises_file_not_found(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        FileReplaySource([str(tmp_path / "nope.csv")]).time_range()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"paths": []}, "at least one file"),
        ({"paths": [GOOD], "layout": "tardis"}, "unknown replay layout"),
        ({"paths": [GOOD], "symbol": "BTCUSDT"}, "binance layout only"),
    ],
)
def test_constructor_rejects_nonsense(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        FileReplaySource(**kwargs)


def test_window_end_before_start_is_an_error() -> None:
    with pytest.raises(ValueError, match="before its start"):
        FileReplaySource([GOOD]).fetch(T0, T0 - 1, [])


def test_a_single_path_string_is_one_file() -> None:
    assert FileReplaySource(GOOD).paths == (GOOD,)


# --- timestamp rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1704067200", T0),
        ("1704067200000", T0),
        ("1704067200000000", T0),
        ("1704067200000000000", T0),
        (" +1704067200 ", T0),
        ("2024-01-01T00:00:00Z", T0),
        ("2024-01-01T02:00:00+02:00", T0),
        ("2024-01-01T05:30:00+0530", T0),
        ("2023-12-31T19:00:00-05", T0),
        ("2024-01-01t00:00:00.000000001z", T0 + 1),
        ("2024-01-01 00:00:00.5", T0 + 500_000_000),
        ("2024-01-01T00:00:00", T0),
        ("9999999999", None),  # seconds beyond 2262: out of int64 ns
        ("99999999999999999999", None),
        ("2024-13-01T00:00:00Z", None),
        ("2024-01-01", None),
        ("01/01/2024 00:00", None),
        ("1.7e9", None),
        ("", None),
        (None, None),
    ],
)
def test_timestamp_rules(text, expected) -> None:
    assert to_ts_ns(pl.Series([text], dtype=pl.String)).to_list() == [expected]


def test_epoch_unit_thresholds() -> None:
    values = pl.Series(
        [99_999_999_999, 100_000_000_000, 99_999_999_999_999, 10**14, 10**17 - 1, 10**17, -(2**63)]
    )
    assert epoch_to_ns(values).to_list() == [
        None,  # 99,999,999,999 s is past 2262
        100_000_000_000 * 1_000_000,
        99_999_999_999_999 * 1_000_000 if 99_999_999_999_999 * 1_000_000 < 2**63 else None,
        10**14 * 1_000,
        (10**17 - 1) * 1_000 if (10**17 - 1) * 1_000 < 2**63 else None,
        10**17,
        None,
    ]


# --- the accounting invariant on arbitrary files --------------------------------------------------

good_line = st.builds(
    lambda s, i, p, q, side: f"{1704067200000 + s},BTCUSDT,{i},{p},{q},{side}",
    st.integers(0, 10_000),
    st.integers(0, 10**6),
    st.sampled_from(["1.5", "NaN", "-1", "0", "abc", ""]),
    st.sampled_from(["0.1", "-2", "x"]),
    st.sampled_from(["buy", "sell", "1", "-1", "0", "?"]),
)
odd_line = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n"), max_size=40
    ),
    st.sampled_from(['"', 'a,"b', "1,2,3,4,5,6,7", ",,,,,", "\x1f", "   "]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.one_of(good_line, odd_line), min_size=1, max_size=30))
def test_every_line_lands_once_in_trades_or_quarantine(tmp_path, lines) -> None:
    body = HEADER + "1704067200000,BTCUSDT,0,1,1,buy\n" + "\n".join(lines) + "\n"
    path = write(tmp_path, "prop.csv", body)
    batch = everything(FileReplaySource([path]))
    physical = body.split("\n")[:-1]
    expected = {n for n, text in enumerate(physical, start=1) if n > 1 and text.strip()}
    got_trades = batch.trades.column("_row_number").to_pylist()
    got_quarantine = batch.quarantine.column("row_number").to_pylist()
    assert sorted(got_trades + got_quarantine) == sorted(expected)
