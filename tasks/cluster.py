"""Where fan-out work runs: a Dask cluster through prefect-dask's task runner.

Model fits, sweep chunks and backfill windows are independent and deterministic, so any of them
can run on a local cluster of worker processes or on the scheduler named by the settings
(``[dask] address``) or the environment, and give the same results as in one process.
"""

from __future__ import annotations

import os
from typing import Any

from shriven.config import load_settings

#: Environment variable with the address of a running Dask scheduler (``tcp://host:8786``):
#: when set, ``dask_workers > 0`` sends the work there instead of starting a local cluster.
#: Overrides ``[dask] address`` of the settings.
DASK_ADDRESS_ENV = "SHRIVEN_DASK_ADDRESS"


def scheduler_address(address: str | None = None) -> str | None:
    """The Dask scheduler to use: ``address``, else the environment, else the settings; None for
    a local cluster."""
    return address or os.environ.get(DASK_ADDRESS_ENV) or load_settings().dask.address or None


def dask_task_runner(workers: int, address: str | None = None) -> Any:
    """A ``DaskTaskRunner``: the scheduler from :func:`scheduler_address`, else a local cluster
    of ``workers`` single-threaded worker processes."""
    from prefect_dask import DaskTaskRunner

    address = scheduler_address(address)
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": int(workers),
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",  # loopback only: the scheduler and dashboard are not for the network
            "dashboard_address": "127.0.0.1:0",
        }
    )
