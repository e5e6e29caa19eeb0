"""The CPU's cycle counter inside numba code: latency figures from within a compiled loop.

``perf_counter_ns`` cannot be called from nopython code without leaving it (objmode costs
microseconds), so compiled loops read the time-stamp counter and :func:`ns_per_cycle` converts
against the wall clock. On x86-64 the read is ``lfence; rdtsc`` in volatile assembly that
clobbers memory, so neither the CPU nor LLVM moves work across it (a bare
``llvm.readcyclecounter`` was measured reordered: zero ticks around an inlined risk check);
elsewhere it is ``llvm.readcyclecounter``. The counter is invariant on current x86
(``constant_tsc``): its rate does not follow the core's frequency. Each read costs some 10-20 ns.
"""

from __future__ import annotations

import platform
import time

from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["cycles", "ns_per_cycle"]

_X86_64 = platform.machine().lower() in ("x86_64", "amd64")
if _X86_64:
    llvm.initialize_native_asmparser()  # numba leaves it off; inline assembly needs it


@intrinsic
def cycles(typingctx):  # noqa: ARG001 - numba's intrinsic signature
    """Cycle counter now (int64); callable from njit code only."""
    sig = types.int64()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        if _X86_64:
            asm = ir.InlineAsm(
                fnty,
                "lfence\n\trdtsc\n\tshlq $$32, %rdx\n\torq %rdx, %rax",
                "={rax},~{rdx},~{memory},~{dirflag},~{fpsr},~{flags}",
                side_effect=True,
            )
            return builder.call(asm, [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return sig, codegen


@njit(cache=True)
def _now_cycles() -> int:
    return cycles()


def ns_per_cycle(seconds: float = 0.05) -> float:
    """Nanoseconds per counter tick, measured against ``perf_counter_ns`` over ``seconds``."""
    _now_cycles()  # compile / load first
    t0, c0 = time.perf_counter_ns(), _now_cycles()
    time.sleep(seconds)
    c1, t1 = _now_cycles(), time.perf_counter_ns()
    if c1 <= c0:
        raise RuntimeError("the cycle counter did not advance")
    return (t1 - t0) / (c1 - c0)
