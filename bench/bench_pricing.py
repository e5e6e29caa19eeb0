"""Options pricing: ShrivenQuant's numba kernels against numpy/scipy, QuantLib and py_vollib.

Usage: ``python bench/bench_pricing.py [--options 1_000_000] [--repeat 3]``

On ``options`` random European options (moneyness K/S 0.7-1.4, expiry 1 day-5 years
log-uniform, vol 5 %-100 %, rate 0-5 %, yield 0-3 %, calls and puts), best of ``repeat`` after a
warm-up (the JIT compiles in the warm-up):

(a) ours: ``black_scholes`` price + 7 greeks, all threads and 1 thread
    (``numba.set_num_threads(1)``), through the public wrapper (fresh output arrays, and a
    reused ``out=GreeksBuffer``) and the kernel alone (preallocated output). Each fresh result
    is dropped before the next call, so the wrapper recycles its output block (see
    ``shriven.pricing.black_scholes``); "new memory" empties that pool before every call
    (``release_output_memory``), i.e. it pays the first touch of 65 MB from the OS each time;
    Also a book of ``BOOK_OPTIONS`` options that stays in cache, with a reused buffer (the
    1M-option figure includes ~180 bytes of memory traffic per option);
(b) numpy: the same closed forms with ``scipy.special.ndtr`` (array expressions, 1 thread);
    (a) and (b) are timed interleaved (``timing.interleaved_best``), so their ratio holds on
    a shared machine;
(c) QuantLib ``AnalyticEuropeanEngine``, one option at a time (NPV + greeks) on a sample;
(d) implied volatility: ours over all options vs ``py_vollib`` (Jaeckel's "Let's be rational"
    in pure Python) one at a time on a sample.

Figures are ns per option per core: wall time x threads used / options. Importable: ``run()``
returns them as a dict, ``print_result`` prints them.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of, interleaved_best  # noqa: E402

from shriven.pricing import (  # noqa: E402
    GreeksBuffer,
    black_scholes,
    implied_volatility,
    release_output_memory,
)
from shriven.pricing import _kernels as _k  # noqa: E402

TARGET_GREEKS_NS = 20.0
TARGET_IV_NS = 150.0
#: Options in the in-cache "book" case.
BOOK_OPTIONS = 20_000


def make_options(n: int, seed: int = 42) -> dict[str, np.ndarray]:
    """Random option inputs (see the module docstring)."""
    rng = np.random.default_rng(seed)
    spot = np.full(n, 100.0)
    return {
        "spot": spot,
        "strike": spot * rng.uniform(0.7, 1.4, n),
        "expiry": np.exp(rng.uniform(math.log(1 / 365), math.log(5.0), n)),
        "rate": rng.uniform(0.0, 0.05, n),
        "dividend_yield": rng.uniform(0.0, 0.03, n),
        "volatility": rng.uniform(0.05, 1.0, n),
        "is_call": rng.random(n) < 0.5,
    }


def numpy_greeks(s, k, t, r, q, v, is_call) -> dict[str, np.ndarray]:
    """Price and greeks with numpy array expressions and scipy's ``ndtr`` (the baseline)."""
    from scipy.special import ndtr

    w = np.where(is_call, 1.0, -1.0)
    sqt = np.sqrt(t)
    sd = v * sqt
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / sd
    d2 = d1 - sd
    df = np.exp(-r * t)
    dq = np.exp(-q * t)
    nd1 = ndtr(w * d1)
    nd2 = ndtr(w * d2)
    pdf = np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    vega = s * dq * pdf * sqt
    return {
        "price": w * (s * dq * nd1 - k * df * nd2),
        "delta": w * dq * nd1,
        "gamma": dq * pdf / (s * sd),
        "vega": vega,
        "theta": -s * dq * pdf * v / (2 * sqt) - w * r * k * df * nd2 + w * q * s * dq * nd1,
        "rho": w * k * t * df * nd2,
        "vanna": -dq * pdf * d2 / v,
        "volga": vega * d1 * d2 / v,
    }


def _quantlib_per_option_us(opts: dict[str, np.ndarray], sample: int) -> float | None:
    try:
        import QuantLib as ql
    except ImportError:
        return None
    today = ql.Date(2, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    # One process per option (built outside the timing): quotes shared by all options would
    # make every update notify every option.
    options = []
    for i in range(sample):
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(float(opts["spot"][i]))),
            ql.YieldTermStructureHandle(
                ql.FlatForward(today, float(opts["dividend_yield"][i]), dc)
            ),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(opts["rate"][i]), dc)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(today, ql.NullCalendar(), float(opts["volatility"][i]), dc)
            ),
        )
        kind = ql.Option.Call if opts["is_call"][i] else ql.Option.Put
        days = max(1, int(round(opts["expiry"][i] * 365)))
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(opts["strike"][i])),
            ql.EuropeanExercise(today + days),
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        options.append(option)

    def price_all() -> None:
        for option in options:
            option.recalculate()
            option.NPV()
            option.delta()
            option.gamma()
            option.vega()
            option.theta()
            option.rho()

    return best_of(price_all, 3) / sample * 1e6


