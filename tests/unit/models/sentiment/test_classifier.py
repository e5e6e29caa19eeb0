"""SentimentModel implementations end to end; the head must beat VADER on held-out headlines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.sentiment import (
    LABELS,
    OUTPUT_SCHEMA,
    HFSequenceClassifier,
    LabelMappingError,
    MiniLMEncoder,
    MiniLMSentiment,
    ModelFileError,
    SentimentModel,
    VaderBaseline,
    evaluate,
    load_headlines,
    train_default_head,
)
from models.sentiment.baseline import compound_to_label
from models.sentiment.classifier import map_labels
from models.sentiment.encoder import default_model_dir

HEADLINES = [
    "Kestrel Motors shares plunge 20% after guidance cut",
    "Meridian Foods raises dividend and unveils $2 billion buyback",
    "Arbor Logistics to report third-quarter results on Oct. 24",
]


@pytest.fixture(scope="module")
def headlines() -> pl.DataFrame:
    return load_headlines()


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@pytest.fixture(scope="module")
def trained(headlines: pl.DataFrame, encoder: MiniLMEncoder) -> MiniLMSentiment:
    return train_default_head(headlines, encoder=encoder)


def _check_frame(frame: pl.DataFrame, n: int) -> None:
    assert frame.schema == OUTPUT_SCHEMA
    assert frame.height == n
    proba = frame.select("p_negative", "p_neutral", "p_positive").to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(frame["score"].to_numpy(), proba[:, 2] - proba[:, 0], atol=1e-12)
    assert frame["label"].to_list() == [LABELS[i] for i in proba.argmax(axis=1)]


def test_head_beats_vader_on_held_out_split(
    trained: MiniLMSentiment, headlines: pl.DataFrame
) -> None:
    head = evaluate(trained, headlines)
    vader = evaluate(VaderBaseline(), headlines)
    print(f"\nheld-out n={head.n}")
    for result in (head, vader):
        print(
            f"{result.model:12s} macro-F1 {result.macro_f1:.3f}  accuracy {result.accuracy:.3f}  "
            f"confusion {result.confusion}"
        )
    assert head.n == vader.n == headlines.filter(pl.col("split") == "test").height
    assert sum(map(sum, head.confusion)) == head.n
    assert head.macro_f1 > vader.macro_f1
    assert head.accuracy > vader.accuracy


def test_minilm_frame_and_direction(trained: MiniLMSentiment) -> None:
    assert isinstance(trained, SentimentModel)
    frame = trained.score_texts(HEADLINES)
    _check_frame(frame, 3)
    assert frame["label"].to_list() == ["negative", "positive", "neutral"]
    assert frame["score"][0] < 0 < frame["score"][1]
    _check_frame(trained.score_texts([]), 0)


def test_trained_head_round_trip(
    trained: MiniLMSentiment, encoder: MiniLMEncoder, tmp_path: Path
) -> None:
    path = trained.head.save(tmp_path / "head.npz")
    loaded = MiniLMSentiment.from_head_file(path, encoder=encoder)
    assert loaded.score_texts(HEADLINES).equals(trained.score_texts(HEADLINES))
    assert loaded.head.encoder == encoder.identifier


def test_vader_frame() -> None:
    vader = VaderBaseline()
    assert isinstance(vader, SentimentModel)
    frame = vader.score_texts(
        ["Great results, strong growth", "Terrible losses and fraud", "Meeting on Tuesday"]
    )
    assert frame.schema == OUTPUT_SCHEMA
    assert frame["label"].to_list() == ["positive", "negative", "neutral"]
    assert compound_to_label(0.05) == "positive"
    assert compound_to_label(-0.05) == "negative"
    assert compound_to_label(0.0) == "neutral"


def _tiny_bert(directory: Path, id2label: dict[int, str]) -> Path:
    """A randomly initialised 2-layer BERT classifier with the MiniLM tokenizer, saved locally."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Outputs in a non-canonical order, in mixed case, to exercise the mapping.
    return _tiny_bert(tmp_path_factory.mktemp("tiny"), {0: "Positive", 1: "NEGATIVE", 2: "neutral"})


def test_hf_classifier_maps_labels(tiny_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = HFSequenceClassifier(tiny_dir, batch_size=2)
    assert isinstance(model, SentimentModel)
    long_text = "stocks " * 200  # longer than the tiny model's 64 positions: truncated, no crash
    texts = [*HEADLINES, long_text]
    frame = model.score_texts(texts)
    _check_frame(frame, len(texts))

    reference = AutoModelForSequenceClassification.from_pretrained(
        tiny_dir, local_files_only=True
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)
    with torch.inference_mode():
        logits = reference(**tokenizer(HEADLINES, padding=True, return_tensors="pt")).logits
    raw = torch.softmax(logits, dim=-1).numpy()
    np.testing.assert_allclose(frame["p_positive"].to_numpy()[:3], raw[:, 0], atol=1e-5)
    np.testing.assert_allclose(frame["p_negative"].to_numpy()[:3], raw[:, 1], atol=1e-5)
    np.testing.assert_allclose(frame["p_neutral"].to_numpy()[:3], raw[:, 2], atol=1e-5)


def test_hf_classifier_unmappable_labels(tmp_path: Path) -> None:
    directory = _tiny_bert(tmp_path, {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(LabelMappingError, match="'LABEL_0'") as info:
        HFSequenceClassifier(directory)
    assert info.value.path == directory / "config.json"


def test_hf_classifier_corrupt_weights(tiny_dir: Path, tmp_path: Path) -> None:
    import shutil

    broken = Path(shutil.copytree(tiny_dir, tmp_path / "broken"))
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="corrupt or truncated") as info:
        HFSequenceClassifier(broken)
    assert info.value.path == weights
    with pytest.raises(ModelFileError, match="does not exist"):
        HFSequenceClassifier(tmp_path / "absent")


@pytest.mark.parametrize(
    ("id2label", "match"),
    [
        ({0: "negative", 1: "negative", 2: "positive"}, "two outputs map to one class"),
        ({0: "neutral", 1: "positive"}, "needs negative and positive"),
        ({}, "no id2label"),
    ],
)
def test_label_mapping_errors(id2label: dict[int, str], match: str) -> None:
    with pytest.raises(LabelMappingError, match=match):
        map_labels(id2label, "config.json")


def test_label_mapping_two_class_and_synonyms() -> None:
    assert map_labels({0: "Bearish", 1: "BULLISH"}, "config.json") == [0, 2]
    assert map_labels({0: "neg", 1: "neu", 2: "pos"}, "config.json") == [0, 1, 2]


def test_public_names_resolve() -> None:
    import models.sentiment as package

    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        _ = package.NoSuchName


def test_hf_classifier_corrupt_bin_and_shard_index(tiny_dir: Path, tmp_path: Path) -> None:
    import json
    import shutil

    broken = Path(shutil.copytree(tiny_dir, tmp_path / "bin"))
    (broken / "model.safetensors").unlink()
    (broken / "pytorch_model.bin").write_bytes(b"not a torch checkpoint")
    with pytest.raises(ModelFileError, match="cannot load model") as info:
        HFSequenceClassifier(broken)
    assert info.value.path == broken / "pytorch_model.bin"

    sharded = Path(shutil.copytree(tiny_dir, tmp_path / "sharded"))
    (sharded / "model.safetensors").unlink()
    index = sharded / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors"}}))
    with pytest.raises(ModelFileError, match="shards named in the index are missing"):
        HFSequenceClassifier(sharded)
