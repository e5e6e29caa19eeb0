"""ShrivenQuant dashboards: the entry point of ``streamlit run dashboards/streamlit_app.py``.

This file is the frame around every page: page config, the state that pages share (initialised
once per browser session from ``shriven.config.load_settings()``, so ``SHRIVEN_DATA_DIR`` and
``SHRIVEN_CONFIG`` choose the lake), and the navigation over ``dashboards/app_pages/``.

Session-state keys: the shared ones are listed in ``SHARED_STATE``; each page prefixes its own
keys with its name (``market_symbol``), so pages never collide. Add a page by adding an
``st.Page`` to ``PAGES``. The trading pages share the selected account through ``account``
(see ``dashboards.components.account_selector``).
"""

from __future__ import annotations

import streamlit as st

from shriven.config import load_settings

#: Shared session-state keys: the platform settings, the lake root every page reads and the local
#: root of the signal log (the same root unless the lake is on object storage); the trading pages
#: also share ``account``, initialised here to ``[trading] account``.
SHARED_STATE = ("settings", "lake_root", "signals_root")

st.set_page_config(
    page_title="ShrivenQuant", page_icon=":material/candlestick_chart:", layout="wide"
)


def init_shared_state() -> None:
    """Load the settings once per session; a bad settings file is shown, not raised."""
    if all(key in st.session_state for key in SHARED_STATE):
        return
    try:
        settings = load_settings()
    except (ValueError, FileNotFoundError) as exc:
        st.error(f"Cannot read the ShrivenQuant settings: {exc}")
        st.stop()
    st.session_state["settings"] = settings
    st.session_state["lake_root"] = settings.lake_root
    st.session_state["signals_root"] = settings.signal_log_root
    st.session_state.setdefault("account", settings.trading.account)


init_shared_state()

PAGES = {
    "Markets": [
        st.Page(
            "app_pages/market.py",
            title="Market",
            icon=":material/candlestick_chart:",
            url_path="market",
            default=True,
        ),
        st.Page(
            "app_pages/options.py",
            title="Options & depth",
            icon=":material/stacked_line_chart:",
            url_path="options",
        ),
    ],
    "Trading": [
        st.Page(
            "app_pages/overview.py",
            title="Overview",
            icon=":material/dashboard:",
            url_path="overview",
        ),
        st.Page(
            "app_pages/portfolio.py",
            title="Portfolio",
            icon=":material/pie_chart:",
            url_path="portfolio",
        ),
        st.Page("app_pages/risk.py", title="Risk", icon=":material/shield:", url_path="risk"),
        st.Page(
            "app_pages/blotter.py",
            title="Orders & fills",
            icon=":material/receipt_long:",
            url_path="blotter",
        ),
    ],
    "Research": [
        st.Page(
            "app_pages/performance.py",
            title="Performance",
            icon=":material/monitoring:",
            url_path="performance",
        ),
        st.Page(
            "app_pages/ml_sentiment.py",
            title="ML & sentiment",
            icon=":material/psychology:",
            url_path="ml",
        ),
        st.Page("app_pages/sweeps.py", title="Sweeps", icon=":material/grid_on:", url_path="sweeps"),
    ],
    "Operations": [
        st.Page(
            "app_pages/pipelines.py",
            title="Pipelines",
            icon=":material/account_tree:",
            url_path="pipelines",
        ),
        st.Page("app_pages/health.py", title="Health", icon=":material/monitor_heart:", url_path="health"),
    ],
}

page = st.navigation(PAGES)
st.sidebar.caption(f"Lake: `{st.session_state['lake_root']}`")
page.run()
