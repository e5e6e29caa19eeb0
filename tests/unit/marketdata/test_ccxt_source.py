"""CcxtSource against recorded binance responses: pagination, mapping, retry, breaker. No network."""

from __future__ import annotations

import json
import logging
import math
import random
import socket
from pathlib import Path

import ccxt
import pyarrow as pa
import pytest

from shriven.config import CcxtConfig
from shriven.marketdata.ccxt_source import CcxtSource, trade_id_of
from shriven.marketdata.resilience import CircuitOpenError, CircuitState
from shriven.marketdata.source import MarketDataSource
from shriven.schemas import OHLCV, RAW_TRADES
from shriven.testing.recorded_exchange import RecordedExchange

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ccxt"
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
T0 = T0_MS * 1_000_000
MINUTE = 60 * 1_000_000_000
RECORDED_IDS = [2974601180 + i for i in range(12)]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class TopOfRange(random.Random):
    """Full jitter always picks the upper bound, so sleeps equal the backoff caps."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def exchange() -> RecordedExchange:
    return RecordedExchange.from_directory(FIXTURES, "binance")


def make_source(
    exchange: RecordedExchange,
    sleeps: list[float] | None = None,
    clock: FakeClock | None = None,
    page_limit: int = 1000,
    **config,
) -> CcxtSource:
    settings = {"symbol_map": {"BTCUSDT": "BTC/USDT"}, "breaker_failures": 100, **config}
    return CcxtSource(
        CcxtConfig(**settings),
        exchange=exchange,
        clock=clock or FakeClock(),
        sleep=(sleeps if sleeps is not None else []).append,
        rng=TopOfRange(),
        page_limit=page_limit,
    )


def trade(id_, timestamp, price=42283.58, amount=0.01, side="buy", symbol="BTC/USDT") -> dict:
    return {
        "info": {},
        "id": id_,
        "timestamp": timestamp,
        "datetime": None,
        "symbol": symbol,
        "order": None,
        "type": None,
        "side": side,
        "takerOrMaker": None,
        "price": price,
        "amount": amount,
        "cost": None,
        "fee": None,
        "fees": [],
    }


# --- shape and identity -------------------------------------------------------------------------


def test_is_a_live_market_data_source_named_after_the_exchange(exchange) -> None:
    source = make_source(exchange)
    assert isinstance(source, MarketDataSource)
    assert source.name == "ccxt:binance"
    assert source.live is True
    assert source.exchange is exchange


def test_recorded_fixtures_are_ccxt_unified_structures() -> None:
    recording = json.loads((FIXTURES / "binance-BTC_USDT-trades.json").read_text())
    unified = {"id", "timestamp", "datetime", "symbol", "order", "type", "side", "takerOrMaker",
               "price", "amount", "cost", "fee", "fees", "info"}  # fmt: skip
    assert all(set(t) == unified for t in recording["response"])
    ohlcv = json.loads((FIXTURES / "binance-BTC_USDT-ohlcv-1m.json").read_text())["response"]
    assert all(len(bar) == 6 for bar in ohlcv)


def test_exchange_is_built_lazily_without_network() -> None:
    source = CcxtSource(CcxtConfig(exchange="binance"))
    assert source._exchange is None  # nothing built (or called) by the constructor
    built = source.exchange
    assert isinstance(built, ccxt.binance)
    assert built.enableRateLimit is True
    assert source.exchange is built


@pytest.mark.parametrize("name", ["nosuchvenue", "Exchange"])
def test_unknown_exchange_is_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match=f"no exchange '{name}'"):
        _ = CcxtSource(CcxtConfig(exchange=name)).exchange


def test_symbol_map_must_be_one_to_one(exchange) -> None:
    with pytest.raises(ValueError, match="several lake symbols"):
        make_source(exchange, symbol_map={"BTCUSDT": "BTC/USDT", "XBT": "BTC/USDT"})


# --- pagination and mapping ---------------------------------------------------------------------


def test_paginates_forward_without_duplicating_page_overlaps(exchange) -> None:
    source = make_source(exchange, page_limit=4)
    batch = source.fetch(T0, T0 + 3 * MINUTE, ["BTCUSDT"])
    assert batch.trades.column("trade_id").to_pylist() == RECORDED_IDS
    calls = exchange.calls_of("fetch_trades")
    assert len(calls) > 3
    assert all(c.limit == 4 and c.symbol == "BTC/USDT" for c in calls)
    sinces = [c.since for c in calls]
    assert sinces[0] == T0_MS
    assert sinces == sorted(set(sinces))  # the cursor only moves forward


def test_one_big_page_gives_the_same_trades(exchange) -> None:
    batch = make_source(exchange).fetch(T0, T0 + 3 * MINUTE, ["BTCUSDT"])
    assert batch.trades.column("trade_id").to_pylist() == RECORDED_IDS


def test_window_is_half_open_in_nanoseconds(exchange) -> None:
    # [00:00:00.113, 00:01:00.010): includes 113 ms, excludes the two trades at 60.010 s
    batch = make_source(exchange, page_limit=3).fetch(
        T0 + 113_000_000, T0 + 60_010_000_000, ["BTCUSDT"]
    )
    assert batch.trades.column("trade_id").to_pylist() == RECORDED_IDS[2:9]


def test_stops_at_the_window_end(exchange) -> None:
    make_source(exchange, page_limit=2).fetch(T0, T0 + 200_000_000, ["BTCUSDT"])
    assert all(c.since < T0_MS + 200 for c in exchange.calls_of("fetch_trades"))


def test_trades_map_to_the_raw_trades_contract(exchange) -> None:
    trades = make_source(exchange).fetch(T0, T0 + 3 * MINUTE, ["BTCUSDT"]).trades
    assert trades.schema == RAW_TRADES
    first, second = trades.to_pylist()[:2]
    assert first["ts"].timestamp() * 1e9 == pytest.approx(T0 + 7_000_000)
    assert trades.column("ts").cast(pa.int64())[0].as_py() == T0 + 7_000_000
    assert (first["symbol"], first["trade_id"], first["price"], first["size"], first["side"]) == (
        "BTCUSDT", 2974601180, 42283.58, 0.00168, 1,
    )  # fmt: skip
    assert second["side"] == -1  # buyer was the maker: a sell
    assert trades.column("_row_number").to_pylist() == list(range(12))
    raw = json.loads(first["_raw"])
    assert raw["id"] == "2974601180"
    assert raw["symbol"] == "BTC/USDT"


def test_unmapped_symbols_pass_as_they_are(exchange) -> None:
    source = make_source(exchange, symbol_map={})
    batch = source.fetch(T0, T0 + MINUTE, ["BTC/USDT"])
    assert set(batch.trades.column("symbol").to_pylist()) == {"BTC/USDT"}
    assert {c.symbol for c in exchange.calls} == {"BTC/USDT"}


def test_no_symbols_polls_every_mapped_symbol(exchange) -> None:
    batch = make_source(exchange).fetch(T0, T0 + MINUTE, [])
    assert set(batch.trades.column("symbol").to_pylist()) == {"BTCUSDT"}
    assert {c.symbol for c in exchange.calls} == {"BTC/USDT"}


def test_no_symbols_and_no_map_is_an_error(exchange) -> None:
    with pytest.raises(ValueError, match="no symbols"):
        make_source(exchange, symbol_map={}).fetch(T0, T0 + MINUTE, [])


def test_ohlcv_in_the_ohlcv_schema_paginated(exchange) -> None:
    batch = make_source(exchange, page_limit=2).fetch(T0, T0 + 4 * MINUTE, ["BTCUSDT"])
    ohlcv = batch.ohlcv
    assert ohlcv.schema == OHLCV
    assert ohlcv.column("ts").cast(pa.int64()).to_pylist() == [T0 + i * MINUTE for i in range(4)]
    assert set(ohlcv.column("symbol").to_pylist()) == {"BTCUSDT"}
    assert set(ohlcv.column("interval").to_pylist()) == {"1m"}
    assert ohlcv.slice(0, 1).to_pylist()[0]["close"] == 42284.0
    assert ohlcv.column("volume").to_pylist()[1] == 21.77791
    assert [c.since for c in exchange.calls_of("fetch_ohlcv")] == [T0_MS, T0_MS + 2 * 60_000]


def test_bad_values_are_kept_raw() -> None:
    exchange = RecordedExchange(
        trades={
            "BTC/USDT": [
                trade("1", T0_MS, price=float("nan")),
                trade("2", T0_MS + 1, price=-5.0, amount=-1.0, side=None),
                trade("3", T0_MS + 2, price=0.0, side="weird"),
                trade("abc-123", T0_MS + 3),
                trade(None, T0_MS + 4, price=None, amount=None),
                trade("4", None),
            ]
        }
    )
    trades = make_source(exchange, page_limit=3).fetch(T0, T0 + MINUTE, ["BTCUSDT"]).trades
    assert trades.num_rows == 6
    by_id = {json.loads(r["_raw"])["id"]: r for r in trades.to_pylist()}
    rows = [by_id[i] for i in ("1", "2", "3", "abc-123", None, "4")]
    assert math.isnan(rows[0]["price"])
    assert (rows[1]["price"], rows[1]["size"], rows[1]["side"]) == (-5.0, -1.0, 0)
    assert (rows[2]["price"], rows[2]["side"]) == (0.0, None)
    assert rows[3]["trade_id"] == trade_id_of("abc-123")
    assert (rows[4]["trade_id"], rows[4]["price"], rows[4]["size"]) == (None, None, None)
    assert rows[5]["ts"] is None
    assert rows[5]["trade_id"] == 4
    assert json.loads(rows[0]["_raw"])["price"] == "nan"  # valid JSON, original kept


@pytest.mark.parametrize("page_limit", [2, 3, 1000])
def test_the_exchanges_own_duplicates_are_kept_for_validation(page_limit: int) -> None:
    # with a page of 2 the duplicate pair straddles the page boundary
    same = trade("7", T0_MS + 5)
    exchange = RecordedExchange(trades={"BTC/USDT": [trade("6", T0_MS), same, dict(same)]})
    trades = make_source(exchange, page_limit=page_limit).fetch(T0, T0 + MINUTE, ["BTCUSDT"]).trades
    assert trades.column("trade_id").to_pylist() == [6, 7, 7]


def test_a_page_that_cannot_advance_steps_on_and_warns(caplog) -> None:
    caplog.set_level(logging.WARNING)
    stuck = [trade(str(i), T0_MS) for i in range(5)] + [trade("9", T0_MS + 1)]
    exchange = RecordedExchange(trades={"BTC/USDT": stuck})
    trades = make_source(exchange, page_limit=2).fetch(T0, T0 + MINUTE, ["BTCUSDT"]).trades
    assert trades.column("trade_id").to_pylist() == [0, 1, 9]
    assert "may be missing" in caplog.text
    assert len(exchange.calls_of("fetch_trades")) < 10


def test_non_numeric_ids_hash_deterministically_into_positive_int64() -> None:
    assert trade_id_of("123") == 123
    assert trade_id_of(123) == 123
    hashed = trade_id_of("a1b2-c3")
    assert hashed == trade_id_of("a1b2-c3") != trade_id_of("a1b2-c4")
    assert 0 <= hashed < 2**63
    assert trade_id_of(str(2**64)) != 2**64
    assert 0 <= trade_id_of(str(2**64)) < 2**63
    assert trade_id_of(None) is None


# --- retry, backoff and the breaker -------------------------------------------------------------


def test_transient_errors_are_retried_then_succeed(exchange) -> None:
    sleeps: list[float] = []
    exchange.fail("fetch_trades", [ccxt.RequestTimeout("t"), ccxt.NetworkError("n")])
    exchange.fail("fetch_ohlcv", ccxt.RateLimitExceeded("slow down"))
    batch = make_source(exchange, sleeps).fetch(T0, T0 + 3 * MINUTE, ["BTCUSDT"])
    assert batch.trades.num_rows == 12
    assert batch.ohlcv.num_rows == 3
    assert sleeps == [0.5, 1.0, 0.5]
    assert [c.since for c in exchange.calls_of("fetch_trades")][:3] == [T0_MS] * 3


def test_backoff_delays_grow_and_are_capped(exchange) -> None:
    sleeps: list[float] = []
    exchange.fail("fetch_trades", ccxt.ExchangeNotAvailable("maintenance"), times=6)
    source = make_source(exchange, sleeps, max_retries=6, backoff_base_s=1.0, backoff_max_s=5.0)
    source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_jitter_keeps_sleeps_under_the_caps(exchange) -> None:
    sleeps: list[float] = []
    exchange.fail("fetch_trades", ccxt.NetworkError("n"), times=4)
    source = CcxtSource(
        CcxtConfig(symbol_map={"BTCUSDT": "BTC/USDT"}, backoff_base_s=1.0, backoff_max_s=3.0),
        exchange=exchange,
        clock=FakeClock(),
        sleep=sleeps.append,
        rng=random.Random(3),
    )
    source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert len(sleeps) == 4
    assert all(0 <= s <= cap for s, cap in zip(sleeps, [1.0, 2.0, 3.0, 3.0], strict=True))


def test_gives_up_after_max_retries(exchange) -> None:
    sleeps: list[float] = []
    exchange.fail("fetch_trades", ccxt.NetworkError("n"), times=10)
    with pytest.raises(ccxt.NetworkError):
        make_source(exchange, sleeps, max_retries=2).fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert len(exchange.calls_of("fetch_trades")) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "error", [ccxt.AuthenticationError("key"), ccxt.BadSymbol("sym"), ccxt.BadRequest("req")]
)
def test_permanent_errors_surface_at_once(exchange, error) -> None:
    sleeps: list[float] = []
    exchange.fail("fetch_trades", error, times=3)
    with pytest.raises(type(error)):
        make_source(exchange, sleeps).fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert len(exchange.calls) == 1
    assert sleeps == []


def test_unknown_market_is_a_bad_symbol_at_once(exchange) -> None:
    sleeps: list[float] = []
    with pytest.raises(ccxt.BadSymbol):
        make_source(exchange, sleeps).fetch(T0, T0 + MINUTE, ["DOGEUSDT"])
    assert sleeps == []


def test_breaker_opens_after_n_failures_and_rejects_without_calling(exchange) -> None:
    sleeps: list[float] = []
    clock = FakeClock()
    exchange.fail("fetch_trades", ccxt.NetworkError("n"), times=3)
    source = make_source(
        exchange, sleeps, clock, max_retries=10, breaker_failures=3, breaker_reset_s=60.0
    )
    with pytest.raises(CircuitOpenError):
        source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert len(exchange.calls) == 3
    assert source.breaker.state is CircuitState.OPEN
    clock.now += 59.0
    with pytest.raises(CircuitOpenError):
        source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert len(exchange.calls) == 3  # rejected without touching the exchange


def test_half_open_trial_after_reset_closes_on_success(exchange) -> None:
    clock = FakeClock()
    exchange.fail("fetch_trades", ccxt.NetworkError("n"), times=2)
    source = make_source(
        exchange, None, clock, max_retries=5, breaker_failures=2, breaker_reset_s=30.0
    )
    with pytest.raises(CircuitOpenError):
        source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    clock.now += 30.0
    assert source.breaker.state is CircuitState.HALF_OPEN
    batch = source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert batch.trades.num_rows == 9  # the trades of the first minute
    assert source.breaker.state is CircuitState.CLOSED


def test_failed_half_open_trial_reopens(exchange) -> None:
    clock = FakeClock()
    exchange.fail("fetch_trades", ccxt.NetworkError("n"), times=3)
    source = make_source(
        exchange, None, clock, max_retries=5, breaker_failures=2, breaker_reset_s=30.0
    )
    with pytest.raises(CircuitOpenError):
        source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    clock.now += 30.0
    with pytest.raises(CircuitOpenError):  # trial fails, breaker re-opens, retry is rejected
        source.fetch(T0, T0 + MINUTE, ["BTCUSDT"])
    assert len(exchange.calls) == 3
    assert source.breaker.state is CircuitState.OPEN


def test_window_end_before_start_is_an_error(exchange) -> None:
    with pytest.raises(ValueError, match="before its start"):
        make_source(exchange).fetch(T0, T0 - 1, ["BTCUSDT"])
