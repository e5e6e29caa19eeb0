"""Bars polled from a live source equal the bars cut from the same session's feed."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shriven.engine.bars import SeriesBars, bars_from_feed
from shriven.engine.live_bars import SourceBars
from shriven.marketdata.source import MarketBatch
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.schemas import RAW_TRADES
from shriven.venue.config import InstrumentRules
from shriven.venue.simulated import VenueFeed
from tests.unit.engine.conftest import DAY, _settings

MIN = 60_000_000_000


def test_polled_bars_equal_the_feed_bars_and_come_after_the_grace(tmp_path) -> None:
    s = _settings(tmp_path)
    source = SyntheticExchange(s)
    open_ns, close_ns = session_window(s, DAY)
    live = SourceBars(source, s.universe, MIN, open_ns, grace_ns=2 * 10**9)
    assert list(live.closed(open_ns + MIN + 10**9)) == []  # the first minute is not past its grace yet
    polled = []
    t = open_ns
    while t < close_ns + 5 * MIN:
        t += 37 * 10**9  # polls at odd times: bars still come whole and once
        polled += list(live.closed(t))
    batch = source.fetch(open_ns, close_ns, s.universe)
    expected = []
    for sym in s.universe:
        cfg = s.symbol(sym)
        feed = VenueFeed.from_batch(batch, InstrumentRules(symbol=sym, tick_size=cfg.tick_size, lot_size=cfg.lot_size))
        expected += list(SeriesBars({sym: bars_from_feed(feed, MIN)}).closed(close_ns + MIN))
    key = lambda b: (b.symbol, b.ts)  # noqa: E731
    got, want = sorted(polled, key=key), sorted(expected, key=key)
    assert [key(b) for b in got] == [key(b) for b in want]
    for g, w in zip(got, want, strict=True):
        assert (g.open, g.high, g.low, g.close, g.trades) == pytest.approx((w.open, w.high, w.low, w.close, w.trades))
        assert g.volume == pytest.approx(w.volume)
    assert live.traded_volume("ACME", open_ns, open_ns + 5 * MIN) == pytest.approx(
        sum(b.volume for b in want if b.symbol == "ACME" and b.end_ts <= open_ns + 5 * MIN)
    )


class _Garbage:
    """A source whose trades are all invalid (what a broken vendor sends)."""

    name, live = "garbage", True

    def fetch(self, start_ns, end_ns, symbols):
        rows = [{"ts": start_ns + 1, "symbol": "ACME", "trade_id": 1, "price": -5.0, "size": 1.0, "side": 1,
                 "_row_number": 0, "_raw": "{}"}]  # fmt: skip
        return MarketBatch(trades=pa.Table.from_pylist(rows, schema=RAW_TRADES))


def test_invalid_live_trades_are_counted_by_reason_and_never_make_bars() -> None:
    live = SourceBars(_Garbage(), ("ACME",), MIN, 0, grace_ns=0)
    assert list(live.closed(3 * MIN)) == []
    assert sum(live.rejected.values()) == 1
