"""Orders and fills blotter of one account, filtered by symbol, order state and UTC date range.

Widget keys are prefixed ``blotter_``; the account is shared with the other trading pages. The
filters are keyed by account too (``blotter_symbols_<account>``), since their choices differ.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboards import charts, components, data

lake_root: str = st.session_state["lake_root"]
settings = st.session_state["settings"]

st.title("Orders & fills")

accounts = components.trading_accounts_or_stop(lake_root)

account = components.account_selector("blotter", accounts, settings.trading.account)
options = data.load_blotter_options(lake_root, account)
if options.first is None:
    st.info(
        f"No orders or fills for `{account}` yet — run `shriven backtest --start 2026-01-05 "
        "--days 1` or the `execution/paper` deployment.",
        icon=":material/info:",
    )
    st.stop()

with st.sidebar:
    symbols = st.multiselect("Symbols", options.symbols, key=f"blotter_symbols_{account}", placeholder="All")
    states = st.multiselect("Order states", options.states, key=f"blotter_states_{account}", placeholder="All")
    picked = st.date_input(
        "Dates (UTC)",
        value=(options.first, options.last),
        min_value=options.first,
        max_value=options.last,
        key=f"blotter_dates_{account}",
    )
run_every = components.auto_refresh_toggle("blotter")


def date_range(picked: object) -> tuple[date, date]:
    """The chosen range; a range still being picked (one date) is that one day."""
    if isinstance(picked, tuple | list):
        if len(picked) == 2:
            return picked[0], picked[1]
        if len(picked) == 1:
            return picked[0], picked[0]
        return options.first, options.last
    return picked, picked


@st.fragment(run_every=run_every)
def blotter(account: str, symbols: tuple[str, ...], states: tuple[str, ...], start: date, end: date) -> None:
    """Counts and the two tables of the chosen filters."""
    orders = data.load_blotter_orders(lake_root, account, symbols, states, start, end)
    fills = data.load_blotter_fills(lake_root, account, symbols, start, end)

    order_count, filled, fill_count, notional, fees = st.columns(5)
    order_count.metric("Orders", f"{orders.height:,}")
    filled.metric("Filled orders", f"{orders.filter(orders.get_column('state') == 'filled').height:,}")
    fill_count.metric("Fills", f"{fills.height:,}")
    notional.metric("Fill notional", charts.compact_number(float(fills.get_column("notional").sum())))
    fees.metric("Fees", f"{float(fills.get_column('fee').sum()):,.2f}")
    if states:
        st.caption("The order-state filter applies to orders only; fills are of every order.")

    st.subheader(f"Orders ({orders.height:,})")
    if orders.is_empty():
        st.info("No orders match these filters.", icon=":material/filter_alt:")
    else:
        st.dataframe(
            orders.drop("date"),
            hide_index=True,
            column_config={
                "ts": st.column_config.DatetimeColumn("Created (UTC)"),
                "updated_ts": st.column_config.DatetimeColumn("Updated (UTC)"),
                "price": st.column_config.NumberColumn("Price", format="%.2f"),
                "avg_fill_price": st.column_config.NumberColumn("Avg fill", format="%.2f"),
                "fees": st.column_config.NumberColumn("Fees", format="%.2f"),
            },
        )

    st.subheader(f"Fills ({fills.height:,})")
    if fills.is_empty():
        st.info("No fills match these filters.", icon=":material/filter_alt:")
    else:
        st.dataframe(
            fills.drop("date"),
            hide_index=True,
            column_config={
                "ts": st.column_config.DatetimeColumn("Time (UTC)"),
                "price": st.column_config.NumberColumn("Price", format="%.2f"),
                "notional": st.column_config.NumberColumn("Notional", format="%.2f"),
                "fee": st.column_config.NumberColumn("Fee", format="%.4f"),
            },
        )
    components.refreshed_caption(run_every)


start, end = date_range(picked)
blotter(account, tuple(symbols), tuple(states), start, end)
