"""Inlinable, branch-free double-precision exp and log for the pricing kernels (private).

PyPI llvmlite ships without a vector math library (SVML), so ``math.exp`` / ``math.log`` in a
numba loop stay scalar libm calls and keep LLVM from vectorising the loop. These versions are
plain arithmetic on float64 and int64 (the float <-> int bit casts are LLVM ``bitcast``
intrinsics), have no branches or calls and are inlined, so a loop using them vectorises.

Accuracy (checked against mpmath in the tests): ``fexp`` below 2 ulp on [-745, 709.7],
``flog`` below 1 ulp on positive normal numbers (fdlibm's algorithm). Special values:
``fexp`` gives 0 below -745.2, inf above 709.78 and NaN for NaN; ``flog`` is only meant for
positive normal finite numbers (callers route anything else to their slow path). ``fma``
exposes the fused multiply-add, e.g. for the exact square d^2 = hi + lo.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _f2i(typingctx, x):
    """Bits of a float64 as int64 (LLVM bitcast)."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _i2f(typingctx, n):
    """A float64 with the bits of an int64 (LLVM bitcast)."""
    if not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with one rounding (LLVM ``llvm.fma.f64``; a hardware FMA on this target)."""
    if not all(isinstance(v, types.Float) for v in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        f64 = context.get_value_type(types.float64)
        fnty = ir.FunctionType(f64, [f64, f64, f64])
        fn = builder.module.declare_intrinsic("llvm.fma", [f64], fnty)
        return builder.call(fn, list(args))

    return types.float64(types.float64, types.float64, types.float64), codegen


_LOG2E = 1.4426950408889634074
# ln 2 split so that k * _LN2_HI is exact for |k| < 2^11 (Cody-Waite).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# 1.5 * 2^52: adding and subtracting it rounds to the nearest integer.
_ROUND = 6755399441055744.0
_INV_FACT = (
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
)
_E2 = _INV_FACT[2]
_E3 = _INV_FACT[3]
_E4 = _INV_FACT[4]
_E5 = _INV_FACT[5]
_E6 = _INV_FACT[6]
_E7 = _INV_FACT[7]
_E8 = _INV_FACT[8]
_E9 = _INV_FACT[9]
_E10 = _INV_FACT[10]
_E11 = _INV_FACT[11]
_E12 = _INV_FACT[12]
_E13 = _INV_FACT[13]


@njit(cache=True, inline="always")
def _exp_reduced(x, kf):
    """exp(x - kf ln2), |x - kf ln2| <= ln2 / 2: the polynomial shared by the two exps."""
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    # Taylor series to degree 13 on |r| <= ln2 / 2: truncation error 4e-18.
    r2 = r * r
    r4 = r2 * r2
    p_hi = ((_E13 * r + _E12) * r2 + (_E11 * r + _E10)) * r4 + (
        (_E9 * r + _E8) * r2 + (_E7 * r + _E6)
    )
    p_lo = ((_E5 * r + _E4) * r2 + (_E3 * r + _E2)) * r2
    return 1.0 + (r + (p_lo + p_hi * (r4 * r2)))


@njit(cache=True, inline="always")
def fexp(x):
    """exp(x), branch-free (see the module docstring)."""
    # Clamp with comparisons that keep NaN (a NaN x fails both tests).
    xc = 710.0 if x > 710.0 else x
    xc = -746.0 if xc < -746.0 else xc
    kf = (xc * _LOG2E + _ROUND) - _ROUND
    kf = kf if kf == kf else 0.0
    p = _exp_reduced(xc, kf)
    # 2^k as two factors so that subnormal results (k down to -1075) and overflow come out right.
    k = int(kf)
    k1 = k >> 1
    k2 = k - k1
    return p * _i2f((k1 + 1023) << 52) * _i2f((k2 + 1023) << 52)


@njit(cache=True, inline="always")
def fexp_in_range(x):
    """exp(x) for finite |x| <= 700 only: ``fexp`` without its clamps, NaN guard and subnormal
    scaling (some 10% of the greeks kernel). Outside the range the result is garbage, so callers
    use it only where out-of-range elements are recomputed elsewhere (the discount factors of
    pass 1, whose ``|r T| < 500`` is checked)."""
    kf = (x * _LOG2E + _ROUND) - _ROUND
    return _exp_reduced(x, kf) * _i2f((int(kf) + 1023) << 52)


_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
# Bits of sqrt(2)/2 rounded down to the high 32 bits, as fdlibm: mantissas are reduced to
# [sqrt(2)/2, sqrt(2)).
_SQRT_HALF_BITS = 0x3FE6A09E00000000
_ONE_BITS = 0x3FF0000000000000
_MANT_MASK = 0x000FFFFFFFFFFFFF


@njit(cache=True, inline="always")
def flog(x):
    """Natural log of a positive normal finite x, branch-free (fdlibm's e_log.c algorithm)."""
    bits = _f2i(x) + (_ONE_BITS - _SQRT_HALF_BITS)
    k = (bits >> 52) - 1023
    m = _i2f((bits & _MANT_MASK) + _SQRT_HALF_BITS)
    f = m - 1.0
    kf = float(k)
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return kf * _LN2_HI - ((hfsq - (s * (hfsq + r) + kf * _LN2_LO)) - f)
