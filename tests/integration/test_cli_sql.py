"""`shriven sql`: the platform's SQL shell over the lake views, without Prefect."""

from __future__ import annotations

import io
from datetime import date

from cli.main import main
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange


def _ingest(settings) -> int:
    window = Window.days(date(2026, 1, 5))
    result = ingest_window(SyntheticExchange(settings), Lake(settings.lake_root), window, ["ACME"], settings.universe)
    return result.valid_rows


def test_one_query_prints_its_result(small_platform, capsys):
    rows = _ingest(small_platform)
    assert main(["sql", "SELECT count(*) AS n FROM trades"]) == 0
    assert f"{rows}" in capsys.readouterr().out


def test_shell_reads_statements_from_stdin_and_reports_errors(small_platform, capsys, monkeypatch):
    _ingest(small_platform)
    script = "SELECT symbol, count(*) AS n\nFROM trades GROUP BY symbol;\nSELECT * FROM no_such_view;\n.tables\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    assert main(["sql"]) == 1
    captured = capsys.readouterr()
    assert "ACME" in captured.out
    assert "bars_1m" in captured.out
    assert "no_such_view" in captured.err


def test_file_of_statements_runs_on_the_warehouse_file(small_platform, tmp_path, capsys):
    _ingest(small_platform)
    assert main(["warehouse"]) == 0
    script = tmp_path / "q.sql"
    script.write_text("CREATE TABLE mine AS SELECT 42 AS answer;\nSELECT answer FROM mine;\n")
    assert main(["sql", "--warehouse", "-f", str(script)]) == 0
    assert "42" in capsys.readouterr().out
    assert main(["warehouse"]) == 0  # a rebuild keeps the user's table
    assert main(["sql", "--warehouse", "SELECT answer FROM mine"]) == 0
    assert "42" in capsys.readouterr().out
