"""Trade validation: every raw row is either a valid TRADES row or a quarantined row with reasons."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shriven.lake.layout import Window
from shriven.marketdata.validation import Reason, ValidationResult, validate_trades
from shriven.schemas import QUARANTINE, TRADES

UNIVERSE = ("ACME", "BETA", "GAMA")
WINDOW = Window.days(date(2024, 1, 2))
T0 = WINDOW.start_ns + 10 * 3_600_000_000_000  # 2024-01-02T10:00:00Z
INGESTED = 1_800_000_000_000_000_000
GOOD: dict[str, Any] = {
    "ts": T0,
    "symbol": "ACME",
    "trade_id": 1,
    "price": 10.5,
    "size": 2.0,
    "side": 1,
}


def _column(values: list[Any]) -> pa.Array:
    """A raw column; when strings mix with other values, every value becomes text (like a CSV)."""
    if any(isinstance(v, str) for v in values):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if all(v is None for v in values):
        return pa.nulls(len(values))
    if any(isinstance(v, float) for v in values):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array(values)


def raw_table(rows: list[dict[str, Any]], **extra: list[Any]) -> pa.Table:
    """A raw trades table from row dicts (missing keys take the GOOD row's value)."""
    full = [{**GOOD, **r} for r in rows]
    cols = {name: _column([r[name] for r in full]) for name in TRADES.names}
    cols.update({k: _column(v) for k, v in extra.items()})
    return pa.table(cols)


def validate(table: pa.Table, window: Window | None = WINDOW) -> ValidationResult:
    return validate_trades(table, UNIVERSE, "unit-test", INGESTED, window)


def _ts_ns(table: pa.Table) -> list[int]:
    return table.column("ts").cast(pa.int64()).to_pylist()


# ------------------------------------------------------------------ clean input
def test_clean_rows_come_out_in_the_trades_schema_exactly() -> None:
    raw = raw_table(
        [
            {},
            {"ts": T0 + 1, "symbol": "BETA", "trade_id": 2, "side": -1},
            {"ts": T0 + 2, "trade_id": 3, "side": 0, "price": 7, "size": 3},
        ]
    )
    result = validate(raw)
    assert result.valid.schema.equals(TRADES, check_metadata=True)
    assert result.quarantine.schema.equals(QUARANTINE, check_metadata=True)
    assert result.input_rows == result.valid_rows == 3
    assert result.quarantined_rows == 0
    assert result.reasons == {}
    assert _ts_ns(result.valid) == [T0, T0 + 1, T0 + 2]
    assert result.valid.drop_columns(["ts"]).to_pylist() == [
        {"symbol": "ACME", "trade_id": 1, "price": 10.5, "size": 2.0, "side": 1},
        {"symbol": "BETA", "trade_id": 2, "price": 10.5, "size": 2.0, "side": -1},
        {"symbol": "ACME", "trade_id": 3, "price": 7.0, "size": 3.0, "side": 0},
    ]


def test_empty_input_gives_empty_outputs() -> None:
    result = validate(TRADES.empty_table())
    assert result.valid.schema.equals(TRADES, check_metadata=True)
    assert result.quarantine.schema.equals(QUARANTINE, check_metadata=True)
    assert (result.input_rows, result.valid_rows, result.quarantined_rows) == (0, 0, 0)


def test_validated_output_is_stable_under_revalidation() -> None:
    first = validate(raw_table([{}, {"ts": T0 + 5, "trade_id": 2}, {"price": -1, "trade_id": 3}]))
    again = validate(first.valid)
    assert again.valid.equals(first.valid)
    assert again.quarantined_rows == 0


# ------------------------------------------------------------------ one reason per case
@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"price": math.nan}, Reason.INVALID_PRICE),
        ({"price": math.inf}, Reason.INVALID_PRICE),
        ({"price": None}, Reason.INVALID_PRICE),
        ({"price": "abc"}, Reason.INVALID_PRICE),
        ({"price": 0.0}, Reason.NON_POSITIVE_PRICE),
        ({"price": -3.5}, Reason.NON_POSITIVE_PRICE),
        ({"price": "-1"}, Reason.NON_POSITIVE_PRICE),
        ({"size": -1.0}, Reason.NON_POSITIVE_SIZE),
        ({"size": 0.0}, Reason.NON_POSITIVE_SIZE),
        ({"size": math.nan}, Reason.INVALID_SIZE),
        ({"size": "lots"}, Reason.INVALID_SIZE),
        ({"symbol": "ZZZZ"}, Reason.UNKNOWN_SYMBOL),
        ({"symbol": "acme"}, Reason.UNKNOWN_SYMBOL),
        ({"symbol": None}, Reason.MISSING_SYMBOL),
        ({"symbol": ""}, Reason.MISSING_SYMBOL),
        ({"symbol": "   "}, Reason.MISSING_SYMBOL),
        ({"ts": None}, Reason.MISSING_TIMESTAMP),
        ({"ts": "not a time"}, Reason.INVALID_TIMESTAMP),
        ({"ts": ""}, Reason.INVALID_TIMESTAMP),
        ({"ts": math.nan}, Reason.INVALID_TIMESTAMP),
        ({"ts": WINDOW.end_ns}, Reason.OUTSIDE_WINDOW),
        ({"ts": WINDOW.start_ns - 1}, Reason.OUTSIDE_WINDOW),
        ({"side": 7}, Reason.INVALID_SIDE),
        ({"side": -2}, Reason.INVALID_SIDE),
        ({"side": "sideways"}, Reason.INVALID_SIDE),
        ({"side": None}, Reason.INVALID_SIDE),
        ({"side": 0.5}, Reason.INVALID_SIDE),  # not truncated to 0 (unknown)
        ({"side": 1.7}, Reason.INVALID_SIDE),  # not truncated to 1 (buy)
        ({"trade_id": "T-1"}, Reason.INVALID_TRADE_ID),
        ({"trade_id": None}, Reason.INVALID_TRADE_ID),
        ({"trade_id": 2.5}, Reason.INVALID_TRADE_ID),  # not truncated to 2
    ],
)
def test_each_bad_value_is_quarantined_with_its_reason(bad: dict[str, Any], reason: Reason) -> None:
    # row 0 is good, row 1 carries the bad value (and a distinct trade id unless that is the bad value)
    raw = raw_table([{}, {"trade_id": 2, "ts": T0 + 1, **bad}])
    result = validate(raw)

    assert result.valid_rows == 1
    assert result.valid.column("trade_id").to_pylist() == [1]
    assert result.quarantined_rows == 1
    q = result.quarantine.to_pylist()[0]
    assert q["reason"] == reason.value
    assert q["row_number"] == 1
    assert q["dataset"] == "trades"
    assert q["source"] == "unit-test"
    assert result.quarantine.column("ingested_at").cast(pa.int64()).to_pylist() == [INGESTED]
    assert result.reasons == {reason.value: 1}


