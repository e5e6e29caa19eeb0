"""Gateway order submission over loopback HTTP against a bare FastAPI endpoint from the same run.

Usage: ``python bench/bench_gateway.py [--orders 2000] [--warmup 200] [--reads 500] [--clients 8]
[--seconds 3] [--dir PATH]``

Two servers, each uvicorn on an ephemeral 127.0.0.1 port in its own process (this script
re-run with ``--serve``), so the client and the servers do not share a GIL:

- **gateway**: ``create_app(GatewayServices.from_settings(...))`` over a temporary data dir with
  the small three-symbol config (as ``tests/integration/gateway_support.py``), rate limits set out
  of reach (``rate_per_s=1e6, burst=10**6``), one TRADER API key exchanged for a bearer token at
  ``POST /v1/auth/token``. A ``POST /v1/orders`` answers 202 once the order is fsync'd in the
  command log and the request's audit record is fsync'd too;
- **bare**: a FastAPI app with one sync ``POST /orders`` that parses the same pydantic body
  (``OrderRequestBody``) and returns a small JSON: no auth, no middleware, no durability.

Measured, one ``httpx.Client`` with keep-alive per client thread:

(a) sequential latency of a market order, p50 / p99 over ``orders`` requests after ``warmup``,
    a fresh ``Idempotency-Key`` per gateway request; gateway, bare and the in-process
    ``CommandLog.submit_order`` / ``AuditLog.record`` (the gateway's two fsyncs, on the same disk)
    alternate request by request so all see the same machine load;
(b) the gateway's read path ``GET /v1/orders?limit=10`` (no engine running: it lists the queued
    commands of the log, which by then holds every order of (a)) and ``GET /health`` (no auth),
    against the bare ``POST /orders``;
(c) throughput: ``clients`` threads posting orders back to back for ``seconds`` s, gateway then
    bare, in requests/s.

The client runs in Python too: on a 2-core machine the bare server's throughput is bounded by
the client as much as by the server (the ratio understates the gateway's cost, not overstates).

Importable: ``run()`` returns the figures as a dict; ``print_result`` prints them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.api_models import OrderRequestBody  # noqa: E402
from shriven.engine.commands import CommandLog  # noqa: E402
from shriven.model.enums import OrderType, Side  # noqa: E402
from shriven.security.audit import AuditLog, AuditRecord  # noqa: E402
from shriven.testing.processes import stop_process  # noqa: E402

ORDER = {"symbol": "ACME", "side": "buy", "quantity": 1, "order_type": "market"}
SUBJECT = "bench-trader"


# -- the servers (child processes) ------------------------------------------------------------


def _gateway_app(root: str):
    import msgspec

    from gateway.app import create_app
    from gateway.services import GatewayServices
    from shriven.config import Settings
    from shriven.security.roles import Role
    from shriven.testing.small_config import SMALL_CONFIG

    raw = tomllib.loads(SMALL_CONFIG)
    raw["trading"] = {"journal_fsync": False}
    raw["gateway"] = {"rate_per_s": 1e6, "burst": 10**6}
    settings = msgspec.convert({**raw, "data_dir": root}, Settings)
    services = GatewayServices.from_settings(settings, environ={})
    key = services.keys.create(SUBJECT, Role.TRADER)
    return create_app(services), {"api_key": key}


def _bare_app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/orders", status_code=202)
    def submit(body: OrderRequestBody) -> dict:
        return {"status": "queued", "symbol": body.symbol, "quantity": body.quantity}

    return app, {}


def _serve(kind: str, root: str) -> None:
    """Child process: bind an ephemeral port, print it (and the API key) as one JSON line, serve."""
    import uvicorn

    app, extra = _gateway_app(root) if kind == "gateway" else _bare_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(json.dumps({"port": sock.getsockname()[1], **extra}), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class Server:
    """A server in a child process; ``url`` and ``info`` once it answers ``health_path``."""

    def __init__(self, kind: str, root: str, health_path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--dir", root],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start (exit {self.proc.wait()})")
        self.info = json.loads(line)
        self.url = f"http://127.0.0.1:{self.info['port']}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.request("GET" if kind == "gateway" else "POST", self.url + health_path,
                              json=None if kind == "gateway" else ORDER, timeout=1.0)  # fmt: skip
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError(f"the {kind} server did not answer") from None
                time.sleep(0.05)

    def close(self) -> None:
        stop_process(self.proc)


# -- measuring --------------------------------------------------------------------------------


def _quantiles_us(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e6
    return {
        "p50_us": float(np.percentile(a, 50)),
        "p99_us": float(np.percentile(a, 99)),
        "n": len(a),
    }


def _timed(call: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def _throughput(make_call: Callable[[httpx.Client, int], Callable[[], None]], url: str, headers: dict,
                clients: int, seconds: float) -> float:  # fmt: skip
    """Requests/s of ``clients`` threads calling back to back for ``seconds``."""
    counts = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def worker(i: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30.0) as c:
            call = make_call(c, i)
            call()  # connect outside the timed window
            start.wait()
            n = 0
            while not stop.is_set():
                call()
                n += 1
            counts[i] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def run(orders: int = 2000, warmup: int = 200, reads: int = 500, clients: int = 8,
        seconds: float = 3.0, directory: str | None = None) -> dict:  # fmt: skip
    """Start both servers over a temporary data dir, measure, stop them; the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-gateway-", dir=directory) as tmp:
        gw = Server("gateway", str(Path(tmp) / "gateway"), "/health")
        try:
            bare = Server("bare", tmp, "/orders")
        except BaseException:
            gw.close()
            raise
        try:
            return _measure(gw, bare, tmp, orders, warmup, reads, clients, seconds)
        finally:
            gw.close()
            bare.close()


