"""Tasks around the sentiment batch: load (or train once) the model, score one window into the lake."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from models.sentiment.model_store import MODEL_ENV, LoadedModel, load_model
from models.sentiment.pipeline import PipelineConfig, run_batch
from shriven.config import load_settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from tasks import retry_unless_bad_input


def models_dir() -> str:
    """``<local_dir>/models``: where the default head is cached."""
    return load_settings().local_root.rstrip("/") + "/models"


def inbox_dir() -> str:
    """``<local_dir>/inbox/news``: news files dropped here are imported once."""
    return load_settings().local_root.rstrip("/") + "/inbox/news"


@task(cache_policy=NONE)
def load_sentiment_model_task(model_path: str | None = None, batch_size: int = 64) -> LoadedModel:
    """The model at ``model_path`` (or ``$SHRIVEN_SENTIMENT_MODEL``), else the cached default head.

    Not retried: a missing or corrupt model file (ModelFileError) does not heal by waiting.
    """
    logger = get_run_logger()
    path = model_path or os.environ.get(MODEL_ENV) or None
    started = time.perf_counter()
    loaded = load_model(models_dir(), path, batch_size=batch_size)
    meta = loaded.describe()
    logger.info(
        "model %s %s from %s in %.1fs; held-out macro-F1 %s vs VADER %s",
        loaded.name, loaded.version, meta["path"], time.perf_counter() - started,
        _fmt(meta["macro_f1"]), _fmt(meta["vader_macro_f1"]),
    )  # fmt: skip
    return loaded


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[5, 15], retry_condition_fn=retry_unless_bad_input, task_run_name="score {source} {label}")
def score_window_task(
    model: LoadedModel,
    start_ns: int,
    end_ns: int,
    source: str = "both",
    half_life_s: float = 1800.0,
    batch_size: int = 64,
    label: str = "",
) -> dict[str, object]:
    """Import, check, score and index one window's texts into the lake (news, scores, index, quarantine)."""
    settings = load_settings()
    logger = get_run_logger()

    def progress(number: int, batches: int, size: int, done: int, total: int, seconds: float) -> None:
        rate = size / seconds if seconds > 0 else float("inf")
        logger.info("batch %d/%d: %d texts (%d/%d) at %.0f texts/s", number, batches, size, done, total, rate)

    result = run_batch(
        Lake(settings.lake_root),
        Window(start_ns, end_ns),
        model,
        symbols=settings.symbols,
        source=source,  # type: ignore[arg-type]
        inbox_dir=inbox_dir(),
        now_ns=time.time_ns(),
        config=PipelineConfig(half_life_s=half_life_s, batch_size=batch_size, seed=settings.synthetic.seed),
        progress=progress,
    )
    logger.info(
        "%s %s: %d texts in, %d scored, %d already scored, %d quarantined %s; %d news, %d score, "
        "%d index rows; inbox %d processed, %d failed; %.0f texts/s, %.1fs",
        source, result.window, result.input_texts, result.scored_texts, result.already_scored,
        result.quarantined, result.reasons or "", result.news_rows, result.score_rows, result.index_rows,
        len(result.files_processed), len(result.files_failed), result.texts_per_second, result.seconds,
    )  # fmt: skip
    return asdict(result) | {"texts_per_second": result.texts_per_second}


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"
