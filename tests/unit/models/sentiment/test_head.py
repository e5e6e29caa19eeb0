"""SentimentHead: probabilities, score range, .npz round trip, corrupt files raise ModelFileError."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.sentiment.dataset import LABELS
from models.sentiment.errors import ModelFileError
from models.sentiment.head import SentimentHead


def _fitted(dim: int = 8) -> tuple[SentimentHead, np.ndarray]:
    """A head on three separable clusters, and some points to score."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(3, dim)) * 3
    x = np.concatenate([c + rng.normal(size=(40, dim)) for c in centres])
    labels = [label for label in LABELS for _ in range(40)]
    return SentimentHead.fit(x, labels, encoder="test-encoder:8"), x


def test_probabilities_and_score() -> None:
    head, x = _fitted()
    proba = head.predict_proba(x)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    score = head.score(x)
    assert np.all((score >= -1) & (score <= 1))
    np.testing.assert_allclose(score, proba[:, 2] - proba[:, 0])
    assert head.predict(x)[:40].count("negative") >= 35
    assert head.predict(x)[-40:].count("positive") >= 35


def test_matches_sklearn() -> None:
    from sklearn.linear_model import LogisticRegression

    head, x = _fitted()
    labels = [label for label in LABELS for _ in range(40)]
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(x, labels)
    np.testing.assert_allclose(head.predict_proba(x), reference.predict_proba(x), atol=1e-10)


def test_save_load_round_trip(tmp_path: Path) -> None:
    head, x = _fitted()
    path = head.save(tmp_path / "head.npz")
    loaded = SentimentHead.load(path, expect_encoder="test-encoder:8")
    np.testing.assert_array_equal(loaded.predict_proba(x), head.predict_proba(x))
    assert loaded.encoder == "test-encoder:8"
    assert loaded.classes == LABELS
    with np.load(path, allow_pickle=False) as data:  # plain arrays, no pickled objects
        assert set(data.files) == {"format_version", "coef", "intercept", "classes", "encoder"}


def test_wrong_encoder_is_refused(tmp_path: Path) -> None:
    head, _ = _fitted()
    path = head.save(tmp_path / "head.npz")
    with pytest.raises(ModelFileError, match="trained on encoder 'test-encoder:8'") as info:
        SentimentHead.load(path, expect_encoder="other:384")
    assert info.value.path == path


def test_corrupt_head_files(tmp_path: Path) -> None:
    head, _ = _fitted()
    good = head.save(tmp_path / "good.npz").read_bytes()
    cases = {
        "missing.npz": None,
        "garbage.npz": b"not a zip file at all",
        "truncated.npz": good[: len(good) // 2],
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ModelFileError) as info:
            SentimentHead.load(path)
        assert info.value.path == path
    pickled = tmp_path / "pickled.npz"
    np.savez(
        pickled,
        coef=np.array([object()]),
        intercept=np.zeros(3),
        classes=np.array(LABELS),
        encoder=np.array("x"),
        format_version=np.array(1),
    )
    with pytest.raises(ModelFileError, match="corrupt head file"):
        SentimentHead.load(pickled)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(ModelFileError, match="missing arrays"):
        SentimentHead.load(other)
    bad_shape = tmp_path / "bad_shape.npz"
    np.savez(
        bad_shape,
        coef=np.zeros((2, 8)),
        intercept=np.zeros(3),
        classes=np.array(LABELS),
        encoder=np.array("x"),
        format_version=np.array(1),
    )
    with pytest.raises(ModelFileError, match="invalid head arrays"):
        SentimentHead.load(bad_shape)
    assert zipfile.is_zipfile(tmp_path / "good.npz")


def test_fit_rejects_unknown_or_missing_labels() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="unknown labels"):
        SentimentHead.fit(x, ["negative", "neutral", "positive", "bullish"])
    with pytest.raises(ValueError, match="every class"):
        SentimentHead.fit(x, ["negative", "neutral", "neutral", "negative"])
