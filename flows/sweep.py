"""Deployment `sweep`: evaluate a grid of strategy parameters over days of the lake's bars.

The grid (EMA-cross momentum: ``fast``, ``slow``, ``quantity``, ``allow_short``) is validated
before any work. Bars are read once; the expanded grid is cut into chunks of ``chunk_size`` sets,
each evaluated by one numba kernel call and written to ``lake/sweep_results`` as soon as it
finishes. ``dask_workers > 0`` runs the chunks on a Dask cluster (local worker processes, or the
scheduler that ``[dask] address`` or ``$SHRIVEN_DASK_ADDRESS`` names): the rows are identical. Running a sweep id again resumes
it: chunks already on disk are not evaluated again.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows import OUTCOME_HOOKS
from shriven.config import load_settings
from shriven.research.results import SweepStore
from shriven.research.sweep import Costs, expand_grid
from tasks.cluster import dask_task_runner
from tasks.research import evaluate_chunk_task, load_sweep_bars_task


@flow(name="sweep", **OUTCOME_HOOKS)
def sweep(
    start: date,
    days: int = 1,
    fast: list[int] = [3, 5, 8],  # noqa: B006 - Prefect parameters are values; never mutated
    slow: list[int] = [13, 21, 34],  # noqa: B006
    quantity: list[float] = [10.0],  # noqa: B006
    allow_short: list[bool] = [True],  # noqa: B006
    interval: str = "1m",
    symbols: list[str] | None = None,
    fee_bps: float = 5.0,
    slippage_bps: float = 0.0,
    spread_bps: float = 2.0,
    market: Literal["equities", "crypto"] = "equities",
    chunk_size: int = 256,
    dask_workers: int = 0,
    sweep_id: str | None = None,
) -> dict[str, object]:
    """Every parameter set's return, Sharpe, drawdown, trades and fees into ``sweep_results``."""
    logger = get_run_logger()
    grid = {"fast": fast, "slow": slow, "quantity": quantity, "allow_short": allow_short}
    rows = expand_grid(grid)  # raises on a bad grid before anything is read or written
    if days < 1 or chunk_size < 1:
        raise ValueError(f"days ({days}) and chunk_size ({chunk_size}) must be at least 1")
    settings = load_settings()
    costs = Costs(starting_cash=settings.trading.starting_cash, fee_bps=fee_bps, slippage_bps=slippage_bps,
                  spread_bps=spread_bps)  # fmt: skip
    dates = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    started = datetime.now(UTC).date()
    sweep_id = sweep_id or f"sweep-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    store = SweepStore(settings.lake_root, sweep_id, started=started)
    store.begin({"grid": grid, "dates": dates, "interval": interval, "symbols": symbols, "market": market,
                 "costs": vars(costs), "chunk_size": chunk_size})  # fmt: skip
    chunks = [(i // chunk_size, rows[i : i + chunk_size]) for i in range(0, len(rows), chunk_size)]
    done = store.finished()
    todo = [(c, part) for c, part in chunks if c not in done]
    logger.info("sweep %s: %d sets in %d chunks, %d already done", sweep_id, len(rows), len(chunks), len(done))
    t0 = time.perf_counter()
    if todo:
        bars = load_sweep_bars_task(dates, interval, symbols)
        args = {"bars": bars, "costs": costs, "interval": interval, "market": market, "store": store}
        if dask_workers > 0:
            with dask_task_runner(dask_workers) as runner:
                futures = [runner.submit(evaluate_chunk_task, {**args, "rows": part, "chunk": c}) for c, part in todo]
                for i, future in enumerate(futures, 1):
                    future.result()
                    logger.info("chunk %d/%d done", i, len(todo))
        else:
            for i, (c, part) in enumerate(todo, 1):
                evaluate_chunk_task(rows=part, chunk=c, **args)
                logger.info("chunk %d/%d done", i, len(todo))
    results = store.read()
    seconds = time.perf_counter() - t0
    best = results.sort_by([("sharpe_ratio", "descending")]).slice(0, 10).to_pylist()
    create_table_artifact(best, key="sweep-best", description=f"sweep {sweep_id}: the 10 best sets by Sharpe")
    return {"sweep_id": sweep_id, "sets": results.num_rows, "chunks": len(chunks), "evaluated_chunks": len(todo),
            "seconds": round(seconds, 3), "best": best[0] if best else None}  # fmt: skip
