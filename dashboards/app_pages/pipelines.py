"""Pipelines: the latest Prefect flow runs and their states, read through the Prefect API.

Widget keys are prefixed ``pipelines_``. The API is ``PREFECT_API_URL`` when set, else the
server ``make serve`` starts; an API that does not answer is shown, never raised.
"""

from __future__ import annotations

import streamlit as st

from dashboards import components, data

#: Flow runs listed, newest expected start first.
RUN_LIMIT = 50

UNREACHABLE_HELP = """\
**The Prefect API at `{api_url}` is not reachable** ({error}).

Start the Prefect server, the deployments and a worker with:

```
make serve
```

then open the Prefect UI at http://127.0.0.1:4200. To read another server, set `PREFECT_API_URL`
before `streamlit run`. The answer is kept {ttl} s; turn on auto-refresh to look again
every {refresh} s.
"""

NO_RUNS_HELP = """\
**No flow runs yet** on `{api_url}`. Run a deployment from the Prefect UI, or one flow from the
command line, for example `shriven pipeline` or `shriven backtest --start 2026-01-05 --days 1`
with `PREFECT_API_URL={api_url}` set.
"""

st.title("Pipelines")
run_every = components.auto_refresh_toggle("pipelines")
api_url = data.prefect_api_url()


@st.fragment(run_every=run_every)
def pipelines(api_url: str) -> None:
    """State counts and the table of the latest flow runs."""
    result = data.load_flow_runs(api_url, RUN_LIMIT)
    if result.runs is None:
        st.info(
            UNREACHABLE_HELP.format(
                api_url=api_url,
                error=result.error,
                ttl=data.FLOW_RUNS_TTL_S,
                refresh=components.REFRESH_SECONDS,
            ),
            icon=":material/cloud_off:",
        )
        return
    runs = result.runs
    if runs.is_empty():
        st.info(NO_RUNS_HELP.format(api_url=api_url), icon=":material/info:")
        return

    counts = data.flow_run_state_counts(runs)
    columns = st.columns(max(1, min(6, counts.height)))
    for column, (state, count) in zip(columns, counts.iter_rows(), strict=False):
        column.metric(state, f"{count:,}")
    st.caption(f"The latest {runs.height} flow runs of `{api_url}`, newest first.")
    st.dataframe(
        runs.select("flow", "name", "state_name", "start_time", "end_time", "duration_s", "tags"),
        hide_index=True,
        column_config={
            "flow": st.column_config.TextColumn("Flow"),
            "name": st.column_config.TextColumn("Run"),
            "state_name": st.column_config.TextColumn("State"),
            "start_time": st.column_config.DatetimeColumn("Started (UTC)"),
            "end_time": st.column_config.DatetimeColumn("Ended (UTC)"),
            "duration_s": st.column_config.NumberColumn("Run time (s)", format="%.1f"),
            "tags": st.column_config.TextColumn("Tags"),
        },
    )
    components.refreshed_caption(run_every)


pipelines(api_url)
