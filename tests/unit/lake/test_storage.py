"""Where lake bytes live: local paths and fsspec URLs, atomic publish, DuckDB over a remote store
(fsspec's in-memory filesystem stands in for an object store here; the S3 server tests are in
tests/integration/test_lake_object_store.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shriven.lake.storage import (
    is_remote,
    lake_filesystem,
    modified_at,
    publish_file,
    register_lake_filesystem,
)


def test_remote_means_a_scheme_other_than_file() -> None:
    assert is_remote("s3://bucket/lake")
    assert is_remote("memory://x")
    assert not is_remote("/data/lake")
    assert not is_remote("file:///data/lake")
    assert not is_remote("data")


def test_remote_filesystems_keep_no_listing_cache() -> None:
    fs, path = lake_filesystem("memory://storage-test/lake")
    assert path == "/storage-test/lake"
    assert fs.dircache.use_listings_cache is False


def test_modified_at_reads_local_and_s3_entries() -> None:
    assert modified_at({"mtime": 12.5}) == 12.5
    when = datetime(2026, 1, 5, tzinfo=UTC)
    assert modified_at({"LastModified": when}) == when.timestamp()
    assert modified_at({}) == 0.0


def _fail_after_some_bytes(fh) -> None:
    fh.write(b"half a file")
    raise OSError("the writer died")


@pytest.mark.parametrize("remote", [False, True])
def test_publish_replaces_whole_or_not_at_all(tmp_path, remote: bool) -> None:
    if remote:
        fs, root = lake_filesystem(f"memory://publish-{os.getpid()}-{id(tmp_path)}")
    else:
        fs, root = lake_filesystem(str(tmp_path))
    path = f"{root}/d/part.bin"
    publish_file(fs, path, lambda fh: fh.write(b"old"))
    with pytest.raises(OSError, match="writer died"):
        publish_file(fs, path, _fail_after_some_bytes)
    assert fs.cat_file(path) == b"old"
    assert fs.ls(f"{root}/d", detail=False) == [path]  # no temporary or torn file left
    publish_file(fs, path, lambda fh: fh.write(b"new"), sync=True)
    assert fs.cat_file(path) == b"new"


def test_duckdb_reads_a_remote_lake_through_fsspec() -> None:
    root = f"memory://duck-{os.getpid()}/lake"
    fs, path = lake_filesystem(root)
    publish_file(fs, f"{path}/t/date=2026-01-05/part.parquet", lambda fh: pq.write_table(pa.table({"x": [1, 2, 3]}), fh))
    con = duckdb.connect()
    register_lake_filesystem(con, root)
    register_lake_filesystem(con, root)  # idempotent
    assert con.sql(f"SELECT sum(x), any_value(date) FROM read_parquet('{root}/t/*/*.parquet', hive_partitioning = true)").fetchall()[0][0] == 6
    local = duckdb.connect()
    register_lake_filesystem(local, "/a/local/lake")  # nothing to register
    assert not local.filesystem_is_registered("memory")
