"""An offline HTML tearsheet of an equity curve, plus its key tables as polars frames.

Input frames follow the lake's schemas (:mod:`shriven.schemas`): the equity curve is a frame
with ``ts`` and ``equity`` (a PNL frame works as is, and its ``gross_exposure`` /
``net_exposure`` are used when no positions are given), positions follow POSITIONS (exposure is
the per-``ts`` sum of ``market_value``) and fills follow FILLS (trades are booked with the
portfolio's average-cost :class:`~shriven.portfolio.Position`). The HTML embeds plotly.js once,
inline, so the file opens without a network. Plotly is imported only when a page is built.
"""

from __future__ import annotations

import html
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from shriven.analytics import performance as perf
from shriven.analytics.conventions import EQUITIES, Conventions
from shriven.portfolio.position import Position

__all__ = [
    "SECTION_TITLES",
    "Tearsheet",
    "build_tearsheet",
    "drawdown_table",
    "exposure_table",
    "metrics_table",
    "monthly_returns_table",
    "trade_statistics_table",
    "write_tearsheet",
]

#: Section headings, in page order (tests and readers look for them).
SECTION_TITLES = (
    "Key metrics",
    "Equity curve",
    "Drawdown",
    "Monthly returns",
    "Rolling Sharpe",
    "Exposure",
    "Trade statistics",
    "Worst drawdowns",
)

_METRIC_LABELS = {
    "periods": "Periods",
    "total_return": "Total return",
    "cagr": "CAGR (by periods)",
    "cagr_by_time": "CAGR (by calendar time)",
    "annualized_volatility": "Annualised volatility",
    "sharpe_ratio": "Sharpe ratio",
    "sortino_ratio": "Sortino ratio",
    "calmar_ratio": "Calmar ratio",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration_periods": "Longest drawdown (periods)",
    "max_drawdown_duration_days": "Longest drawdown (days)",
    "max_drawdown_recovered": "Longest drawdown recovered (1 = yes)",
    "value_at_risk": "VaR (positive loss)",
    "conditional_value_at_risk": "CVaR (positive loss)",
    "hit_rate": "Hit rate",
    "profit_factor": "Profit factor",
    "best_period": "Best period",
    "worst_period": "Worst period",
    "beta": "Beta",
    "alpha": "Alpha (annualised)",
}


@dataclass(frozen=True)
class Tearsheet:
    """The page and the tables behind it, so a flow can publish the tables as artifacts."""

    html: str
    #: ``metrics``, ``monthly_returns``, ``drawdowns``, ``exposure``, ``trade_statistics``.
    tables: Mapping[str, pl.DataFrame]
    summary: perf.PerformanceSummary


# -- inputs -------------------------------------------------------------------------------------


def _frame(data: pl.DataFrame | pa.Table, name: str, required: tuple[str, ...]) -> pl.DataFrame:
    frame = pl.from_arrow(data) if isinstance(data, pa.Table) else data
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(
            f"{name} must be a polars DataFrame or an Arrow table, got {type(data).__name__}"
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing} (see shriven.schemas)")
    if sum(frame[c].null_count() for c in required):
        raise ValueError(f"{name} has nulls in {list(required)}")
    if not isinstance(frame.schema["ts"], pl.Datetime):
        raise ValueError(f"{name}.ts must be a datetime column, got {frame.schema['ts']}")
    return frame.sort("ts", maintain_order=True)


def _equity(equity: pl.DataFrame | pa.Table) -> pl.DataFrame:
    frame = _frame(equity, "equity", ("ts", "equity"))
    if frame.height < 3:
        raise ValueError(f"equity needs at least 3 points, got {frame.height}")
    if frame["ts"].is_duplicated().any():
        raise ValueError("equity has duplicate ts values")
    return frame


def _ts_ns(frame: pl.DataFrame) -> np.ndarray:
    return frame["ts"].dt.cast_time_unit("ns").dt.replace_time_zone(None).to_numpy()


# -- tables -------------------------------------------------------------------------------------


def metrics_table(summary: perf.PerformanceSummary) -> pl.DataFrame:
    """The headline metrics as (metric, value) rows, in reading order."""
    data = summary.as_dict()
    rows = []
    for key, label in _METRIC_LABELS.items():
        value = data[key]
        rows.append((label, None if value is None else float(value)))
    return pl.DataFrame(rows, schema={"metric": pl.String, "value": pl.Float64}, orient="row")


def monthly_returns_table(equity: pl.DataFrame | pa.Table) -> pl.DataFrame:
    """Compounded return per calendar month: last equity of the month over the previous month's last."""
    frame = _equity(equity)
    first = float(frame["equity"][0])
    months = (
        frame.group_by(pl.col("ts").dt.truncate("1mo").alias("month"), maintain_order=True)
        .agg(pl.col("equity").last())
        .sort("month")
        .with_columns(pl.col("equity").shift(1, fill_value=first).alias("previous"))
    )
    return months.select(
        pl.col("month").dt.year().cast(pl.Int32).alias("year"),
        pl.col("month").dt.month().cast(pl.Int8).alias("month"),
        (pl.col("equity") / pl.col("previous") - 1.0).alias("return"),
    )


