"""OffsetStore: round trip, no going back, and a file that is never half written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import shriven.durable as atomic_module
from shriven.signals import OffsetStore

HELPERS = Path(__file__).with_name("signals_helpers.py")
REPO = Path(__file__).resolve().parents[3]


def test_load_is_minus_one_before_any_commit(tmp_path: Path) -> None:
    assert OffsetStore(tmp_path / "consumer.offset").load() == -1


def test_round_trip_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "consumer.offset"
    store = OffsetStore(path)
    store.commit(0)
    assert store.load() == 0
    store.commit(41)
    store.commit(41)  # a repeat is a no-op
    assert OffsetStore(str(path)).load() == 41
    assert path.read_text() == "41\n"


def test_an_offset_never_goes_back(tmp_path: Path) -> None:
    store = OffsetStore(tmp_path / "c.offset")
    store.commit(10)
    with pytest.raises(ValueError, match="before the committed 10"):
        store.commit(9)
    assert store.load() == 10


@pytest.mark.parametrize("bad", [-2, 1.5, "3", True, None])
def test_bad_offsets_are_refused(tmp_path: Path, bad: object) -> None:
    store = OffsetStore(tmp_path / "c.offset")
    with pytest.raises(ValueError, match="integer >= -1"):
        store.commit(bad)  # type: ignore[arg-type]
    assert store.load() == -1


@pytest.mark.parametrize("content", ["", "12x", "-5", "1\n2\n"])
def test_a_corrupt_file_raises_rather_than_replaying_the_log(tmp_path: Path, content: str) -> None:
    path = tmp_path / "c.offset"
    path.write_text(content)
    with pytest.raises(ValueError, match="corrupt"):
        OffsetStore(path).load()


def test_a_crash_before_the_rename_keeps_the_old_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = OffsetStore(tmp_path / "c.offset")
    store.commit(5)

    def crash(src: str, dst: str) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(atomic_module.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        store.commit(6)
    monkeypatch.undo()
    assert store.load() == 5
    assert os.listdir(tmp_path) == ["c.offset"]  # the temp file was cleaned up


def test_a_process_killed_mid_commit_never_leaves_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "c.offset"
    store = OffsetStore(path)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen([sys.executable, str(HELPERS), str(path)], env=env)
    try:
        seen = [-1]
        # Read while the child commits: every load parses and offsets only rise.
        while seen[-1] < 300:
            assert child.poll() is None, "the committing process died on its own"
            value = store.load()
            assert value >= seen[-1]
            seen.append(value)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    final = store.load()
    assert final >= 300
    assert path.read_text() == f"{final}\n"
