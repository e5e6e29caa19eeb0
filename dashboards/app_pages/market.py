"""Market overview: one symbol's candles, volume and session VWAP, the day's numbers, the universe.

Widget keys are prefixed ``market_``. With auto-refresh on, the chart, the metrics and the
universe table re-run every ``REFRESH_SECONDS`` (a fragment), so bars that the live flows write
show up without a reload.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import streamlit as st

from dashboards import charts, data

#: Seconds between two refreshes of the view when auto-refresh is on (and of the empty page).
REFRESH_SECONDS = 15
#: Days of daily bars shown up to the chosen day when the interval is 1d.
DAILY_LOOKBACK_DAYS = 90

EMPTY_LAKE_HELP = """\
**No bars in the lake yet** (`{lake_root}`).

Load a demo day with `make demo`, or ingest and aggregate one synthetic day:

```
shriven ingest --source synthetic --start 2026-01-05 --days 1
shriven aggregate
```

This page looks again every {refresh} s and shows the market once bars arrive.
"""

lake_root: str = st.session_state["lake_root"]

st.title("Market")


@st.fragment(run_every=REFRESH_SECONDS)
def wait_for_bars() -> None:
    """The empty state: say what to run, and reload the page once the lake has bars."""
    if data.load_symbols(lake_root) and data.load_date_range(lake_root) is not None:
        st.rerun()
    st.info(
        EMPTY_LAKE_HELP.format(lake_root=lake_root, refresh=REFRESH_SECONDS), icon=":material/info:"
    )


symbols = data.load_symbols(lake_root)
dates = data.load_date_range(lake_root)
if not symbols or dates is None:
    wait_for_bars()
    st.stop()

with st.sidebar:
    symbol = st.selectbox("Symbol", symbols, key="market_symbol")
    interval = st.radio(
        "Interval",
        data.INTERVALS,
        index=data.INTERVALS.index("1m"),
        horizontal=True,
        key="market_interval",
    )
    day = st.date_input(
        "Day (UTC)", value=dates.last, min_value=dates.first, max_value=dates.last, key="market_day"
    )
    live = st.toggle(
        "Auto-refresh",
        key="market_live",
        help=f"Re-read the lake every {REFRESH_SECONDS} s to follow live data.",
    )


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def market_view(symbol: str, interval: str, day: date) -> None:
    """Metrics row, candlestick chart and universe table of one symbol, interval and day."""
    first_day = day - timedelta(days=DAILY_LOOKBACK_DAYS - 1) if interval == "1d" else day
    bars = data.load_bars(lake_root, symbol, interval, first_day, day)
    metrics = data.session_metrics(bars, day, data.load_previous_close(lake_root, symbol, day))

    if metrics is None:
        st.warning(
            f"No {interval} bars of {symbol} on {day:%Y-%m-%d} (UTC). Pick another day or interval."
        )
    else:
        last, change, volume, trades, realized_vol, imbalance = st.columns(6)
        last.metric("Last", f"{metrics.last:,.2f}")
        change.metric(
            "Change",
            f"{metrics.change_pct:+.2f}%",
            delta=f"{metrics.change:+,.2f}",
            help=f"Against the {metrics.reference_name}, {metrics.reference:,.2f}.",
        )
        volume.metric("Volume", charts.compact_number(metrics.volume), help=f"{metrics.volume:,.0f} shares")
        trades.metric("Trades", f"{metrics.trades:,}")
        realized_vol.metric(
            "Realised vol",
            f"{100 * metrics.realized_vol:.2f}%",
            help="Square root of the sum of squared log returns between the day's trades (not annualised).",
        )
        imbalance.metric(
            "Flow imbalance",
            f"{metrics.ofi:+.3f}",
            help="Order-flow imbalance: (buy volume − sell volume) / volume over the day, from −1 (all sells) to +1 (all buys).",
        )

    if not bars.is_empty():
        st.plotly_chart(
            charts.candlestick_figure(bars, title=f"{symbol} · {interval} bars"), key="market_chart"
        )

    st.subheader("Universe")
    st.caption(f"Latest daily bar of each symbol up to {day:%Y-%m-%d}.")
    st.dataframe(
        data.load_universe_summary(lake_root, day),
        hide_index=True,
        column_config={
            "symbol": st.column_config.TextColumn("Symbol"),
            "date": st.column_config.DateColumn("Date"),
            "last": st.column_config.NumberColumn("Last", format="%.2f"),
            "change_pct": st.column_config.NumberColumn("Change", format="%+.2f%%"),
            "volume": st.column_config.NumberColumn("Volume", format="localized"),
            "trades": st.column_config.NumberColumn("Trades", format="localized"),
        },
    )
    if live:
        st.caption(f"Refreshed at {datetime.now(UTC):%H:%M:%S} UTC; next in {REFRESH_SECONDS} s.")



market_view(symbol, interval, day)

