"""MiniLMEncoder: shape, unit norm, determinism, batch invariance, truncation, bad model files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models.sentiment.encoder import MiniLMEncoder, check_model_dir, default_model_dir
from models.sentiment.errors import ModelFileError

TEXTS = [
    "Northwind Robotics shares jump 12% after Q3 earnings beat estimates",
    "$HALV cuts full-year guidance citing weak demand",
    "Quillon Bank to report second-quarter results on Oct. 24",
    "Bitcoin trades flat near $61,000 in quiet session",
    "Short",
    "A somewhat longer headline about a company that appoints a new chief financial officer "
    "and schedules its annual shareholder meeting for the spring",
] * 6


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder(precision="float32")  # the exactness tests compare to float32 references


def test_shape_dtype_and_unit_norm(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(TEXTS, batch_size=8)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_deterministic_and_batch_invariant(encoder: MiniLMEncoder) -> None:
    one = encoder.encode(TEXTS, batch_size=1)
    thirty_two = encoder.encode(TEXTS, batch_size=32)
    again = encoder.encode(TEXTS, batch_size=32)
    np.testing.assert_array_equal(thirty_two, again)
    np.testing.assert_allclose(one, thirty_two, atol=1e-5)


def test_length_buckets_keep_the_callers_order(encoder: MiniLMEncoder) -> None:
    texts = [t * (1 + i % 4) for i, t in enumerate(TEXTS)]  # mixed lengths, shuffled by length
    bucketed = encoder.encode_with_report(texts, batch_size=4)
    plain = encoder.encode_with_report(texts, batch_size=4, bucket=False)
    np.testing.assert_allclose(bucketed.vectors, plain.vectors, atol=1e-5)
    single = np.stack([encoder.encode([t], batch_size=1)[0] for t in texts[:5]])
    np.testing.assert_allclose(bucketed.vectors[:5], single, atol=1e-5)


def test_bfloat16_stays_next_to_float32_and_has_its_own_identifier(
    encoder: MiniLMEncoder,
) -> None:
    half = MiniLMEncoder(precision="bfloat16")
    cosine = (half.encode(TEXTS) * encoder.encode(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.9995
    assert half.identifier == encoder.identifier + ":bfloat16"
    assert MiniLMEncoder(precision="auto").precision in ("float32", "bfloat16")
    with pytest.raises(ValueError, match="precision"):
        MiniLMEncoder(precision="float16")


def test_matches_sentence_transformers(encoder: MiniLMEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(default_model_dir()), device="cpu", local_files_only=True)
    expected = reference.encode(TEXTS[:6], normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(encoder.encode(TEXTS[:6]), expected, atol=1e-5)


def test_similar_headlines_are_closer(encoder: MiniLMEncoder) -> None:
    a, b, c = encoder.encode(
        ["Acme beats profit estimates", "Acme tops earnings forecasts", "Acme names new CFO"]
    )
    assert a @ b > a @ c


def test_truncation_is_reported(encoder: MiniLMEncoder, caplog: pytest.LogCaptureFixture) -> None:
    long_text = "markets rally on upbeat earnings " * 100
    texts = ["short headline", long_text, "another short one", long_text]
    with caplog.at_level("WARNING"):
        result = encoder.encode_with_report(texts, batch_size=3)
    assert [t.index for t in result.truncated] == [1, 3]
    assert all(t.tokens > 256 and t.kept_tokens == 256 for t in result.truncated)
    assert "2 of 4 texts truncated to 256 tokens" in caplog.text
    assert result.vectors.shape == (4, 384)
    np.testing.assert_allclose(result.vectors[1], result.vectors[3], atol=1e-6)
    assert encoder.encode_with_report(["short"]).truncated == ()


def test_rejects_a_bare_string(encoder: MiniLMEncoder) -> None:
    with pytest.raises(TypeError, match="not one string"):
        encoder.encode("one headline")


def test_identifier_is_stable(encoder: MiniLMEncoder) -> None:
    assert encoder.identifier.startswith(f"{default_model_dir().name}:384:")
    assert encoder.identifier == encoder.identifier


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the MiniLM directory that tests may break."""
    return Path(shutil.copytree(default_model_dir(), tmp_path_factory.mktemp("minilm") / "model"))


def _broken_copy(model_copy: Path, tmp_path: Path) -> Path:
    """A fresh copy of the model dir in tmp_path, for one test to break."""
    target = tmp_path / "model"
    shutil.copytree(model_copy, target)
    return target


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="model directory does not exist") as info:
        MiniLMEncoder(tmp_path / "absent")
    assert info.value.path == tmp_path / "absent"


def test_truncated_weights(model_copy: Path, tmp_path: Path) -> None:
    model_dir = _broken_copy(model_copy, tmp_path)
    weights = model_dir / "model.safetensors"
    size = weights.stat().st_size
    with weights.open("r+b") as handle:
        handle.truncate(size // 2)
    with pytest.raises(ModelFileError, match="corrupt or truncated safetensors") as info:
        MiniLMEncoder(model_dir)
    assert info.value.path == weights


@pytest.mark.parametrize("content", [b"", b"\x00\x01", b"{not json" * 10])
def test_garbage_weights(model_copy: Path, tmp_path: Path, content: bytes) -> None:
    model_dir = _broken_copy(model_copy, tmp_path)
    (model_dir / "model.safetensors").write_bytes(content)
    with pytest.raises(ModelFileError, match="model.safetensors"):
        MiniLMEncoder(model_dir)


def test_missing_weights_and_config(model_copy: Path, tmp_path: Path) -> None:
    model_dir = _broken_copy(model_copy, tmp_path)
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="no weights file"):
        check_model_dir(model_dir)
    (model_dir / "config.json").write_text("{oops")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        check_model_dir(model_dir)
    (model_dir / "config.json").unlink()
    with pytest.raises(ModelFileError, match="config.json missing"):
        check_model_dir(model_dir)


def test_weights_for_another_architecture(model_copy: Path, tmp_path: Path) -> None:
    """A readable safetensors file with the wrong tensors is an error, not random weights."""
    import torch
    from safetensors.torch import save_file

    model_dir = _broken_copy(model_copy, tmp_path)
    save_file({"something.else": torch.zeros(2, 2)}, str(model_dir / "model.safetensors"))
    with pytest.raises(ModelFileError, match="weights do not match config.json"):
        MiniLMEncoder(model_dir)
