"""Simulated venue: one quote re-sent at every feed step over a synthetic symbol-day.

Usage: ``python bench/bench_venue.py [--daily-trades 1_200_000] [--repeat 3]
[--python-sample 200_000] [--no-hftbacktest]``

The feed is one synthetic-exchange symbol-day (ACME with ``daily_trades`` raised so the day holds
several million book + trade rows), merged by ``VenueFeed``. The strategy, the same in every
contender: at every feed event the strategy sees, cancel the resting quote and send a new buy
LIMIT of 100 at its own best bid (feed latency 200 us, order latency 300 us each way,
proportional / power-1 probabilistic queue model, partial fills, maker -1 bp, taker 3 bp).

Timed, best of ``repeat`` after a JIT warm-up, on one core, in feed rows per second:

(a) ours: ``SimulatedVenue.run_requote`` (the strategy and the venue in one numba loop);
(b) baseline: hftbacktest 2.4 (``ROIVectorMarketDepthBacktest``, a numba strategy calling
    ``wait_next_feed``, ``cancel`` on every cancellable order, ``submit_buy_order`` and
    ``clear_inactive_orders``) on the same feed converted to its event format (snapshot rows as
    depth updates), if installed. Its ``no_partial_fill_exchange``: the partial-fill exchange
    stops this loop with ``InvalidOrderStatus`` (code 14) after a few hundred quotes;
(c) baseline: the pure-Python reference (``shriven.venue.reference.reference_requote``: the same
    rules with dicts and lists) on the first ``python_sample`` rows, whose fills must equal ours
    on the same rows;
(d) ours through the Python step API (``advance_to_next_feed`` + ``cancel`` + ``submit`` +
    ``events`` in a Python loop) on the same sample: the cost of a strategy written in Python.

Importable: ``run()`` returns the figures as a dict; ``print_result`` prints them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import msgspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import best_of  # noqa: E402
from shriven.book.orders import Side  # noqa: E402
from shriven.config import load_settings  # noqa: E402
from shriven.marketdata.synthetic import SyntheticExchange, session_window  # noqa: E402
from shriven.venue import InstrumentRules, SimulatedVenue, VenueConfig, VenueFeed  # noqa: E402
from shriven.venue import _kernels as k  # noqa: E402
from shriven.venue.reference import reference_requote  # noqa: E402

SYMBOL = "ACME"
DAY = 20_000
FEED_LATENCY_NS = 200_000
ORDER_LATENCY_NS = 300_000
MAKER_FEE = -0.0001
TAKER_FEE = 0.0003
QUOTE_QTY = 100.0


def make_feed(daily_trades: int) -> tuple[VenueFeed, InstrumentRules]:
    """One synthetic symbol-day as a venue feed."""
    settings = load_settings(environ={})
    symbol = msgspec.structs.replace(settings.symbol(SYMBOL), daily_trades=daily_trades)
    settings = msgspec.structs.replace(settings, symbols=(symbol,))
    open_ns, close_ns = session_window(settings, DAY)
    batch = SyntheticExchange(settings).fetch(open_ns, close_ns, [SYMBOL])
    rules = InstrumentRules(symbol=SYMBOL, tick_size=symbol.tick_size, lot_size=symbol.lot_size)
    return VenueFeed.from_batch(batch, rules), rules


def venue_config(rules: InstrumentRules) -> VenueConfig:
    return VenueConfig(
        instruments=(rules,),
        feed_latency_ns=FEED_LATENCY_NS,
        order_latency_ns=ORDER_LATENCY_NS,
        maker_fee=MAKER_FEE,
        taker_fee=TAKER_FEE,
        queue_model="proportional",
    )


def _python_requote(config: VenueConfig, feed: VenueFeed) -> tuple[int, int]:
    venue = SimulatedVenue(config, feed)
    last = 0
    fills = 0
    while venue.advance_to_next_feed():
        for e in venue.events():
            fills += e.kind in (3, 4)
        bid, _ = venue.best_bid()
        if math.isnan(bid):
            continue
        if last:
            venue.cancel(last)
        last += 1
        venue.submit(last, Side.BUY, QUOTE_QTY, bid)
    return last, fills


# -- hftbacktest baseline -------------------------------------------------------------------------


def to_hftbacktest(feed: VenueFeed, tick_size: float) -> np.ndarray:
    """The feed in hftbacktest's event format (both exchange and local events)."""
    import hftbacktest as hbt

    rows = feed.rows
    out = np.zeros(rows.size, hbt.event_dtype)
    trade = rows["kind"] == k.FEED_TRADE
    buy = rows["side"] == 1
    flags = np.where(trade, hbt.TRADE_EVENT, hbt.DEPTH_EVENT).astype(np.uint64)
    flags |= np.where(buy, hbt.BUY_EVENT, hbt.SELL_EVENT).astype(np.uint64)
    flags |= np.uint64(hbt.EXCH_EVENT | hbt.LOCAL_EVENT)
    out["ev"] = flags
    out["exch_ts"] = rows["ts"]
    out["local_ts"] = rows["ts"] + FEED_LATENCY_NS
    out["px"] = rows["tick"] * tick_size
    out["qty"] = rows["qty"]
    return out


