"""Text checks: each reason on the texts that deserve it, English headlines pass, nothing is lost."""

from __future__ import annotations

import polars as pl
import pytest

from models.sentiment._quarantine import frame_quarantine
from models.sentiment.text_checks import (
    TRUNCATED_COLUMN,
    TextCheckConfig,
    TextReason,
    check_texts,
    split_scoreable,
)
from shriven.schemas import QUARANTINE

ENGLISH = [
    "ACME shares surge 8% after earnings beat",
    "Acme beats estimates, raises guidance",  # no stopwords at all
    "$BOLT getting crushed, down 3.2%",
    "Nestlé and Crux Semiconductors sign supply deal",  # one accented letter
    "Fed holds rates steady as inflation cools",
    "Bitcoin slides below $60,000 🚀📉",  # emoji beside English
    "Is it time to buy the dip in CRUX?",
]

NON_ENGLISH = [
    "Die Aktie von ACME steigt nach starken Zahlen",  # German, ASCII only
    "Der Umsatz ist im Quartal um zehn Prozent gestiegen, sagt der Vorstand",
    "Börsenkurs fällt über fünf Prozent",  # German with umlauts
    "比特币价格今天大幅上涨",  # Chinese
    "阿里巴巴 BABA 股价下跌",  # Chinese with a ticker
    "Акции ACME выросли на пять процентов",  # Russian with a ticker
    "Рынок падает",
    "🚀🚀🌕",  # emoji only
    "📉💀",
    "12345 678",  # no letters
    "Le titre ACME progresse après des résultats solides",  # French
    "El precio de ACME sube con fuerza por la demanda",  # Spanish
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english_texts_are_scoreable(text: str) -> None:
    assert check_texts([text]) == [None]


@pytest.mark.parametrize("text", NON_ENGLISH)
def test_non_english_texts_are_flagged(text: str) -> None:
    assert check_texts([text]) == [TextReason.NON_ENGLISH]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, TextReason.NOT_TEXT),
        (b"ACME up", TextReason.NOT_TEXT),
        (42, TextReason.NOT_TEXT),
        (3.5, TextReason.NOT_TEXT),
        (["ACME", "up"], TextReason.NOT_TEXT),
        ("", TextReason.EMPTY),
        ("   \t\n ", TextReason.EMPTY),
    ],
)
def test_non_text_and_empty(value: object, reason: TextReason) -> None:
    assert check_texts([value]) == [reason]


def test_long_texts_are_kept_cut_at_a_word_and_flagged_by_default() -> None:
    long_text = "ACME " + "rallies strongly " * 100
    split = split_scoreable(
        pl.DataFrame({"text": ["ACME up", long_text]}), TextCheckConfig(max_chars=100)
    )
    assert split.quarantined.height == 0
    assert split.scoreable.get_column(TRUNCATED_COLUMN).to_list() == [False, True]
    cut = split.scoreable.get_column("text")[1]
    assert len(cut) <= 100
    assert long_text.startswith(cut)
    assert not cut.endswith(" ")
    assert long_text[len(cut)] == " "  # cut at a word boundary


def test_long_texts_can_be_quarantined_instead() -> None:
    config = TextCheckConfig(max_chars=20, long_text="quarantine")
    assert check_texts(["short and sweet", "x" * 21], config) == [None, TextReason.TOO_LONG]


def test_split_of_a_mixed_object_column_conserves_rows_and_gives_reasons() -> None:
    values = [ENGLISH[0], None, b"bytes", 7, "  ", NON_ENGLISH[3], ENGLISH[1], NON_ENGLISH[7]]
    frame = pl.DataFrame(
        {
            "text_id": [f"t{i}" for i in range(len(values))],
            "text": pl.Series(values, dtype=pl.Object),
        }
    )
    split = split_scoreable(frame)
    assert split.scoreable.height + split.quarantined.height == frame.height
    assert split.scoreable.get_column("text_id").to_list() == ["t0", "t6"]
    assert split.scoreable.schema["text"] == pl.String
    assert dict(zip(split.quarantined["text_id"], split.quarantined["reason"], strict=True)) == {
        "t1": "not_text",
        "t2": "not_text",
        "t3": "not_text",
        "t4": "empty",
        "t5": "non_english",
        "t7": "non_english",
    }
    assert split.reasons == {"not_text": 3, "empty": 1, "non_english": 2}
    assert split.quarantined.filter(pl.col("text_id") == "t2")["text"][0] == "b'bytes'"
    table = frame_quarantine(split.quarantined, ingested_at_ns=1)
    assert table.schema.equals(QUARANTINE, check_metadata=True)
    assert table.column("reason").to_pylist() == split.quarantined["reason"].to_list()


def test_string_column_nulls_and_numeric_columns_are_not_text() -> None:
    split = split_scoreable(pl.DataFrame({"text": ["ACME up", None]}))
    assert split.quarantined["reason"].to_list() == ["not_text"]
    numbers = split_scoreable(pl.DataFrame({"text": [1, 2]}))
    assert numbers.scoreable.height == 0
    assert numbers.quarantined["reason"].to_list() == ["not_text"] * 2


def test_missing_column_and_bad_config_raise() -> None:
    with pytest.raises(ValueError, match="text"):
        split_scoreable(pl.DataFrame({"body": ["x"]}))
    with pytest.raises(ValueError, match="max_chars"):
        TextCheckConfig(max_chars=0)
