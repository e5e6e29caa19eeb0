"""One sentiment batch end to end on a small lake: nothing lost, quarantined with reasons, idempotent."""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import msgspec
import numpy as np
import polars as pl
import pytest

from models.sentiment.classifier import OUTPUT_SCHEMA, probabilities_frame
from models.sentiment.errors import ModelFileError
from models.sentiment.model_store import (
    HEAD_FILE,
    METADATA_FILE,
    LoadedModel,
    default_head_dir,
    default_head_version,
    load_default_model,
    load_model,
)
from models.sentiment.pipeline import (
    FAILED_DIR,
    PROCESSED_DIR,
    PipelineConfig,
    inbox_files,
    parse_duration,
    run_batch,
    synthetic_news,
)
from shriven.aggregation.incremental import BarAggregator
from shriven.config import Settings
from shriven.lake.layout import Window
from shriven.lake.writer import Lake
from shriven.marketdata.ingest import ingest_window
from shriven.marketdata.synthetic import SyntheticExchange, session_window
from shriven.schemas import NEWS, SENTIMENT_INDEX, SENTIMENT_SCORES
from shriven.testing.small_config import SMALL_CONFIG

DAY = date(2026, 1, 5)
MINUTE = 60_000_000_000
NOW = 1_900_000_000 * 1_000_000_000


class KeywordModel:
    """A SentimentModel stub: positive and negative words, counted (and the calls recorded)."""

    name = "keywords"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score_texts(self, texts: Sequence[str]) -> pl.DataFrame:
        self.calls.append(len(texts))
        up = ("jump", "rall", "surge", "upgrade", "high", "ripping", "loading", "moon", "strong")
        down = ("slump", "tumble", "slide", "downgrade", "low", "crushed", "dump", "breaking", "weak")
        rows = []
        for text in texts:
            lower = text.lower()
            pos, neg = any(w in lower for w in up), any(w in lower for w in down)
            rows.append([0.1, 0.1, 0.8] if pos and not neg else [0.8, 0.1, 0.1] if neg else [0.1, 0.8, 0.1])
        return probabilities_frame(np.array(rows).reshape(-1, 3))


def _model() -> LoadedModel:
    return LoadedModel(KeywordModel(), "keywords", "1", {"macro_f1": 0.5, "vader_macro_f1": 0.4})


