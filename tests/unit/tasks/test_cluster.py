"""Where Dask work goes: an explicit address, the environment, the settings, or a local cluster."""

from __future__ import annotations

import pytest

from tasks.cluster import DASK_ADDRESS_ENV, dask_task_runner, scheduler_address
from tests.conftest import SMALL_CONFIG


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    def write(address: str) -> None:
        path = tmp_path / "shriven.toml"
        path.write_text(SMALL_CONFIG + f'\n[dask]\naddress = "{address}"\n')
        monkeypatch.setenv("SHRIVEN_CONFIG", str(path))

    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    return write


def test_without_an_address_flows_start_a_local_cluster(settings_file) -> None:
    settings_file("")
    assert scheduler_address() is None
    runner = dask_task_runner(3)
    assert runner.address is None
    assert runner.cluster_kwargs["n_workers"] == 3
    assert runner.cluster_kwargs["host"] == "127.0.0.1"


def test_the_settings_name_a_scheduler_and_the_environment_overrides_them(settings_file, monkeypatch) -> None:
    settings_file("tcp://10.0.0.5:8786")
    assert dask_task_runner(2).address == "tcp://10.0.0.5:8786"
    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://10.0.0.6:8786")
    assert scheduler_address() == "tcp://10.0.0.6:8786"
    assert scheduler_address("tcp://10.0.0.7:8786") == "tcp://10.0.0.7:8786"
