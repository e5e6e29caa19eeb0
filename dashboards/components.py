"""Pieces several pages share: the account selector, the auto-refresh toggle, empty-state texts.

The selected account lives in the shared session-state key ``account`` (initialised by the entry
point); each page's selectbox has its own prefixed key (``overview_account``) and copies its
choice to ``account``, so the choice follows the user from page to page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import polars as pl
import streamlit as st

from dashboards import data

#: Shared session-state key of the selected trading account.
ACCOUNT_KEY = "account"
#: Seconds between two refreshes of a page's view when auto-refresh is on (and of empty pages).
REFRESH_SECONDS = 15

NO_TRADING_DATA_HELP = """\
**No trading data in the lake yet** (`{lake_root}`): no orders, fills, positions or PnL.

Run a backtest over days that have market data (`make demo` loads one), or paper-trade:

```
shriven backtest --start 2026-01-05 --days 1
shriven trade
```

or run the `execution/paper` deployment from the Prefect UI (`make serve`). This page looks
again every {refresh} s.
"""


def account_selector(page: str, accounts: Sequence[str], default: str) -> str:
    """A sidebar selectbox over ``accounts`` keyed ``<page>_account``, shared through ``account``.

    The shared choice wins when it is one of ``accounts``; otherwise ``default`` when present,
    else the first account.
    """
    key = f"{page}_account"
    current = st.session_state.get(ACCOUNT_KEY)
    if current not in accounts:
        current = default if default in accounts else accounts[0]
    st.session_state[ACCOUNT_KEY] = current
    st.session_state[key] = current

    def share() -> None:
        st.session_state[ACCOUNT_KEY] = st.session_state[key]

    return st.sidebar.selectbox(
        "Account",
        accounts,
        key=key,
        on_change=share,
        help="Backtests write to backtest-<run id>; paper trading to the [trading] account.",
    )


def auto_refresh_toggle(page: str) -> int | None:
    """A sidebar toggle keyed ``<page>_live``; returns the fragment's ``run_every`` (None: off)."""
    live = st.sidebar.toggle(
        "Auto-refresh",
        key=f"{page}_live",
        help=f"Re-read the lake every {REFRESH_SECONDS} s to follow live data.",
    )
    return REFRESH_SECONDS if live else None


def refreshed_caption(run_every: int | None) -> None:
    """When auto-refresh is on, when the view was refreshed and when it refreshes next."""
    if run_every:
        st.caption(f"Refreshed at {datetime.now(UTC):%H:%M:%S} UTC; next in {run_every} s.")


def wait_for_trading_data(lake_root: str, has_data: object) -> None:
    """The empty state of the trading pages: say what to run; reload once ``has_data()`` is true."""

    @st.fragment(run_every=REFRESH_SECONDS)
    def waiting() -> None:
        if has_data():
            st.rerun()
        st.info(
            NO_TRADING_DATA_HELP.format(lake_root=lake_root, refresh=REFRESH_SECONDS),
            icon=":material/info:",
        )

    waiting()


def trading_accounts_or_stop(
    lake_root: str, before_stop: Callable[[], None] | None = None
) -> list[str]:
    """The accounts with trading data; with none, the empty state and ``st.stop()`` (after
    ``before_stop``, for what a page shows even then)."""
    accounts = data.load_accounts(lake_root)
    if not accounts:
        if before_stop is not None:
            before_stop()
        wait_for_trading_data(lake_root, lambda: bool(data.load_accounts(lake_root)))
        st.stop()
    return accounts


def positions_table(positions: pl.DataFrame) -> None:
    """The latest positions of an account (Overview and Portfolio show the same table)."""
    st.dataframe(
        positions.drop("date"),
        hide_index=True,
        column_config={
            "ts": st.column_config.DatetimeColumn("As of (UTC)"),
            "symbol": st.column_config.TextColumn("Symbol"),
            "quantity": st.column_config.NumberColumn("Quantity", format="%.4g"),
            "avg_cost": st.column_config.NumberColumn("Avg cost", format="%.2f"),
            "mark_price": st.column_config.NumberColumn("Mark", format="%.2f"),
            "market_value": st.column_config.NumberColumn("Market value", format="%.2f"),
            "realized_pnl": st.column_config.NumberColumn("Realised", format="%.2f"),
            "unrealized_pnl": st.column_config.NumberColumn("Unrealised", format="%.2f"),
            "fees": st.column_config.NumberColumn("Fees", format="%.2f"),
        },
    )