def test_duplicate_trade_keeps_the_first_occurrence() -> None:
    raw = raw_table(
        [
            {"trade_id": 5, "price": 1.0},
            {"trade_id": 5, "ts": T0 + 1, "price": 2.0},  # same symbol + id: duplicate
            {"trade_id": 5, "symbol": "BETA", "ts": T0 + 2},  # same id, other symbol: fine
            {"trade_id": 5, "ts": T0 + 3, "price": 3.0},  # duplicate again
        ]
    )
    result = validate(raw)
    assert result.valid.select(["symbol", "trade_id", "price"]).to_pylist() == [
        {"symbol": "ACME", "trade_id": 5, "price": 1.0},
        {"symbol": "BETA", "trade_id": 5, "price": 10.5},
    ]
    assert result.quarantine.select(["reason", "row_number"]).to_pylist() == [
        {"reason": "duplicate_trade", "row_number": 1},
        {"reason": "duplicate_trade", "row_number": 3},
    ]
    assert result.reasons == {"duplicate_trade": 2}


def test_an_invalid_first_occurrence_does_not_make_the_next_a_duplicate() -> None:
    raw = raw_table([{"trade_id": 5, "price": -1.0}, {"trade_id": 5, "ts": T0 + 1}])
    result = validate(raw)
    assert result.valid_rows == 1
    assert _ts_ns(result.valid) == [T0 + 1]
    assert result.quarantine.column("reason").to_pylist() == ["non_positive_price"]


