"""The Arrow schema of every dataset: the one source of truth for columns, types and units.

Timestamps are nanoseconds since the epoch, UTC (``timestamp[ns, tz=UTC]``). Prices are in the
instrument's quote currency, sizes in base units (shares, coins). Each field carries its unit and
meaning in its metadata, so the lake's Parquet files document themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("ns", tz="UTC")

#: Aggressor side of a trade: the buyer lifted the offer.
SIDE_BUY = 1
#: Aggressor side of a trade: the seller hit the bid.
SIDE_SELL = -1
#: Aggressor side unknown (some vendors do not publish it).
SIDE_UNKNOWN = 0
#: Book side: bid.
BOOK_BID = 1
#: Book side: ask.
BOOK_ASK = -1


def _field(name: str, type_: pa.DataType, unit: str, doc: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"unit": unit, "doc": doc})


TRADES = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "exchange time of the trade"),
        _field("symbol", pa.string(), "", "instrument symbol from the universe"),
        _field("trade_id", pa.int64(), "", "venue trade id, unique per symbol"),
        _field("price", pa.float64(), "quote currency", "trade price, > 0"),
        _field("size", pa.float64(), "base units", "traded quantity, > 0"),
        _field("side", pa.int8(), "enum", "aggressor: 1 buy, -1 sell, 0 unknown"),
    ],
    metadata={"dataset": "trades", "sort": "symbol,ts,trade_id"},
)

#: What sources hand to validation: the TRADES columns, all nullable (null = missing or
#: unparseable), plus the row's position in its input and its original text.
RAW_TRADES = pa.schema(
    [f.with_nullable(True) for f in TRADES]
    + [
        _field("_row_number", pa.int64(), "", "CSV: 1-based physical line (header = 1); Parquet/batches: 0-based row"),
        _field("_raw", pa.string(), "JSON", "original fields as read, plus the source location"),
    ],
    metadata={"dataset": "trades", "raw": "true"},
)

BOOK = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "exchange time of the book event"),
        _field("symbol", pa.string(), "", "instrument symbol from the universe"),
        _field("seq", pa.int64(), "", "per-symbol sequence number; gaps mean lost messages"),
        _field("side", pa.int8(), "enum", "1 bid, -1 ask"),
        _field("price", pa.float64(), "quote currency", "price level"),
        _field("size", pa.float64(), "base units", "total resting size at the level after the event; 0 removes it"),
        _field(
            "is_snapshot",
            pa.bool_(),
            "",
            "true: row of a full snapshot (all rows of one seq replace the book); false: a delta",
        ),
    ],
    metadata={"dataset": "book", "sort": "symbol,seq"},
)

BAR_FIELDS = [
    _field("ts", TIMESTAMP, "ns UTC", "bar open time (left edge of the window)"),
    _field("symbol", pa.string(), "", "instrument symbol"),
    _field("open", pa.float64(), "quote currency", "first trade price"),
    _field("high", pa.float64(), "quote currency", "highest trade price"),
    _field("low", pa.float64(), "quote currency", "lowest trade price"),
    _field("close", pa.float64(), "quote currency", "last trade price"),
    _field("volume", pa.float64(), "base units", "sum of trade sizes"),
    _field("notional", pa.float64(), "quote currency", "sum of price * size"),
    _field("vwap", pa.float64(), "quote currency", "notional / volume"),
    _field("trades", pa.int64(), "count", "number of trades"),
    _field("buy_volume", pa.float64(), "base units", "volume of buyer-initiated trades"),
    _field("sell_volume", pa.float64(), "base units", "volume of seller-initiated trades"),
    _field(
        "realized_vol",
        pa.float64(),
        "log return",
        "sqrt of the sum of squared log returns between consecutive trades inside the bar (not annualised)",
    ),
    _field("ofi", pa.float64(), "ratio", "order-flow imbalance (buy_volume - sell_volume) / volume, in [-1, 1]"),
]

BARS = pa.schema(BAR_FIELDS, metadata={"dataset": "bars", "sort": "symbol,ts"})

OHLCV = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "bar open time as published by the vendor"),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("interval", pa.string(), "", "vendor timeframe, e.g. 1m"),
        _field("open", pa.float64(), "quote currency", "open"),
        _field("high", pa.float64(), "quote currency", "high"),
        _field("low", pa.float64(), "quote currency", "low"),
        _field("close", pa.float64(), "quote currency", "close"),
        _field("volume", pa.float64(), "base units", "volume"),
    ],
    metadata={"dataset": "ohlcv", "sort": "symbol,ts"},
)

QUARANTINE = pa.schema(
    [
        _field("ingested_at", TIMESTAMP, "ns UTC", "when the row was rejected"),
        _field("dataset", pa.string(), "", "dataset the row was meant for"),
        _field("source", pa.string(), "", "source that produced the row (synthetic, a file path, ccxt:<exchange>)"),
        _field("reason", pa.string(), "", "why it was rejected; several reasons are joined by ';'"),
        _field("row_number", pa.int64(), "", "position of the row in its input batch (or file line)"),
        _field("symbol", pa.string(), "", "symbol as given, if any", nullable=True),
        _field("raw", pa.string(), "JSON", "the original row, as JSON"),
    ],
    metadata={"dataset": "quarantine", "sort": "ingested_at,row_number"},
)


#: Levels per side of the ``book_snapshots`` dataset (the synthetic exchange publishes 10).
BOOK_DEPTH_LEVELS = 10


def book_depth_schema(depth: int) -> pa.Schema:
    """Schema of top-``depth`` book samples: one row per symbol per sample time.

    Missing levels (a side thinner than ``depth``) are null, as are mid, microprice and spread
    while a side is empty.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    fields = [
        _field(
            "ts",
            TIMESTAMP,
            "ns UTC",
            "sample time (grid time, or the time of the message sampled)",
        ),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("seq", pa.int64(), "", "seq of the last message applied"),
    ]
    for prefix, unit, what in (
        ("bid_px", "quote currency", "price of bid level"),
        ("bid_sz", "base units", "size of bid level"),
        ("ask_px", "quote currency", "price of ask level"),
        ("ask_sz", "base units", "size of ask level"),
    ):
        fields += [
            _field(
                f"{prefix}_{j}", pa.float64(), unit, f"{what} {j} (0 = best); null if none", True
            )
            for j in range(depth)
        ]
    fields += [
        _field("mid", pa.float64(), "quote currency", "(best bid + best ask) / 2", True),
        _field(
            "microprice",
            pa.float64(),
            "quote currency",
            "(bid * ask_size + ask * bid_size) / (bid_size + ask_size) at the touch",
            True,
        ),
        _field("spread", pa.float64(), "quote currency", "best ask - best bid", True),
        _field(
            "imbalance",
            pa.float64(),
            "ratio",
            "top-of-book (bid_size - ask_size) / (bid_size + ask_size), in [-1, 1]",
            True,
        ),
        _field(
            "depth_imbalance",
            pa.float64(),
            "ratio",
            f"the same over the {depth} levels per side",
            True,
        ),
        _field(
            "stale",
            pa.bool_(),
            "",
            "true after a seq gap until the next snapshot, or before the first",
        ),
    ]
    return pa.schema(fields, metadata={"dataset": "book_snapshots", "sort": "symbol,ts"})


