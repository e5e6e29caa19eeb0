"""Checks a text must pass before an English sentiment model scores it, with a reason for each reject.

A model fed ``None``, bytes, an empty string, a Russian post or an emoji string still returns
probabilities, so these would enter the index as confident noise. Each text gets at most one
:class:`TextReason` (the first that applies, in the order of the enum):

- ``not_text``: the value is not a string (``None``, bytes, a number, a list ...).
- ``empty``: nothing but whitespace.
- ``too_long``: longer than ``max_chars``. By default the text is **kept**, cut at ``max_chars``
  (back to the last space when one is near) and flagged ``truncated``: the encoder reads only its
  first few hundred tokens anyway, and a long article leads with its point. With
  ``long_text="quarantine"`` it is rejected instead.
- ``non_english``: a cheap heuristic, no language model. Letters (``\\p{L}``) that are ASCII must be
  at least ``min_ascii_share`` of all letters (this rejects Chinese, Russian, Greek ...), and the
  text must not read as another Latin-script language: ``min_foreign_stopwords`` or more stopwords
  of German, French, Spanish, Italian, Dutch or Portuguese and more of them than English
  stopwords, or ``min_foreign_letters`` or more letters English never uses (``ä ö ü ß ñ ø ł`` ...;
  accents such as ``é`` are left alone, for "Nestlé" and "café").
  A text without letters (emoji or digits only) is non-English too: an English model reads nothing.
  Terse English headlines have few stopwords, so English stopwords are not *required*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import polars as pl

from models.sentiment._quarantine import REASON_COLUMN


class TextReason(StrEnum):
    """Why a text cannot be scored (``too_long`` only when long texts are quarantined)."""

    NOT_TEXT = "not_text"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NON_ENGLISH = "non_english"


#: Column added to scoreable rows: the text was cut to ``max_chars``.
TRUNCATED_COLUMN = "truncated"

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    "the a an of to and in on for is are was were be been with as at by from that this it its "
    "after over into than but or not no has have had will would can could amid up down out "
    "about after before against despite while why how what who when which their his her they "
    "we you our more most new just so if all".split()
)

#: Frequent function words of other Latin-script languages that are not English words.
FOREIGN_STOPWORDS: frozenset[str] = (
    frozenset(
        # German
        "der die das und ist nicht mit von auf fur zu den dem des ein eine einen einer nach bei aus "
        "wird sich auch wie noch sind werden hat oder aber uber zum zur"
        # French
        " le la les des du et est une pour dans sur avec qui que pas sont aux cette ce ses leur plus"
        # Spanish
        " el los las del por con para una se su al como pero sus esta este"
        # Italian
        " il di che della per non gli nel sono delle alla"
        # Dutch
        " het een van niet zijn voor met dat ook wordt naar"
        # Portuguese
        " os do da dos das em um com nao não"
        # with their own letters
        " für über während müssen més más también après très être à".split()
    )
    - ENGLISH_STOPWORDS
)

#: Letters of other Latin-script alphabets that English loanwords ("Nestlé", "café") do not use.
_FOREIGN_LETTERS = "[äöüßñãõåøæœłąęśźżčřšžğış]"


@dataclass(frozen=True)
class TextCheckConfig:
    """Limits of the text checks; see the module docstring for what each one means."""

    max_chars: int = 1000
    long_text: Literal["truncate", "quarantine"] = "truncate"
    min_ascii_share: float = 0.85
    min_foreign_stopwords: int = 2
    min_foreign_letters: int = 2

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")
        if self.long_text not in ("truncate", "quarantine"):
            raise ValueError(
                f"long_text must be 'truncate' or 'quarantine', got {self.long_text!r}"
            )
        if not 0.0 <= self.min_ascii_share <= 1.0:
            raise ValueError(f"min_ascii_share must be in [0, 1], got {self.min_ascii_share}")
        if self.min_foreign_letters < 1:
            raise ValueError(f"min_foreign_letters must be >= 1, got {self.min_foreign_letters}")
        if self.min_foreign_stopwords < 1:
            raise ValueError(
                f"min_foreign_stopwords must be >= 1, got {self.min_foreign_stopwords}"
            )


@dataclass(frozen=True)
class TextSplit:
    """Rows to score (text as String, maybe truncated) and rejected rows with a ``reason`` column."""

    scoreable: pl.DataFrame
    quarantined: pl.DataFrame
    reasons: dict[str, int] = field(default_factory=dict)


def check_texts(
    values: Sequence[object], config: TextCheckConfig | None = None
) -> list[TextReason | None]:
    """The reason each value cannot be scored (None: scoreable), for callers holding plain Python values."""
    config = config or TextCheckConfig()
    strings = [v if isinstance(v, str) else None for v in values]
    reasons = _string_reasons(pl.Series("text", strings, dtype=pl.String), config)
    return [
        TextReason.NOT_TEXT
        if not isinstance(v, str)
        else (TextReason(r) if r is not None else None)
        for v, r in zip(values, reasons.to_list(), strict=True)
    ]


def split_scoreable(
    frame: pl.DataFrame, config: TextCheckConfig | None = None, *, text_column: str = "text"
) -> TextSplit:
    """Split texts into scoreable rows and rejected rows with a reason, dropping none.

    Parameters
    ----------
    frame
        Any frame with a text column (NEWS rows, imported files). A String column's nulls are
        ``not_text``; an Object column (mixed Python values) is checked value by value; a column
        of any other dtype (numbers, bytes) is ``not_text`` throughout.
    config
        Limits; defaults to :class:`TextCheckConfig`.
    text_column
        Name of the text column.

    Returns
    -------
    TextSplit
        ``scoreable``: the input columns with the text as String (cut when too long) plus a
        boolean ``truncated``; ``quarantined``: the input columns with the text as String (a
        non-string value as its ``repr``, None as null) plus ``reason``. Row counts add up to the input.
    """
    config = config or TextCheckConfig()
    if text_column not in frame.columns:
        raise ValueError(f"frame has no {text_column!r} column (columns: {frame.columns})")
    column = frame.get_column(text_column)
    if column.dtype == pl.String:
        strings = column
        is_text = column.is_not_null()
    elif column.dtype == pl.Object:
        values = column.to_list()
        strings = pl.Series(
            text_column, [v if isinstance(v, str) else None for v in values], pl.String
        )
        is_text = pl.Series([isinstance(v, str) for v in values], dtype=pl.Boolean)
        shown = pl.Series(
            text_column,
            [v if isinstance(v, str) or v is None else repr(v) for v in values],
            pl.String,
        )
        frame = frame.with_columns(shown)
    else:
        strings = pl.Series(text_column, [None] * frame.height, pl.String)
        is_text = pl.Series([False] * frame.height, dtype=pl.Boolean)
        frame = frame.with_columns(
            pl.Series(
                text_column, [None if v is None else repr(v) for v in column.to_list()], pl.String
            )
        )
    reasons = pl.select(
        pl.when(is_text.not_())
        .then(pl.lit(TextReason.NOT_TEXT.value))
        .otherwise(_string_reasons(strings, config))
        .alias(REASON_COLUMN)
    ).to_series()
    keep = reasons.is_null()
    scoreable = frame.filter(keep)
    long_rows = scoreable.get_column(text_column).str.len_chars() > config.max_chars
    scoreable = scoreable.with_columns(
        pl.Series(
            text_column,
            [_cut(t, config.max_chars) for t in scoreable.get_column(text_column)],
            pl.String,
        ),
        long_rows.alias(TRUNCATED_COLUMN),
    )
    quarantined = frame.with_columns(reasons).filter(keep.not_())
    counts = quarantined.get_column(REASON_COLUMN).value_counts()
    return TextSplit(
        scoreable=scoreable,
        quarantined=quarantined,
        reasons={str(r): int(n) for r, n in counts.iter_rows()},
    )


def _string_reasons(strings: pl.Series, config: TextCheckConfig) -> pl.Series:
    """The first failing reason per string (null: passes), vectorised; null strings pass here."""
    text = pl.col("t")
    letters = text.str.count_matches(r"\p{L}")
    ascii_letters = text.str.count_matches(r"[A-Za-z]")
    lower = text.str.to_lowercase()
    tokens = lower.str.extract_all(r"\p{L}+")
    marked = lower.str.count_matches(_FOREIGN_LETTERS)
    english = tokens.list.eval(pl.element().is_in(list(ENGLISH_STOPWORDS))).list.sum()
    foreign = tokens.list.eval(pl.element().is_in(list(FOREIGN_STOPWORDS))).list.sum()
    too_long = (
        pl.lit(TextReason.TOO_LONG.value)
        if config.long_text == "quarantine"
        else pl.lit(None, dtype=pl.String)
    )
    reason = (
        pl.when(text.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(text.str.strip_chars().str.len_chars() == 0)
        .then(pl.lit(TextReason.EMPTY.value))
        .when(text.str.len_chars() > config.max_chars)
        .then(too_long)
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    non_english = (
        (letters == 0)
        | (ascii_letters < config.min_ascii_share * letters)
        | ((foreign >= config.min_foreign_stopwords) & (foreign > english))
        | (marked >= config.min_foreign_letters)
    )
    reason = (
        pl.when(reason.is_null() & text.is_not_null() & non_english)
        .then(pl.lit(TextReason.NON_ENGLISH.value))
        .otherwise(reason)
    )
    return pl.DataFrame({"t": strings}).select(reason.alias(REASON_COLUMN)).to_series()


def _cut(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars``, at the last space when it is in the last fifth of the cut."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    space = head.rfind(" ")
    if space >= 0.8 * max_chars:
        head = head[:space]
    return head.rstrip()
