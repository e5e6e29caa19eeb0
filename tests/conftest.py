"""Shared test set-up: offline, quiet Prefect; per-test data directories; a small universe."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# numba's parallel kernels and torch share libgomp: with its default (spinning) wait policy,
# idle numba threads took the 2 cores from torch's gemms (sentiment flow test 68 s -> 14 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "shriven")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

import pytest  # noqa: E402

from shriven.testing.small_config import SMALL_CONFIG  # noqa: E402,F401  (tests import it from here)


@pytest.fixture
def small_platform(tmp_path, monkeypatch):
    """A data dir and a three-symbol, one-hour-session settings file, set through the environment."""
    config = tmp_path / "shriven.toml"
    config.write_text(SMALL_CONFIG)
    data = tmp_path / "data"
    monkeypatch.setenv("SHRIVEN_CONFIG", str(config))
    monkeypatch.setenv("SHRIVEN_DATA_DIR", str(data))
    from shriven.config import load_settings

    return load_settings()