#: Schema of the ``book_snapshots`` dataset at the default depth (see :func:`book_depth_schema`).
BOOK_DEPTH = book_depth_schema(BOOK_DEPTH_LEVELS)

#: Problems found while replaying a book; ``kind`` is one of the ``ISSUE_*`` constants.
BOOK_ISSUES = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "time of the message with the problem"),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("seq", pa.int64(), "", "seq of the message with the problem"),
        _field(
            "kind",
            pa.int8(),
            "enum",
            "1 seq gap, 2 seq regression, 3 crossed, 4 no snapshot, 5 invalid row",
        ),
        _field(
            "detail",
            pa.int64(),
            "",
            "gap: missing seqs; regression: seqs back; crossed: bid - ask in ticks; invalid row: its side",
        ),
    ],
    metadata={"dataset": "book_issues", "sort": "symbol,seq"},
)


_OPTION_QUOTE_FIELDS = [
    _field("ts", TIMESTAMP, "ns UTC", "quote time"),
    _field("symbol", pa.string(), "", "underlying symbol"),
    _field("expiry", TIMESTAMP, "ns UTC", "expiry instant"),
    _field("strike", pa.float64(), "quote currency", "strike"),
    _field("is_call", pa.bool_(), "", "true: call, false: put"),
    _field("bid", pa.float64(), "quote currency", "best bid of the option"),
    _field("ask", pa.float64(), "quote currency", "best ask of the option"),
    _field("underlying_price", pa.float64(), "quote currency", "underlying price at ts"),
]

