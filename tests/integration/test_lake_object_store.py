"""The lake on object storage: ``SHRIVEN_DATA_DIR=s3://bucket/prefix`` against a real S3-compatible
server on 127.0.0.1 (moto). The flows fill the same lake as on a local disk, the views read it
through fsspec, atomic publish and idempotent re-runs keep holding, and what needs a local disk
(journals, the signal log, keys, the warehouse file) stays on one."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import fsspec
import pyarrow as pa
import pytest

from cli.main import main
from shriven.aggregation.incremental import BarAggregator
from shriven.config import load_settings
from shriven.lake import writer as writer_module
from shriven.lake.layout import Window
from shriven.lake.views import create_views
from shriven.lake.warehouse import memory_connection
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange
from shriven.observability.health import HealthStatus, check_lake
from tests.conftest import SMALL_CONFIG

pytestmark = [pytest.mark.slow]

DAY = date(2026, 1, 5)
#: What the warehouse says about a day of the pipeline, compared between a disk and S3 (float
#: sums in fixed point: a parallel scan adds in any order).
SUMMARY_SQL = {
    "trades": "SELECT count(*), sum(trade_id), sum(round(price * size * 1e4)::HUGEINT) FROM trades",
    "bars": "SELECT interval, count(*), sum(trades), sum(round(volume * 1e4)::HUGEINT) FROM bars GROUP BY interval ORDER BY interval",
    "book": "SELECT count(*), count(DISTINCT seq) FROM book",
    "quarantine": "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY reason",
    "book_snapshots": "SELECT symbol, count(*), sum(round(mid * 1e4)::HUGEINT) FROM book_snapshots GROUP BY symbol ORDER BY symbol",
}


def _s3(s3_env: str) -> fsspec.AbstractFileSystem:
    return fsspec.filesystem("s3", use_listings_cache=False)


@pytest.fixture
def s3_platform(s3_env, tmp_path, monkeypatch):
    """Settings whose data directory is ``s3://<bucket>/data`` and whose local dir is a temp dir."""
    config = tmp_path / "shriven.toml"
    config.write_text(SMALL_CONFIG)
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", f"{s3_env}/data")
    monkeypatch.setenv("SHRIVEN_LOCAL_DIR", str(tmp_path / "local"))
    return load_settings()


