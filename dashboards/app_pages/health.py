"""Health: the platform's components (lake, execution, kill switch, Prefect, gateway, flows) and
the engine's latency and reject metrics from the snapshot files of ``<state_dir>/metrics/``.

Widget keys are prefixed ``health_``. The report is :func:`shriven.observability.health.check_health`,
the same one the gateway serves at ``/health``; the gateway is probed at the sidebar's URL
(default ``SHRIVEN_GATEWAY_URL``). Its loaders are in :mod:`dashboards.data` (``load_health``, ``load_snapshots``).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboards import components, data
from shriven.config import Settings
from shriven.observability.health import HealthStatus
from shriven.observability.metrics import METRICS_DIR_NAME

#: Background colour of each status in the components table.
STATUS_COLOURS = {
    HealthStatus.OK: "#d4edda",
    HealthStatus.DEGRADED: "#fff3cd",
    HealthStatus.DOWN: "#f8d7da",
    HealthStatus.UNKNOWN: "#e2e3e5",
}
#: How the headline shows the overall status.
HEADLINES = {
    HealthStatus.OK: (st.success, ":material/check_circle:"),
    HealthStatus.DEGRADED: (st.warning, ":material/warning:"),
    HealthStatus.DOWN: (st.error, ":material/error:"),
    HealthStatus.UNKNOWN: (st.info, ":material/help:"),
}

NO_METRICS_HELP = """\
**No engine metrics yet** in `{metrics_dir}`.

The execution flow writes its latency histograms and reject counters there at each checkpoint.
Start the Prefect server, the deployments and a worker with `make serve`, then run the
`execution/paper` deployment from the Prefect UI (or `shriven trade`).
"""


def _colour_status(value: str) -> str:
    colour = STATUS_COLOURS.get(value)  # type: ignore[call-overload]  # StrEnum keys equal str
    return f"background-color: {colour}" if colour else ""


settings: Settings = st.session_state["settings"]
metrics_dir = str(Path(settings.state_dir) / METRICS_DIR_NAME)

st.title("Health")
run_every = components.auto_refresh_toggle("health")
gateway_url = st.sidebar.text_input(
    "Gateway URL",
    value=os.environ.get("SHRIVEN_GATEWAY_URL", ""),
    key="health_gateway_url",
    help="The gateway's base URL; its /health is probed. Empty: the gateway is not checked.",
).strip()
prefect_api_url = data.prefect_api_url()


@st.fragment(run_every=run_every)
def health() -> None:
    """The overall status, the components table and the engine's metrics."""
    report = data.load_health(settings.local_root, settings, prefect_api_url, gateway_url or None)
    show, icon = HEADLINES[report.status]
    show(f"**Platform {report.status.upper()}**", icon=icon)
    st.dataframe(
        data.components_table(report).to_pandas().style.map(_colour_status, subset=["status"]),
        hide_index=True,
        column_config={
            "component": st.column_config.TextColumn("Component"),
            "status": st.column_config.TextColumn("Status"),
            "detail": st.column_config.TextColumn("Detail", width="large"),
        },
    )

    st.subheader("Engine metrics")
    snapshots = data.load_snapshots(metrics_dir)
    latencies = data.latency_table(snapshots)
    rejects = data.rejects_by_reason(snapshots)
    if latencies.is_empty() and rejects.is_empty():
        st.info(NO_METRICS_HELP.format(metrics_dir=metrics_dir), icon=":material/info:")
    else:
        if not latencies.is_empty():
            st.caption("Latency quantiles: upper bounds of their histogram buckets.")
            st.dataframe(
                latencies,
                hide_index=True,
                column_config={
                    "component": st.column_config.TextColumn("Component"),
                    "metric": st.column_config.TextColumn("Latency"),
                    "count": st.column_config.NumberColumn("Observations", format="%d"),
                    "p50_us": st.column_config.NumberColumn("p50 (µs)", format="%.2f"),
                    "p99_us": st.column_config.NumberColumn("p99 (µs)", format="%.2f"),
                },
            )
        if not rejects.is_empty():
            st.caption("Order rejects by reason")
            st.bar_chart(rejects, x="reason", y="rejects", horizontal=True)
    components.refreshed_caption(run_every)


health()