#: An option chain as a vendor (or the synthetic chain generator) publishes it.
OPTION_CHAIN = pa.schema(_OPTION_QUOTE_FIELDS, metadata={"dataset": "option_chain", "sort": "symbol,expiry,strike"})

#: A priced chain: implied volatility from the mid and greeks at that volatility.
OPTION_ANALYTICS = pa.schema(
    _OPTION_QUOTE_FIELDS
    + [
        _field("mid", pa.float64(), "quote currency", "(bid + ask) / 2"),
        _field("time_to_expiry", pa.float64(), "years", "ACT/365 from ts to expiry"),
        _field("log_moneyness", pa.float64(), "", "ln(strike / forward)"),
        _field("iv", pa.float64(), "annualised", "implied volatility of the mid; null when reason != 0", True),
        _field("reason", pa.int8(), "enum", "shriven.pricing.Reason of the implied volatility (0 = OK)"),
        _field("delta", pa.float64(), "per 1 underlying", "dV/dS at iv", True),
        _field("gamma", pa.float64(), "per 1 underlying^2", "d2V/dS2 at iv", True),
        _field("vega", pa.float64(), "per 1.00 vol", "dV/dsigma at iv", True),
        _field("theta", pa.float64(), "per year", "-dV/dT at iv", True),
        _field("rho", pa.float64(), "per 1.00 rate", "dV/dr at iv", True),
        _field("svi_iv", pa.float64(), "annualised", "the expiry's fitted SVI smile at this strike", True),
    ],
    metadata={"dataset": "option_analytics", "sort": "symbol,expiry,strike"},
)

#: One fitted SVI smile per underlying and expiry, with its no-arbitrage checks.
SVI_FITS = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "quote time of the chain"),
        _field("symbol", pa.string(), "", "underlying symbol"),
        _field("expiry", TIMESTAMP, "ns UTC", "expiry instant"),
        _field("time_to_expiry", pa.float64(), "years", "ACT/365"),
        _field("a", pa.float64(), "total variance", "raw SVI a"),
        _field("b", pa.float64(), "", "raw SVI b"),
        _field("rho", pa.float64(), "", "raw SVI rho"),
        _field("m", pa.float64(), "log moneyness", "raw SVI m"),
        _field("sigma", pa.float64(), "log moneyness", "raw SVI sigma"),
        _field("points", pa.int64(), "count", "options with an implied volatility used in the fit"),
        _field("rmse_iv", pa.float64(), "annualised", "root mean square error of the fit in volatility"),
        _field("butterfly_ok", pa.bool_(), "", "risk-neutral density of the smile >= 0 on the strike range"),
        _field("calendar_ok", pa.bool_(), "", "total variance not below the previous expiry's at any strike"),
    ],
    metadata={"dataset": "svi_fits", "sort": "symbol,expiry"},
)


