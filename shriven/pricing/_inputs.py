"""Input preparation shared by the public wrappers: broadcast, flatten, cast (private)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def broadcast_inputs(
    floats: tuple[ArrayLike, ...], flags: ArrayLike
) -> tuple[tuple[int, ...], list[np.ndarray], np.ndarray]:
    """Broadcast float inputs and a boolean flag array to one shape; return flat views.

    Arrays that are already contiguous float64 (bool for the flags) of the full shape are used
    in place; scalars and smaller arrays are expanded.
    """
    float_arrays = [np.asarray(a, dtype=np.float64) for a in floats]
    flag_array = np.asarray(flags)
    if flag_array.dtype != np.bool_:
        if flag_array.dtype.kind not in "biu":
            raise TypeError(f"is_call must be boolean, got dtype {flag_array.dtype}")
        flag_array = flag_array.astype(np.bool_)
    shapes = {a.shape for a in float_arrays}
    shapes.add(flag_array.shape)
    # Inputs of one shape (the usual book) skip numpy's broadcasting machinery: a few
    # microseconds per call, as much as pricing a hundred options.
    if len(shapes) == 1:
        shape = shapes.pop()
    else:
        shape = np.broadcast_shapes(*(a.shape for a in float_arrays), flag_array.shape)
    size = math.prod(shape)
    flat = [_flat(a, shape, size) for a in float_arrays]
    return shape, flat, _flat(flag_array, shape, size)


def _flat(a: np.ndarray, shape: tuple[int, ...], size: int) -> np.ndarray:
    # Always C-contiguous and writable-typed alike, so the kernels compile one signature.
    if a.shape == shape and a.flags.c_contiguous and a.flags.writeable:
        return a.reshape(size)
    if a.size == 1:
        return np.full(size, a.reshape(1)[0], dtype=a.dtype)
    return np.array(np.broadcast_to(a, shape), dtype=a.dtype, order="C").reshape(size)
