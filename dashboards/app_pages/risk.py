"""Risk of one account: kill switch, trading state, limit usage, order counts, breaches, denials.

Widget keys are prefixed ``risk_``; the account is shared with the other trading pages. Limits
come from ``[trading]`` and ``[trading.risk]`` of the settings this server loaded.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from dashboards import components, data

lake_root: str = st.session_state["lake_root"]
settings = st.session_state["settings"]

st.title("Risk")


def kill_switch() -> None:
    """The manual kill switch, read from the settings' state directory."""
    state = data.load_kill_switch(settings.state_dir)
    if state.on:
        since = datetime.fromtimestamp(state.ts / 1e9, UTC)
        st.error(
            f"**Kill switch ON** since {since:%Y-%m-%d %H:%M:%S} UTC"
            f"{f' by {state.by}' if state.by else ''}: {state.reason or 'no reason given'}. "
            "Paper and live trading deny every order; `shriven kill-switch off` allows them again.",
            icon=":material/block:",
        )
    else:
        st.success(
            "**Kill switch off**: trading allowed (`shriven kill-switch on` halts it).",
            icon=":material/check_circle:",
        )


accounts = components.trading_accounts_or_stop(lake_root, before_stop=kill_switch)

account = components.account_selector("risk", accounts, settings.trading.account)
run_every = components.auto_refresh_toggle("risk")


@st.fragment(run_every=run_every)
def risk(account: str) -> None:
    """Kill switch, limits and risk events of one account."""
    kill_switch()
    events = data.load_risk_events(lake_root, account)
    states = data.load_order_state_counts(lake_root, account)
    positions = data.load_positions(lake_root, account)
    metrics = data.account_metrics(data.load_pnl(lake_root, account))
    open_orders = int(
        states.filter(~pl.col("state").is_in(data.TERMINAL_ORDER_STATES)).get_column("orders").sum()
    )
    denials = events.filter(pl.col("kind") == "denied")
    breaches = events.filter(pl.col("kind").is_in(data.BREACH_KINDS))

    trading_state, orders, working, denied, breached = st.columns(5)
    trading_state.metric(
        "Trading state",
        events.get_column("trading_state")[0] if not events.is_empty() else "active",
        help="After the account's latest risk event (active without any).",
    )
    orders.metric("Orders", f"{int(states.get_column('orders').sum()):,}")
    working.metric("Open orders", f"{open_orders:,}")
    denied.metric("Denials", f"{denials.height:,}")
    breached.metric("Breaches & state changes", f"{breaches.height:,}")

    st.subheader("Limit usage")
    st.dataframe(
        data.limit_usage(positions, metrics, open_orders, settings.trading),
        hide_index=True,
        column_config={
            "limit": st.column_config.TextColumn("Limit"),
            "value": st.column_config.NumberColumn("Value", format="%.4g"),
            "limit_value": st.column_config.NumberColumn("Limit value", format="%.4g", help="None: no limit set."),
            "usage": st.column_config.ProgressColumn("Usage", format="percent", min_value=0.0, max_value=1.0),
        },
    )
    st.caption(
        "Positions against `[trading] max_position_notional` at their mark; the risk manager "
        "turns it into base units at the session's first price. Account limits: `[trading.risk]`."
    )

    left, right = st.columns(2)
    with left:
        st.subheader("Orders by state")
        if states.is_empty():
            st.info(f"No orders for `{account}` yet.", icon=":material/info:")
        else:
            st.dataframe(states, hide_index=True)
    with right:
        st.subheader("Denials by reason")
        if denials.is_empty():
            st.success(f"No order of `{account}` was denied.", icon=":material/check_circle:")
        else:
            st.dataframe(
                denials.group_by("reason").agg(pl.len().alias("denials")).sort(
                    ["denials", "reason"], descending=[True, False]
                ),
                hide_index=True,
            )

    st.subheader("Breaches, state changes and kill switch")
    if breaches.is_empty():
        st.success(f"No limit breach for `{account}`.", icon=":material/check_circle:")
    else:
        st.dataframe(breaches.drop("date"), hide_index=True)

    st.subheader("All risk events")
    if events.is_empty():
        st.caption("No risk events: the risk manager writes one per denial, breach or state change.")
    else:
        st.dataframe(events.drop("date"), hide_index=True)
    components.refreshed_caption(run_every)


risk(account)
