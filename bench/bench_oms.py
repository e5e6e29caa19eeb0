"""OMS: journaled acknowledgement latency against a bare write + fsync, and order throughput.

Usage: ``python bench/bench_oms.py [--orders 2000] [--throughput-orders 20000] [--repeat 3]
[--dir PATH]``

Timed on one core, on a real file in a temporary directory (``--dir`` picks the disk):

(a) **ack latency**: ``create`` + ``submit`` of one limit order with ``fsync=True`` (the request
    written unsynced, the SUBMITTED event synced: the engine may send the order once ``submit``
    returns), p50 / p99 over ``orders`` orders after a warm-up;
(b) **baseline**: the same bytes the journal wrote for that order (both frames), written with one
    bare ``os.write`` and made durable with ``os.fsync`` to a second file; and with
    ``os.fdatasync``, which the journal uses (it syncs the data and the file size, not the
    times). The three alternate order by order, in a rotating order, so all see the same disk
    load;
(c) **throughput**: ``create`` + ``submit`` + ``apply(ACCEPTED)`` + ``apply(FILLED)`` per order
    with ``fsync=False`` (a backtest), best of ``repeat``, in orders/s; against a baseline of
    encoding and writing the same four records as frames with no OMS logic.

Importable: ``run()`` returns the figures as a dict; ``print_result`` prints them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of  # noqa: E402

from shriven.model.enums import Liquidity, OrderEventKind, Side  # noqa: E402
from shriven.model.records import OrderEvent, OrderRequest  # noqa: E402
from shriven.oms import Journal, OrderManager  # noqa: E402
from shriven.oms.journal import MAGIC, encode_frame  # noqa: E402

WARMUP = 100


def _request(i: int) -> OrderRequest:
    return OrderRequest(
        client_order_id=f"ord-{i:09d}",
        symbol="BTC-USD",
        side=Side.BUY if i % 2 else Side.SELL,
        quantity=0.25,
        price=60_000.0 + (i % 50),
        strategy_id="bench",
        ts=1_700_000_000_000_000_000 + i,
        signal_offset=i,
    )


def _submitted(request: OrderRequest, ts: int) -> OrderEvent:
    """The event ``OrderManager.submit`` journals (to encode the baseline's bytes)."""
    return OrderEvent(
        ts=ts,
        client_order_id=request.client_order_id,
        kind=OrderEventKind.SUBMITTED,
        symbol=request.symbol,
        venue="sim",
    )


def _ack_latency(directory: Path, orders: int) -> dict:
    journal_path = directory / "ack.journal"
    oms = OrderManager(Journal(journal_path, fsync=True))
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    fsync_fd = os.open(directory / "baseline-fsync.bin", flags, 0o644)
    fdatasync_fd = os.open(directory / "baseline-fdatasync.bin", flags, 0o644)

    def journaled(request: OrderRequest, data: bytes) -> None:
        oms.create(request)
        oms.submit(request.client_order_id, "sim", request.ts)

    def bare_fsync(request: OrderRequest, data: bytes) -> None:
        os.write(fsync_fd, data)
        os.fsync(fsync_fd)

    def bare_fdatasync(request: OrderRequest, data: bytes) -> None:
        os.write(fdatasync_fd, data)
        os.fdatasync(fdatasync_fd)

    contenders: list[tuple[str, Callable[[OrderRequest, bytes], None]]] = [
        ("ours", journaled),
        ("fsync", bare_fsync),
        ("fdatasync", bare_fdatasync),
    ]
    samples: dict[str, list[int]] = {name: [] for name, _ in contenders}
    written = 0
    clock = time.perf_counter_ns
    try:
        for i in range(WARMUP + orders):
            request = _request(i)
            data = encode_frame([request]) + encode_frame([_submitted(request, request.ts)])
            written += len(data)
            shift = i % 3  # rotate who goes first: no contender always follows another's sync
            for name, fn in contenders[shift:] + contenders[:shift]:
                t0 = clock()
                fn(request, data)
                elapsed = clock() - t0
                if i >= WARMUP:
                    samples[name].append(elapsed)
        if oms.journal.size != len(MAGIC) + written:
            raise RuntimeError("the baseline did not write the bytes the journal wrote")
    finally:
        oms.journal.close()
        os.close(fsync_fd)
        os.close(fdatasync_fd)

    def pct(values: list[int]) -> tuple[float, float]:
        p50, p99 = np.percentile(np.asarray(values, dtype=np.float64) / 1e3, [50, 99])
        return float(p50), float(p99)

    ours_p50, ours_p99 = pct(samples["ours"])
    fsync_p50, fsync_p99 = pct(samples["fsync"])
    fdatasync_p50, fdatasync_p99 = pct(samples["fdatasync"])
    return {
        "orders": orders,
        "bytes_per_order": written / (WARMUP + orders),
        "ack_p50_us": ours_p50,
        "ack_p99_us": ours_p99,
        "fsync_p50_us": fsync_p50,
        "fsync_p99_us": fsync_p99,
        "fdatasync_p50_us": fdatasync_p50,
        "fdatasync_p99_us": fdatasync_p99,
        "ratio_p50_vs_fsync": ours_p50 / fsync_p50,
        "ratio_p50_vs_fdatasync": ours_p50 / fdatasync_p50,
    }


def _throughput(directory: Path, orders: int, repeat: int) -> dict:
    requests = [_request(i) for i in range(orders)]
    accepts = [
        OrderEvent(
            ts=r.ts + 1,
            client_order_id=r.client_order_id,
            kind=OrderEventKind.ACCEPTED,
            venue="sim",
            venue_order_id=f"v{i}",
        )
        for i, r in enumerate(requests)
    ]
    fills = [
        OrderEvent(
            ts=r.ts + 2,
            client_order_id=r.client_order_id,
            kind=OrderEventKind.FILLED,
            venue="sim",
            price=r.price,
            quantity=r.quantity,
            fee=0.01,
            liquidity=Liquidity.TAKER,
            trade_id=f"t{i}",
        )
        for i, r in enumerate(requests)
    ]
    runs = iter(range(1_000_000))

    def session() -> None:
        path = directory / f"throughput-{next(runs)}.journal"
        oms = OrderManager(Journal(path, fsync=False))
        for request, accept, fill in zip(requests, accepts, fills, strict=True):
            cid = request.client_order_id
            oms.create(request)
            oms.submit(cid, "sim", request.ts)
            oms.apply(accept)
            oms.apply(fill)
        oms.journal.close()
        if len(oms.fills) != orders or oms.open_orders():
            raise RuntimeError("every order should be filled")
        path.unlink()

    def bare() -> None:
        path = directory / f"bare-{next(runs)}.bin"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        for request, accept, fill in zip(requests, accepts, fills, strict=True):
            os.write(fd, encode_frame([request]))
            os.write(fd, encode_frame([_submitted(request, request.ts)]))
            os.write(fd, encode_frame([accept]))
            os.write(fd, encode_frame([fill]))
        os.close(fd)
        path.unlink()

    ours_s = best_of(session, repeat)
    bare_s = best_of(bare, repeat)
    return {
        "throughput_orders": orders,
        "throughput_s": ours_s,
        "orders_per_s": orders / ours_s,
        "bare_s": bare_s,
        "bare_orders_per_s": orders / bare_s,
        "ratio_throughput_vs_bare": (orders / ours_s) / (orders / bare_s),
    }


def run(
    orders: int = 2000,
    throughput_orders: int = 20_000,
    repeat: int = 3,
    directory: str | Path | None = None,
) -> dict:
    """Measure ack latency and throughput in a temporary directory; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-oms-", dir=directory) as tmp:
        result = {"directory": str(Path(tmp).parent)}
        result |= _ack_latency(Path(tmp), orders)
        result |= _throughput(Path(tmp), throughput_orders, repeat)
    return result


def print_result(r: dict) -> None:
    """Print the figures of :func:`run`."""
    print(f"journal on {r['directory']} ({r['bytes_per_order']:.0f} bytes per order acknowledged)")
    print(
        f"ack (create + submit, fsync) over {r['orders']:,} orders: "
        f"p50 {r['ack_p50_us']:8.1f} us  p99 {r['ack_p99_us']:8.1f} us"
    )
    print(
        f"baseline bare os.write + os.fsync:           p50 {r['fsync_p50_us']:8.1f} us  "
        f"p99 {r['fsync_p99_us']:8.1f} us  -> ours / baseline x{r['ratio_p50_vs_fsync']:.2f} (p50)"
    )
    print(
        f"baseline bare os.write + os.fdatasync:       p50 {r['fdatasync_p50_us']:8.1f} us  "
        f"p99 {r['fdatasync_p99_us']:8.1f} us  -> ours / baseline x{r['ratio_p50_vs_fdatasync']:.2f} (p50)"
    )
    print(
        f"throughput create+submit+accept+fill, fsync=False, {r['throughput_orders']:,} orders: "
        f"{r['throughput_s']:.3f} s  {r['orders_per_s']:,.0f} orders/s"
    )
    print(
        f"baseline encode + write the same 4 frames (no OMS): {r['bare_s']:.3f} s  "
        f"{r['bare_orders_per_s']:,.0f} orders/s  -> ours x{r['ratio_throughput_vs_bare']:.2f}"
    )


def main() -> None:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--throughput-orders", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="directory for the journal (default: temp)")
    args = parser.parse_args()
    print_result(run(args.orders, args.throughput_orders, args.repeat, args.dir))


if __name__ == "__main__":
    main()
