"""`shriven`: run the flows (through Prefect) and the core's short steps from a shell."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from typing import TYPE_CHECKING

from cli import apikeys
from cli import secrets as secrets_cli

if TYPE_CHECKING:
    from shriven.config import Settings

DEMO_DAY = date(2026, 1, 5)

EXAMPLE_QUERY = """SELECT symbol, count(*) AS bars, round(sum(volume)) AS volume,
       round(sum(notional) / sum(volume), 2) AS vwap, round(avg(realized_vol) * 100, 4) AS avg_rv_pct
FROM bars_1m WHERE ts >= TIMESTAMPTZ '2026-01-05' AND ts < TIMESTAMPTZ '2026-01-06'
GROUP BY symbol ORDER BY volume DESC LIMIT 5"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shriven", description="ShrivenQuant command line")
    sub = p.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="ingest market data into the lake (flow ingest_market_data)")
    ing.add_argument("--source", default="synthetic", choices=["synthetic", "file", "ccxt"])
    ing.add_argument("--start", type=date.fromisoformat, help="first UTC day to backfill (YYYY-MM-DD); omit to poll the last minute")
    ing.add_argument("--days", type=int, default=1)
    ing.add_argument("--symbols", nargs="*", help="symbols (default: the whole universe)")
    ing.add_argument("--path", dest="paths", action="append", help="file(s) for --source file")
    ing.add_argument("--layout", default="shriven", choices=["shriven", "binance"])
    ing.add_argument("--lookback-minutes", type=int, default=1)
    ing.add_argument("--dask-workers", type=int, default=0, help="backfill the days on a local Dask cluster of N workers")

    agg = sub.add_parser("aggregate", help="trades -> bars, incrementally (flow aggregate_bars)")
    agg.add_argument("--date", dest="dates", action="append", help="only this UTC day (repeatable)")
    agg.add_argument("--full", action="store_true", help="rebuild every partition")

    pipe = sub.add_parser("pipeline", help="ingest + aggregate + compact + warehouse (flow daily_pipeline)")
    pipe.add_argument("--day", type=date.fromisoformat, default=None)
    pipe.add_argument("--days", type=int, default=1)
    pipe.add_argument("--source", default="synthetic")

    opt = sub.add_parser("options", help="price the day's option chains: IVs, greeks, SVI smiles (flow options_analytics)")
    opt.add_argument("--day", type=date.fromisoformat, default=None, help="first UTC day (default: yesterday)")
    opt.add_argument("--days", type=int, default=1)

    sub.add_parser("warehouse", help="(re)build data/warehouse.duckdb's views over the lake")

    comp = sub.add_parser("compact", help="merge small lake files into one per partition")
    comp.add_argument("--dataset", action="append", default=None)
    comp.add_argument("--date", dest="dates", action="append")

    sql = sub.add_parser(
        "sql", help="query the lake views: one query, a file, or an interactive shell (no argument)"
    )
    sql.add_argument("query", nargs="?", help="SQL to run; omit for an interactive shell")
    sql.add_argument("-f", "--file", help="run the statements of a .sql file")
    sql.add_argument(
        "--warehouse", action="store_true",
        help="open data/warehouse.duckdb (keeps your own tables; holds its lock) instead of in-memory views",
    )

    bt = sub.add_parser("backtest", help="replay days of the lake through the trading engine (flow backtest)")
    bt.add_argument("--start", type=date.fromisoformat, default=None, help="first UTC day (default: yesterday)")
    bt.add_argument("--days", type=int, default=1)
    bt.add_argument("--strategies", default=None, help="strategies TOML file (default: [trading] strategies)")
    bt.add_argument("--run-id", default=None, help="names the account backtest-<run id> in the lake")

    tr = sub.add_parser("trade", help="paper trading on the synthetic live session (flow execution)")
    tr.add_argument("--mode", default="paper", choices=["paper", "live"])
    tr.add_argument("--day", type=date.fromisoformat, default=None, help="replay this UTC day (needs --speed)")
    tr.add_argument("--speed", type=float, default=None, help="run the session clock this many times real time")
    tr.add_argument("--minutes", type=float, default=None, help="stop after this many wall-clock minutes")
    tr.add_argument("--strategies", default=None)

    ks = sub.add_parser("kill-switch", help="halt trading now (on) or allow it again (off); no argument: show")
    ks.add_argument("state", nargs="?", choices=["on", "off"])
    ks.add_argument("--reason", default="")

    sig = sub.add_parser("signal", help="append one signal to the signal log (what models and optimisers do)")
    sig.add_argument("symbol")
    sig.add_argument("target", type=float, help="target position (base units), or weight with --weight")
    sig.add_argument("--weight", action="store_true", help="target is a weight of equity")
    sig.add_argument("--source", default="cli")

    sw = sub.add_parser("sweep", help="evaluate a grid of EMA-cross parameters over days of bars (flow sweep)")
    sw.add_argument("--start", type=date.fromisoformat, required=True, help="first UTC day")
    sw.add_argument("--days", type=int, default=1)
    sw.add_argument("--fast", type=int, nargs="+", default=[3, 5, 8], help="fast EMA spans")
    sw.add_argument("--slow", type=int, nargs="+", default=[13, 21, 34], help="slow EMA spans")
    sw.add_argument("--quantity", type=float, nargs="+", default=[10.0], help="target sizes")
    sw.add_argument("--long-only", action="store_true", help="a cross down goes flat, not short")
    sw.add_argument("--interval", default="1m")
    sw.add_argument("--symbols", nargs="*", default=None)
    sw.add_argument("--fee-bps", type=float, default=5.0)
    sw.add_argument("--spread-bps", type=float, default=2.0)
    sw.add_argument("--chunk-size", type=int, default=256, help="parameter sets per task (and per result file)")
    sw.add_argument("--dask-workers", type=int, default=0, help="run the chunks on a local Dask cluster of N workers")
    sw.add_argument("--sweep-id", default=None, help="name it (or resume it: finished chunks are kept)")

    sub.add_parser("gateway", help="serve the REST gateway (settings [gateway]; default 127.0.0.1:8080)")
    apikeys.add_parser(sub)
    secrets_cli.add_parser(sub)

    sub.add_parser("demo", help="one synthetic day through the whole pipeline, then a tour")
    sub.add_parser("config", help="print the effective settings")
    return p


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as exc:
        print(f"shriven {args.command}: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from shriven.config import load_settings
    from shriven.security.paths import audit_directory

    settings = load_settings()
    if args.command == "ingest":
        from flows.ingest_market_data import ingest_market_data

        _print_json(
            ingest_market_data(
                source=args.source, start=args.start, days=args.days, symbols=args.symbols,
                paths=args.paths, layout=args.layout, lookback_minutes=args.lookback_minutes,
                dask_workers=args.dask_workers,
            )
        )
    elif args.command == "aggregate":
        from flows.aggregate_bars import aggregate_bars

        _print_json(aggregate_bars(dates=args.dates, full=args.full))
    elif args.command == "pipeline":
        from flows.daily_pipeline import daily_pipeline

        _print_json(daily_pipeline(day=args.day, days=args.days, source=args.source))
    elif args.command == "options":
        from flows.options_analytics import options_analytics

        _print_json(options_analytics(day=args.day, days=args.days))
    elif args.command == "warehouse":
        from shriven.lake.warehouse import build_warehouse

        build = build_warehouse(
            settings.warehouse_path, settings.lake_root, audit_dir=audit_directory(settings.state_dir),
            signals_root=settings.signal_log_root,
        )  # fmt: skip
        print(f"{build.path}: views {', '.join(build.views)} ({build.seconds:.2f}s)")
    elif args.command == "compact":
        from shriven.lake.writer import Lake

        lake = Lake(settings.lake_root)
        for name in args.dataset or ["trades", "book", "ohlcv"]:
            print(f"{name}: {len(lake.compact(name, args.dates))} partitions compacted")
    elif args.command == "sql":
        return _sql(settings, args)
    elif args.command == "config":
        import msgspec

        print(msgspec.json.format(msgspec.json.encode(settings)).decode())
    elif args.command == "backtest":
        from flows.backtest import backtest

        _print_json(backtest(start=args.start, days=args.days, strategies=args.strategies, run_id=args.run_id))
    elif args.command == "trade":
        from flows.execution import execution

        _print_json(
            execution(mode=args.mode, day=args.day, speed=args.speed, max_minutes=args.minutes, strategies=args.strategies)
        )
    elif args.command == "kill-switch":
        return _kill_switch(settings, args)
    elif args.command == "signal":
        import time as _time

        from shriven.model.enums import TargetKind
        from shriven.model.records import Signal
        from shriven.signals.log import SignalLog

        now = _time.time_ns()
        kind = TargetKind.WEIGHT if args.weight else TargetKind.POSITION
        signal = Signal(ts=now, symbol=args.symbol, target=args.target, kind=kind, source=args.source)
        result = SignalLog(settings.signal_log_root, symbols=settings.universe).append([signal], source=args.source, now_ns=now)
        if result.quarantined:
            print(f"shriven signal: rejected ({', '.join(result.reasons)}); see the quarantine view", file=sys.stderr)
            return 2
        print(f"signal {result.first_offset}: {args.symbol} {kind.name.lower()} {args.target}")
    elif args.command == "sweep":
        from flows.sweep import sweep

        _print_json(
            sweep(
                start=args.start, days=args.days, fast=args.fast, slow=args.slow, quantity=args.quantity,
                allow_short=[not args.long_only], interval=args.interval, symbols=args.symbols,
                fee_bps=args.fee_bps, spread_bps=args.spread_bps, chunk_size=args.chunk_size,
                dask_workers=args.dask_workers, sweep_id=args.sweep_id,
            )
        )  # fmt: skip
    elif args.command == "apikey":
        return apikeys.run(settings, args)
    elif args.command == "secrets":
        return secrets_cli.run(settings, args)
    elif args.command == "gateway":
        from gateway.__main__ import main as serve_gateway

        return serve_gateway()
    elif args.command == "demo":
        return _demo(settings)
    return 0


def _kill_switch(settings: Settings, args: argparse.Namespace) -> int:
    """Show, or set, the kill switch that running engines poll."""
    import getpass

    from shriven.engine.killswitch import KillSwitch

    switch = KillSwitch(settings.state_dir)
    if args.state is not None:
        switch.set(args.state == "on", reason=args.reason or f"manual ({args.state})", by=getpass.getuser())
    state = switch.read()
    print(f"kill switch {'ON' if state.on else 'off'}" + (f": {state.reason} (by {state.by})" if state.on else ""))
    return 0


def _sql(settings: Settings, args: argparse.Namespace) -> int:
    """DuckDB over the lake views: the platform's SQL shell (DuckDB's own CLI on PyPI is 1.5 and
    cannot open a DuckDB 2 file)."""
    import duckdb

    from shriven.lake.storage import register_lake_filesystem
    from shriven.lake.warehouse import memory_connection
    from shriven.security.paths import audit_directory

    if args.warehouse:
        con = duckdb.connect(settings.warehouse_path)
        con.execute("SET TimeZone = 'UTC'")
        register_lake_filesystem(con, settings.lake_root)  # the views of a remote lake read through fsspec
    else:
        con = memory_connection(
            settings.lake_root, audit_dir=audit_directory(settings.state_dir), signals_root=settings.signal_log_root
        )
    if args.query or args.file:
        text = args.query if args.query else open(args.file).read()  # noqa: SIM115
        return 0 if _run_statements(con, text) else 1
    interactive = sys.stdin.isatty()
    if interactive:
        print("ShrivenQuant SQL over the lake views (end statements with ';', .tables lists views, Ctrl-D quits)")
    ok = True
    buffer = ""
    while True:
        try:
            line = input("sql> " if not buffer else "...> ") if interactive else sys.stdin.readline()
        except EOFError:
            break
        if not interactive and line == "":
            break
        if not buffer and line.strip() == ".tables":
            print(con.sql("SELECT table_name FROM information_schema.tables ORDER BY 1"))
            continue
        buffer += line + ("\n" if interactive else "")
        if buffer.rstrip().endswith(";"):
            ok = _run_statements(con, buffer) and ok
            buffer = ""
    if buffer.strip():
        ok = _run_statements(con, buffer) and ok
    return 0 if ok else 1


def _run_statements(con: object, text: str) -> bool:
    """Run each statement, printing results; an error is printed and the next statement still runs."""
    import duckdb

    ok = True
    for statement in con.extract_statements(text):
        try:
            result = con.sql(statement.query)
            if result is not None:
                print(result)
        except duckdb.Error as exc:
            print(f"error: {exc}", file=sys.stderr)
            ok = False
    return ok


def _demo(settings: Settings) -> int:
    """Run one synthetic day through Prefect and show what it made and where to look."""
    from flows.backtest import backtest
    from flows.daily_pipeline import daily_pipeline
    from shriven.lake.warehouse import memory_connection
    from shriven.security.paths import audit_directory

    started = time.perf_counter()
    summary = daily_pipeline(day=DEMO_DAY, days=1, source="synthetic")
    wall = time.perf_counter() - started
    core = float(summary["core_seconds"])
    run_id = time.strftime("demo-%Y%m%dT%H%M%S", time.gmtime())
    trading = backtest(start=DEMO_DAY, days=1, run_id=run_id)
    con = memory_connection(
        settings.lake_root, audit_dir=audit_directory(settings.state_dir), signals_root=settings.signal_log_root
    )
    print("\n== ShrivenQuant demo: one synthetic day (2026-01-05, 20 symbols) through Prefect ==\n")
    print("rows per view:")
    for view in ("trades", "book", "book_snapshots", "book_issues", "quarantine", "bars_1s", "bars_1m", "bars_5m",
                 "bars_1h", "bars_1d"):
        n = con.sql(f"SELECT count(*) FROM {view}").fetchall()[0][0]
        print(f"  {view:<14} {n:>12,}")
    print(
        f"\npipeline wall time {wall:.1f}s: core work (generate, validate, write, bars, book snapshots, warehouse) "
        f"{core:.1f}s, Prefect overhead (server, flow and task runs) {wall - core:.1f}s"
    )
    print(
        f"\nbacktest of the day with the example strategies (flow backtest, account {trading['account']}): "
        f"{trading['market_events']:,} market events through strategies, risk, OMS, venue and portfolio in "
        f"{trading['elapsed_s']}s; {trading['orders']} orders, {trading['fills']} fills, "
        f"return {trading['return_pct']}%, fees {trading['fees']} (negative: rebates earned)"
    )
    print(f"  .venv/bin/shriven sql \"SELECT * FROM pnl WHERE account = '{trading['account']}' ORDER BY ts\"")
    if trading.get("tearsheet"):
        print(f"  tearsheet: {trading['tearsheet']}")
    # a remote lake's views read the bucket: a plain duckdb.connect of the file cannot
    python_hint = "" if settings.lake_is_remote else f", or Python: duckdb.connect('{settings.warehouse_path}')"
    print(f"\nexample query (.venv/bin/shriven sql{python_hint}):\n")
    print(EXAMPLE_QUERY + ";\n")
    print(con.sql(EXAMPLE_QUERY))
    print(
        "next:\n"
        "  make serve       # Prefect UI on http://127.0.0.1:4200 with every deployment and its schedule\n"
        "  make dashboard   # Streamlit dashboards on http://127.0.0.1:8501\n"
        "  make sql         # an SQL shell over the lake views (DuckDB)\n"
        f"  warehouse file:  {settings.warehouse_path}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
