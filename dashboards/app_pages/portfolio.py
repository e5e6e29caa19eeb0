"""Portfolio of one account: positions, exposure by symbol, weights against the latest targets.

Widget keys are prefixed ``portfolio_``; the account is shared with the other trading pages.
Targets are the latest position or weight signal of each symbol in the signal log (models and
optimisers write them; the log is shared by every account).
"""

from __future__ import annotations

import streamlit as st

from dashboards import charts, components, data

lake_root: str = st.session_state["lake_root"]
settings = st.session_state["settings"]

NO_TARGETS_HELP = """\
No targets in the signal log yet. Append one by hand, or run the optimiser or the model:

```
shriven signal ACME 0.10 --weight
shriven signal BOLT -40
```

or the `rebalance` and `ml_inference` deployments from the Prefect UI (`make serve`).
"""

st.title("Portfolio")

accounts = components.trading_accounts_or_stop(lake_root)

account = components.account_selector("portfolio", accounts, settings.trading.account)
run_every = components.auto_refresh_toggle("portfolio")


@st.fragment(run_every=run_every)
def portfolio(account: str) -> None:
    """Exposure, positions and weights against targets of one account."""
    positions = data.load_positions(lake_root, account)
    metrics = data.account_metrics(data.load_pnl(lake_root, account))
    equity = metrics.equity if metrics else 0.0
    exposure = data.exposure_by_symbol(positions)

    gross, net, equity_tile, open_positions = st.columns(4)
    gross.metric("Gross exposure", f"{exposure.get_column('gross').sum():,.2f}")
    net.metric("Net exposure", f"{exposure.get_column('net').sum():+,.2f}")
    equity_tile.metric("Equity", f"{equity:,.2f}" if metrics else "—")
    open_positions.metric("Open positions", f"{exposure.height:,}")

    st.subheader("Exposure by symbol")
    if exposure.is_empty():
        st.info(
            f"`{account}` holds no position — run `shriven backtest --start 2026-01-05 --days 1` "
            "or the `execution/paper` deployment.",
            icon=":material/info:",
        )
    else:
        st.plotly_chart(charts.exposure_figure(exposure), key="portfolio_exposure")
        components.positions_table(positions)

    st.subheader("Weights against targets")
    targets = data.load_targets(lake_root, st.session_state["signals_root"])
    if targets.is_empty():
        st.info(NO_TARGETS_HELP, icon=":material/info:")
    if not metrics:
        st.caption("Weights need the account's equity: no PnL sample yet.")
    elif not (targets.is_empty() and positions.is_empty()):
        weights = data.weights_against_targets(positions, targets, equity)
        st.plotly_chart(charts.weights_figure(weights), key="portfolio_weights")
        st.dataframe(
            weights,
            hide_index=True,
            column_config={
                "symbol": st.column_config.TextColumn("Symbol"),
                "quantity": st.column_config.NumberColumn("Quantity", format="%.4g"),
                "weight": st.column_config.NumberColumn("Weight", format="percent"),
                "target_kind": st.column_config.TextColumn("Target kind"),
                "target_quantity": st.column_config.NumberColumn("Target quantity", format="%.4g"),
                "target_weight": st.column_config.NumberColumn("Target weight", format="percent"),
                "weight_gap": st.column_config.NumberColumn("Gap", format="percent"),
            },
        )
        st.caption(
            "Weight = market value / equity. A position target is shown as a weight at the "
            "symbol's mark; a weight target as a quantity at the same mark (blank without one)."
        )
    components.refreshed_caption(run_every)


portfolio(account)
