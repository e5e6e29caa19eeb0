"""Plotly figures of the dashboards, built from the frames that ``dashboards.data`` returns."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

#: Colour of rising candles and of the volume of bars that closed at or above their open.
UP_COLOR = "#26a69a"
#: Colour of falling candles and of the volume of bars that closed below their open.
DOWN_COLOR = "#ef5350"
#: Colour of the session VWAP line.
VWAP_COLOR = "#f5a623"


def candlestick_figure(bars: pl.DataFrame, title: str = "") -> go.Figure:
    """Candles with the session VWAP on top and volume (coloured up/down) below, sharing time.

    ``bars`` holds the BARS columns plus ``session_vwap``, sorted by ``ts``; times are shown
    in UTC.
    """
    ts = bars.get_column("ts").dt.replace_time_zone(None).to_numpy()
    opens = bars.get_column("open").to_numpy()
    closes = bars.get_column("close").to_numpy()
    volume_colors = [UP_COLOR if c >= o else DOWN_COLOR for o, c in zip(opens, closes, strict=True)]

    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03
    )
    figure.add_trace(
        go.Candlestick(
            x=ts,
            open=opens,
            high=bars.get_column("high").to_numpy(),
            low=bars.get_column("low").to_numpy(),
            close=closes,
            name="price",
            increasing_line_color=UP_COLOR,
            decreasing_line_color=DOWN_COLOR,
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=ts,
            y=bars.get_column("session_vwap").to_numpy(),
            name="VWAP (session)",
            mode="lines",
            line={"color": VWAP_COLOR, "width": 1.5},
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(
            x=ts, y=bars.get_column("volume").to_numpy(), name="volume", marker_color=volume_colors
        ),
        row=2,
        col=1,
    )
    figure.update_layout(
        title=title or None,
        height=560,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        xaxis_rangeslider_visible=False,
        showlegend=True,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        hovermode="x unified",
    )
    figure.update_yaxes(title_text="price", row=1, col=1)
    figure.update_yaxes(title_text="volume", row=2, col=1)
    figure.update_xaxes(title_text="time (UTC)", row=2, col=1)
    return figure


def compact_number(value: float) -> str:
    """A large number short enough for a metric tile: 11.9M, 830.2K."""
    for divisor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= divisor:
            return f"{value / divisor:,.1f}{suffix}"
    return f"{value:,.0f}"


def _utc_naive(column: pl.Series):
    return column.dt.replace_time_zone(None).to_numpy()


def equity_figure(pnl: pl.DataFrame, title: str = "") -> go.Figure:
    """Equity (and cash) over time from the ``pnl`` samples of one account, in UTC."""
    ts = _utc_naive(pnl.get_column("ts"))
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=ts, y=pnl.get_column("equity").to_numpy(), name="equity", mode="lines")
    )
    figure.add_trace(
        go.Scatter(
            x=ts,
            y=pnl.get_column("cash").to_numpy(),
            name="cash",
            mode="lines",
            line={"dash": "dot", "width": 1},
            visible="legendonly",
        )
    )
    figure.update_layout(
        title=title or None,
        height=320,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        hovermode="x unified",
        xaxis_title="time (UTC)",
        yaxis_title="quote currency",
    )
    return figure


def exposure_figure(exposure: pl.DataFrame) -> go.Figure:
    """Gross and net exposure per symbol (from ``data.exposure_by_symbol``), side by side."""
    symbols = exposure.get_column("symbol").to_list()
    net = exposure.get_column("net").to_numpy()
    figure = go.Figure()
    figure.add_trace(
        go.Bar(x=symbols, y=exposure.get_column("gross").to_numpy(), name="gross", marker_color="#7e57c2")
    )
    figure.add_trace(
        go.Bar(
            x=symbols,
            y=net,
            name="net",
            marker_color=[UP_COLOR if value >= 0 else DOWN_COLOR for value in net],
        )
    )
    figure.update_layout(
        barmode="group",
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        yaxis_title="market value",
    )
    return figure


def weights_figure(weights: pl.DataFrame) -> go.Figure:
    """Weight of equity against target weight per symbol (from ``data.weights_against_targets``)."""
    symbols = weights.get_column("symbol").to_list()
    figure = go.Figure()
    figure.add_trace(go.Bar(x=symbols, y=weights.get_column("weight").to_numpy(), name="weight"))
    figure.add_trace(
        go.Bar(
            x=symbols,
            y=weights.get_column("target_weight").to_numpy(),
            name="target",
            marker_color=VWAP_COLOR,
        )
    )
    figure.update_layout(
        barmode="group",
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        yaxis_title="fraction of equity",
        yaxis_tickformat=".1%",
    )
    return figure
