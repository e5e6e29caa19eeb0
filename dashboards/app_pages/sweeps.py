"""Parameter sweeps: one metric of a sweep as a heatmap over two parameters, and its best sets.

Reads the lake's ``sweep_results`` view (one row per parameter set of ``shriven sweep`` or the
``sweep`` flow). Pick a sweep (newest first), the metric and the two axes (fast × slow by
default); a parameter off the axes with several values gets a selector, so each cell is one set.
The best sets are ranked over the whole sweep. Widget keys are prefixed ``sweeps_``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from dashboards import components, data

NO_SWEEPS_HELP = """\
**No parameter sweeps in the lake yet** (`{lake_root}`).

Sweep the EMA-cross strategy over a grid of parameters (one row per parameter set):

```
shriven sweep --start <day> --fast 3 5 8 --slow 13 21 34
```

or run the `sweep/research` deployment from the Prefect UI (`make serve`).
"""

PARAMETER_LABELS = {
    "fast": "Fast EMA span",
    "slow": "Slow EMA span",
    "quantity": "Quantity",
    "allow_short": "Shorts",
}

lake_root: str = st.session_state["lake_root"]

st.title("Parameter sweeps")

run_every = components.auto_refresh_toggle("sweeps")


def _value_label(parameter: str, value: Any) -> str:
    """A parameter value as an axis tick or option: 5, 0.5, allowed / flat."""
    if parameter == "allow_short":
        return "allowed" if value else "flat"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _metric_label(metric: str) -> str:
    return data.SWEEP_METRICS[metric][0]


def _shown(metric: str, value: float | None) -> str:
    """A metric for a tile in its format; "–" when undefined (None or NaN, e.g. no dispersion)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, data.SWEEP_METRICS[metric][1])


