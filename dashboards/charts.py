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


def _layout(figure: go.Figure, height: int = 320, **extra: object) -> go.Figure:
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        **extra,
    )
    return figure


# ------------------------------------------------------------------------------ performance
def drawdown_figure(drawdown: pl.DataFrame) -> go.Figure:
    """Underwater curve (from ``PerformanceReport.drawdown``): fall from the running peak."""
    figure = go.Figure(
        go.Scatter(
            x=_utc_naive(drawdown.get_column("ts")),
            y=drawdown.get_column("drawdown").to_numpy(),
            mode="lines",
            fill="tozeroy",
            name="drawdown",
            line={"color": DOWN_COLOR},
        )
    )
    return _layout(figure, xaxis_title="time (UTC)", yaxis_tickformat=".2%", hovermode="x unified")


MONTH_LABELS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def monthly_returns_figure(monthly: pl.DataFrame) -> go.Figure:
    """Year × month heatmap of compounded monthly returns (``tearsheet.monthly_returns_table``)."""
    years = sorted(set(monthly.get_column("year").to_list()))
    grid: list[list[float | None]] = [[None] * 12 for _ in years]
    for year, month, value in monthly.iter_rows():
        grid[years.index(year)][month - 1] = value
    figure = go.Figure(
        go.Heatmap(
            z=grid,
            x=list(MONTH_LABELS),
            y=[str(year) for year in years],
            colorscale="RdYlGn",
            zmid=0.0,
            texttemplate="%{z:.2%}",
            hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>",
        )
    )
    return _layout(figure, height=max(160, 80 + 40 * len(years)), yaxis_type="category")


def rolling_sharpe_figure(rolling: pl.DataFrame, window: int) -> go.Figure:
    """Rolling Sharpe ratio (``PerformanceReport.rolling_sharpe``) over ``window`` periods."""
    figure = go.Figure(
        go.Scatter(
            x=_utc_naive(rolling.get_column("ts")),
            y=rolling.get_column("sharpe").to_numpy(),
            mode="lines",
            name=f"rolling Sharpe ({window} periods)",
        )
    )
    return _layout(figure, xaxis_title="time (UTC)", yaxis_title="Sharpe (annualised)")


def exposure_over_time_figure(exposure: pl.DataFrame) -> go.Figure:
    """Gross and net exposure over time (``tearsheet.exposure_table``)."""
    ts = _utc_naive(exposure.get_column("ts"))
    figure = go.Figure(
        [
            go.Scatter(x=ts, y=exposure.get_column("gross_exposure").to_numpy(), name="gross", mode="lines"),
            go.Scatter(x=ts, y=exposure.get_column("net_exposure").to_numpy(), name="net", mode="lines"),
        ]
    )
    return _layout(figure, xaxis_title="time (UTC)", yaxis_title="market value", hovermode="x unified")


# ------------------------------------------------------------------------------ ML and sentiment
def sentiment_index_figure(index: pl.DataFrame) -> go.Figure:
    """The sentiment index of each symbol over time (``data.sentiment_index_series``), in [-1, 1]."""
    figure = go.Figure()
    for (symbol,), rows in index.group_by("symbol", maintain_order=True):
        figure.add_trace(
            go.Scatter(
                x=_utc_naive(rows.get_column("ts")),
                y=rows.get_column("index").to_numpy(),
                name=str(symbol),
                mode="lines",
            )
        )
    return _layout(
        figure, xaxis_title="time (UTC)", yaxis_title="sentiment index", yaxis_range=[-1.05, 1.05]
    )


# ------------------------------------------------------------------------------ options and depth
def book_depth_figure(ladder: pl.DataFrame) -> go.Figure:
    """Size at each price of a ladder (``data.book_ladder``): bids left of the spread, asks right."""
    bids = ladder.drop_nulls("bid")
    asks = ladder.drop_nulls("ask")
    figure = go.Figure(
        [
            go.Bar(
                x=bids.get_column("bid").to_numpy(),
                y=bids.get_column("bid_size").to_numpy(),
                name="bids",
                marker_color=UP_COLOR,
            ),
            go.Bar(
                x=asks.get_column("ask").to_numpy(),
                y=asks.get_column("ask_size").to_numpy(),
                name="asks",
                marker_color=DOWN_COLOR,
            ),
        ]
    )
    return _layout(figure, xaxis_title="price", yaxis_title="size", bargap=0.1)


def _expiry_label(expiry) -> str:
    return f"{expiry:%Y-%m-%d}"


def smile_figure(chain: pl.DataFrame) -> go.Figure:
    """Implied volatility against strike per expiry (markers) with its SVI fit (line).

    ``chain`` holds one quote per (expiry, strike), e.g. ``data.out_of_the_money`` of the chain.
    """
    figure = go.Figure()
    for (expiry,), rows in chain.sort("expiry", "strike").group_by("expiry", maintain_order=True):
        label = _expiry_label(expiry)
        strikes = rows.get_column("strike").to_numpy()
        marker = go.Scatter(
            x=strikes, y=rows.get_column("iv").to_numpy(), mode="markers", name=f"{label} IV",
            legendgroup=label,
        )  # fmt: skip
        figure.add_trace(marker)
        figure.add_trace(
            go.Scatter(
                x=strikes, y=rows.get_column("svi_iv").to_numpy(), mode="lines",
                name=f"{label} SVI", legendgroup=label, line={"width": 1},
            )  # fmt: skip
        )
    return _layout(
        figure, height=380, xaxis_title="strike", yaxis_title="implied volatility",
        yaxis_tickformat=".0%",
    )  # fmt: skip


def iv_surface_figure(chain: pl.DataFrame) -> go.Figure:
    """Implied-volatility surface as a heatmap: expiry (rows) × strike (columns).

    Uses the fitted SVI volatility where there is one, else the quote's implied volatility.
    """
    surface = (
        chain.with_columns(pl.coalesce("svi_iv", "iv").alias("vol"))
        .group_by("expiry", "strike")
        .agg(pl.col("vol").mean())
        .sort("expiry", "strike")
    )
    expiries = sorted(set(surface.get_column("expiry").to_list()))
    strikes = sorted(set(surface.get_column("strike").to_list()))
    grid: list[list[float | None]] = [[None] * len(strikes) for _ in expiries]
    for expiry, strike, vol in surface.iter_rows():
        grid[expiries.index(expiry)][strikes.index(strike)] = vol
    figure = go.Figure(
        go.Heatmap(
            z=grid,
            x=strikes,
            y=[_expiry_label(expiry) for expiry in expiries],
            colorscale="Viridis",
            colorbar={"title": "IV", "tickformat": ".0%"},
            hovertemplate="expiry %{y}, strike %{x}: %{z:.2%}<extra></extra>",
        )
    )
    return _layout(figure, height=380, xaxis_title="strike", yaxis_title="expiry", yaxis_type="category")