def test_out_of_order_is_judged_per_symbol() -> None:
    raw = raw_table(
        [
            {"trade_id": 1, "ts": T0 + 100},
            {"trade_id": 2, "ts": T0 + 50, "symbol": "BETA"},  # earlier, but another symbol
            {"trade_id": 3, "ts": T0 + 100},  # equal ts is in order
            {"trade_id": 4, "ts": T0 + 99},  # goes back in time
            {"trade_id": 5, "ts": T0 + 101},
        ]
    )
    result = validate(raw)
    assert result.valid.column("trade_id").to_pylist() == [1, 2, 3, 5]
    assert result.quarantine.select(["reason", "row_number"]).to_pylist() == [
        {"reason": "out_of_order", "row_number": 3}
    ]


def test_several_reasons_on_one_row_are_all_listed() -> None:
    raw = raw_table(
        [{}, {"trade_id": 2, "price": math.nan, "size": 0.0, "symbol": "NOPE", "side": 7}]
    )
    result = validate(raw)
    (reason,) = result.quarantine.column("reason").to_pylist()
    parts = reason.split(";")
    assert sorted(parts) == sorted(
        ["invalid_price", "non_positive_size", "unknown_symbol", "invalid_side"]
    )
    # listed in the order Reason declares them
    order = list(Reason)
    assert parts == sorted(parts, key=lambda p: order.index(Reason(p)))
    assert result.reasons == {
        "invalid_price": 1,
        "non_positive_size": 1,
        "unknown_symbol": 1,
        "invalid_side": 1,
    }


def test_malformed_types_in_one_row_with_text_columns() -> None:
    raw = raw_table(
        [{}, {"trade_id": "x", "ts": "not a time", "price": "abc", "size": "1", "side": "sideways"}]
    )
    result = validate(raw)
    assert result.valid_rows == 1
    (reason,) = result.quarantine.column("reason").to_pylist()
    assert set(reason.split(";")) == {
        "invalid_timestamp",
        "invalid_trade_id",
        "invalid_price",
        "invalid_side",
    }


# ------------------------------------------------------------------ the quarantine row
def test_quarantine_row_carries_the_raw_row_as_json_and_its_row_number() -> None:
    raw = raw_table(
        [{}, {"trade_id": 2}, {"trade_id": 9, "price": "abc", "symbol": "XYZ", "side": "sideways"}]
    )
    result = validate(raw)
    (q,) = result.quarantine.to_pylist()
    assert q["row_number"] == 2
    assert q["symbol"] == "XYZ"
    assert json.loads(q["raw"]) == {
        "ts": T0,
        "symbol": "XYZ",
        "trade_id": 9,
        "price": "abc",
        "size": 2.0,
        "side": "sideways",
    }


def test_quarantine_uses_the_sources_raw_text_and_row_number() -> None:
    raw = raw_table(
        [{}, {"trade_id": 2, "ts": T0 + 1, "price": -1.0}],
        _raw=["line one", "2024-01-02,ACME,2,-1,2,B"],
        _row_number=[17, 18],
    )
    result = validate(raw)
    (q,) = result.quarantine.to_pylist()
    assert q["raw"] == "2024-01-02,ACME,2,-1,2,B"
    assert q["row_number"] == 18
    assert result.valid.column_names == TRADES.names  # source-only columns do not leak


def test_row_number_column_without_raw_text_keeps_json_free_of_private_columns() -> None:
    raw = raw_table([{"price": 0.0}], _row_number=[41])
    (q,) = validate(raw).quarantine.to_pylist()
    assert q["row_number"] == 41
    assert "_row_number" not in json.loads(q["raw"])


# ------------------------------------------------------------------ timestamp representations
ISO_CASES = [
    ("2024-01-02T10:00:00Z", T0),
    ("2024-01-02T10:00:00.123456789Z", T0 + 123_456_789),
    ("2024-01-02T12:00:00+02:00", T0),
    ("2024-01-02T10:00:00.5+00:00", T0 + 500_000_000),
]


@pytest.mark.parametrize(("text", "expected"), ISO_CASES)
def test_iso_8601_strings_are_read_as_utc_ns(text: str, expected: int) -> None:
    result = validate(raw_table([{"ts": text}]))
    assert result.quarantined_rows == 0
    assert _ts_ns(result.valid) == [expected]


