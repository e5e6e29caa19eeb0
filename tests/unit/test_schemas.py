"""The dataset schemas: documented fields, ns UTC timestamps, and conform()."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shriven.schemas import (
    BAR_INTERVALS,
    DATASETS,
    QUARANTINE,
    TIMESTAMP,
    TRADES,
    conform,
    dataset,
    empty_table,
)

FIELDS = [(name, f) for name, ds in DATASETS.items() for f in ds.schema]


@pytest.mark.parametrize(("name", "field"), FIELDS, ids=[f"{n}.{f.name}" for n, f in FIELDS])
def test_every_field_has_unit_and_doc_metadata(name: str, field: pa.Field) -> None:
    meta = field.metadata or {}
    assert b"unit" in meta
    assert meta.get(b"doc", b"").strip(), f"{name}.{field.name} has no doc"


@pytest.mark.parametrize(("name", "field"), FIELDS, ids=[f"{n}.{f.name}" for n, f in FIELDS])
def test_timestamps_are_ns_utc(name: str, field: pa.Field) -> None:
    if pa.types.is_timestamp(field.type):
        assert field.type == pa.timestamp("ns", tz="UTC")
        assert field.metadata[b"unit"] == b"ns UTC"
    else:
        assert field.metadata[b"unit"] != b"ns UTC"


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_is_sorted_by_existing_columns_and_partitioned_sanely(name: str) -> None:
    ds = dataset(name)
    assert ds.name == name
    sort = ds.schema.metadata[b"sort"].decode().split(",")
    assert sort
    assert set(sort) <= set(ds.schema.names)
    assert ds.partition_by[0] == "date"
    assert "date" not in ds.schema.names
    assert len(set(ds.schema.names)) == len(ds.schema.names)


def test_datasets_cover_every_bar_interval() -> None:
    assert {f"bars_{i}" for i in BAR_INTERVALS} <= set(DATASETS)
    assert {"trades", "book", "ohlcv", "quarantine"} <= set(DATASETS)
    assert TIMESTAMP == pa.timestamp("ns", tz="UTC")


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="trades"):
        dataset("tardes")


def test_conform_reorders_casts_and_drops_extra_columns() -> None:
    table = pa.table(
        {
            "extra": ["x", "y"],
            "side": pa.array([1, -1], pa.int64()),
            "size": pa.array([1, 2], pa.int32()),
            "price": pa.array([10, 11], pa.int64()),
            "trade_id": pa.array([1, 2], pa.int32()),
            "symbol": pa.array(["A", "B"], pa.large_string()),
            "ts": pa.array([1_000, 2_000], pa.timestamp("us", tz="UTC")),
        }
    )
    out = conform(table, TRADES)
    assert out.schema.equals(TRADES, check_metadata=True)
    assert out.column_names == TRADES.names
    assert out.column("ts").cast(pa.int64()).to_pylist() == [1_000_000, 2_000_000]
    assert out.column("price").to_pylist() == [10.0, 11.0]
    assert out.column("side").to_pylist() == [1, -1]
    assert out.column("symbol").to_pylist() == ["A", "B"]


def test_conform_raises_naming_the_missing_column() -> None:
    table = empty_table(TRADES).drop_columns(["price", "side"])
    with pytest.raises(ValueError, match=r"\['price', 'side'\]"):
        conform(table, TRADES)


def test_conform_refuses_lossy_casts() -> None:
    bad = pa.table(
        {
            "ts": pa.array([1], pa.int64()).cast(TIMESTAMP),
            "symbol": ["A"],
            "trade_id": [1],
            "price": [1.0],
            "size": [1.0],
            "side": pa.array([300], pa.int64()),  # does not fit int8
        }
    )
    with pytest.raises(pa.ArrowInvalid):
        conform(bad, TRADES)


def test_empty_tables_have_the_schema() -> None:
    for ds in DATASETS.values():
        t = empty_table(ds.schema)
        assert t.num_rows == 0
        assert t.schema.equals(ds.schema, check_metadata=True)
    assert empty_table(QUARANTINE).column_names[-1] == "raw"
