"""Parameter sweeps: the grid is checked before any work; rows equal the vectorised backtest's
report; chunked evaluation is bit-identical to the whole."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from shriven.analytics.conventions import Conventions
from shriven.analytics.performance import (
    cumulative_return,
    max_drawdown,
    sharpe_ratio,
    simple_returns,
)
from shriven.research import _kernels
from shriven.research import sweep as sweep_module
from shriven.research.sweep import (
    SWEEP_RESULTS,
    Costs,
    evaluate_chunk,
    expand_grid,
    prepare_bars,
    run_sweep,
    validate_grid,
)
from shriven.research.vectorised import backtest, ema_cross_targets

COSTS = Costs(starting_cash=100_000.0, fee_bps=5.0, slippage_bps=1.0, spread_bps=3.0)
CONVENTIONS = Conventions(periods_per_year=365 * 1440, risk_free_rate=0.03)
GRID = {
    "fast": [2, 3, 5, 8],
    "slow": [13, 21, 34],
    "quantity": [10.0, 25.0],
    "allow_short": [True, False],
}


def _bars(symbols=("AAA",), n=3_000, seed=0, aligned=True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for j, sym in enumerate(symbols):
        ts = np.arange(n, dtype=np.int64) * 60_000_000_000
        if not aligned:
            ts = ts + j * 17_000_000_000  # symbols' bars close at different times
        close = (100.0 + 50 * j) * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
        frames.append(pl.DataFrame({"ts": ts, "symbol": [sym] * n, "close": close}))
    return pl.concat(frames)


def _curve(bars: pl.DataFrame, row: dict, costs: Costs = COSTS) -> tuple[np.ndarray, float, int]:
    """Portfolio equity per distinct ts by the vectorised backtest of each symbol (aligned bars)."""
    pnl, fees, trades = 0.0, 0.0, 0
    for (_sym,), frame in bars.sort("ts").group_by(["symbol"], maintain_order=True):
        close = frame["close"].to_numpy()
        target = ema_cross_targets(
            close,
            fast=row["fast"],
            slow=row["slow"],
            quantity=row["quantity"],
            allow_short=row["allow_short"],
        )
        out = backtest(close, target, starting_cash=costs.starting_cash, fee_bps=costs.fee_bps,
                       slippage_bps=costs.slippage_bps, spread_bps=costs.spread_bps)  # fmt: skip
        pnl = pnl + out.column("equity").to_numpy() - costs.starting_cash
        fees += float(np.sum(out.column("fee").to_numpy()))
        trades += int(np.count_nonzero(out.column("trade").to_numpy()))
    return costs.starting_cash + pnl, fees, trades


# -- grid validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({}, "empty"),
        (
            {"fast": [2], "slow": [5], "quantity": [1.0], "window": [3]},
            r"unknown grid parameter\(s\) \['window'\]",
        ),
        ({"fast": [2], "slow": [5]}, r"misses required parameter\(s\) \['quantity'\]"),
        ({"fast": [], "slow": [5], "quantity": [1.0]}, "fast: empty"),
        ({"fast": [2, 5], "slow": [5, 8], "quantity": [1.0]}, "fast=5, slow=5"),
        ({"fast": [9], "slow": [5], "quantity": [1.0]}, "fast=9, slow=5"),
        ({"fast": [2], "slow": [5], "quantity": [1.0, 0.0]}, "quantity=0.0: must be positive"),
        ({"fast": [2], "slow": [5], "quantity": [-3]}, "quantity=-3"),
        ({"fast": [2.5], "slow": [5], "quantity": [1.0]}, "fast=2.5: must be a whole number"),
        ({"fast": [0], "slow": [5], "quantity": [1.0]}, "fast=0"),
        ({"fast": [2], "slow": ["5"], "quantity": [1.0]}, "slow='5': must be a number"),
        (
            {"fast": [2], "slow": [5], "quantity": [1.0], "allow_short": ["yes"]},
            "allow_short='yes'",
        ),
        ({"fast": [2], "slow": [5], "quantity": 1.0}, "quantity: expected a list"),
        ({"fast": [2, 2], "slow": [5], "quantity": [1.0]}, "fast: duplicate"),
        ({"fast": [True], "slow": [5], "quantity": [1.0]}, "fast=True"),
    ],
)
def test_bad_grids_are_rejected_before_any_work(grid, match, monkeypatch) -> None:
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the grid was checked")

    monkeypatch.setattr(_kernels, "sweep_kernel", no_work)
    monkeypatch.setattr(sweep_module, "prepare_bars", no_work)
    with pytest.raises(ValueError, match=match):
        run_sweep(_bars(n=10), grid, COSTS)


def test_grid_expands_in_product_order_with_ids() -> None:
    rows = expand_grid({"fast": [2, 3], "slow": [10], "quantity": [1, 2.5]})
    assert rows == [
        {"set_id": 0, "fast": 2, "slow": 10, "quantity": 1.0, "allow_short": True},
        {"set_id": 1, "fast": 2, "slow": 10, "quantity": 2.5, "allow_short": True},
        {"set_id": 2, "fast": 3, "slow": 10, "quantity": 1.0, "allow_short": True},
        {"set_id": 3, "fast": 3, "slow": 10, "quantity": 2.5, "allow_short": True},
    ]
    assert validate_grid({"fast": np.array([2, 3]), "slow": [10], "quantity": [1]})["fast"] == [
        2,
        3,
    ]


def test_evaluate_chunk_checks_its_rows_too() -> None:
    with pytest.raises(ValueError, match="fast=9 must be below slow=5"):
        evaluate_chunk(_bars(n=10), [{"set_id": 0, "fast": 9, "slow": 5, "quantity": 1.0}], COSTS)
    with pytest.raises(ValueError, match="needs set_id"):
        evaluate_chunk(_bars(n=10), [{"fast": 2, "slow": 5, "quantity": 1.0}], COSTS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"starting_cash": 0.0}, "starting_cash"),
        ({"starting_cash": 1.0, "fee_bps": -1.0}, "fee_bps"),
    ],
)
def test_costs_are_validated(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        Costs(**kwargs)


def test_bad_bars_are_rejected() -> None:
    with pytest.raises(ValueError, match="miss column"):
        prepare_bars(pl.DataFrame({"ts": [1], "close": [1.0]}))
    with pytest.raises(ValueError, match="duplicate"):
        prepare_bars(pl.DataFrame({"ts": [1, 1], "symbol": ["A", "A"], "close": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="close"):
        prepare_bars(pl.DataFrame({"ts": [1, 2], "symbol": ["A", "A"], "close": [1.0, -2.0]}))


# -- results --------------------------------------------------------------------------------------


def test_one_symbol_rows_equal_the_vectorised_backtest_and_the_analytics() -> None:
    bars = _bars()
    table = run_sweep(bars, GRID, COSTS, conventions=CONVENTIONS)
    assert table.schema.equals(SWEEP_RESULTS, check_metadata=True)
    assert table.num_rows == 4 * 3 * 2 * 2
    assert table.column("set_id").to_pylist() == list(range(table.num_rows))
    for row in table.to_pylist():
        equity, fees, trades = _curve(bars, row)
        returns = simple_returns(np.concatenate(([COSTS.starting_cash], equity)))
        assert row["final_equity"] == equity[-1]  # the same operations in the same order: exact
        assert row["trades"] == trades
        assert row["fees"] == pytest.approx(fees, rel=1e-12)
        assert row["periods"] == returns.size
        assert row["total_return"] == pytest.approx(cumulative_return(returns), rel=1e-9, abs=1e-15)
        assert row["sharpe_ratio"] == pytest.approx(sharpe_ratio(returns, CONVENTIONS), rel=1e-8)
        assert row["max_drawdown"] == pytest.approx(max_drawdown(returns), rel=1e-9, abs=1e-15)
    assert table.column("trades").to_numpy().min() > 0


def test_several_symbols_share_one_account() -> None:
    bars = _bars(("AAA", "BBB", "CCC"), n=1_500, seed=3)
    table = run_sweep(
        bars, {"fast": [3, 5], "slow": [20], "quantity": [10.0]}, COSTS, conventions=CONVENTIONS
    )
    for row in table.to_pylist():
        equity, fees, trades = _curve(bars, row)
        returns = simple_returns(np.concatenate(([COSTS.starting_cash], equity)))
        assert row["periods"] == 1_500
        assert row["final_equity"] == pytest.approx(equity[-1], rel=1e-12)
        assert row["trades"] == trades
        assert row["fees"] == pytest.approx(fees, rel=1e-12)
        assert row["sharpe_ratio"] == pytest.approx(sharpe_ratio(returns, CONVENTIONS), rel=1e-7)
        assert row["max_drawdown"] == pytest.approx(max_drawdown(returns), rel=1e-7)


def test_unaligned_symbols_sample_every_timestamp() -> None:
    bars = _bars(("AAA", "BBB"), n=500, seed=4, aligned=False)
    row = run_sweep(bars, {"fast": [3], "slow": [9], "quantity": [5.0]}, COSTS).to_pylist()[0]
    assert row["periods"] == 1_000
    one = [run_sweep(bars.filter(pl.col("symbol") == s), {"fast": [3], "slow": [9], "quantity": [5.0]}, COSTS)
           .column("final_equity")[0].as_py() - COSTS.starting_cash for s in ("AAA", "BBB")]  # fmt: skip
    assert row["final_equity"] == pytest.approx(COSTS.starting_cash + sum(one), rel=1e-12)


def test_a_half_spread_column_overrides_the_fixed_spread() -> None:
    bars = _bars(n=800)
    grid = {"fast": [3], "slow": [9], "quantity": [5.0]}
    wide = bars.with_columns((pl.col("close") * 5e-4).alias("half_spread"))
    assert run_sweep(wide, grid, Costs(starting_cash=1e5)).equals(
        run_sweep(bars, grid, Costs(starting_cash=1e5, spread_bps=10.0))
    )
    assert not run_sweep(wide, grid, COSTS).equals(run_sweep(bars, grid, COSTS))


def test_no_trade_gives_a_nan_sharpe_and_zero_drawdown() -> None:
    bars = pl.DataFrame({"ts": np.arange(100), "symbol": ["A"] * 100, "close": np.full(100, 50.0)})
    row = run_sweep(bars, {"fast": [2], "slow": [5], "quantity": [1.0]}, COSTS).to_pylist()[0]
    assert row["trades"] == 0
    assert row["total_return"] == 0.0
    assert row["max_drawdown"] == 0.0
    assert np.isnan(row["sharpe_ratio"])


# -- determinism ----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 5, 7, 48, 1000])
def test_chunks_are_bit_identical_to_the_whole(chunk_size) -> None:
    bars = _bars(("AAA", "BBB"), n=2_000, seed=8)
    whole = run_sweep(bars, GRID, COSTS, conventions=CONVENTIONS)
    assert run_sweep(bars, GRID, COSTS, conventions=CONVENTIONS, chunk_size=chunk_size).equals(
        whole
    )


def test_evaluate_chunk_in_any_order_and_on_shuffled_bars_gives_the_same_rows() -> None:
    bars = _bars(("AAA", "BBB"), n=1_000, seed=9)
    rows = expand_grid(GRID)
    whole = evaluate_chunk(bars, rows, COSTS, conventions=CONVENTIONS)
    shuffled = bars.sample(fraction=1.0, shuffle=True, seed=1)
    parts = [
        evaluate_chunk(shuffled, rows[i : i + 10], COSTS, conventions=CONVENTIONS)
        for i in range(0, len(rows), 10)
    ]
    merged = pa.concat_tables(parts[::-1]).sort_by("set_id")
    assert merged.equals(whole)
    assert evaluate_chunk(
        pa.Table.from_pandas(bars.to_pandas()), rows, COSTS, conventions=CONVENTIONS
    ).equals(whole)


def test_bad_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        run_sweep(_bars(n=10), {"fast": [2], "slow": [5], "quantity": [1.0]}, COSTS, chunk_size=0)