# -- the trading path ---------------------------------------------------------------------------
# Enums are written as their lower-case names (readable in ad-hoc SQL). The trading datasets are
# partitioned by date and ``account`` ("paper", "live", or "backtest-<run id>") so runs never mix.

SIGNALS = pa.schema(
    [
        _field("offset", pa.int64(), "", "position in the signal log: dense, rising, assigned on append"),
        _field("ts", TIMESTAMP, "ns UTC", "time the signal is valid from (model or optimiser time)"),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("target", pa.float64(), "base units or fraction", "target position (kind position) or weight of equity (kind weight)"),
        _field("kind", pa.string(), "enum", "position or weight"),
        _field("source", pa.string(), "", "who produced it: a flow, model or optimiser name"),
        _field("model_version", pa.string(), "", "version of the model that produced it, '' if none"),
        _field("appended_at", TIMESTAMP, "ns UTC", "when it was appended to the log"),
    ],
    metadata={"dataset": "signals", "sort": "offset"},
)

ORDERS = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "time the order was created"),
        _field("updated_ts", TIMESTAMP, "ns UTC", "time of its last event"),
        _field("client_order_id", pa.string(), "", "our id, unique per account; the idempotency key"),
        _field("strategy_id", pa.string(), "", "strategy (or algo) that sent it"),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("venue", pa.string(), "", "venue it was routed to, '' if it never left"),
        _field("venue_order_id", pa.string(), "", "the venue's id, '' before acceptance"),
        _field("side", pa.string(), "enum", "buy or sell"),
        _field("order_type", pa.string(), "enum", "limit, market, ioc, fok or post_only"),
        _field("price", pa.float64(), "quote currency", "limit price; null for market orders", nullable=True),
        _field("quantity", pa.float64(), "base units", "ordered quantity (after any modify)"),
        _field("filled_quantity", pa.float64(), "base units", "cumulative filled quantity"),
        _field("avg_fill_price", pa.float64(), "quote currency", "quantity-weighted fill price; null if none", nullable=True),
        _field("fees", pa.float64(), "quote currency", "fees paid on its fills (negative: rebates)"),
        _field("state", pa.string(), "enum", "order state (initialized, denied, submitted, accepted, ... filled, canceled)"),
        _field("reason", pa.string(), "", "why it was denied, rejected, canceled or expired; '' otherwise"),
        _field("signal_offset", pa.int64(), "", "offset of the signal that caused it; null if none", nullable=True),
    ],
    metadata={"dataset": "orders", "sort": "ts,client_order_id"},
)

FILLS = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "venue time of the fill"),
        _field("client_order_id", pa.string(), "", "our order id"),
        _field("strategy_id", pa.string(), "", "strategy that sent the order"),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("venue", pa.string(), "", "venue that filled it"),
        _field("trade_id", pa.string(), "", "the venue's execution id"),
        _field("side", pa.string(), "enum", "buy or sell"),
        _field("price", pa.float64(), "quote currency", "fill price"),
        _field("quantity", pa.float64(), "base units", "filled quantity, > 0"),
        _field("fee", pa.float64(), "quote currency", "fee paid (negative: rebate)"),
        _field("liquidity", pa.string(), "enum", "maker or taker"),
    ],
    metadata={"dataset": "fills", "sort": "ts,client_order_id"},
)

POSITIONS = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "time of the snapshot (marks as of then)"),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("quantity", pa.float64(), "base units", "signed position"),
        _field("avg_cost", pa.float64(), "quote currency", "average entry price of the open position; null when flat", nullable=True),
        _field("mark_price", pa.float64(), "quote currency", "last mark; null before the first", nullable=True),
        _field("market_value", pa.float64(), "quote currency", "quantity * mark_price"),
        _field("realized_pnl", pa.float64(), "quote currency", "PnL closed by fills, before fees"),
        _field("unrealized_pnl", pa.float64(), "quote currency", "(mark_price - avg_cost) * quantity"),
        _field("fees", pa.float64(), "quote currency", "fees paid on this symbol"),
    ],
    metadata={"dataset": "positions", "sort": "ts,symbol"},
)