def _select(
    label: str,
    options: Sequence[Any],
    key: str,
    default: Any,
    format_func: Callable[[Any], str] = str,
    container: Any = st,
) -> Any:
    """A selectbox that keeps its choice while it is still an option, else falls back to ``default``."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    return container.selectbox(label, options, key=key, format_func=format_func)


def heatmap_figure(heatmap: data.SweepHeatmap, metric: str) -> go.Figure:
    """The metric over two parameters, each cell annotated with its value."""
    label, fmt, higher_is_better = data.SWEEP_METRICS[metric]
    x_title, y_title = PARAMETER_LABELS[heatmap.x_name], PARAMETER_LABELS[heatmap.y_name]
    figure = go.Figure(
        go.Heatmap(
            z=heatmap.z,
            x=[_value_label(heatmap.x_name, v) for v in heatmap.x],
            y=[_value_label(heatmap.y_name, v) for v in heatmap.y],
            colorscale="RdYlGn" if higher_is_better else "RdYlGn_r",
            zmid=0.0 if metric in ("sharpe_ratio", "total_return") else None,
            texttemplate=f"%{{z:{fmt}}}",
            hovertemplate=(
                f"{x_title} %{{x}}, {y_title} %{{y}}: {label} %{{z:{fmt}}}<extra></extra>"
            ),
            colorbar={"title": {"text": label}},
        )
    )
    figure.update_layout(
        height=max(240, 120 + 48 * len(heatmap.y)),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": x_title, "type": "category"},
        yaxis={"title": y_title, "type": "category"},
    )
    return figure


@st.fragment(run_every=run_every)
def sweep_explorer() -> None:
    """Sweep and metric pickers, the heatmap, the best set and the top sets."""
    sweeps = data.load_sweeps(lake_root)
    if sweeps.is_empty():
        st.info(NO_SWEEPS_HELP.format(lake_root=lake_root), icon=":material/info:")
        return
    catalog = {row["sweep"]: row for row in sweeps.iter_rows(named=True)}
    sweep = _select(
        "Sweep",
        list(catalog),
        "sweeps_sweep",
        sweeps.item(0, "sweep"),
        format_func=lambda s: f"{s} · started {catalog[s]['date']} · {catalog[s]['sets']:,} sets",
    )
    rows = data.load_sweep(lake_root, sweep)
    values = data.sweep_parameter_values(rows)

    metric_column, x_column, y_column = st.columns(3)
    metric = _select(
        "Metric", list(data.SWEEP_METRICS), "sweeps_metric", "sharpe_ratio",
        format_func=_metric_label, container=metric_column,
    )  # fmt: skip
    parameters = list(data.SWEEP_PARAMETERS)
    x_name = _select(
        "Horizontal axis", parameters, "sweeps_x", "fast",
        format_func=PARAMETER_LABELS.get, container=x_column,
    )  # fmt: skip
    y_name = _select(
        "Vertical axis", [p for p in parameters if p != x_name], "sweeps_y", "slow",
        format_func=PARAMETER_LABELS.get, container=y_column,
    )  # fmt: skip

    fixed: dict[str, Any] = {}
    others = [p for p in parameters if p not in (x_name, y_name)]
    for parameter, column in zip(others, st.columns(len(others)), strict=True):
        choices = values[parameter]
        if len(choices) > 1:
            fixed[parameter] = _select(
                PARAMETER_LABELS[parameter], choices, f"sweeps_{parameter}", choices[0],
                format_func=lambda v, p=parameter: _value_label(p, v), container=column,
            )  # fmt: skip
        elif choices:
            column.caption(f"{PARAMETER_LABELS[parameter]}: {_value_label(parameter, choices[0])}")

    st.subheader(
        f"{_metric_label(metric)} over {PARAMETER_LABELS[x_name]} × "
        f"{PARAMETER_LABELS[y_name]}"
    )
    heatmap = data.sweep_heatmap(data.filter_sweep(rows, fixed), metric, x_name, y_name)
    st.plotly_chart(heatmap_figure(heatmap, metric), key="sweeps_heatmap")

    top = data.top_sweep_sets(rows, metric)
    best = top.row(0, named=True)
    st.subheader("Best set")
    tiles = st.columns(6)
    tiles[0].metric(_metric_label(metric), _shown(metric, best[metric]))
    tiles[1].metric("Set", f"#{best['set_id']}")
    for tile, parameter in zip(tiles[2:], data.SWEEP_PARAMETERS, strict=True):
        tile.metric(PARAMETER_LABELS[parameter], _value_label(parameter, best[parameter]))

    st.subheader(f"Top {data.SWEEP_TOP_SETS} sets by {_metric_label(metric).lower()}")
    st.dataframe(
        top,
        hide_index=True,
        column_config={
            "set_id": st.column_config.NumberColumn("Set"),
            "fast": st.column_config.NumberColumn("Fast"),
            "slow": st.column_config.NumberColumn("Slow"),
            "quantity": st.column_config.NumberColumn("Quantity", format="%g"),
            "allow_short": st.column_config.CheckboxColumn("Shorts"),
            "total_return": st.column_config.NumberColumn("Total return", format="percent"),
            "sharpe_ratio": st.column_config.NumberColumn("Sharpe", format="%.2f"),
            "max_drawdown": st.column_config.NumberColumn("Max drawdown", format="percent"),
            "trades": st.column_config.NumberColumn("Trades", format="%d"),
            "fees": st.column_config.NumberColumn("Fees", format="%.2f"),
            "turnover": st.column_config.NumberColumn("Turnover", format="%.2f"),
            "final_equity": st.column_config.NumberColumn("Final equity", format="%.2f"),
            "periods": st.column_config.NumberColumn("Periods", format="%d"),
        },
    )
    st.caption(
        f"Ranked over all {rows.height:,} finished sets of the sweep "
        f"({'highest' if data.SWEEP_METRICS[metric][2] else 'lowest'} first; undefined last)."
    )
    components.refreshed_caption(run_every)


sweep_explorer()