def _hft_strategy():
    import hftbacktest as hbt
    from numba import njit

    gtc, limit = hbt.GTC, hbt.LIMIT

    @njit
    def requote(bt, qty):
        oid = 0
        while True:
            code = bt.wait_next_feed(False, 1_000_000_000_000_000)
            if code != 2:
                return oid, code  # 1: end of data; others are errors
            depth = bt.depth(0)
            if depth.best_bid_tick <= 0:
                continue
            # cancel whatever quote is live (one still in flight cannot be canceled yet)
            values = bt.orders(0).values()
            while values.has_next():
                order = values.get()
                if order.cancellable:
                    bt.cancel(0, order.order_id, False)
            oid += 1
            bt.submit_buy_order(0, oid, depth.best_bid, qty, gtc, limit, False)
            bt.clear_inactive_orders(0)

    return requote


def _hft_backtest(events: np.ndarray, rules: InstrumentRules):
    import hftbacktest as hbt

    px = events["px"]
    asset = (
        hbt.BacktestAsset()
        .data([events])
        .linear_asset(1.0)
        .constant_order_latency(ORDER_LATENCY_NS, ORDER_LATENCY_NS)
        .power_prob_queue_model(1.0)
        .no_partial_fill_exchange()  # partial_fill_exchange stops with InvalidOrderStatus here
        .trading_value_fee_model(MAKER_FEE, TAKER_FEE)
        .tick_size(rules.tick_size)
        .lot_size(rules.lot_size)
        .roi_lb(float(px.min()) - 1.0)
        .roi_ub(float(px.max()) + 1.0)
    )
    return hbt.ROIVectorMarketDepthBacktest([asset])


def _time_hftbacktest(feed: VenueFeed, rules: InstrumentRules, repeat: int) -> dict | None:
    try:
        import hftbacktest as hbt
    except ImportError:
        return None
    events = to_hftbacktest(feed, rules.tick_size)
    requote = _hft_strategy()
    warm = _hft_backtest(events[:20_000].copy(), rules)
    requote(warm, QUOTE_QTY)
    warm.close()
    best = math.inf
    quotes = trades = 0
    for _ in range(repeat):
        bt = _hft_backtest(events, rules)
        t0 = time.perf_counter()
        quotes, code = requote(bt, QUOTE_QTY)
        best = min(best, time.perf_counter() - t0)
        if code != 1:
            raise RuntimeError(f"hftbacktest stopped with code {code} after {quotes} quotes")
        trades = int(bt.state_values(0).num_trades)
        bt.close()
    return {"version": hbt.__version__, "seconds": best, "quotes": quotes, "fills": trades}


# -- run ------------------------------------------------------------------------------------------