PNL = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "time of the sample"),
        _field("cash", pa.float64(), "quote currency", "cash after fills and fees"),
        _field("equity", pa.float64(), "quote currency", "cash + market value of all positions"),
        _field("gross_exposure", pa.float64(), "quote currency", "sum of |market value|"),
        _field("net_exposure", pa.float64(), "quote currency", "sum of market value"),
        _field("realized_pnl", pa.float64(), "quote currency", "sum over symbols, before fees"),
        _field("unrealized_pnl", pa.float64(), "quote currency", "sum over symbols"),
        _field("fees", pa.float64(), "quote currency", "fees paid so far"),
    ],
    metadata={"dataset": "pnl", "sort": "ts"},
)

RISK_EVENTS = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "engine time of the event"),
        _field("kind", pa.string(), "enum", "denied, breach, state_change or kill_switch"),
        _field("reason", pa.string(), "enum", "the risk reason (position_limit, daily_loss, ...) or what changed"),
        _field("symbol", pa.string(), "", "instrument, '' for account-wide events"),
        _field("client_order_id", pa.string(), "", "the denied order, '' otherwise"),
        _field("trading_state", pa.string(), "enum", "active, reducing or halted after the event"),
        _field("detail", pa.string(), "", "human-readable numbers: limit, value, order"),
    ],
    metadata={"dataset": "risk_events", "sort": "ts"},
)


# -- sentiment (issue 5) ------------------------------------------------------------------------
# Texts fan out to one row per (text, symbol) once entities are mapped, so scores and the index
# join on plain string columns; ``symbol`` '' marks a market-wide text (no known entity in it).

NEWS = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "publication time of the text"),
        _field("text_id", pa.string(), "", "hash of (source, ts, text): the same text id on every symbol row"),
        _field("source", pa.string(), "", "who published it: a feed, file or 'synthetic:<kind>'"),
        _field("symbol", pa.string(), "", "instrument the text is about; '' = market-wide"),
        _field("text", pa.string(), "", "headline or post as published (truncated by text checks if too long)"),
    ],
    metadata={"dataset": "news", "sort": "ts,text_id,symbol"},
)

SENTIMENT_SCORES = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "publication time of the scored text"),
        _field("text_id", pa.string(), "", "the text's id in the news dataset"),
        _field("symbol", pa.string(), "", "instrument the score is about; '' = market-wide"),
        _field("source", pa.string(), "", "who published the text"),
        _field("label", pa.string(), "enum", "negative, neutral or positive (the most probable class)"),
        _field("p_negative", pa.float64(), "probability", "model probability of negative"),
        _field("p_neutral", pa.float64(), "probability", "model probability of neutral"),
        _field("p_positive", pa.float64(), "probability", "model probability of positive"),
        _field("score", pa.float64(), "ratio", "p_positive - p_negative, in [-1, 1]"),
        _field("model", pa.string(), "", "name of the scoring model"),
        _field("model_version", pa.string(), "", "version of the scoring model"),
    ],
    metadata={"dataset": "sentiment_scores", "sort": "ts,text_id,symbol"},
)

SENTIMENT_INDEX = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "grid time; uses only texts with ts <= this"),
        _field("symbol", pa.string(), "", "instrument; '' = market-wide texts"),
        _field(
            "index",
            pa.float64(),
            "ratio",
            "decayed score sum / (decayed text count + prior weight), in [-1, 1]; before any text 0, or null with prior weight 0",
            nullable=True,
        ),
        _field("weight", pa.float64(), "texts", "decayed text count: sum of 2^(-age / half-life)"),
        _field("n_texts", pa.int64(), "count", "texts with ts <= grid time (all that contribute)"),
        _field("half_life_s", pa.float64(), "s", "half-life of a text's weight"),
    ],
    metadata={"dataset": "sentiment_index", "sort": "symbol,ts"},
)


