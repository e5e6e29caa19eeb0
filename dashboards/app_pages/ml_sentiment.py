"""ML and sentiment: registered models, the newest ML signals, the sentiment index and headlines.

The registry is read from ``<data dir>/models`` (its catalog and aliases), the rest from the
lake's ``signals``, ``sentiment_index``, ``sentiment_scores`` and ``news`` views. Each section
has its own empty state naming the flow that fills it. Widget keys are prefixed ``ml_``.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, components, data

NO_MODELS_HELP = """\
**No registered models** in `{registry}`.

Train and register one with the `train_model` flow (deployment `ml/train_model` in the
Prefect UI, `make serve`); promote a version to `production` for `ml_inference` to use it.
"""
NO_SIGNALS_HELP = """\
**No ML signals yet** (signals with source `ml:<model>`).

The `ml_inference` flow scores the latest features with the production model and appends
its targets to the signal log.
"""
NO_SENTIMENT_HELP = """\
**No sentiment yet**: no sentiment index and no scored headlines in the lake.

The `sentiment` flow scores the news and builds the index per symbol.
"""

lake_root: str = st.session_state["lake_root"]
settings = st.session_state["settings"]

st.title("ML & sentiment")

run_every = components.auto_refresh_toggle("ml")


def _highlight_production(row) -> list[str]:
    colour = "background-color: rgba(38, 166, 154, 0.25)" if row["production"] else ""
    return [colour] * len(row)


@st.fragment(run_every=run_every)
def models_and_sentiment() -> None:
    """Registry, ML signals and sentiment sections."""
    st.subheader("Registered models")
    models = data.load_registered_models(settings.local_root)
    if models.is_empty():
        st.info(
            NO_MODELS_HELP.format(registry=f"{settings.local_root}/models"),
            icon=":material/info:",
        )
    else:
        production = models.filter(pl.col("production"))
        names, versions, in_production = st.columns(3)
        names.metric("Models", f"{models.get_column('name').n_unique():,}")
        versions.metric("Versions", f"{models.height:,}")
        in_production.metric(
            "In production",
            ", ".join(f"{n} v{v}" for n, v in production.select("name", "version").iter_rows())
            or "none",
        )
        st.dataframe(
            models.to_pandas().style.apply(_highlight_production, axis=1),
            hide_index=True,
            column_config={
                "name": st.column_config.TextColumn("Model"),
                "version": st.column_config.NumberColumn("Version"),
                "aliases": st.column_config.TextColumn("Aliases"),
                "production": st.column_config.CheckboxColumn("Production"),
                "ic": st.column_config.NumberColumn("IC", format="%.4f"),
                "rank_ic": st.column_config.NumberColumn("Rank IC", format="%.4f"),
                "sharpe": st.column_config.NumberColumn("Sharpe", format="%.2f"),
                "training_start": st.column_config.DatetimeColumn("Trained from"),
                "training_end": st.column_config.DatetimeColumn("Trained to"),
            },
        )
        st.caption("Out-of-sample metrics of the walk-forward folds; production rows highlighted.")

    st.subheader("Latest ML signals")
    signals = data.load_ml_signals(lake_root, st.session_state["signals_root"])
    if signals.is_empty():
        st.info(NO_SIGNALS_HELP, icon=":material/info:")
    else:
        st.dataframe(
            signals,
            hide_index=True,
            column_config={"target": st.column_config.NumberColumn("Target", format="%.4f")},
        )

    st.subheader("Sentiment index")
    index = data.load_sentiment_index(lake_root)
    headlines = data.load_headlines(lake_root)
    if index.is_empty() and headlines.is_empty():
        st.info(NO_SENTIMENT_HELP, icon=":material/info:")
    else:
        if index.is_empty():
            st.caption("No sentiment index yet: the `sentiment` flow builds it from the scores.")
        else:
            st.caption(
                f"Decayed mean score of each symbol's texts ('market': market-wide texts), "
                f"last {data.SENTIMENT_LOOKBACK_DAYS} days."
            )
            st.plotly_chart(charts.sentiment_index_figure(index), key="ml_sentiment_chart")
        st.subheader("Latest scored headlines")
        if headlines.is_empty():
            st.caption("No scored headlines yet.")
        else:
            st.dataframe(
                headlines,
                hide_index=True,
                column_config={
                    "score": st.column_config.ProgressColumn(
                        "Score", format="%.2f", min_value=-1.0, max_value=1.0
                    ),
                    "text": st.column_config.TextColumn("Headline", width="large"),
                },
            )
    components.refreshed_caption(run_every)


models_and_sentiment()
