"""Deployment `sentiment`: headlines and posts of a window scored into news, scores and a decayed index."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows import OUTCOME_HOOKS
from models.sentiment.pipeline import SOURCES, parse_duration
from tasks.sentiment import load_sentiment_model_task, score_window_task

NS_PER_MINUTE = 60_000_000_000


def plan_window(
    start: datetime | None, end: datetime | None, lookback_minutes: int, now_ns: int
) -> tuple[int, int]:
    """``[start, end)`` in ns; by default the last ``lookback_minutes`` whole minutes before now."""
    end_ns = _ns(end) if end is not None else now_ns // NS_PER_MINUTE * NS_PER_MINUTE
    start_ns = _ns(start) if start is not None else end_ns - lookback_minutes * NS_PER_MINUTE
    if end_ns <= start_ns:
        raise ValueError(f"end ({end}) must be after start ({start})")
    return start_ns, end_ns


def _ns(moment: datetime) -> int:
    """A datetime as ns since the epoch; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@flow(name="sentiment", **OUTCOME_HOOKS)
def sentiment(
    start: datetime | None = None,
    end: datetime | None = None,
    source: str = "both",
    half_life: str = "30m",
    model_path: str | None = None,
    lookback_minutes: int = 15,
    batch_size: int = 64,
) -> dict[str, object]:
    """Score the texts of ``[start, end)`` (the last 15 minutes by default) and publish the index.

    ``source``: ``synthetic`` (news generated from the lake's bars), ``inbox`` (files in
    ``<local_dir>/inbox/news``) or ``both``. ``model_path``: a local HF sequence-classification
    model directory (else ``$SHRIVEN_SENTIMENT_MODEL``, else the cached MiniLM head).
    """
    logger = get_run_logger()
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if lookback_minutes < 1 or batch_size < 1:
        raise ValueError(f"lookback_minutes ({lookback_minutes}) and batch_size ({batch_size}) must be >= 1")
    half_life_s = parse_duration(half_life)
    start_ns, end_ns = plan_window(start, end, lookback_minutes, time.time_ns())
    model = load_sentiment_model_task(model_path, batch_size)
    result = score_window_task(
        model, start_ns, end_ns, source, half_life_s, batch_size, label=_label(start_ns, end_ns)
    )
    meta = model.describe()
    rows = [
        {
            "symbol": row["symbol"] or "(market-wide)",
            "texts": row["texts"],
            "mean_score": row["mean_score"],
            "last_index": row["last_index"],
            "model": meta["model"],
            "model_version": meta["model_version"],
            "held_out_macro_f1": _round(meta["macro_f1"]),
            "vader_macro_f1": _round(meta["vader_macro_f1"]),
        }
        for row in result["per_symbol"]  # type: ignore[union-attr]
    ]
    create_table_artifact(
        rows,
        key="sentiment",
        description=(
            f"sentiment {result['window']} from {source}: {result['scored_texts']} scored, "
            f"{result['quarantined']} quarantined; {meta['model']} held-out macro-F1 "
            f"{_round(meta['macro_f1'])} vs VADER {_round(meta['vader_macro_f1'])}"
        ),
    )
    logger.info("sentiment %s done: %d texts scored", result["window"], result["scored_texts"])
    return {**result, "model_metrics": meta}


def _label(start_ns: int, end_ns: int) -> str:
    def iso(ns: int) -> str:
        return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M")

    return f"{iso(start_ns)}..{iso(end_ns)}"


def _round(value: object) -> float | None:
    return round(value, 4) if isinstance(value, float) else None