def run(
    daily_trades: int = 1_200_000,
    repeat: int = 3,
    python_sample: int = 200_000,
    hftbacktest: bool = True,
) -> dict:
    """Time the contenders on one synthetic symbol-day; return the figures."""
    feed, rules = make_feed(daily_trades)
    config = venue_config(rules)
    rows = len(feed)
    n_trades = int(np.sum(feed.rows["kind"] == k.FEED_TRADE))

    warm = VenueFeed(feed.rows[:20_000], feed.symbol, feed.tick_size)
    SimulatedVenue(config, warm).run_requote(QUOTE_QTY)  # JIT warm-up (or cache load)
    results = []

    def ours():
        venue = SimulatedVenue(config, feed)
        results.append(venue.run_requote(QUOTE_QTY))

    seconds = best_of(ours, repeat, warmup=False)
    result = results[-1]

    sample = VenueFeed(feed.rows[: min(python_sample, rows)], feed.symbol, feed.tick_size)
    _python_requote(config, VenueFeed(feed.rows[:2_000], feed.symbol, feed.tick_size))
    t0 = time.perf_counter()
    py_quotes, py_fills = _python_requote(config, sample)
    py_seconds = time.perf_counter() - t0

    fast_sample = SimulatedVenue(config, sample).run_requote(QUOTE_QTY).fills
    t0 = time.perf_counter()
    reference = reference_requote(
        sample.rows,
        feed_latency_ns=FEED_LATENCY_NS,
        order_latency_ns=ORDER_LATENCY_NS,
        response_latency_ns=ORDER_LATENCY_NS,
        tick_size=rules.tick_size,
        lot_size=rules.lot_size,
        maker_fee=MAKER_FEE,
        taker_fee=TAKER_FEE,
        proportional=True,
        buy=True,
        quantity=QUOTE_QTY,
    )
    ref_seconds = time.perf_counter() - t0
    ours_sample = [
        (
            int(r["ts"]),
            int(r["order_id"]),
            float(r["price"]),
            float(r["quantity"]),
            int(r["liquidity"]),
        )
        for r in fast_sample
    ]
    if ours_sample != reference:
        raise AssertionError("the numba venue and the pure-Python reference disagree on the sample")

    hft = _time_hftbacktest(feed, rules, repeat) if hftbacktest else None
    return {
        "rows": rows,
        "trade_rows": n_trades,
        "book_rows": rows - n_trades,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "quotes": result.quotes,
        "maker_fills": result.account.maker_fills,
        "taker_fills": result.account.taker_fills,
        "python_rows": len(sample),
        "python_seconds": py_seconds,
        "python_rows_per_s": len(sample) / py_seconds,
        "python_quotes": py_quotes,
        "reference_seconds": ref_seconds,
        "reference_rows_per_s": len(sample) / ref_seconds,
        "reference_fills": len(reference),
        "hftbacktest": hft,
    }


def print_result(r: dict) -> None:
    """Print the figures of ``run``."""
    print(
        f"feed: {r['rows']:,} rows ({r['book_rows']:,} book, {r['trade_rows']:,} trades), "
        f"one quote cancel+replaced at every feed step"
    )
    print(
        f"ours, numba run_requote:        {r['seconds']:.3f} s  {r['rows_per_s'] / 1e6:6.2f} M rows/s  "
        f"({r['quotes']:,} quotes, {r['maker_fills']:,} maker + {r['taker_fills']:,} taker fills)"
    )
    hft = r["hftbacktest"]
    if hft is not None:
        rate = r["rows"] / hft["seconds"]
        print(
            f"hftbacktest {hft['version']} (ROIVector):    {hft['seconds']:.3f} s  {rate / 1e6:6.2f} M rows/s  "
            f"({hft['quotes']:,} quotes, {hft['fills']:,} fills)  -> ours x{r['rows_per_s'] / rate:.2f}"
        )
    else:
        print("hftbacktest: not installed (pip install 'hftbacktest>=2.4,<2.5')")
    print(
        f"pure-Python reference:          {r['reference_seconds']:.3f} s  "
        f"{r['reference_rows_per_s'] / 1e6:6.2f} M rows/s on {r['python_rows']:,} rows  "
        f"({r['reference_fills']:,} fills, equal to ours)  "
        f"-> ours x{r['rows_per_s'] / r['reference_rows_per_s']:.1f}"
    )
    print(
        f"ours, Python step-API loop:     {r['python_seconds']:.3f} s  "
        f"{r['python_rows_per_s'] / 1e6:6.2f} M rows/s on {r['python_rows']:,} rows  "
        f"-> numba path x{r['rows_per_s'] / r['python_rows_per_s']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daily-trades", type=int, default=1_200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python-sample", type=int, default=200_000)
    parser.add_argument("--no-hftbacktest", action="store_true")
    args = parser.parse_args()
    print_result(run(args.daily_trades, args.repeat, args.python_sample, not args.no_hftbacktest))


if __name__ == "__main__":
    main()