@pytest.fixture(scope="module")
def bars_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose lake holds one synthetic session of trades and 1m bars."""
    root = tmp_path_factory.mktemp("sentiment") / "data"
    settings = msgspec.convert({**tomllib.loads(SMALL_CONFIG), "data_dir": str(root)}, Settings)
    lake = Lake(settings.lake_root)
    ingest_window(SyntheticExchange(settings), lake, Window.days(DAY), settings.universe, settings.universe)
    BarAggregator(lake, settings.state_dir, ("1m",)).run()
    return root


@pytest.fixture
def platform(bars_lake: Path, tmp_path: Path) -> tuple[Settings, Lake, Path]:
    root = tmp_path / "data"
    shutil.copytree(bars_lake, root)
    settings = msgspec.convert({**tomllib.loads(SMALL_CONFIG), "data_dir": str(root)}, Settings)
    inbox = root / "inbox" / "news"
    inbox.mkdir(parents=True)
    return settings, Lake(settings.lake_root), inbox


def _session(settings: Settings) -> Window:
    return Window(*session_window(settings, DAY))


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def _write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def _bad_and_good_inbox(inbox: Path, window: Window) -> None:
    t = _iso(window.start_ns + 10 * MINUTE)
    later = _iso(window.start_ns - 120 * MINUTE)  # outside the run's window: another lake window
    _write_jsonl(
        inbox / "mixed.jsonl",
        [
            {"time": t, "source": "wire", "text": "Acme Corporation shares jump 5% on strong demand"},
            {"time": t, "source": "wire", "text": "BOLT tumbles after weak outlook", "symbols": "BOLT"},
            {"time": later, "source": "wire", "text": "Stocks slide as rates rise"},
            {"time": t, "source": "wire", "text": "$XYZ surges 40% in heavy trading"},  # unknown_entity
            {"time": t, "source": "wire", "text": "   "},  # empty
            {"time": t, "source": "wire", "text": "Die Aktie von ACME ist nicht mit dem Markt gestiegen"},
            {"time": t, "source": "wire", "text": "CRUX up", "symbols": ["NOPE"]},  # unknown_symbol
            {"source": "wire", "text": "ACME up"},  # missing_time
            "{not json",
        ],
    )
    (inbox / "copy.csv").write_text(  # the same text as mixed.jsonl's first record: duplicate_text
        f'time,source,text\n{t},wire,"Acme Corporation shares jump 5% on strong demand"\n'
    )
    _write_jsonl(inbox / "all_bad.jsonl", ["{oops", {"text": "no time"}])


def test_every_text_is_scored_or_quarantined_with_its_reason(platform) -> None:
    settings, lake, inbox = platform
    window = _session(settings)
    _bad_and_good_inbox(inbox, window)
    synthetic = synthetic_news(lake, window, settings.symbols, PipelineConfig())
    assert synthetic.height > 10

    result = run_batch(
        lake, window, _model(), symbols=settings.symbols, source="both", inbox_dir=inbox, now_ns=NOW
    )
    assert result.input_texts == synthetic["text_id"].n_unique() + 9 + 1 + 2
    assert result.already_scored == 0
    assert result.input_texts == result.scored_texts + result.quarantined
    assert result.scored_texts == synthetic["text_id"].n_unique() + 3

    quarantine = pl.from_arrow(lake.read("quarantine"))
    assert quarantine.height == result.quarantined == 9
    assert sorted(quarantine["reason"].to_list()) == sorted(
        ["unknown_entity", "empty", "non_english", "unknown_symbol", "missing_time", "invalid_json",
         "duplicate_text", "invalid_json", "missing_time"]
    )  # fmt: skip
    assert result.reasons["unknown_entity"] == 1
    assert set(quarantine["dataset"].to_list()) == {"news"}
    raw_unknown = quarantine.filter(pl.col("reason") == "unknown_entity")["raw"].item()
    assert "$XYZ" in json.loads(raw_unknown)["text"]

    news = pl.from_arrow(lake.read("news"))
    scores = pl.from_arrow(lake.read("sentiment_scores"))
    assert news["text_id"].n_unique() == scores["text_id"].n_unique() == result.scored_texts
    assert news.height == scores.height == result.news_rows == result.score_rows
    assert scores.schema == pl.from_arrow(SENTIMENT_SCORES.empty_table()).schema
    assert set(scores["model"]) == {"keywords"}
    assert set(scores["model_version"]) == {"1"}
    assert set(news["symbol"]) == {"", "ACME", "BOLT", "CRUX"}
    assert news.filter(pl.col("text") == "Stocks slide as rates rise")["symbol"].to_list() == [""]
    index = pl.from_arrow(lake.read("sentiment_index"))
    assert index.height == result.index_rows > 0
    assert index.schema == pl.from_arrow(SENTIMENT_INDEX.empty_table()).schema
    assert set(index["symbol"]) == {"", "ACME", "BOLT", "CRUX"}
    # every bar close in the window (the last bar closes at the window's end: the next window's)
    # for every symbol, market-wide included
    assert index.height == 4 * 59


def test_inbox_files_are_moved_once(platform) -> None:
    settings, lake, inbox = platform
    window = _session(settings)
    _bad_and_good_inbox(inbox, window)
    first = run_batch(lake, window, _model(), symbols=settings.symbols, source="inbox", inbox_dir=inbox, now_ns=NOW)
    assert inbox_files(inbox) == []
    assert sorted(p.name for p in (inbox / PROCESSED_DIR).iterdir()) == ["copy.csv", "mixed.jsonl"]
    assert sorted(p.name for p in (inbox / FAILED_DIR).iterdir()) == ["all_bad.jsonl"]
    assert len(first.files_processed) == 2
    assert len(first.files_failed) == 1

    second = run_batch(lake, window, _model(), symbols=settings.symbols, source="inbox", inbox_dir=inbox, now_ns=NOW + 1)
    assert second.input_texts == second.scored_texts == second.quarantined == 0
    assert second.files_processed == second.files_failed == []
    assert pl.from_arrow(lake.read("news")).height == first.news_rows

    # the same name again later is a new file: imported, its known texts not scored twice
    _write_jsonl(inbox / "mixed.jsonl", [{"time": _iso(window.start_ns + MINUTE), "text": "ACME hits session high"}])
    third = run_batch(lake, window, _model(), symbols=settings.symbols, source="inbox", inbox_dir=inbox, now_ns=NOW + 2)
    assert third.scored_texts == 1
    assert sorted(p.name for p in (inbox / PROCESSED_DIR).iterdir()) == ["copy.csv", "mixed.1.jsonl", "mixed.jsonl"]


def _lake_rows(lake: Lake) -> dict[str, pl.DataFrame]:
    out = {}
    for name, keys in (("news", ["ts", "text_id", "symbol"]), ("sentiment_scores", ["ts", "text_id", "symbol"]),
                       ("sentiment_index", ["symbol", "ts"]), ("quarantine", ["reason", "raw"])):  # fmt: skip
        out[name] = pl.from_arrow(lake.read(name)).sort(keys)
    return out


def test_rerunning_a_window_neither_duplicates_nor_loses_rows(platform) -> None:
    settings, lake, inbox = platform
    window = _session(settings)
    _bad_and_good_inbox(inbox, window)
    model = _model()
    first = run_batch(lake, window, model, symbols=settings.symbols, source="both", inbox_dir=inbox, now_ns=NOW)
    before = _lake_rows(lake)
    calls = len(model.model.calls)

    again = run_batch(lake, window, model, symbols=settings.symbols, source="both", inbox_dir=inbox, now_ns=NOW)
    assert again.scored_texts == 0
    assert again.already_scored == again.input_texts - again.quarantined > 0
    assert len(model.model.calls) == calls  # nothing scored twice
    after = _lake_rows(lake)
    for name in ("news", "sentiment_scores", "sentiment_index"):
        assert after[name].equals(before[name]), name
    # the synthetic quarantine file of the window was replaced; the inbox ones stay
    assert after["quarantine"].height == first.quarantined

    # two halves of the window give the same synthetic texts as the whole
    halves_lake = Lake(str(Path(settings.data_dir) / "halves"))
    for path in lake.files("bars_1m"):
        rel = path[len(lake.root) + 1 :]
        target = Path(halves_lake.root) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    middle = window.start_ns + 30 * MINUTE
    for part in (Window(window.start_ns, middle), Window(middle, window.end_ns)):
        run_batch(halves_lake, part, _model(), symbols=settings.symbols, source="synthetic", now_ns=NOW)
    synthetic_ids = before["news"].filter(pl.col("source").str.starts_with("synthetic"))
    halves = pl.from_arrow(halves_lake.read("news")).sort("ts", "text_id", "symbol")
    assert halves.equals(synthetic_ids)


def test_a_new_model_version_rescores_and_replaces(platform) -> None:
    settings, lake, inbox = platform
    window = _session(settings)
    run_batch(lake, window, _model(), symbols=settings.symbols, source="synthetic", now_ns=NOW)
    n = pl.from_arrow(lake.read("sentiment_scores")).height
    newer = LoadedModel(KeywordModel(), "keywords", "2", {})
    result = run_batch(lake, window, newer, symbols=settings.symbols, source="synthetic", now_ns=NOW)
    scores = pl.from_arrow(lake.read("sentiment_scores"))
    assert result.scored_texts == scores.height == n
    assert set(scores["model_version"]) == {"2"}


def test_batches_report_progress(platform) -> None:
    settings, lake, inbox = platform
    seen = []
    result = run_batch(
        lake, _session(settings), _model(), symbols=settings.symbols, source="synthetic", now_ns=NOW,
        config=PipelineConfig(batch_size=7), progress=lambda *args: seen.append(args),
    )  # fmt: skip
    assert [s[0] for s in seen] == list(range(1, len(seen) + 1))
    assert all(s[1] == len(seen) for s in seen)
    assert seen[-1][3] == seen[-1][4] == result.scored_texts
    assert all(s[2] <= 7 for s in seen)


def test_no_texts_writes_nothing_and_fails_nothing(platform) -> None:
    settings, lake, inbox = platform
    empty = Window(NOW, NOW + 15 * MINUTE)  # no bars there, no files
    result = run_batch(lake, empty, _model(), symbols=settings.symbols, source="both", inbox_dir=inbox, now_ns=NOW)
    assert result.input_texts == result.scored_texts == result.quarantined == 0
    assert lake.read("news").num_rows == 0
    # with no bars the index falls back to a regular grid of the window
    assert result.index_rows == 4 * 15
    assert lake.read("quarantine").num_rows == 0


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800.0), ("90s", 90.0), ("1.5h", 5400.0), ("2d", 172800.0), ("45", 45.0), (600, 600.0)]
)
def test_parse_duration(text, seconds) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "0", "5 weeks"])
def test_parse_duration_rejects(text) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


# ------------------------------------------------------------------------------ the model store
@pytest.fixture(scope="module")
def encoder():
    from models.sentiment.encoder import MiniLMEncoder

    return MiniLMEncoder()


@pytest.fixture
def tiny_headlines(tmp_path: Path) -> Path:
    """A small labelled set, so training the head takes a second."""
    from models.sentiment.dataset import load_headlines

    frame = load_headlines()
    small = pl.concat(
        [frame.filter((pl.col("split") == s) & (pl.col("label") == label)).head(6)
         for s in ("train", "test") for label in ("negative", "neutral", "positive")]
    )  # fmt: skip
    path = tmp_path / "headlines.csv"
    small.write_csv(path)
    return path


def test_default_head_is_trained_once_then_loaded(tmp_path: Path, encoder, tiny_headlines) -> None:
    models = tmp_path / "models"
    first = load_default_model(models, encoder=encoder, headlines=tiny_headlines)
    version = default_head_version(encoder.identifier, tiny_headlines)
    head = default_head_dir(models, version) / HEAD_FILE
    assert first.path == head
    assert head.is_file()
    assert first.version == version
    assert first.name == "minilm-head"
    meta = json.loads((head.parent / METADATA_FILE).read_text())
    assert {"macro_f1", "vader_macro_f1", "accuracy", "n_test", "encoder"} <= set(meta)
    assert meta["n_test"] == 18
    stamp = head.stat().st_mtime_ns

    second = load_default_model(models, encoder=encoder, headlines=tiny_headlines)
    assert head.stat().st_mtime_ns == stamp
    assert second.metadata["macro_f1"] == first.metadata["macro_f1"]
    texts = ["ACME shares jump", "BOLT tumbles"]
    assert second.model.score_texts(texts).equals(first.model.score_texts(texts))
    assert second.model.score_texts(texts).schema == OUTPUT_SCHEMA


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_a_corrupt_cached_head_is_a_model_file_error_naming_it(tmp_path: Path, encoder, content) -> None:
    models = tmp_path / "models"
    directory = default_head_dir(models, default_head_version(encoder.identifier))
    directory.mkdir(parents=True)
    (directory / HEAD_FILE).write_bytes(content)
    (directory / METADATA_FILE).write_text("{}")
    with pytest.raises(ModelFileError, match="head") as caught:
        load_default_model(models, encoder=encoder)
    assert caught.value.path == directory / HEAD_FILE
    assert str(directory / HEAD_FILE) in str(caught.value)


def test_corrupt_or_missing_metadata_is_a_model_file_error(tmp_path: Path, encoder, tiny_headlines) -> None:
    models = tmp_path / "models"
    loaded = load_default_model(models, encoder=encoder, headlines=tiny_headlines)
    meta = loaded.path.parent / METADATA_FILE
    meta.write_text("{truncated")
    with pytest.raises(ModelFileError, match="metadata") as caught:
        load_default_model(models, encoder=encoder, headlines=tiny_headlines)
    assert caught.value.path == meta
    meta.unlink()
    with pytest.raises(ModelFileError, match="metadata"):
        load_default_model(models, encoder=encoder, headlines=tiny_headlines)


def test_a_missing_hf_model_path_is_a_model_file_error(tmp_path: Path) -> None:
    missing = tmp_path / "finbert"
    with pytest.raises(ModelFileError, match="does not exist") as caught:
        load_model(tmp_path / "models", missing)
    assert caught.value.path == missing


def test_a_local_hf_model_scores_a_batch(platform, tmp_path: Path) -> None:
    from tests.unit.models.sentiment.test_classifier import _tiny_bert

    settings, lake, inbox = platform
    path = _tiny_bert(tmp_path / "tiny-finbert", {0: "negative", 1: "neutral", 2: "positive"})
    loaded = load_model(tmp_path / "models", path, batch_size=8)
    assert loaded.name == "hf:tiny-finbert"
    assert len(loaded.version) == 12
    assert 0.0 <= loaded.metadata["macro_f1"] <= 1.0
    meta_files = list((tmp_path / "models").rglob(METADATA_FILE))
    assert len(meta_files) == 1
    assert load_model(tmp_path / "models", path).metadata == loaded.metadata  # cached, not re-evaluated
    result = run_batch(lake, _session(settings), loaded, symbols=settings.symbols, source="synthetic", now_ns=NOW)
    scores = pl.from_arrow(lake.read("sentiment_scores"))
    assert result.scored_texts == scores["text_id"].n_unique() > 0
    assert set(scores["model"]) == {"hf:tiny-finbert"}
    assert pl.from_arrow(lake.read("news")).schema == pl.from_arrow(NEWS.empty_table()).schema


def test_old_inbox_texts_land_in_their_own_window_without_a_years_long_grid(platform) -> None:
    settings, lake, inbox = platform
    window = Window(NOW, NOW + 15 * MINUTE)  # no bars: the index falls back to this window's grid
    old = NOW - 400 * 86_400 * 1_000_000_000
    _write_jsonl(inbox / "archive.jsonl", [{"time": _iso(old), "text": "ACME shares jump"}])
    result = run_batch(lake, window, _model(), symbols=settings.symbols, source="inbox", inbox_dir=inbox, now_ns=NOW)
    assert result.scored_texts == 1
    assert result.index_rows == 4 * 15
    news = pl.from_arrow(lake.read("news"))
    assert news["ts"].dt.epoch("ns").to_list() == [old]
    assert len(lake.files("news")) == 1
    assert pl.from_arrow(lake.read("sentiment_index"))["ts"].dt.epoch("ns").min() >= NOW
