"""Per-element reason codes of the pricing kernels.

Vectorised functions never raise on a bad element: they write NaN into its outputs and one of
these codes into the ``reason`` int8 array of the result. Scalar functions raise ``ValueError``
naming the code. The values are mirrored as plain ints in ``_kernels.py`` (numba cannot read an
``IntEnum``); a test keeps the two in sync.
"""

from __future__ import annotations

from enum import IntEnum


class Reason(IntEnum):
    """Why an element has no (finite) result; ``OK`` when it has one."""

    #: The element was priced / solved.
    OK = 0
    #: An input is NaN or infinite.
    NAN_INPUT = 1
    #: Spot, forward or strike is <= 0.
    NONPOSITIVE_PRICE = 2
    #: Time to expiry is < 0.
    NEGATIVE_TIME = 3
    #: Volatility is < 0.
    NEGATIVE_VOL = 4
    #: Option price below its no-arbitrage lower bound (discounted intrinsic value).
    PRICE_BELOW_INTRINSIC = 5
    #: Option price at or above its no-arbitrage upper bound (discounted forward for a call,
    #: discounted strike for a put), or time value with zero time to expiry.
    PRICE_ABOVE_MAX = 6
    #: The iterative solver did not reach its tolerance.
    NO_CONVERGENCE = 7
    #: A parameter of the method is invalid (e.g. fewer than one tree step).
    INVALID_PARAMETER = 8
    #: Inputs are valid but so extreme (e.g. rate * expiry = 1e300) that a result over- or
    #: underflows to a non-finite value.
    OUT_OF_RANGE = 9


def raise_for(reason: int, what: str) -> None:
    """Raise ``ValueError`` naming ``reason`` unless it is ``Reason.OK``."""
    if reason != Reason.OK:
        raise ValueError(f"{what}: {Reason(int(reason)).name}")