def drawdown_table(equity: pl.DataFrame | pa.Table, top: int = 5) -> pl.DataFrame:
    """The ``top`` deepest drawdowns with peak, trough and recovery times (recovery null if open)."""
    frame = _equity(equity)
    ts = frame["ts"]
    episodes = perf.drawdowns(perf.simple_returns(frame["equity"].to_numpy()), _ts_ns(frame))
    episodes = sorted(episodes, key=lambda e: e.depth)[:top]
    return pl.DataFrame(
        {
            "peak": [ts[e.peak_index] for e in episodes],
            "trough": [ts[e.trough_index] for e in episodes],
            "recovery": [
                None if e.recovery_index is None else ts[e.recovery_index] for e in episodes
            ],
            "depth": [e.depth for e in episodes],
            "duration_periods": [e.duration_periods for e in episodes],
            "duration_days": [
                None if e.duration is None else e.duration.total_seconds() / 86_400.0
                for e in episodes
            ],
        },
        schema={
            "peak": ts.dtype,
            "trough": ts.dtype,
            "recovery": ts.dtype,
            "depth": pl.Float64,
            "duration_periods": pl.Int64,
            "duration_days": pl.Float64,
        },
    )


def exposure_table(
    equity: pl.DataFrame | pa.Table, positions: pl.DataFrame | pa.Table | None = None
) -> pl.DataFrame | None:
    """Gross and net exposure per ts from POSITIONS market values (else the PNL columns); None if neither."""
    if positions is not None:
        frame = _frame(positions, "positions", ("ts", "symbol", "market_value"))
        return (
            frame.group_by("ts", maintain_order=True)
            .agg(
                pl.col("market_value").abs().sum().alias("gross_exposure"),
                pl.col("market_value").sum().alias("net_exposure"),
            )
            .sort("ts")
        )
    curve = _equity(equity)
    if {"gross_exposure", "net_exposure"} <= set(curve.columns):
        return curve.select("ts", "gross_exposure", "net_exposure")
    return None


def trade_statistics_table(fills: pl.DataFrame | pa.Table) -> pl.DataFrame:
    """Count, win rate, profit factor and average win/loss of closing fills (average cost, before fees)."""
    frame = _frame(fills, "fills", ("ts", "symbol", "side", "price", "quantity", "fee"))
    bad_side = frame.filter(~pl.col("side").is_in(["buy", "sell"]))
    if bad_side.height:
        raise ValueError(
            f"fills.side must be buy or sell, got {bad_side['side'].unique().to_list()}"
        )
    if (frame["quantity"] <= 0).any() or (frame["price"] <= 0).any():
        raise ValueError("fills need quantity > 0 and price > 0")
    books: dict[str, Position] = {}
    pnls: list[float] = []
    notional = 0.0
    for symbol, side, price, quantity, fee in frame.select(
        "symbol", "side", "price", "quantity", "fee"
    ).iter_rows():
        position = books.setdefault(symbol, Position(symbol))
        signed = quantity if side == "buy" else -quantity
        closing = position.quantity != 0.0 and (position.quantity > 0.0) != (signed > 0.0)
        before = position.realized_pnl
        position.apply(signed, price, fee, 0)
        notional += price * quantity
        if closing:
            pnls.append(position.realized_pnl - before)
    trades = np.asarray(pnls, dtype=np.float64)
    wins, losses = trades[trades > 0], trades[trades < 0]
    fees = float(frame["fee"].sum())
    realized = float(trades.sum())
    rows: list[tuple[str, float | None]] = [
        ("fills", float(frame.height)),
        ("closing trades", float(trades.size)),
        ("winning trades", float(wins.size)),
        ("losing trades", float(losses.size)),
        ("win rate", float(wins.size / trades.size) if trades.size else None),
        ("profit factor", _finite(perf.profit_factor(trades)) if trades.size else None),
        ("average win", float(wins.mean()) if wins.size else None),
        ("average loss", float(losses.mean()) if losses.size else None),
        ("realized pnl (before fees)", realized),
        ("fees", fees),
        ("realized pnl (after fees)", realized - fees),
        ("traded notional", notional),
    ]
    return pl.DataFrame(rows, schema={"statistic": pl.String, "value": pl.Float64}, orient="row")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# -- page ---------------------------------------------------------------------------------------


