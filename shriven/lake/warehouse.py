"""Build ``warehouse.duckdb``: the lake's views in a file that users open for ad-hoc SQL.

DuckDB locks its file for whoever opens it (even read-only), so this is one short step at the
end of a pipeline; it retries while another process (a user's ``duckdb`` shell) holds the lock.
Users' own tables in the file are left alone: only the platform's views are replaced.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shriven.lake.views import create_views

log = logging.getLogger(__name__)


class WarehouseLockedError(RuntimeError):
    """Another process held the warehouse file for longer than the caller was willing to wait."""


@dataclass(frozen=True)
class WarehouseBuild:
    """The outcome of a warehouse build."""

    path: str
    views: tuple[str, ...]
    attempts: int
    seconds: float


#: DuckDB's messages for a file another process holds (POSIX lock, Windows sharing violation).
_LOCK_MESSAGES = ("could not set lock", "conflicting lock", "being used by another process")


def _is_lock_error(exc: Exception) -> bool:
    # match the messages, not any "lock" in the text: the text quotes the path (…/blocks/…)
    text = str(exc).lower()
    return any(m in text for m in _LOCK_MESSAGES)


def build_warehouse(
    warehouse_path: str,
    lake_root: str,
    timeout_s: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    *,
    audit_dir: str | os.PathLike[str] | None = None,
    signals_root: str | None = None,
) -> WarehouseBuild:
    """Create or replace every lake view inside the warehouse file, waiting out other holders."""
    Path(warehouse_path).parent.mkdir(parents=True, exist_ok=True)
    started = clock()
    delay = 0.1
    attempts = 0
    while True:
        attempts += 1
        try:
            con = duckdb.connect(warehouse_path)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise
            waited = clock() - started
            if waited >= timeout_s:
                raise WarehouseLockedError(
                    f"{warehouse_path} stayed locked by another process for {waited:.0f}s "
                    f"({attempts} attempts); close the other DuckDB session and run `shriven warehouse`"
                ) from exc
            log.warning("warehouse %s is locked by another process; retry %d in %.1fs", warehouse_path, attempts, delay)
            sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        try:
            con.execute("BEGIN TRANSACTION")
            views = create_views(con, lake_root, audit_dir=audit_dir, signals_root=signals_root)
            con.execute("COMMIT")
        finally:
            con.close()
        seconds = clock() - started
        log.info("warehouse %s: %d views in %.2fs", warehouse_path, len(views), seconds)
        return WarehouseBuild(warehouse_path, tuple(views), attempts, seconds)


def memory_connection(
    lake_root: str,
    *,
    audit_dir: str | os.PathLike[str] | None = None,
    signals_root: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake views, for long-lived readers (never locks the file)."""
    con = duckdb.connect(":memory:")
    create_views(con, lake_root, audit_dir=audit_dir, signals_root=signals_root)
    return con
