"""`make demo`'s command: one synthetic day through the whole pipeline, a backtest and its tearsheet."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cli.main import main


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_demo_runs_the_day_end_to_end_and_points_at_its_outputs(small_platform, capsys) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    data = Path(small_platform.data_dir)
    # the day's pipeline reached the warehouse: bars for every symbol of the small universe
    warehouse = data / "warehouse.duckdb"
    assert warehouse.exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        symbols = con.sql("SELECT count(DISTINCT symbol) FROM bars_1m").fetchall()[0][0]
    assert symbols == len(small_platform.universe)
    # the backtest ran through the trading path and wrote its tearsheet, whose path is printed
    assert "backtest of the day" in out
    line = next(li for li in out.splitlines() if li.strip().startswith("tearsheet:"))
    tearsheet = Path(line.split("tearsheet:", 1)[1].strip())
    assert tearsheet.is_file()
    assert tearsheet.is_relative_to(data / "reports")
    assert "Equity curve" in tearsheet.read_text()
