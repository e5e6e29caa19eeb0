"""The flows under the real Prefect engine, into a temporary data directory."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from shriven.lake.writer import Lake
from shriven.observability.metrics import METRICS_DIR_NAME, read_flow_outcomes
from tests.conftest import SMALL_CONFIG

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

DAY = date(2026, 1, 5)
FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_daily_pipeline_fills_lake_bars_and_warehouse(small_platform):
    from flows.daily_pipeline import daily_pipeline

    summary = daily_pipeline(day=DAY, days=1, source="synthetic")

    lake = Lake(small_platform.lake_root)
    trades = lake.read("trades")
    ingest = summary["ingest"]
    assert ingest["valid_rows"] == trades.num_rows > 1000
    assert ingest["input_rows"] == ingest["valid_rows"] + ingest["quarantined_rows"]
    assert set(trades.column("symbol").to_pylist()) == {"ACME", "BOLT", "CRUX"}
    assert summary["bars"]["partitions_aggregated"] == 3
    con = duckdb.connect(small_platform.warehouse_path, read_only=True)
    try:
        for interval in ("1s", "1m", "5m", "1h", "1d"):
            bar_trades = con.sql(f"SELECT sum(trades) FROM bars_{interval}").fetchall()[0][0]
            assert bar_trades == trades.num_rows, interval
        assert con.sql("SELECT count(*) FROM book").fetchall()[0][0] == ingest["book_rows"] > 0
        assert con.sql("SELECT count(*) FROM quarantine").fetchall()[0][0] == ingest["quarantined_rows"]
        snapshots = con.sql("SELECT count(DISTINCT symbol), count(*) FROM book_snapshots").fetchall()[0]
        assert snapshots == (3, summary["book_snapshots"]["snapshots"])
    finally:
        con.close()
    assert summary["core_seconds"] < summary["wall_seconds"]


def test_rerunning_a_window_replaces_it(small_platform):
    from flows.ingest_market_data import ingest_market_data

    first = ingest_market_data(source="synthetic", start=DAY, days=1)
    lake = Lake(small_platform.lake_root)
    files_before = lake.files("trades")
    rows_before = lake.read("trades")
    second = ingest_market_data(source="synthetic", start=DAY, days=1)
    assert first["valid_rows"] == second["valid_rows"]
    assert lake.files("trades") == files_before
    assert lake.read("trades").equals(rows_before)


def test_aggregation_is_incremental(small_platform):
    from flows.aggregate_bars import aggregate_bars
    from flows.ingest_market_data import ingest_market_data

    ingest_market_data(source="synthetic", start=DAY, days=1)
    assert aggregate_bars()["partitions_aggregated"] == 3
    assert aggregate_bars()["partitions_aggregated"] == 0
    ingest_market_data(source="synthetic", start=date(2026, 1, 6), days=1, symbols=["ACME"])
    again = aggregate_bars()
    assert again["partitions_aggregated"] == 1
    assert again["partitions_seen"] == 4
    # every run's outcome was counted for monitoring (the flows' state hooks)
    outcomes = read_flow_outcomes(Path(small_platform.state_dir) / METRICS_DIR_NAME)
    assert outcomes.runs["aggregate_bars"] == {"completed": 3}
    assert outcomes.runs["ingest_market_data"] == {"completed": 2}
    assert outcomes.latest_state["aggregate_bars"] == "completed"
    # and each run's start and outcome are JSON log lines correlated by the run's id
    lines = [json.loads(line) for line in (Path(small_platform.data_dir) / "logs" / "flows.jsonl").read_text().splitlines()]
    runs: dict[str, list[str]] = {}
    for line in lines:
        if line.get("flow") == "aggregate_bars":
            runs.setdefault(line["correlation_id"], []).append(line["event"])
    assert len(runs) == 3
    assert all(events == ["started", "completed"] for events in runs.values())


def test_a_failed_run_is_counted_as_failed(small_platform):
    from flows.ingest_market_data import ingest_market_data

    with pytest.raises(ValueError, match="must be at least 1"):
        ingest_market_data(source="synthetic", start=DAY, days=0)
    outcomes = read_flow_outcomes(Path(small_platform.state_dir) / METRICS_DIR_NAME)
    assert outcomes.runs == {"ingest_market_data": {"failed": 1}}
    assert outcomes.latest_state["ingest_market_data"] == "failed"


def test_file_ingestion_quarantines_bad_rows_and_counts_every_line(small_platform, tmp_path, monkeypatch):
    from flows.ingest_market_data import ingest_market_data

    config = tmp_path / "with_btc.toml"
    config.write_text(
        SMALL_CONFIG
        + '[[symbols]]\nsymbol = "BTCUSDT"\nname = "Bitcoin"\nsector = "crypto"\nprice = 42000.0\n'
        + "volatility = 0.6\ntick_size = 0.01\nlot_size = 0.0001\n"
    )
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))

    bad = sorted((FIXTURES / "replay").glob("*bad*.csv"))
    assert bad, "the replay fixtures include a file of bad rows"
    path = str(bad[0])
    data_lines = sum(1 for line in Path(path).read_text().splitlines()[1:] if line.strip())
    result = ingest_market_data(source="file", paths=[path])
    assert result["input_rows"] == data_lines
    assert result["valid_rows"] + result["quarantined_rows"] == data_lines
    assert result["valid_rows"] > 0
    assert result["quarantined_rows"] > 0
    quarantine = Lake(small_platform.lake_root).read("quarantine")
    assert quarantine.num_rows == result["quarantined_rows"]
    assert set(result["reasons"]) >= {
        "unknown_symbol", "invalid_price", "non_positive_price", "non_positive_size",
        "duplicate_trade", "out_of_order", "malformed_line",
    }


def test_cli_ingest_runs_the_flow(small_platform, capsys):
    from cli.main import main

    assert main(["ingest", "--source", "synthetic", "--start", "2026-01-05", "--days", "1", "--symbols", "ACME"]) == 0
    out = capsys.readouterr().out
    assert '"valid_rows"' in out
    assert set(Lake(small_platform.lake_root).read("trades").column("symbol").to_pylist()) == {"ACME"}


def test_cli_rejects_unknown_symbols_with_a_message(small_platform, capsys):
    from cli.main import main

    code = main(["ingest", "--source", "synthetic", "--start", "2026-01-05", "--symbols", "NOPE"])
    assert code == 2
    assert "NOPE" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02garbage\xff\xfe", b"ts,symbol\nnot,enough\n"])
def test_cli_names_a_file_with_nothing_readable(small_platform, tmp_path, capsys, content):
    from cli.main import main

    path = tmp_path / "unreadable.csv"
    path.write_bytes(content)
    assert main(["ingest", "--source", "file", "--path", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def test_options_analytics_prices_the_chains_of_the_days_underlyings(small_platform):
    from cli.main import main
    from flows.aggregate_bars import aggregate_bars
    from flows.ingest_market_data import ingest_market_data
    from flows.options_analytics import options_analytics

    ingest_market_data(source="synthetic", start=DAY, days=1)
    aggregate_bars()
    result = options_analytics(day=DAY)
    assert main(["options", "--day", DAY.isoformat()]) == 0  # the CLI runs the same flow
    lake = Lake(small_platform.lake_root)
    options = lake.read("option_analytics")
    assert result["options"] == options.num_rows > 0
    assert set(options.column("symbol").to_pylist()) == {"ACME", "BOLT", "CRUX"}
    assert result["priced"] > 0.9 * result["options"]
    smiles = lake.read("svi_fits")
    assert result["smiles"] == smiles.num_rows == 3 * len(small_platform.options.expiries_days)


def test_a_backfill_on_a_local_dask_cluster_writes_the_same_lake(small_platform, tmp_path, monkeypatch):
    from flows.ingest_market_data import ingest_market_data

    one = ingest_market_data(source="synthetic", start=DAY, days=2)
    root = Path(small_platform.lake_root)
    other = tmp_path / "dask-data"
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(other))  # the Dask workers inherit it
    two = ingest_market_data(source="synthetic", start=DAY, days=2, dask_workers=2)
    assert two["valid_rows"] == one["valid_rows"] > 0
    assert two["windows"] == 2
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
    assert files == sorted(str(p.relative_to(other / "lake")) for p in (other / "lake").rglob("*.parquet"))
    for dataset in ("trades", "book"):
        assert Lake(str(other / "lake")).read(dataset).equals(Lake(small_platform.lake_root).read(dataset)), dataset