def test_mixed_iso_8601_strings_with_offsets_and_fractions() -> None:
    texts = [t for t, _ in ISO_CASES]
    expected = [e for _, e in ISO_CASES]
    rows = [{"ts": t, "trade_id": i, "symbol": UNIVERSE[i % 3]} for i, t in enumerate(texts)]
    result = validate(raw_table(rows))
    assert result.quarantined_rows == 0
    assert sorted(_ts_ns(result.valid)) == sorted(expected)


def test_tz_naive_iso_strings_are_utc() -> None:
    result = validate(
        raw_table([{"ts": "2024-01-02T10:00:00"}, {"ts": " 2024-01-02T10:00:01 ", "trade_id": 2}])
    )
    assert _ts_ns(result.valid) == [T0, T0 + 1_000_000_000]


def test_integer_ns_as_ints_and_as_text() -> None:
    result = validate(raw_table([{"ts": T0 + 7}, {"ts": str(T0 + 8), "trade_id": 2}]))
    assert result.quarantined_rows == 0
    assert _ts_ns(result.valid) == [T0 + 7, T0 + 8]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Kolkata", "America/New_York"])
def test_timestamp_columns_of_any_unit_and_zone(unit: str, tz: str | None) -> None:
    instant = datetime(2024, 1, 2, 10, 0, 1, tzinfo=UTC)
    value = instant if tz is not None else instant.replace(tzinfo=None)  # naive means UTC
    table = raw_table([{}]).set_column(0, "ts", pa.array([value], pa.timestamp(unit, tz=tz)))
    result = validate(table)
    assert result.quarantined_rows == 0
    assert _ts_ns(result.valid) == [T0 + 1_000_000_000]
    assert result.valid.schema.field("ts").type == pa.timestamp("ns", tz="UTC")


