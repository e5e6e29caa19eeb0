"""A small lake with trading data for the dashboard tests: one synthetic hour and a short backtest.

The settings file restricts CRUX, so the CRUX orders of :class:`RestrictedProbe` are denied and
the risk page has denials to show; signals set the targets the portfolio page compares against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from shriven.config import Settings, load_settings
from shriven.engine.wiring import BacktestResult, run_backtest
from shriven.lake.layout import Window, day_start_ns
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.model.enums import OrderType, Side, TargetKind
from shriven.model.records import Signal
from shriven.signals.log import SignalLog
from shriven.strategy.base import Strategy
from shriven.strategy.signal_follower import SignalFollower
from shriven.testing.small_config import SMALL_CONFIG

DAY = date(2026, 1, 5)
RUN_ID = "dash"
ACCOUNT = f"backtest-{RUN_ID}"
#: Position targets (symbol, target, minutes after the open); the last of each symbol wins.
POSITION_TARGETS = (("ACME", 100.0, 10), ("BOLT", -40.0, 20), ("ACME", 30.0, 40))
#: Appended after the backtest: the latest CRUX target is a weight (never traded: restricted).
CRUX_WEIGHT = 0.05
#: CRUX orders the probe sends, one per bar for this many bars; all denied (restricted).
PROBE_ORDERS = 3
TRADING_CONFIG = """
[trading]
starting_cash = 1000000.0
max_position_notional = 50000.0

[trading.risk]
restricted = ["CRUX"]
max_gross_exposure = 200000.0
max_open_orders = 50
"""


class RestrictedProbe(Strategy):
    """Sends a market buy of CRUX on each of its first bars; the risk manager denies each."""

    def __init__(self) -> None:
        super().__init__("probe", ("CRUX",))
        self.sent = 0

    def on_bar(self, ctx, bar) -> None:
        if self.sent < PROBE_ORDERS:
            self.sent += 1
            ctx.submit("CRUX", Side.BUY, 1.0, None, OrderType.MARKET)


@dataclass(frozen=True)
class TradingLake:
    """A data dir with a settings file, a synthetic day and one backtest account."""

    data_dir: Path
    config: Path
    settings: Settings
    result: BacktestResult


def write_trading_lake(data_dir: Path) -> TradingLake:
    """Ingest one synthetic hour, append position targets, backtest them, then add a weight target."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "shriven.toml"
    config.write_text(SMALL_CONFIG + TRADING_CONFIG)
    settings = load_settings(str(config), environ={"SHRIVEN_DATA_DIR": str(data_dir)})
    lake = Lake(settings.lake_root)
    ingest_window(SyntheticExchange(settings), lake, Window.days(DAY), settings.universe, settings.universe)
    open_ns, _ = session_window(settings, DAY)
    log = SignalLog(settings.lake_root, symbols=settings.universe)
    log.append(
        [
            Signal(ts=open_ns + m * 60 * 10**9, symbol=s, target=t, kind=TargetKind.POSITION, source="test")
            for s, t, m in POSITION_TARGETS
        ],
        source="test",
        now_ns=day_start_ns(DAY),
    )
    result = run_backtest(
        settings,
        [DAY.isoformat()],
        strategies=[SignalFollower("follow", ("ACME", "BOLT")), RestrictedProbe()],
        run_id=RUN_ID,
    )
    log.append(
        [Signal(ts=open_ns, symbol="CRUX", target=CRUX_WEIGHT, kind=TargetKind.WEIGHT, source="test")],
        source="test",
        now_ns=day_start_ns(DAY) + 1,
    )
    return TradingLake(data_dir, config, settings, result)



#: Seconds between two book snapshots of the Options & depth test data (small, fast).
SNAPSHOT_EVERY_S = 60


def write_options_and_depth(settings: Settings, day: date = DAY) -> None:
    """Daily bars from the day's trades, the priced option chains and book snapshots of ``day``.

    What the ``daily_pipeline`` (book snapshots) and ``options_analytics`` flows write, over the
    synthetic day that :func:`write_trading_lake` ingested.
    """
    import pyarrow.compute as pc

    from shriven.aggregation.bars import aggregate_trades
    from shriven.book.snapshots import write_book_snapshots
    from shriven.pricing.daily import price_synthetic_chains

    lake = Lake(settings.lake_root)
    window = Window.days(day)
    trades = lake.read("trades", [day.isoformat()])
    for symbol in sorted(pc.unique(trades.column("symbol")).to_pylist()):
        own = trades.filter(pc.equal(trades.column("symbol"), symbol)).sort_by(
            [("ts", "ascending"), ("trade_id", "ascending")]
        )
        bars = aggregate_trades(own, ("1d",))["1d"]
        lake.write_window("bars_1d", bars, window, symbols=[symbol])
    price_synthetic_chains(lake, settings, [day.isoformat()])
    ticks = {s.symbol: s.tick_size for s in settings.symbols}
    write_book_snapshots(lake, [day.isoformat()], ticks, SNAPSHOT_EVERY_S * 10**9)