def _table_html(frame: pl.DataFrame) -> str:
    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "&ndash;"
        if isinstance(value, float):
            return f"{value:,.6g}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in frame.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figures(
    curve: pl.DataFrame,
    depth: np.ndarray,
    monthly: pl.DataFrame,
    rolling: np.ndarray,
    window: int,
    exposure: pl.DataFrame | None,
) -> dict[str, Any]:
    import plotly.graph_objects as go

    ts = curve["ts"].to_list()
    layout = {
        "height": 360,
        "margin": {"l": 50, "r": 20, "t": 30, "b": 40},
        "template": "plotly_white",
    }
    figures: dict[str, Any] = {}
    figures["Equity curve"] = go.Figure(
        go.Scatter(x=ts, y=curve["equity"].to_list(), mode="lines", name="equity"), layout=layout
    )
    figures["Drawdown"] = go.Figure(
        go.Scatter(x=ts, y=depth.tolist(), mode="lines", fill="tozeroy", name="drawdown"),
        layout={**layout, "yaxis": {"tickformat": ".1%"}},
    )
    years = sorted(set(monthly["year"].to_list()))
    grid = np.full((len(years), 12), np.nan)
    for year, month, value in monthly.iter_rows():
        grid[years.index(year), month - 1] = value
    labels = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    figures["Monthly returns"] = go.Figure(
        go.Heatmap(
            z=np.where(np.isnan(grid), None, grid).tolist(),
            x=labels,
            y=[str(y) for y in years],
            colorscale="RdYlGn",
            zmid=0.0,
            texttemplate="%{z:.1%}",
            hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>",
        ),
        layout={**layout, "height": max(200, 60 + 40 * len(years))},
    )
    figures["Rolling Sharpe"] = go.Figure(
        go.Scatter(
            x=ts[1:],
            y=np.where(np.isnan(rolling), None, rolling).tolist(),
            mode="lines",
            name=f"rolling Sharpe ({window} periods)",
        ),
        layout=layout,
    )
    if exposure is not None:
        ex_ts = exposure["ts"].to_list()
        figures["Exposure"] = go.Figure(
            [
                go.Scatter(
                    x=ex_ts, y=exposure["gross_exposure"].to_list(), mode="lines", name="gross"
                ),
                go.Scatter(x=ex_ts, y=exposure["net_exposure"].to_list(), mode="lines", name="net"),
            ],
            layout=layout,
        )
    return figures


def build_tearsheet(
    equity: pl.DataFrame | pa.Table,
    *,
    positions: pl.DataFrame | pa.Table | None = None,
    fills: pl.DataFrame | pa.Table | None = None,
    conventions: Conventions = EQUITIES,
    rolling_window: int = 63,
    title: str = "ShrivenQuant tearsheet",
) -> Tearsheet:
    """The tearsheet page (self-contained HTML) and its tables, from an equity curve and optional trades."""
    import plotly.io as pio

    curve = _equity(equity)
    values = curve["equity"].to_numpy()
    returns = perf.simple_returns(values)
    stats = perf.summary(returns=returns, conventions=conventions, timestamps=_ts_ns(curve))
    # A short sample still gets a rolling line: the window shrinks to half the sample.
    window = max(2, min(int(rolling_window), returns.size // 2))
    rolling = perf.rolling_sharpe(returns, window, conventions)
    tables: dict[str, pl.DataFrame] = {
        "metrics": metrics_table(stats),
        "monthly_returns": monthly_returns_table(curve),
        "drawdowns": drawdown_table(curve),
    }
    exposure = exposure_table(curve, positions)
    if exposure is not None:
        tables["exposure"] = exposure
    if fills is not None:
        tables["trade_statistics"] = trade_statistics_table(fills)
    figures = _figures(
        curve, perf.underwater(returns), tables["monthly_returns"], rolling, window, exposure
    )

    first = True
    sections = []
    for section in SECTION_TITLES:
        if section in figures:
            body = pio.to_html(
                figures[section],
                full_html=False,
                include_plotlyjs=first,
                config={"responsive": True},
            )
            first = False
        elif section == "Key metrics":
            body = _table_html(tables["metrics"])
        elif section == "Trade statistics":
            body = (
                _table_html(tables["trade_statistics"])
                if fills is not None
                else "<p>No fills given.</p>"
            )
        elif section == "Worst drawdowns":
            body = _table_html(tables["drawdowns"])
        else:
            body = "<p>No positions given.</p>"
        sections.append(f"<section><h2>{html.escape(section)}</h2>{body}</section>")
    c = conventions
    footer = html.escape(
        f"Conventions: {c.periods_per_year:g} periods/year, annual risk-free {c.risk_free_rate:g} "
        f"({c.rf_conversion}), ddof {c.ddof}, VaR {c.var_method} at {c.var_confidence:g} "
        f"(positive loss), rolling window {window} periods. See shriven.analytics.conventions."
    )
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th{background:#f3f3f3}td:first-child{text-align:left}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(str(curve['ts'][0]))} to {html.escape(str(curve['ts'][-1]))}</p>"
        + "".join(sections)
        + f"<footer><p>{footer}</p></footer></body></html>\n"
    )
    return Tearsheet(html=page, tables=tables, summary=stats)


def write_tearsheet(
    path: str | os.PathLike[str],
    equity: pl.DataFrame | pa.Table,
    **options: Any,
) -> Tearsheet:
    """Build the tearsheet and write it atomically (temp file + rename), so readers never see half a page."""
    sheet = build_tearsheet(equity, **options)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(sheet.html)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sheet
