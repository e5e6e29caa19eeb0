"""First render of every dashboard page over a lake of ~10 M trades, with the query time beside it.

Run: ``python bench/bench_dashboards.py [--trades 10_000_000] [--backtest-days 1]``.

Target (issue 6): the first render of each page <= 2 s over a lake of 10 M trades.

Build (timed apart, not part of the target), in a temporary data dir with the packaged default
settings (20 symbols, ~0.9 M trades a day): enough synthetic weekdays for ``--trades`` trades
through ``ingest_window`` (trades and L2 book events), bars of every configured interval through
``BarAggregator`` (what the aggregate flow runs), 1 s top-10 book snapshots
(``write_book_snapshots``, as the daily pipeline) and priced synthetic option chains
(``price_synthetic_chains``, as the options flow) for every day, a one-day ``run_backtest`` with
the packaged example strategies (orders, fills, positions, pnl, risk events of one
``backtest-bench`` account) and the DuckDB warehouse file (``build_warehouse``).

Measured, for every page of ``dashboards/streamlit_app.py``'s ``PAGES`` (read from the app file at
run time): a fresh ``AppTest`` runs the app once (the default page), then the Streamlit caches are
cleared (``st.cache_data``, ``st.cache_resource``: the page also opens its DuckDB connection and
views) and the page is switched to and run: the wall time of that ``run()`` is the render time.
Beside it, the query time: the time spent inside ``dashboards/data.py`` during that run (every
module-level function and cached loader of the module wrapped by a timer that counts only the
outermost call; the SQL alone, ``LakeReader.query``, is shown too). A page that raises is
reported with its exception, not hidden.

Baselines from the same run: the bare DuckDB query of the biggest view (``SELECT count(*),
max(ts) FROM trades`` on a fresh in-memory connection with the lake views, best of 3) and the
``AppTest`` render of a one-line Streamlit script (the framework's floor, best of 3). The Prefect
API is pointed at a closed local port (no server runs in the bench): the Pipelines page shows its
"unreachable" state.
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamlit as st  # noqa: E402
import streamlit.logger  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from timing import best_of  # noqa: E402

from shriven.aggregation.incremental import BarAggregator  # noqa: E402
from shriven.book.snapshots import write_book_snapshots  # noqa: E402
from shriven.config import load_settings  # noqa: E402
from shriven.engine.wiring import run_backtest  # noqa: E402
from shriven.lake.layout import Window  # noqa: E402
from shriven.lake.warehouse import build_warehouse, memory_connection  # noqa: E402
from shriven.lake.writer import Lake  # noqa: E402
from shriven.marketdata.ingest import ingest_window  # noqa: E402
from shriven.marketdata.synthetic import SyntheticExchange  # noqa: E402
from shriven.pricing.daily import price_synthetic_chains  # noqa: E402

APP = ROOT / "dashboards" / "streamlit_app.py"
FIRST_DAY = date(2026, 1, 5)
RUN_ID = "bench"
TARGET_S = 2.0
#: No Prefect server runs in the bench: a closed port, refused at once.
PREFECT_API_URL = "http://127.0.0.1:9/api"
BARE_QUERY = "SELECT count(*), max(ts) FROM trades"
TRIVIAL_SCRIPT = "import streamlit as st\nst.write('hello')\n"


# -- the pages ------------------------------------------------------------------------------------


def app_pages(app: Path = APP) -> list[dict[str, str]]:
    """The pages of the app's ``PAGES``: every ``st.Page("<path>", title=...)`` call in the app file."""
    pages = []
    for node in ast.walk(ast.parse(app.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "Page"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            path = node.args[0].value
            title = next(
                (
                    k.value.value
                    for k in node.keywords
                    if k.arg == "title" and isinstance(k.value, ast.Constant)
                ),
                Path(path).stem,
            )
            pages.append({"path": path, "title": title})
    text = app.read_text()  # ast.walk is breadth-first: keep the file's order
    pages.sort(key=lambda p: text.find(f'"{p["path"]}"'))
    return pages


def unregistered_pages(pages: list[dict[str, str]], app: Path = APP) -> list[str]:
    """Page files under ``app_pages/`` that ``PAGES`` does not list (cannot be switched to)."""
    listed = {p["path"] for p in pages}
    return sorted(
        f"app_pages/{f.name}"
        for f in (app.parent / "app_pages").glob("*.py")
        if not f.name.startswith("_") and f"app_pages/{f.name}" not in listed
    )


# -- the lake -------------------------------------------------------------------------------------


def weekdays(n: int) -> list[date]:
    out, d = [], FIRST_DAY
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def build_lake(data_dir: str, trades: int, backtest_days: int) -> dict:
    """Ingest, bars, a backtest and the warehouse into ``data_dir``; the timings and row counts."""
    settings = load_settings(environ={"SHRIVEN_DATA_DIR": data_dir})
    per_day = sum(s.daily_trades for s in settings.symbols)
    days = weekdays(max(1, math.ceil(trades / per_day)))
    lake = Lake(settings.lake_root)
    seconds = {}
    t0 = time.perf_counter()
    ingested = book = 0
    for d in days:
        r = ingest_window(
            SyntheticExchange(settings), lake, Window.days(d), settings.universe, settings.universe
        )
        ingested += r.valid_rows
        book += r.book_rows
    seconds["ingest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bars = BarAggregator(lake, settings.state_dir, settings.aggregation.intervals).run()
    seconds["bars"] = time.perf_counter() - t0
    dates = [d.isoformat() for d in days]
    t0 = time.perf_counter()
    ticks = {s.symbol: s.tick_size for s in settings.symbols}
    snapshots = write_book_snapshots(lake, dates, ticks, 1_000_000_000)  # the daily pipeline's 1 s
    seconds["book_snapshots"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    options = price_synthetic_chains(lake, settings, dates)
    seconds["options"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bt = run_backtest(settings, dates[:backtest_days], run_id=RUN_ID)
    seconds["backtest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    wh = build_warehouse(settings.warehouse_path, settings.lake_root)
    seconds["warehouse"] = time.perf_counter() - t0
    return {
        "days": len(days),
        "first_day": days[0].isoformat(),
        "last_day": days[-1].isoformat(),
        "symbols": len(settings.universe),
        "trades": ingested,
        "book_events": book,
        "bars_written": dict(bars.bars_written),
        "book_snapshots": snapshots.snapshots,
        "options": options.options,
        "options_priced": options.priced,
        "backtest": {
            "account": bt.account,
            "dates": bt.dates,
            "market_events": bt.market_events,
            "orders": bt.orders,
            "denied": bt.denied,
            "fills": bt.fills,
            "rows_written": bt.rows_written,
        },
        "views": len(wh.views),
        "seconds": seconds,
    }


# -- timing the data layer ------------------------------------------------------------------------


class DataTimer:
    """Time spent inside ``dashboards.data`` during a render: outermost calls only, SQL apart."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.data_s = 0.0
            self.sql_s = 0.0
            self.connect_s = 0.0
            self.calls: dict[str, float] = {}

    def _wrap(self, name: str, fn, kind: str = "data"):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if getattr(self._local, kind, 0):
                return fn(*args, **kwargs)
            setattr(self._local, kind, 1)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                setattr(self._local, kind, 0)
                with self._lock:
                    if kind == "sql":
                        self.sql_s += elapsed
                    elif kind == "connect":
                        self.connect_s += elapsed
                    else:
                        self.data_s += elapsed
                        self.calls[name] = self.calls.get(name, 0.0) + elapsed

        timed.__wrapped_original__ = fn
        return timed

    def install(self) -> None:
        """Wrap the module's functions and loaders, ``LakeReader.query`` and its connection, in place."""
        from dashboards import data

        for name, obj in list(vars(data).items()):
            if name.startswith("_") or getattr(obj, "__wrapped_original__", None) is not None:
                continue
            own = inspect.isfunction(obj) and obj.__module__ == data.__name__
            cached = callable(obj) and hasattr(obj, "clear") and not inspect.isclass(obj)
            if own or cached:
                setattr(data, name, self._wrap(name, obj))
        query = data.LakeReader.query
        if getattr(query, "__wrapped_original__", None) is None:
            data.LakeReader.query = self._wrap("LakeReader.query", query, kind="sql")
        if getattr(data.memory_connection, "__wrapped_original__", None) is None:
            data.memory_connection = self._wrap(
                "memory_connection", data.memory_connection, kind="connect"
            )


#: Warnings Streamlit logs for every cache clear or loader outside ``streamlit run``.
_BARE_MODE_NOISE = ("missing ScriptRunContext", "No runtime found")


def quiet_streamlit() -> None:
    """Drop Streamlit's bare-mode warnings (AppTest resets log levels, so filter them instead)."""
    streamlit.logger.set_log_level("error")
    for name in (
        "streamlit.runtime.scriptrunner_utils.script_run_context",
        "streamlit.runtime.caching.cache_data_api",
        "streamlit.runtime.caching.cache_resource_api",
    ):
        streamlit.logger.get_logger(name).addFilter(
            lambda rec: not any(n in rec.getMessage() for n in _BARE_MODE_NOISE)
        )


def clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def render_page(path: str, timer: DataTimer) -> dict:
    """A fresh app, run once; caches cleared; then the timed first render of ``path``."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    t0 = time.perf_counter()
    at.run()
    app_s = time.perf_counter() - t0
    if at.exception:
        return {"app_s": app_s, "render_s": math.nan, "data_s": math.nan, "sql_s": math.nan,
                "exception": "app: " + "; ".join(e.value for e in at.exception)}  # fmt: skip
    clear_caches()
    timer.reset()
    at.switch_page(path)
    before = {m.split(".")[0] for m in sys.modules}
    t0 = time.perf_counter()
    at.run()
    render_s = time.perf_counter() - t0
    imported = sorted({m.split(".")[0] for m in sys.modules} - before)
    exception = "; ".join(f"{e.value}" for e in at.exception) if at.exception else ""
    slowest = max(timer.calls.items(), key=lambda kv: kv[1], default=("", 0.0))
    return {
        "app_s": app_s,
        "render_s": render_s,
        "data_s": timer.data_s,
        "sql_s": timer.sql_s,
        "connect_s": timer.connect_s,
        "imported": imported,
        "calls": dict(timer.calls),
        "slowest_call": slowest,
        "elements": len(at.main.children),
        "exception": exception,
    }


# -- the run --------------------------------------------------------------------------------------


def run(trades: int = 10_000_000, backtest_days: int = 1, repeat: int = 3) -> dict:
    """Build the lake, then the first render of every page and the two baselines."""
    quiet_streamlit()
    pages = app_pages()
    missing = unregistered_pages(pages)
    tmp = tempfile.mkdtemp(prefix="bench-dashboards-")
    data_dir = os.path.join(tmp, "data")
    saved_env = {
        k: os.environ.get(k) for k in ("SHRIVEN_DATA_DIR", "SHRIVEN_CONFIG", "PREFECT_API_URL")
    }
    saved_cwd = os.getcwd()
    try:
        lake = build_lake(data_dir, trades, backtest_days)
        os.environ["SHRIVEN_DATA_DIR"] = data_dir
        os.environ.pop("SHRIVEN_CONFIG", None)
        os.environ["PREFECT_API_URL"] = PREFECT_API_URL
        os.chdir(data_dir)  # no ./shriven.toml from the developer's checkout
        lake_root = load_settings().lake_root
        timer = DataTimer()
        timer.install()

        # The first AppTest of the process imports the app's modules: timed apart, as the cold start.
        clear_caches()
        t0 = time.perf_counter()
        cold = AppTest.from_file(str(APP), default_timeout=120).run()
        cold_start_s = time.perf_counter() - t0
        cold_exception = "; ".join(e.value for e in cold.exception) if cold.exception else ""

        results = {}
        for page in pages:
            results[page["path"]] = {"title": page["title"], **render_page(page["path"], timer)}
        # Again, now that every module a page imports is loaded: a later visitor's first render.
        for page in pages:
            again = render_page(page["path"], timer)
            results[page["path"]]["again_render_s"] = again["render_s"]
            results[page["path"]]["again_data_s"] = again["data_s"]

        def connect() -> None:
            memory_connection(lake_root).close()

        con = memory_connection(lake_root)
        count, last_ts = con.sql(BARE_QUERY).fetchall()[0]
        baseline_connect_s = best_of(connect, repeat)
        baseline_query_s = best_of(lambda: con.sql(BARE_QUERY).fetchall(), repeat)
        con.close()

        def trivial() -> None:
            AppTest.from_string(TRIVIAL_SCRIPT, default_timeout=60).run()

        baseline_trivial_s = best_of(trivial, repeat)
    finally:
        os.chdir(saved_cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "lake": lake,
        "trades_in_view": count,
        "last_trade_ts": str(last_ts),
        "cold_start_s": cold_start_s,
        "cold_start_exception": cold_exception,
        "pages": results,
        "unregistered_pages": missing,
        "target_s": TARGET_S,
        "baseline_connect_s": baseline_connect_s,
        "baseline_bare_query_s": baseline_query_s,
        "baseline_trivial_app_s": baseline_trivial_s,
        "load_avg_1min": os.getloadavg()[0],
    }


#: Packages named first when a render imports them (the heavy ones).
_NOTABLE = ("prefect", "sklearn", "torch", "transformers", "scipy", "models", "plotly")


def _imports(packages: list[str]) -> str:
    public = [p for p in packages if not p.startswith("_")]
    public.sort(key=lambda p: (p not in _NOTABLE, p))
    if not public:
        return ""
    more = f" and {len(public) - 4} more" if len(public) > 4 else ""
    return f"; first import of {', '.join(public[:4])}{more} packages"


def print_result(r: dict) -> None:
    """Human-readable figures."""
    lake = r["lake"]
    bt = lake["backtest"]
    s = lake["seconds"]
    print(
        f"dashboards: lake of {lake['trades']:,} trades ({r['trades_in_view']:,} in the trades view), "
        f"{lake['book_events']:,} book events, {lake['days']} days {lake['first_day']}..{lake['last_day']} "
        f"x {lake['symbols']} symbols (load {r['load_avg_1min']:.1f})"
    )
    bars = ", ".join(f"{k} {v:,}" for k, v in lake["bars_written"].items())
    print(
        f"  bars: {bars}; book snapshots (1 s, top 10): {lake['book_snapshots']:,}; "
        f"options: {lake['options']:,} ({lake['options_priced']:,} with an implied vol)"
    )
    print(
        f"  backtest {bt['account']} over {', '.join(bt['dates'])}: {bt['market_events']:,} market events, "
        f"{bt['orders']:,} orders ({bt['denied']:,} denied), {bt['fills']:,} fills; {lake['views']} warehouse views"
    )
    print(
        f"  build (not in the target): ingest {s['ingest']:.1f} s, bars {s['bars']:.1f} s, "
        f"book snapshots {s['book_snapshots']:.1f} s, options {s['options']:.1f} s, "
        f"backtest {s['backtest']:.1f} s, warehouse {s['warehouse']:.2f} s"
    )
    cold = (
        f"  app cold start (first AppTest of the process, default page): {r['cold_start_s']:.2f} s"
    )
    print(cold + (f"  EXCEPTION: {r['cold_start_exception']}" if r["cold_start_exception"] else ""))
    print(f"  first render per page, caches cleared (target <= {r['target_s']:.0f} s):")
    print(
        f"    {'page':<32} {'render s':>8} {'query s':>8} {'(connect':>9} {'SQL)':>6}  {'target':<7}  "
        "again: render s (query s)"
    )
    for path, p in r["pages"].items():
        label = f"{p['title']} ({Path(path).stem})"
        if p["exception"]:
            print(f"    {label:<32} EXCEPTION: {p['exception'][:300]}")
            continue
        verdict = "met" if p["render_s"] <= r["target_s"] else "NOT MET"
        name, secs = p["slowest_call"]
        print(
            f"    {label:<32} {p['render_s']:8.2f} {p['data_s']:8.2f} {p['connect_s']:9.2f} "
            f"{p['sql_s']:6.2f}  {verdict:<7}  {p['again_render_s']:5.2f} ({p['again_data_s']:.2f})"
            f"  slowest: {name} {secs:.2f} s" + _imports(p["imported"])
        )
    for path in r["unregistered_pages"]:
        print(f"    {path}: in app_pages/ but not in PAGES, not measured")
    print(
        "  (query s: time inside dashboards/data.py; of it, connect: in-memory DuckDB + lake views,"
    )
    print(
        "   SQL: LakeReader.query; again: the same first render once every page's imports are loaded)"
    )
    print("  baselines:")
    print(
        f"    bare DuckDB {BARE_QUERY!r} on an open connection  {r['baseline_bare_query_s']:6.3f} s"
    )
    print(
        f"    bare DuckDB in-memory connection + lake views              {r['baseline_connect_s']:6.3f} s"
    )
    print(
        f"    AppTest render of a one-line Streamlit script (floor)      {r['baseline_trivial_app_s']:6.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000_000, help="trades in the lake (about)")
    parser.add_argument("--backtest-days", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many for the baselines")
    args = parser.parse_args()
    print_result(run(args.trades, args.backtest_days, args.repeat))


if __name__ == "__main__":
    main()
