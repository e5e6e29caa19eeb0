"""Model registry: round trips, monotonic versions, aliases, corruption and concurrent writers."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import polars as pl
import pytest

from models import registry as registry_module
from models.registry import (
    AliasNotFoundError,
    CorruptModelError,
    DanglingAliasError,
    ModelRegistry,
    UnknownModelError,
    VersionNotFoundError,
)
from models.training import ModelSpec, TrainingResult, WalkForwardConfig, train

MINUTE = 60_000_000_000
FEATURES = ["alpha", "noise"]


def fixed_clock() -> datetime:
    return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def fixed_code_version() -> str:
    return "test-code-version"


def make_registry(root: Path) -> ModelRegistry:
    return ModelRegistry(root, clock=fixed_clock, code_version=fixed_code_version)


def tiny_frame(seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n_times, n_symbols = 120, 4
    n = n_times * n_symbols
    alpha = rng.normal(size=n)
    return pl.DataFrame(
        {
            "ts": np.repeat(np.arange(n_times, dtype=np.int64) * MINUTE, n_symbols),
            "symbol": np.tile([f"S{i}" for i in range(n_symbols)], n_times),
            "alpha": alpha,
            "noise": rng.normal(size=n),
            "fwd_return": 0.004 * alpha + 0.01 * rng.normal(size=n),
        }
    )


def tiny_result(spec: ModelSpec | None = None) -> TrainingResult:
    return train(
        tiny_frame(),
        spec or ModelSpec("hgb_regressor", {"max_iter": 20}),
        features=FEATURES,
        validation=WalkForwardConfig(n_splits=2, test_size=20, expanding=True, label_horizon_ns=MINUTE),
        periods_per_year=525_600.0,
        label="fwd_return",
        max_threads=1,  # OpenMP threads crawl when other processes share the CPUs
    )


@pytest.fixture(scope="module")
def result() -> TrainingResult:
    return tiny_result()


def test_register_promote_load_round_trip(tmp_path: Path, result: TrainingResult) -> None:
    registry = make_registry(tmp_path)
    assert registry.register(result, "alpha") == 1
    assert registry.register(result, "alpha") == 2
    registry.promote("alpha", 1)
    registry.promote("alpha", 2, alias="staging")
    assert registry.resolve("alpha") == 1
    assert registry.resolve("alpha", "staging") == 2

    loaded = registry.load("alpha", "production")
    assert loaded.version == 1
    frame = tiny_frame(seed=99)
    np.testing.assert_array_equal(loaded.predict(frame), result.predict(frame))
    assert registry.load("alpha", 2).version == 2
    assert registry.load("alpha", "2").version == 2

    meta = loaded.metadata
    assert meta["name"] == "alpha"
    assert meta["version"] == 1
    assert meta["kind"] == "hgb_regressor"
    assert meta["features"] == FEATURES
    assert meta["training_start_ns"] == result.training_start_ns
    assert meta["training_end_ns"] == result.training_end_ns
    assert meta["data_fingerprint"] == result.data_fingerprint
    assert meta["code_version"] == "test-code-version"
    assert meta["created_at"] == "2026-01-02T03:04:05Z"
    assert meta["metrics"]["ic"] == pytest.approx(result.metrics.ic)
    assert len(meta["fold_metrics"]) == 2
    directory = tmp_path / "models" / "alpha" / "1"
    recorded = (directory / "model.sha256").read_text().split()[0]
    assert recorded == meta["model_sha256"]

    versions = registry.list_versions("alpha")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].aliases == ("production",)
    assert versions[1].aliases == ("staging",)
    assert all(v.available for v in versions)
    catalog = pl.read_parquet(tmp_path / "models" / "catalog.parquet")
    assert catalog.select("name", "version").rows() == [("alpha", 1), ("alpha", 2)]
    aliases = pl.read_parquet(tmp_path / "models" / "aliases.parquet")
    assert aliases.select("alias", "version").rows() == [("production", 1), ("staging", 2)]


def test_promote_moves_an_alias(tmp_path: Path, result: TrainingResult) -> None:
    registry = make_registry(tmp_path)
    for _ in range(2):
        registry.register(result, "m")
    registry.promote("m", 1)
    registry.promote("m", 2)
    assert registry.resolve("m") == 2
    with pytest.raises(VersionNotFoundError):
        registry.promote("m", 7)
    with pytest.raises(ValueError, match="alias"):
        registry.promote("m", 1, alias="bad alias")


def test_versions_never_reuse_a_deleted_number(tmp_path: Path, result: TrainingResult) -> None:
    registry = make_registry(tmp_path)
    registry.register(result, "m")
    registry.register(result, "m")
    shutil.rmtree(tmp_path / "models" / "m" / "2")
    assert registry.register(result, "m") == 3
    assert [(v.version, v.available) for v in registry.list_versions("m")] == [
        (1, True), (2, False), (3, True)
    ]
    assert registry.register(result, "other") == 1


def test_unknown_names_and_aliases_are_typed_errors(tmp_path: Path, result: TrainingResult) -> None:
    registry = make_registry(tmp_path)
    with pytest.raises(UnknownModelError, match="no model named 'ghost'"):
        registry.load("ghost")
    registry.register(result, "m")
    with pytest.raises(AliasNotFoundError, match="no alias 'production'"):
        registry.load("m")
    with pytest.raises(VersionNotFoundError):
        registry.load("m", 5)
    with pytest.raises(ValueError, match="model name"):
        registry.register(result, "../escape")


def test_alias_to_a_deleted_version_is_an_error(tmp_path: Path, result: TrainingResult) -> None:
    registry = make_registry(tmp_path)
    registry.register(result, "m")
    registry.promote("m", 1)
    shutil.rmtree(tmp_path / "models" / "m" / "1")
    with pytest.raises(DanglingAliasError, match="no longer exists"):
        registry.resolve("m")
    with pytest.raises(DanglingAliasError):
        registry.load("m", "production")
    with pytest.raises(VersionNotFoundError, match="is gone"):
        registry.load("m", 1)


def test_corrupt_model_file_is_refused(tmp_path: Path, result: TrainingResult) -> None:
    registry = make_registry(tmp_path)
    registry.register(result, "m")
    model_file = tmp_path / "models" / "m" / "1" / "model.joblib"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(CorruptModelError, match="sha256"):
        registry.load("m", 1)
    model_file.unlink()
    with pytest.raises(CorruptModelError, match="cannot read"):
        registry.load("m", 1)


def test_unpicklable_model_file_is_a_typed_error(tmp_path: Path, result: TrainingResult) -> None:
    """Even with a matching sha256 (re-recorded by hand), junk never escapes as a joblib traceback."""
    registry = make_registry(tmp_path)
    registry.register(result, "m")
    directory = tmp_path / "models" / "m" / "1"
    junk = b"definitely not a pickle"
    (directory / "model.joblib").write_bytes(junk)
    digest = hashlib.sha256(junk).hexdigest()
    meta = json.loads((directory / "metadata.json").read_text())
    meta["model_sha256"] = digest
    (directory / "metadata.json").write_text(json.dumps(meta))
    (directory / "model.sha256").write_text(f"{digest}  model.joblib\n")
    with pytest.raises(CorruptModelError, match="does not unpickle"):
        registry.load("m", 1)
    (directory / "metadata.json").write_text("{not json")
    with pytest.raises(CorruptModelError, match="metadata"):
        registry.load("m", 1)


def test_code_version_falls_back_to_the_package_version(monkeypatch) -> None:
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert registry_module.code_version().startswith(("shrivenquant ", "unknown"))


def test_root_defaults_to_the_settings_data_dir(small_platform) -> None:
    registry = ModelRegistry(code_version=fixed_code_version)
    assert registry.root == Path(small_platform.data_dir) / "models"


def _register_in_child(root: str, result_path: str, name: str) -> int:
    """Runs in a spawned process: one concurrent writer."""
    result = joblib.load(result_path)
    return ModelRegistry(root, code_version=fixed_code_version).register(result, name)


def test_concurrent_processes_get_distinct_versions(tmp_path: Path) -> None:
    # a linear model keeps the child processes' imports and pickles small
    result_path = tmp_path / "result.joblib"
    joblib.dump(tiny_result(ModelSpec("ridge")), result_path)
    context = multiprocessing.get_context("spawn")
    jobs = [(str(tmp_path), str(result_path), "shared")] * 6
    with context.Pool(2) as pool:
        # bounded: a pool whose children die while starting would otherwise wait forever
        versions = pool.starmap_async(_register_in_child, jobs).get(timeout=180)
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    registry = make_registry(tmp_path)
    assert [v.version for v in registry.list_versions("shared")] == [1, 2, 3, 4, 5, 6]
    for version in versions:
        registry.load("shared", version)
    leftovers = [p.name for p in (tmp_path / "models" / "shared").iterdir() if p.name.startswith(".")]
    assert leftovers == []
