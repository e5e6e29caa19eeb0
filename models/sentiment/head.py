"""A multinomial logistic-regression head over sentence embeddings, saved as plain ``.npz``.

scikit-learn fits it; prediction is a softmax over ``X @ coef.T + intercept`` in numpy, so a
saved head is only arrays (coefficients, intercepts, classes, the encoder it was trained on) and
loading never unpickles code.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.sentiment.dataset import LABELS
from models.sentiment.errors import ModelFileError

FORMAT_VERSION = 1
_KEYS = ("format_version", "coef", "intercept", "classes", "encoder")


class SentimentHead:
    """Embeddings to P(negative), P(neutral), P(positive); score = P(positive) - P(negative)."""

    def __init__(
        self,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: Sequence[str] = LABELS,
        encoder: str = "",
    ) -> None:
        coef = np.asarray(coef, dtype=np.float64)
        intercept = np.asarray(intercept, dtype=np.float64)
        classes = tuple(str(c) for c in classes)
        if sorted(classes) != sorted(LABELS):
            raise ValueError(f"classes must be {LABELS} in some order, got {classes}")
        if coef.ndim != 2 or coef.shape[0] != len(classes) or intercept.shape != (len(classes),):
            raise ValueError(
                f"coef must be ({len(classes)}, dim) and intercept ({len(classes)},), "
                f"got {coef.shape} and {intercept.shape}"
            )
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ValueError("coefficients must be finite")
        order = [classes.index(label) for label in LABELS]
        self.coef = coef[order]
        self.intercept = intercept[order]
        self.classes: tuple[str, ...] = LABELS
        self.encoder = encoder

    @property
    def dim(self) -> int:
        """Embedding width the head expects."""
        return int(self.coef.shape[1])

    @classmethod
    def fit(
        cls,
        embeddings: np.ndarray,
        labels: Sequence[str],
        *,
        encoder: str = "",
        c: float = 1.0,
        max_iter: int = 2000,
    ) -> SentimentHead:
        """Fit a multinomial logistic regression (lbfgs, L2 strength ``1/c``), deterministic."""
        from sklearn.linear_model import LogisticRegression

        labels = [str(label) for label in labels]
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}")
        if set(labels) != set(LABELS):
            raise ValueError(f"training needs every class {LABELS}, got {sorted(set(labels))}")
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != len(labels):
            raise ValueError(f"embeddings must be (len(labels), dim), got {x.shape}")
        model = LogisticRegression(C=c, max_iter=max_iter, solver="lbfgs")
        model.fit(x, labels)
        return cls(model.coef_, model.intercept_, tuple(model.classes_), encoder)

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, 3), columns in ``LABELS`` order."""
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"embeddings must be (n, {self.dim}), got {x.shape}")
        logits = x @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, embeddings: np.ndarray) -> list[str]:
        """Most probable label per row."""
        return [LABELS[i] for i in self.predict_proba(embeddings).argmax(axis=1)]

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """P(positive) - P(negative) per row, in [-1, 1]: one signed number for features."""
        proba = self.predict_proba(embeddings)
        return proba[:, LABELS.index("positive")] - proba[:, LABELS.index("negative")]

    def save(self, path: str | Path) -> Path:
        """Write arrays only (``.npz``, no pickle), via a temp file renamed into place."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as handle:
            np.savez(
                handle,
                format_version=np.array(FORMAT_VERSION),
                coef=self.coef,
                intercept=self.intercept,
                classes=np.array(self.classes, dtype=np.str_),
                encoder=np.array(self.encoder, dtype=np.str_),
            )
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, *, expect_encoder: str | None = None) -> SentimentHead:
        """A saved head, or ModelFileError if the file is missing, corrupt or for another encoder."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(path, "head file does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [key for key in _KEYS if key not in data.files]
                if missing:
                    raise ModelFileError(path, f"not a sentiment head: missing arrays {missing}")
                arrays = {key: data[key] for key in _KEYS}
        except ModelFileError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise ModelFileError(path, f"corrupt head file: {exc}") from exc
        version = int(arrays["format_version"])
        if version != FORMAT_VERSION:
            raise ModelFileError(path, f"head format {version}, this code reads {FORMAT_VERSION}")
        encoder = str(arrays["encoder"])
        if expect_encoder is not None and encoder != expect_encoder:
            raise ModelFileError(
                path, f"head was trained on encoder {encoder!r}, not {expect_encoder!r}"
            )
        try:
            return cls(arrays["coef"], arrays["intercept"], list(arrays["classes"]), encoder)
        except ValueError as exc:
            raise ModelFileError(path, f"invalid head arrays: {exc}") from exc