# -- ML features (issue 5) ----------------------------------------------------------------------
# Mirrors ``models.features.feature_columns(DEFAULT_HORIZONS)`` (1, 5, 15, 60 bars) plus the
# as-of joined sentiment and book columns; tests/unit/models/test_feature_store.py holds them equal.

_FEATURE_DOCS = (
    ("ret_1", "log return", "ln(close / close 1 bar earlier)"),
    ("ret_5", "log return", "ln(close / close 5 bars earlier)"),
    ("ret_15", "log return", "ln(close / close 15 bars earlier)"),
    ("ret_60", "log return", "ln(close / close 60 bars earlier)"),
    ("rolling_vol", "log return", "std (ddof 1) of the last 30 one-bar log returns"),
    ("volume_z", "z-score", "volume against the mean and std of the last 60 bars"),
    ("ofi_mean", "ratio", "volume-weighted mean order-flow imbalance of the last 30 bars"),
    ("rsi", "0-100", "100 * up-moves / absolute moves of close over the last 14 bars"),
    ("vwap_dev", "log return", "ln(close / vwap) of the bar"),
    ("rank_ret_short", "percentile", "rank of ret_1 among symbols at the same ts, in [0, 1]"),
    ("rank_ret_long", "percentile", "rank of ret_60 among symbols at the same ts, in [0, 1]"),
)

FEATURES = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "bar close time: every input of the row is known by then"),
        _field("symbol", pa.string(), "", "instrument symbol"),
        _field("interval", pa.string(), "", "bar interval the features are computed over, e.g. 1m"),
        *(
            _field(name, pa.float64(), unit, doc + "; null during warm-up", nullable=True)
            for name, unit, doc in _FEATURE_DOCS
        ),
        _field("sentiment", pa.float64(), "ratio", "the symbol's latest sentiment index at or before ts; 0 when none"),
        _field("sentiment_weight", pa.float64(), "texts", "decayed text count behind sentiment; 0 when none"),
        _field("market_sentiment", pa.float64(), "ratio", "latest market-wide (symbol '') sentiment index at or before ts; 0 when none"),
        _field("has_sentiment", pa.bool_(), "", "true when the symbol had a (non-null) sentiment index at or before ts"),
        _field("microprice_dev", pa.float64(), "log return", "ln(microprice / mid) of the symbol's latest fresh book snapshot at or before ts (within 5 minutes); 0 when none"),
        _field("book_imbalance", pa.float64(), "ratio", "top-of-book (bid_size - ask_size) / (bid_size + ask_size) of the same snapshot; 0 when none"),
        _field("has_book", pa.bool_(), "", "true when such a book snapshot exists"),
    ],
    metadata={"dataset": "features", "sort": "symbol,ts"},
)


# -- research (issue 8) ------------------------------------------------------------------------

#: One row per bar of :func:`shriven.research.vectorised.backtest` (returned, not a lake dataset).
VECTORISED_BACKTEST = pa.schema(
    [
        _field("ts", TIMESTAMP, "ns UTC", "bar time as given; null without ts", nullable=True),
        _field("close", pa.float64(), "quote currency", "bar close (mark)"),
        _field("target", pa.float64(), "base units", "target position"),
        _field("position", pa.float64(), "base units", "position after the bar's trade"),
        _field("trade", pa.float64(), "base units", "signed quantity traded at the bar (0: none)"),
        _field("fill_price", pa.float64(), "quote currency", "price of the bar's trade; null without one", nullable=True),
        _field("fee", pa.float64(), "quote currency", "fee of the bar's trade"),
        _field("cash", pa.float64(), "quote currency", "cash after the bar's trade and fee"),
        _field("equity", pa.float64(), "quote currency", "cash + position * close"),
        _field("pnl", pa.float64(), "quote currency", "equity change over the bar (from starting cash at bar 0)"),
    ],
    metadata={"dataset": "vectorised_backtest", "sort": "ts"},
)