def test_sub_second_precision_of_ms_and_us_columns() -> None:
    table = raw_table([{}, {"trade_id": 2}]).set_column(
        0,
        "ts",
        pa.array(
            [(T0 + 123_000_000) // 1_000_000, (T0 + 124_000_000) // 1_000_000], pa.int64()
        ).cast(pa.timestamp("ms")),
    )
    assert _ts_ns(validate(table).valid) == [T0 + 123_000_000, T0 + 124_000_000]
    table = raw_table([{}]).set_column(
        0,
        "ts",
        pa.array([(T0 + 123_456_000) // 1000], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
    )
    assert _ts_ns(validate(table).valid) == [T0 + 123_456_000]


@pytest.mark.parametrize(
    ("unit", "year"),
    [("ms", 9999), ("us", 1500), ("s", 3000)],
)
def test_timestamps_beyond_the_ns_range_are_invalid_not_a_crash(unit: str, year: int) -> None:
    naive = [datetime(2024, 1, 2, 10, tzinfo=UTC), datetime(year, 1, 1, tzinfo=UTC)]
    table = raw_table([{}, {"trade_id": 2}]).set_column(
        0, "ts", pa.array([d.replace(tzinfo=None) for d in naive], pa.timestamp(unit))
    )
    result = validate(table, window=None)
    assert result.valid_rows == 1
    assert result.quarantine.column("reason").to_pylist() == ["invalid_timestamp"]


def test_timestamp_column_with_an_offset_zone_keeps_the_instant() -> None:
    local = datetime(2024, 1, 2, 15, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    table = raw_table([{}]).set_column(0, "ts", pa.array([local], pa.timestamp("us", tz="+05:30")))
    assert _ts_ns(validate(table).valid) == [T0]


def test_no_window_means_no_window_check() -> None:
    result = validate(raw_table([{"ts": 0}, {"ts": 1, "trade_id": 2}]), window=None)
    assert result.valid_rows == 2


@pytest.mark.parametrize("column", TRADES.names)
def test_a_missing_required_column_raises_naming_it(column: str) -> None:
    raw = raw_table([{}]).drop_columns([column])
    with pytest.raises(ValueError, match=rf"lack columns \['{column}'\]"):
        validate(raw)


@pytest.mark.parametrize(
    ("word", "side"),
    [("buy", 1), ("SELL", -1), (" b ", 1), ("s", -1), ("unknown", 0), ("-1", -1), ("0", 0)],
)
def test_side_words(word: str, side: int) -> None:
    result = validate(raw_table([{"side": word}]))
    assert result.valid.column("side").to_pylist() == [side]


# ------------------------------------------------------------------ property: garbage in, accounted out
_TEXT_TS = st.sampled_from(
    [
        "2024-01-02T10:00:00Z",
        "2024-01-02T10:00:00.5Z",
        "2024-01-03T00:00:00Z",
        "2024-01-01T23:59:59Z",
        "not a time",
        "",
        "  ",
        str(T0),
        "-1",
        "9" * 30,
        "2024-13-45T99:00:00Z",
    ]
)
_NEAR_WINDOW = (
    st.integers(WINDOW.start_ns - 10, WINDOW.start_ns + 10)
    | st.integers(WINDOW.end_ns - 10, WINDOW.end_ns + 10)
    | st.integers(WINDOW.start_ns, WINDOW.end_ns)
)
_INT64 = st.integers(-(2**63), 2**63 - 1)
_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
_SYMBOLS = st.sampled_from([*UNIVERSE, "ZZZ", "acme", "", " ", "ACME ", "BTC/USDT"]) | st.text(
    max_size=4
)


def _typed(kind: str, values: list[Any]) -> pa.Array:
    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    if kind == "null":
        return pa.nulls(len(values))
    if kind.startswith("timestamp"):
        _, unit, tz = kind.split(":")
        return pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz=tz or None))
    return pa.array(values, types[kind])


@st.composite
def garbage_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 25))
    clean = draw(
        st.booleans()
    )  # a mostly well-formed table: many rows pass and the invariants bite

    def column(
        options: dict[str, st.SearchStrategy], good: tuple[str, st.SearchStrategy]
    ) -> pa.Array:
        if clean or draw(st.booleans()):
            kind = good[0]
            value = st.tuples(st.integers(0, 7), good[1], options[kind]).map(
                lambda t: t[2] if t[0] == 0 else t[1]
            )
        else:
            kind = draw(st.sampled_from(sorted(options)))
            value = options[kind]
        if kind == "null":
            return pa.nulls(n)
        maybe_null = st.tuples(st.integers(0, 9), value).map(lambda t: None if t[0] == 0 else t[1])
        values = draw(st.lists(maybe_null, min_size=n, max_size=n))
        return _typed(kind, values)

    ts_kinds: dict[str, st.SearchStrategy] = {
        "int": _NEAR_WINDOW | _INT64,
        "float": _FLOATS | _NEAR_WINDOW.map(float),
        "str": _TEXT_TS | _NEAR_WINDOW.map(str),
        "null": st.none(),
    }
    for unit, div in (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)):
        for tz in ("", "UTC", "Asia/Kolkata"):
            ts_kinds[f"timestamp:{unit}:{tz}"] = _NEAR_WINDOW.map(
                lambda v, d=div: v // d
            ) | st.integers(-(2**62), 2**62)
    cols = {
        "ts": column(ts_kinds, ("int", st.integers(WINDOW.start_ns, WINDOW.end_ns - 1))),
        "symbol": column(
            {"str": _SYMBOLS, "int": st.integers(-3, 3), "null": st.none()},
            ("str", st.sampled_from(UNIVERSE)),
        ),
        "trade_id": column(
            {
                "int": st.integers(0, 5) | _INT64,
                "float": st.sampled_from([1.0, 2.0, 1.5, math.nan, math.inf, -0.0, 1e30]),
                "str": st.sampled_from(["1", "2", " 3 ", "x", "", "1.5", "99999999999999999999"]),
            },
            ("int", st.integers(0, 8)),
        ),
        "price": column(
            {
                "float": _FLOATS,
                "int": st.integers(-5, 5),
                "str": st.sampled_from(["1.5", "abc", "-1", "0", "nan", "inf", "", " 2 "]),
            },
            ("float", st.floats(0.01, 1e6)),
        ),
        "size": column(
            {"float": _FLOATS, "int": st.integers(-5, 5), "str": st.sampled_from(["1", "-0", "x"])},
            ("float", st.floats(0.01, 1e6)),
        ),
        "side": column(
            {
                "int": st.integers(-3, 8),
                "float": st.sampled_from([1.0, -1.0, 0.0, 0.5, -0.7, math.nan, math.inf]),
                "str": st.sampled_from(
                    ["buy", "sell", "B", "s", "unknown", "", "sideways", "1", "-1", "7", "0"]
                ),
                "bool": st.booleans(),
            },
            ("int", st.sampled_from([-1, 0, 1])),
        ),
    }
    return pa.table(cols)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=garbage_tables(), windowed=st.booleans())
