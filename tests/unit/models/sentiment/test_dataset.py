"""The labelled headline set: balanced, unique, stratified, no leakage between splits."""

from __future__ import annotations

import re

import polars as pl
import pytest

from models.sentiment.dataset import LABELS, load_headlines, split_frame, validate_headlines
from models.sentiment.errors import DatasetError


@pytest.fixture(scope="module")
def headlines() -> pl.DataFrame:
    return load_headlines()


def test_balanced_with_enough_rows_per_class(headlines: pl.DataFrame) -> None:
    counts = dict(headlines.group_by("label").len().iter_rows())
    assert set(counts) == set(LABELS)
    assert min(counts.values()) >= 200
    assert max(counts.values()) == min(counts.values())
    assert headlines.height >= 600


def test_test_split_is_stratified_quarter(headlines: pl.DataFrame) -> None:
    for label in LABELS:
        rows = headlines.filter(pl.col("label") == label)
        share = rows.filter(pl.col("split") == "test").height / rows.height
        assert 0.2 <= share <= 0.3, (label, share)


def test_no_duplicates_and_no_leakage(headlines: pl.DataFrame) -> None:
    lowered = headlines["text"].str.to_lowercase()
    assert lowered.n_unique() == headlines.height
    train = set(split_frame(headlines, "train")["text"].str.to_lowercase())
    test = set(split_frame(headlines, "test")["text"].str.to_lowercase())
    assert not train & test

    # nor the same headline with other numbers (the split is drawn by template)
    def masked(texts: set[str]) -> set[str]:
        return {re.sub(r"\d[\d,.]*", "#", t) for t in texts}

    assert not masked(train) & masked(test)


def test_texts_are_varied_headlines(headlines: pl.DataFrame) -> None:
    texts = headlines["text"]
    assert texts.str.len_chars().min() >= 15
    assert texts.str.len_chars().max() <= 140
    assert texts.str.contains(r"\$[A-Z]{3,5}\b").sum() >= 50  # cashtags
    first_words = texts.str.split(" ").list.first()
    assert first_words.n_unique() >= 100


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (pl.lit("bullish").alias("label"), "unknown or null labels"),
        (pl.lit("  ").alias("text"), "empty texts"),
        (pl.lit("train").alias("split"), "split 'test' lacks"),
        (pl.lit("dev").alias("split"), "unknown or null splits"),
        (pl.lit("Same headline").alias("text"), "duplicate texts"),
    ],
)
def test_validation_rejects(headlines: pl.DataFrame, change: pl.Expr, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        validate_headlines(headlines.with_columns(change))


def test_missing_file_and_column(tmp_path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_headlines(tmp_path / "nope.csv")
    with pytest.raises(DatasetError, match="missing columns"):
        validate_headlines(pl.DataFrame({"text": ["a"], "label": ["neutral"]}))