#: One row per parameter set of a sweep.
SWEEP_RESULTS = pa.schema(
    [
        _field("set_id", pa.int64(), "", "index of the parameter set in the expanded grid"),
        _field("fast", pa.int64(), "bars", "fast EMA span"),
        _field("slow", pa.int64(), "bars", "slow EMA span"),
        _field("quantity", pa.float64(), "base units", "target size per symbol"),
        _field("allow_short", pa.bool_(), "", "whether a cross down goes short (else flat)"),
        _field("total_return", pa.float64(), "fraction", "final equity / starting cash - 1"),
        _field(
            "sharpe_ratio",
            pa.float64(),
            "ratio",
            "annualised Sharpe of per-timestamp returns; NaN without dispersion",
        ),
        _field("max_drawdown", pa.float64(), "fraction", "deepest fall from the running peak, <= 0"),
        _field("trades", pa.int64(), "count", "symbol bars with a trade"),
        _field("fees", pa.float64(), "quote currency", "fees paid"),
        _field("turnover", pa.float64(), "quote currency", "sum of |trade| * fill price"),
        _field(
            "final_equity",
            pa.float64(),
            "quote currency",
            "cash + positions marked at the last closes",
        ),
        _field("periods", pa.int64(), "count", "returns in the equity curve (distinct timestamps)"),
    ],
    metadata={"dataset": "sweep_results", "sort": "set_id"},
)


@dataclass(frozen=True)
class Dataset:
    """A lake dataset: its schema and the hive partition keys under ``lake/<name>/``."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ("date", "symbol")


BAR_INTERVALS = ("1s", "1m", "5m", "1h", "1d")

DATASETS: dict[str, Dataset] = {
    "trades": Dataset("trades", TRADES),
    "book": Dataset("book", BOOK),
    "ohlcv": Dataset("ohlcv", OHLCV),
    "quarantine": Dataset("quarantine", QUARANTINE, ("date", "origin")),
    "book_snapshots": Dataset("book_snapshots", BOOK_DEPTH),
    "book_issues": Dataset("book_issues", BOOK_ISSUES),
    "option_analytics": Dataset("option_analytics", OPTION_ANALYTICS),
    "svi_fits": Dataset("svi_fits", SVI_FITS),
    "signals": Dataset("signals", SIGNALS, ("date",)),
    "orders": Dataset("orders", ORDERS, ("date", "account")),
    "fills": Dataset("fills", FILLS, ("date", "account")),
    "positions": Dataset("positions", POSITIONS, ("date", "account")),
    "pnl": Dataset("pnl", PNL, ("date", "account")),
    "risk_events": Dataset("risk_events", RISK_EVENTS, ("date", "account")),
    "news": Dataset("news", NEWS, ("date",)),
    "sentiment_scores": Dataset("sentiment_scores", SENTIMENT_SCORES, ("date",)),
    "sentiment_index": Dataset("sentiment_index", SENTIMENT_INDEX, ("date",)),
    "features": Dataset("features", FEATURES, ("date",)),
    "sweep_results": Dataset("sweep_results", SWEEP_RESULTS, ("date", "sweep")),
    **{f"bars_{i}": Dataset(f"bars_{i}", BARS) for i in BAR_INTERVALS},
}


def dataset(name: str) -> Dataset:
    """Look a dataset up by name; KeyError lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}") from None


def empty_table(schema: pa.Schema) -> pa.Table:
    """A zero-row table with the schema, for sources and windows with no data."""
    return schema.empty_table()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast a table's columns to the schema, in schema order (raises on a missing column)."""
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise ValueError(f"table lacks columns {missing} required by schema {schema.metadata!r}")
    return table.select(schema.names).cast(schema)
