"""A module that declares what its cached functions compile in is recompiled when that changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

KERNEL = """
from numba import njit


@njit(cache=True, inline="always")
def step(x):
    return x + {increment}
"""

LOOP = """
from numba import njit

import kernel
from shriven.numba_cache import cache_depends_on

{declare}


@njit(cache=True)
def loop(n):
    total = 0
    for i in range(n):
        total = kernel.step(total)
    return total


print(loop(10))
"""


def _run(script: Path) -> int:
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=script.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return int(out.stdout)


def test_a_declared_module_follows_the_kernels_it_compiles_in(tmp_path: Path) -> None:
    declared = tmp_path / "declared.py"
    declared.write_text(LOOP.format(declare="cache_depends_on(__file__, kernel)"))
    plain = tmp_path / "plain.py"
    plain.write_text(LOOP.format(declare=""))
    (tmp_path / "kernel.py").write_text(KERNEL.format(increment=1))
    assert (_run(declared), _run(plain)) == (10, 10)  # compiled and cached
    assert (_run(declared), _run(plain)) == (10, 10)  # from the cache
    assert list((tmp_path / "__pycache__").glob("declared.loop-*.nbi"))
    (tmp_path / "kernel.py").write_text(KERNEL.format(increment=2))
    assert _run(declared) == 20  # compiled again: the kernel's file is part of its cache key
    # numba alone keeps running the cached machine code of the old kernel (if a numba release
    # starts to notice, this line fails and the declaration may go)
    assert _run(plain) == 10
