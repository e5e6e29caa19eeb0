"""Model registry: versioned trained models on disk, a catalog of them and movable aliases.

Layout under ``<root>/models/``::

    <name>/<version>/model.joblib     the fitted estimator (joblib)
    <name>/<version>/model.sha256     sha256 of model.joblib (also in metadata.json)
    <name>/<version>/metadata.json    what, from which data, how good, by which code, when
    catalog.parquet                   one row per registered version (all names)
    aliases.parquet                   (name, alias) -> version, e.g. production, staging
    .lock                             exclusive lock of every write

Versions are ints from 1, never reused (the catalog remembers versions whose directory was
deleted). Every write happens under an ``flock`` on ``.lock`` so concurrent processes get
distinct versions, and every file is written under a temporary name and renamed into place (a
version directory is filled under a temporary name and renamed whole), so a reader never sees a
half-written version or catalog.

**Trust**: model files are pickles (joblib) and unpickling runs code. The registry directory is
trusted: only the platform's own training writes it. The sha256 recorded at registration guards
against corruption and accidental edits (a mismatch is refused before unpickling), not against
an attacker who can rewrite both files.

The registry needs a local filesystem (``flock`` and atomic ``rename``); object storage is not
supported here. A crash between renaming a version directory into place and rewriting the
catalog leaves an orphan directory: its number is never reused, but it cannot be loaded or
promoted (the catalog is the list of what was registered).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import math
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import polars as pl

from models.training import ModelKind, TrainingResult, predict_signal
from shriven.config import load_settings

MODEL_FILE = "model.joblib"
HASH_FILE = "model.sha256"
METADATA_FILE = "metadata.json"
CATALOG_FILE = "catalog.parquet"
ALIASES_FILE = "aliases.parquet"
LOCK_FILE = ".lock"
#: Layout version written into metadata.json.
FORMAT_VERSION = 1
DEFAULT_ALIAS = "production"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

CATALOG_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "version": pl.Int64(),
    "kind": pl.String(),
    "created_at": pl.String(),
    "training_start_ns": pl.Int64(),
    "training_end_ns": pl.Int64(),
    "n_features": pl.Int64(),
    "n_rows": pl.Int64(),
    "data_fingerprint": pl.String(),
    "model_sha256": pl.String(),
    "code_version": pl.String(),
    "ic": pl.Float64(),
    "rank_ic": pl.Float64(),
    "sharpe": pl.Float64(),
}
ALIASES_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "alias": pl.String(),
    "version": pl.Int64(),
    "updated_at": pl.String(),
}


class RegistryError(Exception):
    """Base of every registry failure."""


class UnknownModelError(RegistryError):
    """No version of this model name was ever registered."""


class VersionNotFoundError(RegistryError):
    """The version was never registered, or its directory is gone."""


class AliasNotFoundError(RegistryError):
    """The model has no such alias."""


class DanglingAliasError(RegistryError):
    """The alias points at a version whose directory was deleted."""


class CorruptModelError(RegistryError):
    """The model file or metadata is missing, fails its sha256, or does not unpickle."""


@dataclass(frozen=True)
class ModelVersion:
    """One catalog row: a registered version and its headline facts."""

    name: str
    version: int
    kind: str
    created_at: str
    training_start_ns: int
    training_end_ns: int
    n_features: int
    n_rows: int
    data_fingerprint: str
    model_sha256: str
    code_version: str
    ic: float
    rank_ic: float
    sharpe: float
    aliases: tuple[str, ...]
    #: False when the version directory was deleted after registration.
    available: bool


@dataclass(frozen=True)
class LoadedModel:
    """A verified model from the registry with its metadata, ready to predict."""

    name: str
    version: int
    model: Any
    metadata: dict[str, Any]
    path: str

    @property
    def features(self) -> tuple[str, ...]:
        """Feature columns, in the order the model expects."""
        return tuple(self.metadata["features"])

    @property
    def kind(self) -> ModelKind:
        """The estimator kind the model was trained as."""
        return ModelKind(self.metadata["kind"])

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Signal on new feature rows, computed exactly as training computed it."""
        return predict_signal(self.model, self.kind, frame, self.features)