def _vollib_per_option_ns(opts, prices, sample: int) -> float | None:
    try:
        from py_vollib.black_scholes_merton.implied_volatility import implied_volatility as pyv
    except ImportError:
        return None
    rows = []
    for i in range(sample):
        rows.append(
            (
                float(prices[i]),
                float(opts["spot"][i]),
                float(opts["strike"][i]),
                float(opts["expiry"][i]),
                float(opts["rate"][i]),
                float(opts["dividend_yield"][i]),
                "c" if opts["is_call"][i] else "p",
            )
        )

    def solve_all() -> None:
        for row in rows:
            try:
                pyv(*row)
            except Exception:  # noqa: BLE001 - py_vollib raises on prices it cannot invert
                pass

    return best_of(solve_all, 1) / sample * 1e9


def run(
    options: int = 1_000_000,
    repeat: int = 3,
    quantlib_sample: int = 2_000,
    vollib_sample: int = 20_000,
) -> dict:
    """All figures of the benchmark as a dict."""
    opts = make_options(options)
    args = (
        opts["spot"],
        opts["strike"],
        opts["expiry"],
        opts["rate"],
        opts["dividend_yield"],
        opts["volatility"],
        opts["is_call"],
    )
    threads = numba.get_num_threads()
    out = np.empty((_k.N_GREEKS, options))
    reason = np.empty(options, dtype=np.int8)
    buffer = GreeksBuffer(options)

    def kernel() -> None:
        _k.bs_greeks_kernel(*args, False, out, reason)

    def new_memory() -> None:
        release_output_memory()
        black_scholes(*args)

    result: dict = {"options": options, "threads": threads}

    def with_threads(fn, count):
        def run_it() -> None:
            numba.set_num_threads(count)
            try:
                fn()
            finally:
                numba.set_num_threads(threads)

        return run_it

    # Interleaved: the machine is shared, and ours-vs-numpy ratios are only meaningful when
    # every contender sees the same load (see timing.interleaved_best).
    best = interleaved_best(
        {
            "ours_greeks_ns": lambda: black_scholes(*args),
            "ours_greeks_kernel_ns": kernel,
            "ours_greeks_1t_ns": with_threads(lambda: black_scholes(*args), 1),
            "ours_greeks_new_memory_1t_ns": with_threads(new_memory, 1),
            "ours_greeks_out_1t_ns": with_threads(lambda: black_scholes(*args, out=buffer), 1),
            "ours_greeks_kernel_1t_ns": with_threads(kernel, 1),
            "numpy_greeks_ns": lambda: numpy_greeks(*args),
        },
        max(repeat, 5),
    )
    for name in ("ours_greeks_ns", "ours_greeks_kernel_ns"):
        result[name] = best[name] * threads / options * 1e9
    for name in (
        "ours_greeks_1t_ns",
        "ours_greeks_new_memory_1t_ns",
        "ours_greeks_out_1t_ns",
        "ours_greeks_kernel_1t_ns",
        "numpy_greeks_ns",
    ):
        result[name] = best[name] / options * 1e9

    # A book that stays in cache (an options desk reprices thousands of contracts per tick):
    # the same kernels without the memory traffic of 1M options' inputs and outputs.
    book = BOOK_OPTIONS
    book_args = tuple(a[:book] for a in args)
    book_buffer = GreeksBuffer(book)
    book_best = interleaved_best(
        {
            "ours_book_out_1t_ns": with_threads(
                lambda: black_scholes(*book_args, out=book_buffer), 1
            ),
            "numpy_book_ns": lambda: numpy_greeks(*book_args),
        },
        max(repeat, 5) * 40,
    )
    for name, seconds in book_best.items():
        result[name] = seconds / book * 1e9
    result["book_options"] = book

    ours = black_scholes(*args)
    ref = numpy_greeks(*args)
    result["max_rel_diff_vs_numpy"] = float(
        np.max(np.abs(ours.price - ref["price"]) / np.maximum(ref["price"], 1e-3))
    )
    result["quantlib_us"] = _quantlib_per_option_us(opts, quantlib_sample)

    prices = ours.price
    iv_args = (prices, *args[:5], args[6])
    result["ours_iv_ns"] = (
        best_of(lambda: implied_volatility(*iv_args), repeat) * threads / options * 1e9
    )
    try:
        numba.set_num_threads(1)
        result["ours_iv_1t_ns"] = (
            best_of(lambda: implied_volatility(*iv_args), repeat) / options * 1e9
        )
    finally:
        numba.set_num_threads(threads)
    iv = implied_volatility(*iv_args)
    finite = iv.reason == 0
    result["iv_ok_fraction"] = float(finite.mean())
    result["iv_mean_iterations"] = float(iv.iterations[finite].mean())
    repriced = black_scholes(*args[:5], iv.volatility, args[6]).price
    positive = finite & (prices > 0)
    result["iv_round_trip_max_rel"] = float(
        np.max(np.abs(repriced[positive] - prices[positive]) / prices[positive])
    )
    result["vollib_iv_ns"] = _vollib_per_option_ns(opts, prices, vollib_sample)
    return result


