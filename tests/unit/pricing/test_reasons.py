"""The int constants of the kernels mirror the ``Reason`` enum."""

from __future__ import annotations

from shriven.pricing import _kernels as _k
from shriven.pricing.reasons import Reason


def test_kernel_constants_mirror_enum() -> None:
    for reason in Reason:
        assert getattr(_k, f"R_{reason.name}") == reason.value
    constants = {name for name in vars(_k) if name.startswith("R_") and name[2:].isupper()}
    assert constants == {f"R_{reason.name}" for reason in Reason}


def test_codes_fit_int8() -> None:
    assert all(-128 <= reason.value <= 127 for reason in Reason)