def _summary(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {name: con.sql(sql).fetchall() for name, sql in SUMMARY_SQL.items()}


def test_settings_keep_local_state_on_disk_when_the_lake_is_remote(s3_platform, tmp_path):
    assert s3_platform.lake_is_remote
    assert s3_platform.lake_root.startswith("s3://")
    assert s3_platform.lake_root.endswith("/data/lake")
    local = str(tmp_path / "local")
    for path in (s3_platform.warehouse_path, s3_platform.trading_dir, s3_platform.state_dir, s3_platform.signal_log_root):
        assert path.startswith(local), path


@pytest.mark.usefixtures("prefect_harness")
def test_the_daily_pipeline_on_s3_builds_the_same_warehouse_as_on_disk(small_platform, s3_env, tmp_path, monkeypatch, capsys):
    from flows.daily_pipeline import daily_pipeline

    on_disk = daily_pipeline(day=DAY, days=1, source="synthetic")
    con = duckdb.connect(small_platform.warehouse_path, read_only=True)
    expected = _summary(con)
    con.close()

    monkeypatch.setenv("SHRIVEN_DATA_DIR", f"{s3_env}/data")
    monkeypatch.setenv("SHRIVEN_LOCAL_DIR", str(tmp_path / "local"))
    settings = load_settings()
    on_s3 = daily_pipeline(day=DAY, days=1, source="synthetic")
    assert on_s3["ingest"]["valid_rows"] == on_disk["ingest"]["valid_rows"] > 1000
    assert on_s3["bars"]["partitions_aggregated"] == 3

    # the warehouse file is local; its views read the bucket through fsspec
    assert Path(settings.warehouse_path).is_file()
    con = duckdb.connect(settings.warehouse_path, read_only=True)
    from shriven.lake.storage import register_lake_filesystem

    register_lake_filesystem(con, settings.lake_root)
    assert _summary(con) == expected
    con.close()
    # ... as do the in-memory views of `shriven sql`, the dashboards and the gateway
    assert _summary(memory_connection(settings.lake_root)) == expected
    from dashboards import data

    reader = data.LakeReader(settings.lake_root, settings.signal_log_root)
    assert data.symbols_with_bars(reader) == ["ACME", "BOLT", "CRUX"]
    assert data.bar_date_range(reader).first == DAY
    assert main(["sql", "--warehouse", "SELECT count(*) AS n FROM trades"]) == 0
    assert str(expected["trades"][0][0]) in capsys.readouterr().out

    # nothing but lake files in the bucket; nothing of the lake on the local disk
    objects = _s3(s3_env).find(s3_env.removeprefix("s3://"))
    assert objects
    assert all("/data/lake/" in o and o.endswith(".parquet") for o in objects)
    assert not (tmp_path / "local" / "lake").exists()
    assert check_lake(settings.lake_root, time.time()).status is HealthStatus.OK

    # a re-run replaces the same objects with the same rows (idempotent on S3 too)
    from flows.ingest_market_data import ingest_market_data

    lake = Lake(settings.lake_root)
    files, rows = lake.files("trades"), lake.read("trades")
    ingest_market_data(source="synthetic", start=DAY, days=1)
    assert lake.files("trades") == files
    assert lake.read("trades").equals(rows)
    # ... and the incremental aggregation sees nothing new to do
    aggregated = BarAggregator(lake, settings.state_dir, settings.aggregation.intervals).run()
    assert aggregated.partitions_aggregated == 0


def _window_table(settings, lake: Lake) -> pa.Table:
    ingest_window(SyntheticExchange(settings), lake, Window.days(DAY), ["ACME"], settings.universe)
    return lake.read("trades")


def test_a_failed_upload_publishes_nothing_and_keeps_the_old_file(s3_platform, monkeypatch, s3_env):
    lake = Lake(s3_platform.lake_root)
    before = _window_table(s3_platform, lake)
    objects = sorted(_s3(s3_env).find(s3_env.removeprefix("s3://")))
    half = before.slice(0, before.num_rows // 2)

    def torn_write(table, where, **kwargs):
        where.write(b"PAR1 and then the process dies")
        raise OSError("connection reset while uploading")

    monkeypatch.setattr(writer_module.pq, "write_table", torn_write)
    with pytest.raises(OSError, match="connection reset"):
        lake.write_window("trades", half, Window.days(DAY), symbols=["ACME"])
    monkeypatch.undo()
    assert sorted(_s3(s3_env).find(s3_env.removeprefix("s3://"))) == objects  # no temp or torn object
    assert Lake(s3_platform.lake_root).read("trades").equals(before)


def test_readers_see_the_old_or_the_new_file_never_a_torn_one(s3_platform):
    lake = Lake(s3_platform.lake_root)
    full = _window_table(s3_platform, lake)
    versions = [full, full.slice(0, full.num_rows // 3)]
    sizes = {t.num_rows for t in versions}
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_forever() -> None:
        reader = Lake(s3_platform.lake_root)
        while not stop.is_set():
            try:
                seen.append(reader.read("trades").num_rows)
            except BaseException as exc:  # noqa: BLE001 - any failure of a reader is the finding
                errors.append(exc)
                return

    thread = threading.Thread(target=read_forever)
    thread.start()
    try:
        for i in range(30):
            lake.write_window("trades", versions[i % 2], Window.days(DAY), symbols=["ACME"])
    finally:
        stop.set()
        thread.join(60)
    assert not errors
    assert seen
    assert set(seen) <= sizes


@pytest.mark.usefixtures("prefect_harness")
def test_a_sweep_on_s3_stores_its_chunks_there_and_resumes(s3_platform, s3_env):
    from flows.sweep import sweep

    lake = Lake(s3_platform.lake_root)
    ingest_window(SyntheticExchange(s3_platform), lake, Window.days(DAY), s3_platform.universe, s3_platform.universe)
    BarAggregator(lake, s3_platform.state_dir, s3_platform.aggregation.intervals).run()
    args = {"start": DAY, "fast": [3, 5], "slow": [8, 13], "quantity": [10.0], "chunk_size": 1, "sweep_id": "s3"}
    first = sweep(**args)
    assert first["evaluated_chunks"] == 4

    con = duckdb.connect()
    create_views(con, s3_platform.lake_root)
    stored = con.sql("SELECT * EXCLUDE (date, sweep) FROM sweep_results ORDER BY set_id").fetchall()
    assert len(stored) == 4
    fs = _s3(s3_env)
    (part,) = fs.glob(f"{s3_platform.lake_root.removeprefix('s3://')}/sweep_results/date=*/sweep=s3/part-000002.parquet")
    fs.rm(part)  # a worker died before this chunk landed
    assert sweep(**args)["evaluated_chunks"] == 1
    assert con.sql("SELECT * EXCLUDE (date, sweep) FROM sweep_results ORDER BY set_id").fetchall() == stored
    with pytest.raises(ValueError, match="other inputs"):
        sweep(**{**args, "quantity": [20.0]})


def test_signals_stay_on_the_local_disk_and_show_in_the_views(s3_platform, capsys):
    assert main(["signal", "ACME", "5", "--source", "desk"]) == 0
    log_dir = Path(s3_platform.signal_log_root) / "signals"
    assert any(p.is_file() for p in log_dir.rglob("*"))
    con = memory_connection(s3_platform.lake_root, signals_root=s3_platform.signal_log_root)
    assert con.sql("SELECT symbol, target, source FROM signals").fetchall() == [("ACME", 5.0, "desk")]


@pytest.mark.usefixtures("prefect_harness")
def test_a_backtest_on_s3_follows_local_signals_and_writes_its_account_to_the_bucket(s3_env, tmp_path, monkeypatch):
    from flows.backtest import backtest
    from shriven.lake.layout import day_start_ns
    from shriven.marketdata.synthetic import session_window
    from shriven.model.records import Signal
    from shriven.signals.log import SignalLog

    (tmp_path / "strategies.toml").write_text('[[strategy]]\nkind = "signal_follower"\nid = "follow"\nsymbols = ["ACME"]\n')
    config = tmp_path / "shriven.toml"
    config.write_text(SMALL_CONFIG + f'\n[trading]\nstrategies = "{tmp_path / "strategies.toml"}"\njournal_fsync = false\n')
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", f"{s3_env}/data")
    monkeypatch.setenv("SHRIVEN_LOCAL_DIR", str(tmp_path / "local"))
    settings = load_settings()
    ingest_window(SyntheticExchange(settings), Lake(settings.lake_root), Window.days(DAY), settings.universe, settings.universe)
    open_ns, _ = session_window(settings, DAY)
    SignalLog(settings.signal_log_root, symbols=settings.universe).append(
        [Signal(ts=open_ns + 120 * 10**9, symbol="ACME", target=200.0)], source="test", now_ns=day_start_ns(DAY)
    )

    summary = backtest(start=DAY, days=1, run_id="s3")
    assert summary["signals"] == 1
    assert summary["fills"] >= 1
    con = memory_connection(settings.lake_root, signals_root=settings.signal_log_root)
    assert con.sql("SELECT count(*) FROM fills WHERE account = 'backtest-s3'").fetchall()[0][0] == summary["fills"]
    last = con.sql("SELECT quantity FROM positions WHERE account = 'backtest-s3' AND symbol = 'ACME' "
                   "ORDER BY ts DESC LIMIT 1").fetchall()  # fmt: skip
    assert last == [(200.0,)]  # the signal's target, reached
    written = {o.split("/data/lake/")[1].split("/")[0] for o in _s3(s3_env).find(s3_env.removeprefix("s3://"))}
    assert {"orders", "fills", "positions", "pnl"} <= written
    assert "signals" not in written