def print_result(r: dict) -> None:
    """Print the figures of ``run`` with ratios and targets."""
    n, th = r["options"], r["threads"]
    print(f"{n:,} European options, {th} numba threads; ns per option per core, best of runs")
    print(f"  price + 7 greeks, ours, {th} threads (wrapper)   {r['ours_greeks_ns']:8.1f}")
    print(f"  price + 7 greeks, ours, {th} threads (kernel)    {r['ours_greeks_kernel_ns']:8.1f}")
    print(
        f"  price + 7 greeks, ours, 1 thread (wrapper)    {r['ours_greeks_1t_ns']:8.1f}"
        "   fresh output arrays"
    )
    print(
        f"  price + 7 greeks, ours, 1 thread (wrapper)    {r['ours_greeks_new_memory_1t_ns']:8.1f}"
        "   fresh outputs in new memory (pool emptied)"
    )
    print(
        f"  price + 7 greeks, ours, 1 thread (wrapper)    {r['ours_greeks_out_1t_ns']:8.1f}"
        f"   out=GreeksBuffer reused; target <= {TARGET_GREEKS_NS:.0f}"
    )
    print(f"  price + 7 greeks, ours, 1 thread (kernel)     {r['ours_greeks_kernel_1t_ns']:8.1f}")
    print(
        f"  price + 7 greeks, numpy + scipy.special.ndtr  {r['numpy_greeks_ns']:8.1f}"
        f"   ours 1 thread is {r['numpy_greeks_ns'] / r['ours_greeks_1t_ns']:.1f}x faster"
        f" (fresh outputs; {r['numpy_greeks_ns'] / r['ours_greeks_out_1t_ns']:.1f}x reused;"
        " target >= 4x)"
    )
    print(
        f"  book of {r['book_options']:,} options (in cache), 1 thread, out= reused"
        f" {r['ours_book_out_1t_ns']:8.1f}   numpy {r['numpy_book_ns']:.1f}"
        f" ({r['numpy_book_ns'] / r['ours_book_out_1t_ns']:.1f}x)"
    )
    print(f"  max price difference vs numpy (rel, prices > 1e-3): {r['max_rel_diff_vs_numpy']:.1e}")
    if r["quantlib_us"] is not None:
        ratio = r["quantlib_us"] * 1e3 / r["ours_greeks_1t_ns"]
        print(
            f"  QuantLib AnalyticEuropeanEngine, per option   {r['quantlib_us'] * 1e3:8.1f}"
            f"   ({r['quantlib_us']:.2f} us; ours 1 thread is {ratio:,.0f}x faster)"
        )
    else:
        print("  QuantLib not installed")
    print(f"  implied vol, ours, {th} threads                {r['ours_iv_ns']:8.1f}")
    print(
        f"  implied vol, ours, 1 thread                   {r['ours_iv_1t_ns']:8.1f}"
        f"   target <= {TARGET_IV_NS:.0f}"
    )
    if r["vollib_iv_ns"] is not None:
        print(
            f"  implied vol, py_vollib (per option)           {r['vollib_iv_ns']:8.1f}"
            f"   ours 1 thread is {r['vollib_iv_ns'] / r['ours_iv_1t_ns']:,.0f}x faster"
        )
    else:
        print("  py_vollib not installed")
    print(
        f"  implied vol: {r['iv_ok_fraction']:.4%} solved, {r['iv_mean_iterations']:.2f} mean"
        f" evaluations, round trip max rel price error {r['iv_round_trip_max_rel']:.1e}"
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--options", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    a = parser.parse_args()
    print_result(run(a.options, a.repeat))


if __name__ == "__main__":
    main()
