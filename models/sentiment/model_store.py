"""Which sentiment model scores, and where it lives: the cached default head or a local HF model.

- **Default** (no model path): MiniLM embeddings + a :class:`SentimentHead` trained once from the
  packaged headlines and cached at ``<models_dir>/sentiment-head/<version>/head.npz`` with a
  ``metadata.json`` beside it (held-out macro-F1 and accuracy of the head and of VADER). Later runs
  load it. ``<version>`` is a digest of the headline file, the encoder's weights and the training
  settings, so new training data or weights train a new head instead of reusing a stale one.
- **A local HF sequence-classification model** (``model_path``, e.g. a FinBERT directory): loaded
  offline; its held-out scores are computed once and cached at
  ``<models_dir>/sentiment-hf/<dir name>-<version>/metadata.json``, ``<version>`` being a digest of
  its config and weights.

A missing or corrupt model, head or metadata file raises :class:`ModelFileError` naming the file.
A corrupt cached head is never silently retrained: delete its directory to train a new one.
Nothing here reads the environment; the caller passes the model path (the flow reads
``SHRIVEN_SENTIMENT_MODEL``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.sentiment.dataset import DEFAULT_PATH as HEADLINES_PATH
from models.sentiment.errors import ModelFileError
from models.sentiment.head import FORMAT_VERSION

if TYPE_CHECKING:
    from models.sentiment.classifier import SentimentModel
    from models.sentiment.encoder import MiniLMEncoder

#: Environment variable the flow reads for a local HF model directory (never read by the core).
MODEL_ENV = "SHRIVEN_SENTIMENT_MODEL"
HEAD_DIR = "sentiment-head"
HF_DIR = "sentiment-hf"
HEAD_FILE = "head.npz"
METADATA_FILE = "metadata.json"
#: Inverse L2 strength of the default head.
HEAD_C = 1.0
_METRIC_KEYS = ("macro_f1", "accuracy", "vader_macro_f1", "vader_accuracy")


@dataclass(frozen=True)
class LoadedModel:
    """A ready sentiment model with the name and version stamped on its scores, and its metrics."""

    model: SentimentModel
    name: str
    version: str
    #: held-out ``macro_f1``, ``accuracy``, ``vader_macro_f1``, ``vader_accuracy``, ``n_test`` ...
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: the head file or model directory it was loaded from
    path: Path | None = None

    def describe(self) -> dict[str, Any]:
        """Plain values for logs, flow results and artifacts."""
        return {
            "model": self.name,
            "model_version": self.version,
            "path": str(self.path) if self.path else None,
            **{k: self.metadata.get(k) for k in (*_METRIC_KEYS, "n_test")},
        }


def load_model(
    models_dir: str | Path, model_path: str | Path | None = None, *, batch_size: int = 64
) -> LoadedModel:
    """The local HF model at ``model_path`` if given, else the cached (or newly trained) default head."""
    if model_path is not None and str(model_path).strip():
        return load_hf_model(model_path, models_dir=models_dir, batch_size=batch_size)
    return load_default_model(models_dir, batch_size=batch_size)


def default_head_version(encoder_identifier: str, headlines: str | Path = HEADLINES_PATH) -> str:
    """Version of the default head: digest of training data, encoder weights and head settings."""
    path = Path(headlines)
    digest = hashlib.sha256()
    digest.update(_file_sha256(path).encode())
    digest.update(f"\x1f{encoder_identifier}\x1fC={HEAD_C}\x1fformat={FORMAT_VERSION}".encode())
    return f"v{FORMAT_VERSION}-{digest.hexdigest()[:12]}"


def default_head_dir(models_dir: str | Path, version: str) -> Path:
    """``<models_dir>/sentiment-head/<version>``."""
    return Path(models_dir) / HEAD_DIR / version


def load_default_model(
    models_dir: str | Path,
    *,
    encoder: MiniLMEncoder | None = None,
    headlines: str | Path = HEADLINES_PATH,
    batch_size: int = 64,
) -> LoadedModel:
    """Load the cached default head, training and caching it first when there is none.

    Raises
    ------
    ModelFileError
        The cached head or its metadata exists but is corrupt (or for other weights), or the
        MiniLM weights are missing or broken.
    """
    from models.sentiment.classifier import MiniLMSentiment
    from models.sentiment.encoder import MiniLMEncoder
    from models.sentiment.head import SentimentHead

    encoder = encoder or MiniLMEncoder()
    version = default_head_version(encoder.identifier, headlines)
    directory = default_head_dir(models_dir, version)
    head_path = directory / HEAD_FILE
    meta_path = directory / METADATA_FILE
    if head_path.exists() or meta_path.exists():
        head = SentimentHead.load(head_path, expect_encoder=encoder.identifier)
        metadata = _read_metadata(meta_path)
        model = MiniLMSentiment(encoder, head, batch_size=batch_size)
    else:
        model, metadata = _train_default(encoder, headlines, version, head_path)
        model.batch_size = batch_size
    return LoadedModel(model, MiniLMSentiment.name, version, metadata, head_path)


def _train_default(
    encoder: MiniLMEncoder, headlines: str | Path, version: str, head_path: Path
) -> tuple[Any, dict[str, Any]]:
    """Train the head, evaluate it and VADER on the held-out split, write head then metadata."""
    from models.sentiment.classifier import train_default_head
    from models.sentiment.dataset import load_headlines

    frame = load_headlines(headlines)
    model = train_default_head(frame, encoder=encoder, c=HEAD_C)
    metadata = {
        "model": model.name,
        "version": version,
        "encoder": encoder.identifier,
        "training_data": str(Path(headlines).name),
        "training_data_sha256": _file_sha256(Path(headlines)),
        "c": HEAD_C,
        **_metrics(model, frame),
    }
    model.head.save(head_path)
    _write_json(head_path.with_name(METADATA_FILE), metadata)
    return model, metadata


def load_hf_model(path: str | Path, *, models_dir: str | Path, batch_size: int = 32) -> LoadedModel:
    """A local HF sequence-classification model; its held-out metrics are computed once and cached."""
    from models.sentiment.classifier import HFSequenceClassifier
    from models.sentiment.encoder import check_model_dir

    path = Path(path).expanduser()
    weights = check_model_dir(path)
    digest = hashlib.sha256()
    for part in (path / "config.json", weights):
        digest.update(_file_sha256(part).encode())
    version = digest.hexdigest()[:12]
    model = HFSequenceClassifier(path, batch_size=batch_size)
    meta_path = Path(models_dir) / HF_DIR / f"{_slug(path.name)}-{version}" / METADATA_FILE
    if meta_path.exists():
        metadata = _read_metadata(meta_path)
    else:
        from models.sentiment.dataset import load_headlines

        metadata = {"model": model.name, "version": version, "path": str(path)}
        metadata |= _metrics(model, load_headlines())
        _write_json(meta_path, metadata)
    return LoadedModel(model, model.name, version, metadata, path)


def _metrics(model: SentimentModel, frame: Any) -> dict[str, Any]:
    from models.sentiment.baseline import VaderBaseline
    from models.sentiment.classifier import evaluate

    mine = evaluate(model, frame)
    vader = evaluate(VaderBaseline(), frame)
    return {
        "n_test": mine.n,
        "macro_f1": mine.macro_f1,
        "accuracy": mine.accuracy,
        "vader_macro_f1": vader.macro_f1,
        "vader_accuracy": vader.accuracy,
        "confusion": [list(row) for row in mine.confusion],
        "labels": list(mine.labels),
    }


def _read_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelFileError(
            path, "metadata.json missing beside the head; delete the directory to retrain"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            path, f"corrupt metadata (delete the directory to retrain): {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise ModelFileError(path, "metadata is not a JSON object")
    return data


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Temp file + rename, so a crash never leaves half a metadata file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read: {exc}") from exc
    return digest.hexdigest()


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip("-.") or "model"
