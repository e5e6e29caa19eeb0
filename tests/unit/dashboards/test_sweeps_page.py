"""The Sweeps page through AppTest: empty lake, two sweeps, and a parameter off the axes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data
from shriven.research.results import SweepStore
from shriven.research.sweep import Costs, run_sweep

GRID = {"fast": [2, 3, 5], "slow": [8, 13], "quantity": [1.0]}


def _bars(seed: int, n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    ts = pl.datetime_range(
        pl.datetime(2026, 1, 5, time_zone="UTC"),
        pl.datetime(2026, 1, 5, time_zone="UTC") + pl.duration(minutes=n - 1),
        "1m",
        eager=True,
    )
    return pl.DataFrame({"ts": ts, "symbol": "BTCUSDT", "close": close})


def _write_sweep(lake_root: Path, sweep: str, started: date, grid: dict, seed: int) -> pl.DataFrame:
    table = run_sweep(_bars(seed), grid, Costs(starting_cash=1e6, fee_bps=1.0))
    store = SweepStore(str(lake_root), sweep, started=started)
    store.begin({"grid": grid, "seed": seed})
    store.write(0, table)
    return pl.from_arrow(table)


@pytest.fixture
def open_sweeps(open_page):
    """``open_sweeps(lake_root)``: the app switched to the Sweeps page over ``<data dir>/lake``
    (through the navigation: running a page file alone leaves it as ``__main__``, which a later
    test's spawned processes would then import)."""

    def run(lake_root: Path) -> AppTest:
        lake_root.mkdir(parents=True, exist_ok=True)
        app = open_page(lake_root.parent, "sweeps")
        assert not app.exception, app.exception
        return app

    return run


def _heatmap(app: AppTest) -> dict:
    (chart,) = [c for c in app.get("plotly_chart") if c.proto.id and "sweeps_heatmap" in c.proto.id]
    (trace,) = json.loads(chart.proto.spec)["data"]
    assert trace["type"] == "heatmap"
    return trace


def _grid(rows: pl.DataFrame, metric: str) -> list[list[float]]:
    """``metric`` of ``rows`` as slow (rows) × fast (columns), both ascending."""
    return [
        [rows.filter(fast=f, slow=s).item(0, metric) for f in sorted(set(rows["fast"]))]
        for s in sorted(set(rows["slow"]))
    ]


def _top_table(app: AppTest):
    (table,) = [d.value for d in app.dataframe if d.value.columns[0] == "set_id"]
    return table


def test_empty_lake_says_what_to_run(tmp_path: Path, open_sweeps) -> None:
    app = open_sweeps(tmp_path / "lake")
    (info,) = app.info
    assert "No parameter sweeps in the lake yet" in info.value
    assert "shriven sweep --start <day> --fast 3 5 8 --slow 13 21 34" in info.value
    assert "sweep/research" in info.value
    assert not app.get("plotly_chart")
    assert not app.metric


def test_two_sweeps_heatmap_and_best_set(tmp_path: Path, open_sweeps) -> None:
    lake = tmp_path / "lake"
    older = _write_sweep(lake, "older", date(2026, 1, 5), GRID, seed=1)
    newer = _write_sweep(lake, "newer", date(2026, 1, 6), GRID, seed=2)
    app = open_sweeps(lake)

    sweep = app.selectbox(key="sweeps_sweep")
    assert sweep.options == [
        "newer · started 2026-01-06 · 6 sets",
        "older · started 2026-01-05 · 6 sets",
    ]
    assert sweep.value == "newer"
    assert app.selectbox(key="sweeps_x").value == "fast"
    assert app.selectbox(key="sweeps_y").value == "slow"
    assert not any(s.key in ("sweeps_quantity", "sweeps_allow_short") for s in app.selectbox)

    trace = _heatmap(app)
    assert trace["x"] == ["2", "3", "5"]
    assert trace["y"] == ["8", "13"]
    assert np.allclose(trace["z"], _grid(newer, "sharpe_ratio"), equal_nan=True)
    best = newer.sort("sharpe_ratio", descending=True, nulls_last=True).row(0, named=True)
    top = _top_table(app)
    assert len(top) == 6
    assert top.iloc[0]["set_id"] == best["set_id"]
    assert {m.label: m.value for m in app.metric}["Fast EMA span"] == str(best["fast"])

    app.selectbox(key="sweeps_sweep").set_value("older").run()
    app.selectbox(key="sweeps_metric").set_value("total_return").run()
    assert not app.exception
    trace = _heatmap(app)
    assert np.allclose(trace["z"], _grid(older, "total_return"))
    best = older.sort("total_return", descending=True).row(0, named=True)
    assert _top_table(app).iloc[0]["set_id"] == best["set_id"]
    assert {m.label: m.value for m in app.metric}["Total return"] == format(
        best["total_return"], "+.2%"
    )


def test_quantity_selector_filters_the_heatmap(tmp_path: Path, open_sweeps) -> None:
    lake = tmp_path / "lake"
    rows = _write_sweep(lake, "sizes", date(2026, 1, 5), {**GRID, "quantity": [1.0, 50.0]}, seed=3)
    app = open_sweeps(lake)
    quantity = app.selectbox(key="sweeps_quantity")
    assert quantity.options == ["1", "50"]
    assert quantity.value == 1.0
    app.selectbox(key="sweeps_metric").set_value("final_equity").run()
    small = _heatmap(app)["z"]
    assert np.allclose(small, _grid(rows.filter(quantity=1.0), "final_equity"))

    app.selectbox(key="sweeps_quantity").set_value(50.0).run()
    assert not app.exception
    large = _heatmap(app)["z"]
    assert np.allclose(large, _grid(rows.filter(quantity=50.0), "final_equity"))
    assert not np.allclose(small, large)
    assert len(_top_table(app)) == 10  # over all 12 sets, whatever the quantity shown


def test_heatmap_and_top_sets_of_rows() -> None:
    rows = pl.DataFrame(
        {
            "set_id": [0, 1, 2, 3],
            "fast": [2, 2, 3, 3],
            "slow": [8, 13, 8, 13],
            "quantity": [1.0] * 4,
            "allow_short": [True] * 4,
            "sharpe_ratio": [0.5, float("nan"), 1.5, -1.0],
            "fees": [3.0, 1.0, 2.0, 4.0],
        }
    )
    heatmap = data.sweep_heatmap(rows, "sharpe_ratio", "fast", "slow")
    assert (heatmap.x, heatmap.y) == ([2, 3], [8, 13])
    assert heatmap.z == [[0.5, 1.5], [None, -1.0]]
    assert data.top_sweep_sets(rows, "sharpe_ratio")["set_id"].to_list() == [2, 0, 3, 1]
    assert data.top_sweep_sets(rows, "fees", n=2)["set_id"].to_list() == [1, 2]
    with pytest.raises(ValueError, match="two of"):
        data.sweep_heatmap(rows, "fees", "fast", "fast")
