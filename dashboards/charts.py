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
