"""Typed errors of the sentiment package, so callers can tell a bad model file from a bug."""

from __future__ import annotations

from pathlib import Path


class SentimentError(Exception):
    """Base of every error the sentiment package raises on purpose."""


class ModelFileError(SentimentError):
    """A model, tokenizer or head file is missing, corrupt or does not fit what loads it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class LabelMappingError(ModelFileError):
    """A classifier's labels cannot be mapped onto negative / neutral / positive."""


class DatasetError(SentimentError, ValueError):
    """The labelled headline set fails validation."""
