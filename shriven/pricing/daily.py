"""The daily options job over the lake: a chain per underlying from its daily bar, priced and fitted."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from shriven.config import Settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.pricing.analytics import analyse_chain
from shriven.pricing.chain import synthetic_chain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptionsRunResult:
    """Counts of one options run."""

    days: int
    options: int
    priced: int
    smiles: int
    arbitrage_flags: int
    seconds: float


def price_synthetic_chains(lake: Lake, settings: Settings, dates: Sequence[str]) -> OptionsRunResult:
    """For each day: chains from ``bars_1d`` closes, implied vols, greeks and SVI fits into the lake."""
    started = time.perf_counter()
    options = priced = smiles = flags = 0
    universe = set(settings.universe)
    for day in dates:
        bars = lake.read("bars_1d", [day])
        # underlyings of the configured universe only (their volatility drives the smile)
        bars = bars.filter(pc.is_in(bars.column("symbol"), value_set=pa.array(sorted(universe), pa.string())))
        symbols = sorted(pc.unique(bars.column("symbol")).to_pylist()) if bars.num_rows else []
        result = analyse_chain(synthetic_chain(bars, settings), settings.options.rate, settings.options.dividend_yield)
        window = Window.days(date.fromisoformat(day))
        # chains are quoted at the session close, inside the day's window
        lake.write_window("option_analytics", result.options, window, symbols=symbols)
        lake.write_window("svi_fits", result.smiles, window, symbols=symbols)
        options += result.options.num_rows
        priced += int(pc.sum(pc.equal(result.options.column("reason"), 0)).as_py() or 0)
        smiles += result.smiles.num_rows
        if result.smiles.num_rows:
            bad = pc.or_(pc.invert(result.smiles.column("butterfly_ok")), pc.invert(result.smiles.column("calendar_ok")))
            flags += int(pc.sum(bad).as_py() or 0)
        log.info("options %s: %d underlyings, %d options, %d smiles", day, len(symbols), result.options.num_rows,
                 result.smiles.num_rows)
    return OptionsRunResult(len(dates), options, priced, smiles, flags, time.perf_counter() - started)
