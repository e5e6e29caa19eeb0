"""Overview of one trading account: the day's PnL, equity, exposure and activity, and positions.

Widget keys are prefixed ``overview_``; the account is shared with the other trading pages.
"Today" is the account's latest UTC date with PnL samples (a backtest's last day).
"""

from __future__ import annotations

import streamlit as st

from dashboards import charts, components, data

lake_root: str = st.session_state["lake_root"]
settings = st.session_state["settings"]

st.title("Overview")

accounts = components.trading_accounts_or_stop(lake_root)

account = components.account_selector("overview", accounts, settings.trading.account)
run_every = components.auto_refresh_toggle("overview")


@st.fragment(run_every=run_every)
def overview(account: str) -> None:
    """Metric tiles, equity curve and positions of one account."""
    pnl = data.load_pnl(lake_root, account)
    metrics = data.account_metrics(pnl)
    if metrics is None:
        st.info(
            f"No PnL samples for `{account}` yet: its engine has not checkpointed. Backtests "
            "write them when they end; paper trading every `checkpoint_every_s`.",
            icon=":material/info:",
        )
    else:
        fills = data.load_daily_fill_stats(lake_root, account)
        today = fills.filter(fills.get_column("date") == metrics.day)
        day_fills = int(today.get_column("fills").sum()) if not today.is_empty() else 0
        day_notional = float(today.get_column("notional").sum()) if not today.is_empty() else 0.0

        st.caption(f"As of {metrics.as_of:%Y-%m-%d %H:%M:%S} UTC (latest sample of `{account}`).")
        equity, day_pnl, total_pnl, drawdown = st.columns(4)
        equity.metric("Equity", f"{metrics.equity:,.2f}")
        day_pnl.metric(
            "Day PnL",
            f"{metrics.day_pnl:+,.2f}",
            help=f"Equity change on {metrics.day:%Y-%m-%d}: against the previous day's close, "
            "or the day's first sample on the account's first day.",
        )
        total_pnl.metric("Total PnL", f"{metrics.total_pnl:+,.2f}", help="Since the first sample.")
        drawdown.metric("Max drawdown", f"{100 * metrics.max_drawdown:.2f}%", help="From peak equity.")
        realized, unrealized, fees, cash = st.columns(4)
        realized.metric("Realised PnL", f"{metrics.realized_pnl:+,.2f}", help="Before fees.")
        unrealized.metric("Unrealised PnL", f"{metrics.unrealized_pnl:+,.2f}")
        fees.metric("Fees", f"{metrics.fees:,.2f}")
        cash.metric("Cash", f"{metrics.cash:,.2f}")
        gross, net, count, notional = st.columns(4)
        gross.metric("Gross exposure", charts.compact_number(metrics.gross_exposure))
        net.metric("Net exposure", charts.compact_number(metrics.net_exposure))
        count.metric("Fills today", f"{day_fills:,}")
        notional.metric("Traded today", charts.compact_number(day_notional), help="Fill notional.")

        st.plotly_chart(charts.equity_figure(pnl), key="overview_equity")

    st.subheader("Positions")
    positions = data.load_positions(lake_root, account)
    if positions.is_empty():
        st.info(
            f"No positions for `{account}` yet — run `shriven backtest --start 2026-01-05 --days 1` "
            "or the `execution/paper` deployment.",
            icon=":material/info:",
        )
    else:
        components.positions_table(positions)
    components.refreshed_caption(run_every)


overview(account)
