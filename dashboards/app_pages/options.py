"""Options and book depth of one symbol: the depth ladder, the volatility smile and surface.

The ladder is the symbol's latest ``book_snapshots`` row (top-N levels per side); the smile and
the surface come from its latest priced chain in ``option_analytics`` with the SVI fits of
``svi_fits``. Widget keys are prefixed ``options_``.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, components, data

EMPTY_HELP = """\
**No option analytics and no book snapshots in the lake yet** (`{lake_root}`).

Book depth comes from the daily pipeline (`daily_pipeline` deployment, or
`shriven ingest` then the pipeline's book snapshots); option smiles from the
`options_analytics` flow, which prices each day's chains from the daily bars.
This page looks again every {refresh} s.
"""
NO_BOOK_HELP = (
    "No book snapshots of `{symbol}`: the `daily_pipeline` flow writes them from the day's L2 book."
)
NO_OPTIONS_HELP = (
    "No option analytics of `{symbol}`: run the `options_analytics` flow over a day with daily bars."
)

lake_root: str = st.session_state["lake_root"]

st.title("Options & depth")


@st.fragment(run_every=components.REFRESH_SECONDS)
def wait_for_data() -> None:
    """The empty state: say what to run; reload once there are options or snapshots."""
    if data.load_options_and_depth_symbols(lake_root):
        st.rerun()
    st.info(
        EMPTY_HELP.format(lake_root=lake_root, refresh=components.REFRESH_SECONDS),
        icon=":material/info:",
    )


symbols = data.load_options_and_depth_symbols(lake_root)
if not symbols:
    wait_for_data()
    st.stop()

with st.sidebar:
    symbol = st.selectbox("Symbol", symbols, key="options_symbol")
    levels = st.slider(
        "Book levels", min_value=1, max_value=10, value=data.DEFAULT_LADDER_LEVELS, key="options_levels"
    )
run_every = components.auto_refresh_toggle("options")


@st.fragment(run_every=run_every)
def options_view(symbol: str, levels: int) -> None:
    """Depth ladder, smile and IV surface of one symbol."""
    st.subheader("Book depth")
    snapshot = data.load_book_snapshot(lake_root, symbol)
    if snapshot.is_empty():
        st.info(NO_BOOK_HELP.format(symbol=symbol), icon=":material/info:")
    else:
        top = snapshot.row(0, named=True)
        st.caption(f"Latest snapshot at {top['ts']:%Y-%m-%d %H:%M:%S} UTC (seq {top['seq']}).")
        mid, spread, imbalance = st.columns(3)
        mid.metric("Mid", "–" if top["mid"] is None else f"{top['mid']:,.4f}")
        spread.metric("Spread", "–" if top["spread"] is None else f"{top['spread']:,.4f}")
        imbalance.metric(
            "Imbalance",
            "–" if top.get("imbalance") is None else f"{top['imbalance']:+.3f}",
            help="Top-of-book size imbalance, from -1 (all asks) to +1 (all bids).",
        )
        ladder = data.book_ladder(snapshot, levels)
        left, right = st.columns([1, 2])
        with left:
            st.dataframe(
                ladder,
                hide_index=True,
                column_config={
                    "level": st.column_config.NumberColumn("Level"),
                    "bid_size": st.column_config.NumberColumn("Bid size", format="%.4g"),
                    "bid": st.column_config.NumberColumn("Bid", format="%.4f"),
                    "ask": st.column_config.NumberColumn("Ask", format="%.4f"),
                    "ask_size": st.column_config.NumberColumn("Ask size", format="%.4g"),
                },
            )
        with right:
            st.plotly_chart(charts.book_depth_figure(ladder), key="options_depth_chart")

    st.subheader("Volatility smile")
    chain = data.load_option_chain(lake_root, symbol)
    if chain.is_empty():
        st.info(NO_OPTIONS_HELP.format(symbol=symbol), icon=":material/info:")
    else:
        priced = chain.filter(pl.col("iv").is_not_null())
        quoted = chain.get_column("ts")[0]
        st.caption(
            f"Chain quoted at {quoted:%Y-%m-%d %H:%M} UTC: {chain.height} options, "
            f"{priced.height} with an implied volatility; out-of-the-money quotes, "
            "lines are the SVI fits."
        )
        st.plotly_chart(
            charts.smile_figure(data.out_of_the_money(chain)), key="options_smile_chart"
        )
        st.subheader("Implied volatility surface")
        st.plotly_chart(charts.iv_surface_figure(chain), key="options_surface_chart")
        fits = data.load_svi_fits(lake_root, symbol)
        if not fits.is_empty():
            st.subheader("SVI fits")
            st.dataframe(
                fits.drop("ts", "symbol"),
                hide_index=True,
                column_config={
                    "rmse_iv": st.column_config.NumberColumn("RMSE (vol)", format="%.5f"),
                    "butterfly_ok": st.column_config.CheckboxColumn("Butterfly OK"),
                    "calendar_ok": st.column_config.CheckboxColumn("Calendar OK"),
                },
            )
    components.refreshed_caption(run_every)


options_view(symbol, levels)
