"""The labelled financial-headline set (``headlines.csv``), loaded and validated as polars."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from models.sentiment.errors import DatasetError

#: Sentiment classes, in the column order of every probability output.
LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SPLITS: tuple[str, ...] = ("train", "test")
DEFAULT_PATH = Path(__file__).with_name("headlines.csv")

SCHEMA = pl.Schema({"text": pl.String, "label": pl.String, "split": pl.String})


def load_headlines(path: str | Path = DEFAULT_PATH) -> pl.DataFrame:
    """The labelled set, checked, so training never runs on unknown labels or empty text.

    Returns
    -------
    pl.DataFrame
        ``text``, ``label`` (one of ``LABELS``) and ``split`` (``train`` / ``test``), in file order.

    Raises
    ------
    DatasetError
        The file is missing or unreadable, a column is missing, a label or split is unknown, a
        text is empty, a text appears twice, or a split or label is absent.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: headline file does not exist")
    try:
        frame = pl.read_csv(path, schema=SCHEMA)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read headline CSV: {exc}") from exc
    return validate_headlines(frame, source=str(path))


def validate_headlines(frame: pl.DataFrame, *, source: str = "headlines") -> pl.DataFrame:
    """The same frame with stripped text, or DatasetError naming the first problem found."""
    missing = [name for name in SCHEMA if name not in frame.columns]
    if missing:
        raise DatasetError(f"{source}: missing columns {missing}")
    frame = frame.select(
        pl.col("text").cast(pl.String).str.strip_chars(),
        pl.col("label").cast(pl.String),
        pl.col("split").cast(pl.String),
    )
    if frame.height == 0:
        raise DatasetError(f"{source}: no rows")
    empty = frame.filter(pl.col("text").is_null() | (pl.col("text") == ""))
    if empty.height:
        raise DatasetError(f"{source}: {empty.height} empty texts")
    bad_labels = set(frame["label"].drop_nulls().unique()) - set(LABELS)
    if bad_labels or frame["label"].null_count():
        raise DatasetError(f"{source}: unknown or null labels {sorted(bad_labels)}")
    bad_splits = set(frame["split"].drop_nulls().unique()) - set(SPLITS)
    if bad_splits or frame["split"].null_count():
        raise DatasetError(f"{source}: unknown or null splits {sorted(bad_splits)}")
    duplicated = frame.filter(pl.col("text").str.to_lowercase().is_duplicated())
    if duplicated.height:
        raise DatasetError(f"{source}: duplicate texts, e.g. {duplicated['text'][0]!r}")
    for split in SPLITS:
        present = set(frame.filter(pl.col("split") == split)["label"].unique())
        if present != set(LABELS):
            raise DatasetError(
                f"{source}: split {split!r} lacks labels {sorted(set(LABELS) - present)}"
            )
    return frame


def split_frame(frame: pl.DataFrame, split: str) -> pl.DataFrame:
    """Rows of one split (``train`` or ``test``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return frame.filter(pl.col("split") == split)