def code_version() -> str:
    """The git commit of the source tree, or the package version when there is no git checkout."""
    repo = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        commit = out.stdout.strip()
        if re.fullmatch(r"[0-9a-f]{40,64}", commit):
            return commit
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return "shrivenquant " + importlib_metadata.version("shrivenquant")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _utc_now() -> datetime:
    """The default clock (tests pass a fixed one)."""
    return datetime.now(UTC)


class ModelRegistry:
    """Versioned models under ``<root>/models``; safe for concurrent writers on one machine."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        code_version: Callable[[], str] = code_version,
    ) -> None:
        """Open (lazily create) the registry; ``root`` defaults to the settings' local dir."""
        if root is None:
            root = load_settings().local_root
        root_text = os.fspath(root)
        if "://" in root_text and not root_text.startswith("file://"):
            raise ValueError(f"the model registry needs a local directory, got {root_text!r}")
        self.root = Path(root_text.removeprefix("file://")) / "models"
        self._clock = clock
        self._code_version = code_version

    # ------------------------------------------------------------------ writing
    def register(self, result: TrainingResult, name: str) -> int:
        """Store a trained model as the next version of ``name`` and return that version."""
        _check_name(name)
        if not isinstance(result, TrainingResult):
            raise ValueError(f"register needs a TrainingResult, got {type(result).__name__}")
        buffer = io.BytesIO()
        joblib.dump(result.model, buffer)
        model_bytes = buffer.getvalue()
        digest = hashlib.sha256(model_bytes).hexdigest()
        code = self._code_version()
        with self._locked():
            catalog = self._read_catalog()
            version = self._next_version(name, catalog)
            created_at = _iso(self._clock())
            meta = _metadata(result, name, version, digest, code, created_at)
            model_dir = self.root / name
            model_dir.mkdir(parents=True, exist_ok=True)
            staging = model_dir / f".tmp-{version}-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                _write_file(staging / MODEL_FILE, model_bytes)
                _write_file(staging / HASH_FILE, f"{digest}  {MODEL_FILE}\n".encode())
                _write_file(
                    staging / METADATA_FILE,
                    json.dumps(meta, indent=2, sort_keys=True, allow_nan=False).encode(),
                )
                os.rename(staging, model_dir / str(version))
            except BaseException:
                for leftover in staging.glob("*"):
                    leftover.unlink()
                with contextlib.suppress(OSError):
                    staging.rmdir()
                raise
            row = _catalog_row(meta)
            catalog = pl.concat([catalog, pl.DataFrame([row], schema=CATALOG_SCHEMA)])
            self._write_table(catalog.sort("name", "version"), CATALOG_FILE)
        return version

    def promote(self, name: str, version: int, alias: str = DEFAULT_ALIAS) -> None:
        """Point ``alias`` of ``name`` at ``version`` (it must exist on disk)."""
        _check_name(name)
        _check_alias(alias)
        version = _check_version(version)
        with self._locked():
            known = self._known_versions(name, self._read_catalog())["version"].to_list()
            if version not in known or not (self.root / name / str(version)).is_dir():
                raise VersionNotFoundError(
                    f"model {name!r} has no version {version} on disk (versions: "
                    f"{self._disk_versions(name)})"
                )
            aliases = self._read_aliases().filter(
                ~((pl.col("name") == name) & (pl.col("alias") == alias))
            )
            row = {"name": name, "alias": alias, "version": version,
                   "updated_at": _iso(self._clock())}
            aliases = pl.concat([aliases, pl.DataFrame([row], schema=ALIASES_SCHEMA)])
            self._write_table(aliases.sort("name", "alias"), ALIASES_FILE)

    # ------------------------------------------------------------------ reading
    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every registered version of ``name`` in version order, with aliases and availability."""
        _check_name(name)
        rows = self._known_versions(name, self._read_catalog())
        aliases = self._read_aliases().filter(pl.col("name") == name)
        out = []
        for row in rows.iter_rows(named=True):
            pointing = aliases.filter(pl.col("version") == row["version"])["alias"].to_list()
            out.append(
                ModelVersion(
                    **{k: (float("nan") if v is None and CATALOG_SCHEMA[k] == pl.Float64() else v)
                       for k, v in row.items()},
                    aliases=tuple(sorted(pointing)),
                    available=(self.root / name / str(row["version"])).is_dir(),
                )
            )
        return out

    def resolve(self, name: str, alias: str = DEFAULT_ALIAS) -> int:
        """The version ``alias`` of ``name`` points at, checked to exist on disk."""
        _check_name(name)
        _check_alias(alias)
        self._known_versions(name, self._read_catalog())
        match = self._read_aliases().filter((pl.col("name") == name) & (pl.col("alias") == alias))
        if match.height == 0:
            known = sorted(self._read_aliases().filter(pl.col("name") == name)["alias"].to_list())
            raise AliasNotFoundError(f"model {name!r} has no alias {alias!r} (aliases: {known})")
        version = int(match["version"][0])
        if not (self.root / name / str(version)).is_dir():
            raise DanglingAliasError(
                f"alias {alias!r} of model {name!r} points at version {version}, whose directory "
                f"{self.root / name / str(version)} no longer exists; promote another version"
            )
        return version

    def load(self, name: str, alias_or_version: str | int = DEFAULT_ALIAS) -> LoadedModel:
        """A model by alias or version, its file verified against the recorded sha256 first."""
        _check_name(name)
        if isinstance(alias_or_version, bool):
            raise ValueError(f"alias_or_version must be an alias or an int, got {alias_or_version!r}")
        if isinstance(alias_or_version, int) or (
            isinstance(alias_or_version, str) and alias_or_version.isdigit()
        ):
            version = _check_version(int(alias_or_version))
            known = self._known_versions(name, self._read_catalog())
            if version not in known["version"].to_list():
                raise VersionNotFoundError(
                    f"model {name!r} has no version {version} "
                    f"(registered: {known['version'].to_list()})"
                )
        else:
            version = self.resolve(name, alias_or_version)
        directory = self.root / name / str(version)
        if not directory.is_dir():
            raise VersionNotFoundError(
                f"version {version} of model {name!r} was registered but {directory} is gone"
            )
        meta = _read_metadata(directory)
        model_path = directory / MODEL_FILE
        try:
            model_bytes = model_path.read_bytes()
        except OSError as exc:
            raise CorruptModelError(f"cannot read model file {model_path}: {exc}") from None
        expected = meta.get("model_sha256")
        actual = hashlib.sha256(model_bytes).hexdigest()
        recorded = _read_hash_file(directory)
        if actual != expected or (recorded is not None and recorded != expected):
            raise CorruptModelError(
                f"model file {model_path} fails its sha256 check (expected {expected}, found "
                f"{actual}): it was modified or damaged; re-register the model"
            )
        try:
            model = joblib.load(io.BytesIO(model_bytes))
        except Exception as exc:
            raise CorruptModelError(
                f"model file {model_path} does not unpickle ({type(exc).__name__}: {exc}); a "
                f"library version change can cause this (trained with {meta.get('libraries')})"
            ) from None
        return LoadedModel(name=name, version=version, model=model, metadata=meta, path=str(directory))

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive lock across processes (released on close, also when a process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_catalog(self) -> pl.DataFrame:
        return self._read_table(CATALOG_FILE, CATALOG_SCHEMA)

    def _read_aliases(self) -> pl.DataFrame:
        return self._read_table(ALIASES_FILE, ALIASES_SCHEMA)

    def _read_table(self, file_name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        path = self.root / file_name
        if not path.is_file():
            return pl.DataFrame(schema=schema)
        try:
            return pl.read_parquet(path).select(
                pl.col(name).cast(dtype) for name, dtype in schema.items()
            )
        except Exception as exc:
            raise RegistryError(f"registry table {path} is unreadable: {exc}") from None

    def _write_table(self, frame: pl.DataFrame, file_name: str) -> None:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        _write_file(self.root / file_name, buffer.getvalue())

    def _known_versions(self, name: str, catalog: pl.DataFrame) -> pl.DataFrame:
        rows = catalog.filter(pl.col("name") == name).sort("version")
        if rows.height == 0:
            known = sorted(set(catalog["name"].to_list()))
            raise UnknownModelError(f"no model named {name!r} is registered (models: {known})")
        return rows

    def _disk_versions(self, name: str) -> list[int]:
        directory = self.root / name
        if not directory.is_dir():
            return []
        return sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit())

    def _next_version(self, name: str, catalog: pl.DataFrame) -> int:
        registered = catalog.filter(pl.col("name") == name)["version"].to_list()
        return max([0, *registered, *self._disk_versions(name)]) + 1


def _metadata(
    result: TrainingResult, name: str, version: int, digest: str, code: str, created_at: str
) -> dict[str, Any]:
    """The metadata.json content of one version."""
    libraries = {}
    for package in ("scikit-learn", "numpy", "polars", "joblib"):
        try:
            libraries[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            libraries[package] = None
    return _json_safe({
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "kind": result.spec.kind.value,
        "params": dict(result.spec.params),
        "features": list(result.features),
        "label": result.label,
        "forward_return": result.forward_return,
        "training_start_ns": result.training_start_ns,
        "training_end_ns": result.training_end_ns,
        "training_start": _ns_iso(result.training_start_ns),
        "training_end": _ns_iso(result.training_end_ns),
        "n_rows": result.n_rows,
        "dropped_rows": result.dropped_rows,
        "dropped_by_column": dict(result.dropped_by_column),
        "validation": {
            "n_splits": result.validation.n_splits,
            "test_size": result.validation.test_size,
            "train_size": result.validation.train_size,
            "expanding": result.validation.expanding,
            "label_horizon_ns": result.validation.label_horizon_ns,
            "embargo_ns": result.validation.embargo_ns,
        },
        "cost_bps": result.cost_bps,
        "periods_per_year": result.periods_per_year,
        "position_scale": result.position_scale,
        "metrics": result.metrics.as_dict(),
        "fold_metrics": [fold.as_dict() for fold in result.folds],
        "data_fingerprint": result.data_fingerprint,
        "code_version": code,
        "libraries": libraries,
        "created_at": created_at,
        "model_file": MODEL_FILE,
        "model_sha256": digest,
    })


def _catalog_row(meta: dict[str, Any]) -> dict[str, Any]:
    """The catalog row of one version, from its metadata."""
    metrics = meta["metrics"]
    return {
        "name": meta["name"],
        "version": meta["version"],
        "kind": meta["kind"],
        "created_at": meta["created_at"],
        "training_start_ns": meta["training_start_ns"],
        "training_end_ns": meta["training_end_ns"],
        "n_features": len(meta["features"]),
        "n_rows": meta["n_rows"],
        "data_fingerprint": meta["data_fingerprint"],
        "model_sha256": meta["model_sha256"],
        "code_version": meta["code_version"],
        "ic": metrics.get("ic"),
        "rank_ic": metrics.get("rank_ic"),
        "sharpe": metrics.get("sharpe"),
    }


def _read_metadata(directory: Path) -> dict[str, Any]:
    """metadata.json of a version; a missing or broken one is a corrupt model."""
    path = directory / METADATA_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptModelError(f"metadata {path} is missing or not JSON: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("model_sha256"), str):
        raise CorruptModelError(f"metadata {path} lacks the model's sha256")
    return meta


def _read_hash_file(directory: Path) -> str | None:
    """The sha256 in model.sha256 (None when the file is absent)."""
    path = directory / HASH_FILE
    if not path.is_file():
        return None
    text = path.read_text().split()
    return text[0] if text else ""


def _write_file(path: Path, data: bytes) -> None:
    """Write to a temporary name beside ``path``, fsync, then rename into place (atomic)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _json_safe(value: Any) -> Any:
    """NaN/inf become None (JSON has neither); numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _iso(moment: datetime) -> str:
    """UTC ISO-8601 with a Z; naive datetimes are refused (they hide a time zone bug)."""
    if moment.tzinfo is None:
        raise ValueError("the registry clock must return timezone-aware datetimes")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ns_iso(ns: int) -> str:
    """Epoch ns as a readable UTC timestamp for metadata."""
    return np.datetime_as_string(np.datetime64(int(ns), "ns"), unit="ns") + "Z"


def _check_name(name: str) -> None:
    """Names become directory names: no separators, no dot-dot, no clash with the tables."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (CATALOG_FILE, ALIASES_FILE):
        raise ValueError(
            f"model name must match {_NAME.pattern} (letters, digits, '.', '_', '-'), got {name!r}"
        )


def _check_alias(alias: str) -> None:
    """An alias may not look like a version number (load accepts both)."""
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias.isdigit():
        raise ValueError(f"alias must match {_ALIAS.pattern}, got {alias!r}")


def _check_version(version: int) -> int:
    """A positive int version."""
    if isinstance(version, bool) or not isinstance(version, int | np.integer) or version < 1:
        raise ValueError(f"version must be an int >= 1, got {version!r}")
    return int(version)
