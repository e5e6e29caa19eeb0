"""One sentiment interface and its implementations: MiniLM + trained head, or any local HF model.

Every model returns the same frame from ``score_texts``: ``label``, ``p_negative``,
``p_neutral``, ``p_positive`` and ``score`` (= P(positive) - P(negative), in [-1, 1]), one row per
input text in input order, so flows and features never care which model produced it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import polars as pl
import torch

from models.sentiment.dataset import LABELS, load_headlines, split_frame
from models.sentiment.encoder import (
    DEFAULT_MAX_LENGTH,
    MiniLMEncoder,
    check_model_dir,
    configure_threads,
    load_pretrained,
    load_tokenizer,
    tokenize,
)
from models.sentiment.errors import LabelMappingError
from models.sentiment.head import SentimentHead

OUTPUT_SCHEMA = pl.Schema(
    {
        "label": pl.String,
        "p_negative": pl.Float64,
        "p_neutral": pl.Float64,
        "p_positive": pl.Float64,
        "score": pl.Float64,
    }
)

#: Lower-cased label names that mean each class (FinBERT, twitter-roberta, star-less variants).
LABEL_SYNONYMS: Mapping[str, str] = {
    "negative": "negative",
    "neg": "negative",
    "bearish": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
    "bullish": "positive",
}


@runtime_checkable
class SentimentModel(Protocol):
    """Anything that scores texts into the ``OUTPUT_SCHEMA`` frame."""

    name: str

    def score_texts(self, texts: Sequence[str]) -> pl.DataFrame:
        """One row per text: label, p_negative, p_neutral, p_positive, score."""
        ...


def probabilities_frame(proba: np.ndarray) -> pl.DataFrame:
    """The output frame from (n, 3) probabilities in ``LABELS`` order."""
    proba = np.asarray(proba, dtype=np.float64).reshape(-1, len(LABELS))
    return pl.DataFrame(
        {
            "label": [LABELS[i] for i in proba.argmax(axis=1)] if len(proba) else [],
            "p_negative": proba[:, 0],
            "p_neutral": proba[:, 1],
            "p_positive": proba[:, 2],
            "score": proba[:, 2] - proba[:, 0],
        },
        schema=OUTPUT_SCHEMA,
    )


def _check_texts(texts: Sequence[str]) -> list[str]:
    """A list of strings, refusing one bare string (which would score character by character)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    out = list(texts)
    bad = next((t for t in out if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts must be strings, got {type(bad).__name__}")
    return out


class MiniLMSentiment:
    """The default model: MiniLM sentence embeddings classified by a trained ``SentimentHead``."""

    name = "minilm-head"

    def __init__(
        self, encoder: MiniLMEncoder, head: SentimentHead, *, batch_size: int = 64
    ) -> None:
        if head.dim != encoder.dim:
            raise ValueError(f"head expects {head.dim}-d embeddings, encoder gives {encoder.dim}")
        self.encoder = encoder
        self.head = head
        self.batch_size = batch_size

    @classmethod
    def from_head_file(
        cls, head_path: str | Path, encoder: MiniLMEncoder | None = None
    ) -> MiniLMSentiment:
        """Load a saved head, checked against the encoder it was trained on."""
        encoder = encoder or MiniLMEncoder()
        head = SentimentHead.load(head_path, expect_encoder=encoder.identifier)
        return cls(encoder, head)

    def score_texts(self, texts: Sequence[str]) -> pl.DataFrame:
        """Encode then classify; see ``OUTPUT_SCHEMA``."""
        texts = _check_texts(texts)
        if not texts:
            return probabilities_frame(np.empty((0, len(LABELS))))
        vectors = self.encoder.encode(texts, batch_size=self.batch_size)
        return probabilities_frame(self.head.predict_proba(vectors))


def map_labels(id2label: Mapping[int, str], source: str | Path) -> list[int]:
    """For each model output index, the index in ``LABELS``; LabelMappingError if ambiguous.

    Names are matched case-insensitively through ``LABEL_SYNONYMS``. Every output must map, no
    two outputs to one class, and negative and positive must both be present (a two-class model
    gets P(neutral) = 0).
    """
    if not id2label:
        raise LabelMappingError(source, "model config has no id2label")
    mapping: list[int] = []
    for index in range(len(id2label)):
        raw = id2label.get(index, id2label.get(str(index)))  # type: ignore[call-overload]
        label = LABEL_SYNONYMS.get(str(raw).strip().lower())
        if label is None:
            raise LabelMappingError(
                source,
                f"label {raw!r} (output {index}) is not negative/neutral/positive; "
                f"id2label={dict(id2label)}",
            )
        mapping.append(LABELS.index(label))
    if len(set(mapping)) != len(mapping):
        raise LabelMappingError(source, f"two outputs map to one class: id2label={dict(id2label)}")
    if not {LABELS.index("negative"), LABELS.index("positive")} <= set(mapping):
        raise LabelMappingError(source, f"needs negative and positive outputs: {dict(id2label)}")
    return mapping


class HFSequenceClassifier:
    """Any local Hugging Face sequence-classification model (FinBERT, …) behind the same frame."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int = 32,
        num_threads: int | None = None,
    ) -> None:
        from transformers import AutoModelForSequenceClassification

        self.path = Path(path)
        self.name = f"hf:{self.path.name}"
        weights = check_model_dir(self.path)
        self.tokenizer = load_tokenizer(self.path)
        self.model = load_pretrained(AutoModelForSequenceClassification, self.path, weights)
        self.columns = map_labels(self.model.config.id2label, self.path / "config.json")
        limit = getattr(self.model.config, "max_position_embeddings", max_length)
        self.max_length = min(max_length, limit)
        self.batch_size = batch_size
        configure_threads(num_threads)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) probabilities in ``LABELS`` order: softmax of the logits, columns remapped."""
        texts = _check_texts(texts)
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                chunk = texts[start : start + self.batch_size]
                batch, _ = tokenize(self.tokenizer, chunk, self.max_length)
                logits = self.model(**batch).logits.float()
                proba = torch.softmax(logits, dim=-1).numpy()
                out[start : start + len(chunk), self.columns] = proba
        return out

    def score_texts(self, texts: Sequence[str]) -> pl.DataFrame:
        """See ``OUTPUT_SCHEMA``."""
        return probabilities_frame(self.predict_proba(texts))


def train_default_head(
    frame: pl.DataFrame | None = None,
    *,
    encoder: MiniLMEncoder | None = None,
    save_to: str | Path | None = None,
    c: float = 1.0,
) -> MiniLMSentiment:
    """Fit the head on the train split of the labelled set: the default sentiment model."""
    frame = frame if frame is not None else load_headlines()
    encoder = encoder or MiniLMEncoder()
    train = split_frame(frame, "train")
    vectors = encoder.encode(train["text"].to_list())
    head = SentimentHead.fit(vectors, train["label"].to_list(), encoder=encoder.identifier, c=c)
    if save_to is not None:
        head.save(save_to)
    return MiniLMSentiment(encoder, head)


@dataclass(frozen=True)
class Evaluation:
    """Held-out quality of one model: accuracy, macro-F1 and the confusion matrix."""

    model: str
    n: int
    accuracy: float
    macro_f1: float
    #: rows = true label, columns = predicted, both in ``labels`` order
    confusion: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...] = LABELS


def evaluate(
    model: SentimentModel, frame: pl.DataFrame | None = None, *, split: str = "test"
) -> Evaluation:
    """Score one split of the labelled set (the held-out test split by default)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    frame = frame if frame is not None else load_headlines()
    rows = split_frame(frame, split)
    truth = rows["label"].to_list()
    predicted = model.score_texts(rows["text"].to_list())["label"].to_list()
    matrix = confusion_matrix(truth, predicted, labels=list(LABELS))
    return Evaluation(
        model=getattr(model, "name", type(model).__name__),
        n=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=list(LABELS), average="macro")),
        confusion=tuple(tuple(int(v) for v in row) for row in matrix),
    )