def test_validation_accounts_for_every_row_and_valid_rows_hold_the_invariants(
    raw: pa.Table, windowed: bool
) -> None:
    window = WINDOW if windowed else None
    result = validate(raw, window)

    assert result.input_rows == raw.num_rows
    assert result.valid_rows + result.quarantined_rows == raw.num_rows
    assert result.valid.schema.equals(TRADES, check_metadata=True)
    assert result.quarantine.schema.equals(QUARANTINE, check_metadata=True)

    valid = result.valid.to_pydict()
    ts = _ts_ns(result.valid)
    last_ts: dict[str, int] = {}
    for i in range(result.valid_rows):
        price, size, side, symbol = (
            valid["price"][i],
            valid["size"][i],
            valid["side"][i],
            valid["symbol"][i],
        )
        assert math.isfinite(price)
        assert price > 0
        assert math.isfinite(size)
        assert size > 0
        assert side in {-1, 0, 1}
        assert symbol in UNIVERSE
        assert valid["trade_id"][i] is not None
        if window is not None:
            assert window.start_ns <= ts[i] < window.end_ns
        assert ts[i] >= last_ts.get(symbol, ts[i])
        last_ts[symbol] = ts[i]
    keys = list(zip(valid["symbol"], valid["trade_id"], strict=True))
    assert len(keys) == len(set(keys))

    reasons = result.quarantine.column("reason").to_pylist()
    known = {r.value for r in Reason}
    counted: dict[str, int] = {}
    for reason in reasons:
        parts = reason.split(";")
        assert parts
        assert set(parts) <= known
        assert len(parts) == len(set(parts))
        for p in parts:
            counted[p] = counted.get(p, 0) + 1
    assert counted == result.reasons
    rows = result.quarantine.column("row_number").to_pylist()
    assert len(set(rows)) == len(rows)
    assert all(0 <= r < raw.num_rows for r in rows)


def test_mixed_iso_formats_in_one_batch_are_all_read() -> None:
    stamps = ["2026-01-05T10:00:00", "2026-01-05T10:00:01Z", "2026-01-05 10:00:02.5", "2026-01-05T15:30:03+05:30"]
    table = pa.table(
        {"ts": stamps, "symbol": ["ACME"] * 4, "trade_id": [1, 2, 3, 4], "price": [1.0] * 4,
         "size": [1.0] * 4, "side": [1] * 4}
    )
    result = validate_trades(table, ["ACME"], "test", 0)
    assert result.quarantined_rows == 0
    seconds = [t.timestamp() for t in result.valid.column("ts").to_pylist()]
    assert [s - seconds[0] for s in seconds] == [0.0, 1.0, 2.5, 3.0]


@pytest.mark.parametrize(("raw_ts", "reason"), [('"yesterday"', "invalid_timestamp"), ('""', "missing_timestamp"), ("null", "missing_timestamp")])
def test_typed_source_null_ts_is_judged_by_its_raw_text(raw_ts: str, reason: str) -> None:
    table = pa.table(
        {"ts": pa.array([None], pa.timestamp("ns", tz="UTC")), "symbol": ["ACME"], "trade_id": [1],
         "price": [1.0], "size": [1.0], "side": pa.array([1], pa.int8()), "_row_number": [7],
         "_raw": [f'{{"ts": {raw_ts}, "symbol": "ACME"}}']}
    )
    result = validate_trades(table, ["ACME"], "file", 0)
    assert result.quarantine.column("reason").to_pylist() == [reason]
    assert result.quarantine.column("row_number").to_pylist() == [7]
