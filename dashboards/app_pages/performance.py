"""Performance of one account: the tearsheet of ``shriven.analytics``, interactive.

Key metrics, equity curve, drawdown, monthly returns, rolling Sharpe (window slider), exposure,
trade statistics and the worst drawdowns, under the equities or crypto conventions the sidebar
selects. Widget keys are prefixed ``performance_``; the account is shared with the other
trading pages.
"""

from __future__ import annotations

import math

import streamlit as st

from dashboards import charts, components, data

#: Default rolling-Sharpe window, in equity samples (the tearsheet's default).
DEFAULT_WINDOW = 63

NOT_ENOUGH_DATA_HELP = """\
**Not enough equity samples for `{account}`** ({points}; a tearsheet needs at least 3).

Run a backtest over a day with market data, then come back:

```
shriven backtest --start 2026-01-05 --days 1
```
"""

lake_root: str = st.session_state["lake_root"]
settings = st.session_state["settings"]

st.title("Performance")

accounts = components.trading_accounts_or_stop(lake_root)

account = components.account_selector("performance", accounts, settings.trading.account)
with st.sidebar:
    market = st.radio(
        "Conventions",
        data.MARKETS,
        horizontal=True,
        key="performance_market",
        help="Equities: 252 trading days of 6.5 h a year; crypto: 365 days of 24 h.",
    )
    window = st.slider(
        "Rolling Sharpe window (samples)",
        min_value=5,
        max_value=500,
        value=DEFAULT_WINDOW,
        step=1,
        key="performance_window",
    )
run_every = components.auto_refresh_toggle("performance")


def _shown(value: float | None, spec: str) -> str:
    """A metric for a tile; "–" when it is undefined (None or NaN, e.g. no variance)."""
    return "–" if value is None or math.isnan(value) else format(value, spec)


@st.fragment(run_every=run_every)
def performance(account: str, market: str, window: int) -> None:
    """The tearsheet of one account under one market's conventions."""
    report = data.load_performance(lake_root, account, market, window)
    if report is None:
        points = data.load_account_data(lake_root, account).equity.height
        st.info(
            NOT_ENOUGH_DATA_HELP.format(account=account, points=points), icon=":material/info:"
        )
        return
    st.caption(data.conventions_note(report))

    metrics = dict(report.tables["metrics"].iter_rows())
    total, sharpe, sortino, drawdown, volatility = st.columns(5)
    total.metric("Total return", _shown(metrics["Total return"], "+.2%"))
    sharpe.metric("Sharpe ratio", _shown(metrics["Sharpe ratio"], ".2f"))
    sortino.metric("Sortino ratio", _shown(metrics["Sortino ratio"], ".2f"))
    drawdown.metric("Max drawdown", _shown(metrics["Max drawdown"], ".2%"))
    volatility.metric("Annualised volatility", _shown(metrics["Annualised volatility"], ".2%"))

    left, right = st.columns([2, 1])
    with left:
        st.subheader("Equity curve")
        st.plotly_chart(charts.equity_figure(report.equity), key="performance_equity")
        st.subheader("Drawdown")
        st.plotly_chart(charts.drawdown_figure(report.drawdown), key="performance_drawdown")
    with right:
        st.subheader("Key metrics")
        st.dataframe(
            report.tables["metrics"],
            hide_index=True,
            height=740,
            column_config={
                "metric": st.column_config.TextColumn("Metric"),
                "value": st.column_config.NumberColumn("Value", format="%.4g"),
            },
        )

    st.subheader("Monthly returns")
    st.plotly_chart(
        charts.monthly_returns_figure(report.tables["monthly_returns"]), key="performance_monthly"
    )

    st.subheader("Rolling Sharpe")
    if report.window != window:
        st.caption(
            f"The window is shrunk to {report.window} samples: half of the "
            f"{report.equity.height - 1} returns."
        )
    st.plotly_chart(
        charts.rolling_sharpe_figure(report.rolling_sharpe, report.window), key="performance_rolling"
    )

    if "exposure" in report.tables:
        st.subheader("Exposure")
        st.plotly_chart(
            charts.exposure_over_time_figure(report.tables["exposure"]), key="performance_exposure"
        )

    left, right = st.columns(2)
    with left:
        st.subheader("Trade statistics")
        st.dataframe(
            report.tables["trade_statistics"],
            hide_index=True,
            column_config={
                "statistic": st.column_config.TextColumn("Statistic"),
                "value": st.column_config.NumberColumn("Value", format="%.4g"),
            },
        )
        st.caption("Closing fills booked at average cost, before fees.")
    with right:
        st.subheader("Worst drawdowns")
        st.dataframe(
            report.tables["drawdowns"],
            hide_index=True,
            column_config={
                "depth": st.column_config.NumberColumn("Depth", format="percent"),
                "duration_days": st.column_config.NumberColumn("Days", format="%.3f"),
            },
        )
    components.refreshed_caption(run_every)


performance(account, market, window)