def _measure(gw: Server, bare: Server, tmp: str, orders: int, warmup: int, reads: int,
             clients: int, seconds: float) -> dict:  # fmt: skip
    r = httpx.post(
        gw.url + "/v1/auth/token", headers={"X-API-Key": gw.info["api_key"]}, timeout=10.0
    )
    r.raise_for_status()
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    keys = itertools.count()
    local = Path(tmp) / "in-process"
    commands = CommandLog(local / "commands.jsonl")
    audit = AuditLog(local / "audit")
    out: dict = {"directory": tmp, "orders": orders, "clients": clients}

    with httpx.Client(base_url=gw.url, headers=auth, timeout=30.0) as g, \
            httpx.Client(base_url=bare.url, timeout=30.0) as b:  # fmt: skip

        def gw_submit() -> None:
            resp = g.post(
                "/v1/orders", json=ORDER, headers={"Idempotency-Key": f"seq-{next(keys)}"}
            )
            if resp.status_code != 202:
                raise RuntimeError(f"gateway refused the order: {resp.status_code} {resp.text}")

        def bare_submit() -> None:
            resp = b.post("/orders", json=ORDER)
            if resp.status_code != 202:
                raise RuntimeError(
                    f"bare endpoint refused the order: {resp.status_code} {resp.text}"
                )

        def log_submit() -> None:
            commands.submit_order(principal=SUBJECT, idempotency_key=f"local-{next(keys)}", symbol="ACME",
                                  side=Side.BUY, quantity=1.0, order_type=OrderType.MARKET)  # fmt: skip

        def audit_record() -> None:
            audit.record(AuditRecord(0, "cid", SUBJECT, "trader", "POST /v1/orders", "/v1/orders", "ok", 202,
                                     '{"symbol":"ACME","side":"buy","quantity":1.0}'))  # fmt: skip

        def gw_get(path: str) -> Callable[[], None]:
            def call() -> None:
                g.get(path).raise_for_status()

            return call

        contenders = {
            "gateway": gw_submit,
            "bare": bare_submit,
            "command_log": log_submit,
            "audit": audit_record,
        }
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for i in range(warmup + orders):
            for name, fn in contenders.items():
                elapsed = _timed(fn)
                if i >= warmup:
                    samples[name].append(elapsed)
        out["submit"] = {name: _quantiles_us(s) for name, s in samples.items()}

        out["log_orders"] = len(commands)  # the gateway's log holds as many (warm-up included)
        reads_samples: dict[str, list[float]] = {"orders": [], "health": [], "bare": []}
        read_fns = {
            "orders": gw_get("/v1/orders?limit=10"),
            "health": gw_get("/health"),
            "bare": bare_submit,
        }
        for i in range(reads // 10 + reads):
            for name, fn in read_fns.items():
                elapsed = _timed(fn)
                if i >= reads // 10:
                    reads_samples[name].append(elapsed)
        out["reads"] = {name: _quantiles_us(s) for name, s in reads_samples.items()}

    def gw_call(c: httpx.Client, i: int) -> Callable[[], None]:
        n = itertools.count()

        def call() -> None:
            c.post(
                "/v1/orders", json=ORDER, headers={"Idempotency-Key": f"tp-{i}-{next(n)}"}
            ).raise_for_status()

        return call

    def bare_call(c: httpx.Client, i: int) -> Callable[[], None]:
        def call() -> None:
            c.post("/orders", json=ORDER).raise_for_status()

        return call

    out["throughput"] = {
        "gateway": _throughput(gw_call, gw.url, auth, clients, seconds),
        "bare": _throughput(bare_call, bare.url, {}, clients, seconds),
    }
    return out


def print_result(r: dict) -> None:
    """Print the figures of :func:`run`."""
    s, rd, tp = r["submit"], r["reads"], r["throughput"]
    print(f"loopback HTTP, servers in their own processes; data dir {r['directory']}")

    def row(label: str, q: dict, base: dict | None) -> None:
        ratio = ""
        if base is not None:
            ratio = f"  -> / bare x{q['p50_us'] / base['p50_us']:6.2f} (p50)  x{q['p99_us'] / base['p99_us']:6.2f} (p99)"
        print(f"{label:<52} p50 {q['p50_us']:8.1f} us  p99 {q['p99_us']:8.1f} us{ratio}")

    print(f"\n1. sequential, {s['gateway']['n']:,} requests each after a warm-up (interleaved)")
    row("gateway POST /v1/orders (auth, 2 fsyncs, audit)", s["gateway"], s["bare"])
    row("baseline bare FastAPI POST /orders (same body)", s["bare"], None)
    row("in-process CommandLog.submit_order (fsync)", s["command_log"], s["bare"])
    row("in-process AuditLog.record (fsync)", s["audit"], s["bare"])
    fsyncs = s["command_log"]["p50_us"] + s["audit"]["p50_us"]
    print(
        f"   of the gateway's p50: command log {s['command_log']['p50_us'] / s['gateway']['p50_us']:.0%}, "
        f"audit {s['audit']['p50_us'] / s['gateway']['p50_us']:.0%}, the rest (HTTP, auth, middleware) "
        f"{max(0.0, s['gateway']['p50_us'] - fsyncs):.0f} us = "
        f"x{max(0.0, s['gateway']['p50_us'] - fsyncs) / s['bare']['p50_us']:.2f} the bare request"
    )
    print(
        f"\n2. reads, {rd['orders']['n']:,} requests each (interleaved; the log holds {r['log_orders']:,} orders)"
    )
    row("gateway GET /v1/orders?limit=10", rd["orders"], rd["bare"])
    row("gateway GET /health (no auth)", rd["health"], rd["bare"])
    row("baseline bare FastAPI POST /orders", rd["bare"], None)
    print(f"\n3. throughput, {r['clients']} client threads")
    print(
        f"{'gateway POST /v1/orders':<52} {tp['gateway']:8,.0f} req/s  -> / bare x{tp['gateway'] / tp['bare']:.3f}"
    )
    print(f"{'baseline bare FastAPI POST /orders':<52} {tp['bare']:8,.0f} req/s")


def main() -> None:
    """Parse the options, run, print (or, with ``--serve``, be one of the servers)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--dir", default=None, help="directory for the data dirs (default: temp)")
    parser.add_argument("--serve", choices=("gateway", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.dir)
        return
    started = time.perf_counter()
    print_result(run(args.orders, args.warmup, args.reads, args.clients, args.seconds, args.dir))
    print(
        f"\n(bench in {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
