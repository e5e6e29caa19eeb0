"""VADER, the lexicon baseline the transformer head must beat on held-out headlines."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

#: VADER's recommended cut-offs on the compound score.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05


def compound_to_label(
    compound: float,
    positive: float = POSITIVE_THRESHOLD,
    negative: float = NEGATIVE_THRESHOLD,
) -> str:
    """VADER's rule: >= positive is positive, <= negative is negative, else neutral."""
    if compound >= positive:
        return "positive"
    if compound <= negative:
        return "negative"
    return "neutral"


class VaderBaseline:
    """Lexicon sentiment from vaderSentiment: no model file, no training, a floor to beat.

    ``score`` is VADER's compound score in [-1, 1]; ``p_negative`` / ``p_neutral`` /
    ``p_positive`` are VADER's proportions of negative / neutral / positive text, which sum to
    about 1 but are not calibrated probabilities.
    """

    name = "vader"

    def __init__(
        self, positive: float = POSITIVE_THRESHOLD, negative: float = NEGATIVE_THRESHOLD
    ) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        if not negative < positive:
            raise ValueError(f"need negative < positive threshold, got {negative}, {positive}")
        self.positive = positive
        self.negative = negative
        self._analyzer = SentimentIntensityAnalyzer()

    def compound(self, texts: Sequence[str]) -> list[float]:
        """VADER compound score per text."""
        return [self._analyzer.polarity_scores(text)["compound"] for text in texts]

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Label per text from the compound score and the thresholds."""
        return [compound_to_label(c, self.positive, self.negative) for c in self.compound(texts)]

    def score_texts(self, texts: Sequence[str]) -> pl.DataFrame:
        """The ``SentimentModel`` frame: label, VADER's proportions and compound as score."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        scores = [self._analyzer.polarity_scores(text) for text in texts]
        return pl.DataFrame(
            {
                "label": [
                    compound_to_label(s["compound"], self.positive, self.negative) for s in scores
                ],
                "p_negative": [float(s["neg"]) for s in scores],
                "p_neutral": [float(s["neu"]) for s in scores],
                "p_positive": [float(s["pos"]) for s in scores],
                "score": [float(s["compound"]) for s in scores],
            },
            schema={
                "label": pl.String,
                "p_negative": pl.Float64,
                "p_neutral": pl.Float64,
                "p_positive": pl.Float64,
                "score": pl.Float64,
            },
        )
