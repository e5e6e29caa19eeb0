"""train_model and ml_inference under the real Prefect engine, over a small synthetic lake."""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path

import pytest

from models.feature_store import latest_features
from models.registry import MODEL_FILE, ModelRegistry
from shriven.config import load_settings
from shriven.lake.writer import Lake
from shriven.model.enums import TargetKind
from shriven.signals.log import SignalLog
from shriven.testing.demo_lake import write_demo_lake
from tests.conftest import SMALL_CONFIG

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

NAME = "mom"
SYMBOLS = ("ACME", "BOLT", "CRUX")
#: Small, quick fits: the tests check the plumbing, the unit tests check the learning.
PARAMS = {"max_iter": 20, "max_depth": 2, "min_samples_leaf": 20}
SWEEP = [{"max_iter": 10, "max_depth": 2}, {"max_iter": 20, "max_depth": 3, "learning_rate": 0.2}]


def _platform(root: Path, monkeypatch: pytest.MonkeyPatch, with_bars: bool = True):
    config = root / "shriven.toml"
    config.write_text(SMALL_CONFIG)
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(root / "data"))
    settings = load_settings()
    if with_bars:
        write_demo_lake(settings.lake_root, SYMBOLS, date(2026, 1, 5), minutes=120, days=4)
    return settings


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A lake of four 2-hour days and model ``mom`` trained on it and promoted to production."""
    from flows.train_model import train_model

    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = _platform(tmp_path_factory.mktemp("ml"), monkeypatch)
        summary = train_model(name=NAME, params=PARAMS, promote=True, label_horizon=5)
        yield settings, summary


@pytest.fixture
def platform(trained, monkeypatch):
    """The trained platform's environment for one test."""
    settings, summary = trained
    monkeypatch.setenv("SHRIVEN_DATA_DIR", settings.data_dir)
    monkeypatch.setenv("SHRIVEN_CONFIG", str(Path(settings.data_dir).parent / "shriven.toml"))
    return settings, summary


def test_training_registers_a_promoted_version_with_metrics(platform):
    from prefect.artifacts import Artifact

    settings, summary = platform
    assert summary["version"] == 1
    assert summary["promoted"]
    assert summary["dates"] == ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]
    registry = ModelRegistry(settings.data_dir)
    (version,) = registry.list_versions(NAME)
    assert version.version == 1
    assert version.aliases == ("production",)
    assert version.n_rows == summary["rows"] > 500
    assert math.isfinite(version.ic)
    assert version.ic == pytest.approx(summary["metrics"]["ic"])
    assert registry.resolve(NAME) == 1
    meta = registry.load(NAME).metadata
    assert meta["position_scale"] > 0
    assert "sentiment" in meta["features"]
    assert Artifact.get("train-model-metrics") is not None
    assert f"{NAME} version 1" in Artifact.get("train-model").data


def test_inference_appends_the_model_version_s_weight_targets(platform):
    from flows.ml_inference import ml_inference

    settings, _ = platform
    log = SignalLog(settings.lake_root, symbols=settings.universe)
    before = log.last_offset()
    result = ml_inference(name=NAME)
    assert result["status"] == "ok"
    assert result["version"] == 1
    assert result["appended"] == result["scored"] == 3
    signals = log.read_after(before)
    assert len(signals) == 3
    newest = latest_features(Lake(settings.lake_root))
    newest_ns = dict(zip(newest["symbol"].to_list(), newest["ts"].dt.epoch("ns").to_list(), strict=True))
    for signal in signals:
        assert signal.source == f"ml:{NAME}"
        assert signal.model_version == f"{NAME}@1"
        assert signal.kind == TargetKind.WEIGHT
        assert abs(signal.target) <= 0.1
        assert signal.ts == newest_ns[signal.symbol]
        assert signal.target == pytest.approx(result["targets"][signal.symbol])
    assert {s.symbol for s in signals} == set(SYMBOLS)


@pytest.mark.parametrize(
    ("name", "alias", "message"),
    [
        (NAME, "staging", "has no alias 'staging'"),
        ("nobody", "production", "no model named 'nobody'"),
    ],
)
def test_a_bad_alias_or_name_fails_the_run_with_the_registry_message(platform, name, alias, message):
    from flows.ml_inference import ml_inference

    state = ml_inference(name=name, alias=alias, return_state=True)
    assert state.is_failed()
    assert message in state.message


def test_a_corrupt_model_fails_the_run_and_appends_nothing(platform):
    from flows.ml_inference import ml_inference

    settings, _ = platform
    path = Path(settings.data_dir) / "models" / NAME / "1" / MODEL_FILE
    original = path.read_bytes()
    log = SignalLog(settings.lake_root)
    before = log.last_offset()
    try:
        path.write_bytes(original[:-10] + b"0123456789")
        state = ml_inference(name=NAME, return_state=True)
    finally:
        path.write_bytes(original)
    assert state.is_failed()
    assert "sha256" in state.message
    assert log.last_offset() == before


def test_without_features_inference_is_a_logged_no_op(platform, tmp_path, monkeypatch):
    from flows.ml_inference import ml_inference

    settings, _ = platform
    empty = _platform(tmp_path, monkeypatch, with_bars=False)
    shutil.copytree(Path(settings.data_dir) / "models", Path(empty.data_dir) / "models")
    result = ml_inference(name=NAME)
    assert result["status"] == "no_features"
    assert result["appended"] == 0
    assert SignalLog(empty.lake_root).last_offset() == -1


def test_a_sweep_on_a_local_dask_cluster_equals_the_sequential_sweep(platform):
    from flows.train_model import train_model

    sequential = train_model(name="sweep", sweep=SWEEP, refresh_features=False)
    on_dask = train_model(name="sweep", sweep=SWEEP, dask_workers=2, refresh_features=False)
    assert len(sequential["sweep"]) == 2
    strip = [{k: v for k, v in row.items() if k != "version"} for row in sequential["sweep"]]
    assert strip == [{k: v for k, v in row.items() if k != "version"} for row in on_dask["sweep"]]
    assert sequential["metrics"] == on_dask["metrics"]
    assert sequential["data_fingerprint"] == on_dask["data_fingerprint"]
    assert (sequential["version"], on_dask["version"]) == (1, 2)
    assert ModelRegistry(platform[0].data_dir).list_versions("sweep")[1].aliases == ()
