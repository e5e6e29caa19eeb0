"""Portfolio: hand-computed average-cost cases, lake tables, and a property test against a reference."""

from __future__ import annotations

import math
from fractions import Fraction

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shriven.portfolio.portfolio as portfolio_module
from shriven.model.enums import Side
from shriven.model.records import Fill
from shriven.portfolio import PnlRecorder, Portfolio
from shriven.schemas import PNL, POSITIONS

START = 100_000.0


def fill(
    symbol: str, side: Side, quantity: float, price: float, fee: float = 0.0, ts: int = 1
) -> Fill:
    return Fill(
        ts=ts,
        client_order_id=f"o{ts}",
        symbol=symbol,
        side=side,
        price=price,
        quantity=quantity,
        fee=fee,
    )


def buy(quantity: float, price: float, fee: float = 0.0, symbol: str = "ACME") -> Fill:
    return fill(symbol, Side.BUY, quantity, price, fee)


def sell(quantity: float, price: float, fee: float = 0.0, symbol: str = "ACME") -> Fill:
    return fill(symbol, Side.SELL, quantity, price, fee)


def assert_identities(p: Portfolio) -> None:
    assert p.equity == pytest.approx(
        START + p.realized_pnl + p.unrealized_pnl - p.fees, rel=1e-12, abs=1e-9
    )
    values = [pos.market_value for pos in p.positions().values()]
    assert p.net_exposure == pytest.approx(sum(values), abs=1e-9)
    assert p.gross_exposure == pytest.approx(sum(abs(v) for v in values), abs=1e-9)


@pytest.fixture
def p() -> Portfolio:
    return Portfolio(START)


def test_empty_portfolio(p: Portfolio) -> None:
    assert p.cash == START
    assert p.equity == START
    assert p.position("ACME") == 0.0
    assert p.get("ACME") is None
    assert p.positions() == {}
    assert p.exposure_by_symbol() == {}
    assert (p.gross_exposure, p.net_exposure, p.realized_pnl, p.unrealized_pnl, p.fees) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert p.currency == "USD"


def test_open_add_partial_close_and_close(p: Portfolio) -> None:
    pos = p.apply_fill(buy(10, 100.0, fee=1.0))
    assert (pos.quantity, pos.avg_cost, pos.realized_pnl, pos.fees) == (10, 100.0, 0.0, 1.0)
    assert p.cash == START - 1_000 - 1
    # Unmarked: valued at cost, so equity only lost the fee.
    assert pos.market_value == 1_000.0
    assert pos.unrealized_pnl == 0.0
    assert p.equity == START - 1

    p.apply_fill(buy(10, 110.0, fee=1.0))
    assert pos.quantity == 20
    assert pos.avg_cost == 105.0

    p.apply_fill(sell(5, 120.0, fee=0.5))
    assert pos.quantity == 15
    assert pos.avg_cost == 105.0  # reducing never moves the average cost
    assert pos.realized_pnl == 5 * (120 - 105)

    p.mark("ACME", 130.0, ts=5)
    assert pos.mark_price == 130.0
    assert pos.unrealized_pnl == (130 - 105) * 15
    assert pos.market_value == 130 * 15
    assert p.unrealized_pnl == 375.0
    assert_identities(p)

    p.apply_fill(sell(15, 100.0))
    assert pos.is_flat
    assert math.isnan(pos.avg_cost)
    assert pos.realized_pnl == 75 + 15 * (100 - 105)
    assert pos.unrealized_pnl == 0.0
    assert pos.market_value == 0.0
    assert p.fees == 2.5
    # Round trip: realised PnL equals the cash the trades made, before fees.
    assert p.realized_pnl == -(10 * 100 + 10 * 110 - 5 * 120 - 15 * 100)
    assert p.cash == START + p.realized_pnl - p.fees
    assert p.equity == p.cash
    assert p.gross_exposure == 0.0
    assert p.net_exposure == 0.0


def test_flip_through_zero_closes_then_opens_at_the_fill_price(p: Portfolio) -> None:
    p.apply_fill(buy(10, 100.0))
    pos = p.apply_fill(sell(25, 90.0))
    assert pos.quantity == -15
    assert pos.avg_cost == 90.0
    assert pos.realized_pnl == 10 * (90 - 100)
    p.mark("ACME", 80.0, ts=2)
    assert pos.unrealized_pnl == (80 - 90) * -15 == 150
    assert pos.market_value == -1_200
    assert p.gross_exposure == 1_200
    assert p.net_exposure == -1_200
    # And back through zero the other way.
    p.apply_fill(buy(20, 85.0))
    assert pos.quantity == 5
    assert pos.avg_cost == 85.0
    assert pos.realized_pnl == -100 + 15 * (90 - 85)
    assert_identities(p)


def test_short_positions_average_and_realise_with_the_sign(p: Portfolio) -> None:
    p.apply_fill(sell(10, 50.0))
    pos = p.apply_fill(sell(10, 60.0))
    assert pos.quantity == -20
    assert pos.avg_cost == 55.0
    p.apply_fill(buy(5, 40.0))
    assert pos.realized_pnl == 5 * (55 - 40)
    assert pos.quantity == -15
    assert p.cash == START + 500 + 600 - 200
    assert_identities(p)


def test_fees_and_rebates_hit_cash_not_realised_pnl(p: Portfolio) -> None:
    p.apply_fill(buy(4, 25.0, fee=0.75))
    p.apply_fill(sell(4, 30.0, fee=-0.25))  # maker rebate
    pos = p.get("ACME")
    assert pos is not None
    assert pos.realized_pnl == 20.0
    assert pos.fees == 0.5
    assert p.fees == 0.5
    assert p.cash == START + 20.0 - 0.5
    assert p.equity == START + 20.0 - 0.5


def test_fees_are_kept_per_symbol_and_in_total(p: Portfolio) -> None:
    p.apply_fill(buy(1, 10.0, fee=1.0, symbol="A"))
    p.apply_fill(buy(1, 10.0, fee=2.0, symbol="B"))
    p.apply_fill(sell(1, 10.0, fee=-0.5, symbol="B"))
    assert p.get("A").fees == 1.0  # type: ignore[union-attr]
    assert p.get("B").fees == 1.5  # type: ignore[union-attr]
    assert p.fees == 2.5


def test_float_residue_of_a_round_trip_is_flat(p: Portfolio) -> None:
    p.apply_fill(buy(0.1, 100.0))
    p.apply_fill(buy(0.2, 100.0))
    pos = p.apply_fill(sell(0.3, 110.0))
    assert pos.quantity == 0.0
    assert math.isnan(pos.avg_cost)
    assert pos.realized_pnl == pytest.approx(3.0)
    assert p.gross_exposure == 0.0


@pytest.mark.parametrize("bad", [math.nan, 0.0, -5.0, math.inf, -math.inf])
def test_bad_marks_are_ignored_and_the_last_good_one_kept(p: Portfolio, bad: float) -> None:
    p.apply_fill(buy(2, 100.0))
    p.mark("ACME", 105.0, ts=1)
    p.mark("ACME", bad, ts=2)
    pos = p.get("ACME")
    assert pos is not None
    assert pos.mark_price == 105.0
    assert pos.mark_ts == 1
    assert p.unrealized_pnl == 10.0


def test_a_mark_before_the_first_fill_values_the_new_position(p: Portfolio) -> None:
    p.mark("ACME", 101.0, ts=1)
    assert p.get("ACME") is None  # a mark alone does not create a position
    pos = p.apply_fill(buy(3, 100.0))
    assert pos.mark_price == 101.0
    assert p.unrealized_pnl == 3.0
    assert p.equity == START + 3.0


def test_unmarked_position_before_and_after_a_mark(p: Portfolio) -> None:
    pos = p.apply_fill(sell(2, 50.0))
    assert math.isnan(pos.mark_price)
    assert pos.market_value == -100.0
    assert p.gross_exposure == 100.0
    p.mark("ACME", 40.0, ts=3)
    assert p.net_exposure == -80.0
    assert p.equity == START + 20.0


@pytest.mark.parametrize(
    ("quantity", "price", "fee"),
    [
        (0.0, 1.0, 0.0),
        (-1.0, 1.0, 0.0),
        (math.nan, 1.0, 0.0),
        (1.0, 0.0, 0.0),
        (1.0, math.inf, 0.0),
        (1.0, 1.0, math.nan),
    ],
)
def test_bad_fills_raise_and_change_nothing(
    p: Portfolio, quantity: float, price: float, fee: float
) -> None:
    with pytest.raises(ValueError, match="bad"):
        p.apply_fill(buy(quantity, price, fee))
    assert p.cash == START
    assert p.positions() == {}


def test_starting_cash_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        Portfolio(math.nan)


def test_exposure_by_symbol_lists_open_positions(p: Portfolio) -> None:
    p.apply_fill(buy(10, 100.0, symbol="A"))
    p.apply_fill(sell(5, 100.0, symbol="B"))
    p.apply_fill(buy(1, 10.0, symbol="C"))
    p.apply_fill(sell(1, 10.0, symbol="C"))
    assert p.exposure_by_symbol() == {"A": 1_000.0, "B": -500.0}
    assert p.gross_exposure == 1_500.0
    assert p.net_exposure == 500.0
    assert set(p.positions()) == {"A", "B", "C"}


def test_positions_table_has_a_row_per_symbol_ever_traded(p: Portfolio) -> None:
    p.apply_fill(buy(10, 100.0, fee=1.0, symbol="B"))
    p.apply_fill(buy(1, 10.0, symbol="A"))
    p.apply_fill(sell(1, 12.0, symbol="A"))
    p.mark("B", 110.0, ts=7)
    table = p.positions_table(ts=1_700_000_000_000_000_000)
    assert table.schema == POSITIONS
    rows = table.to_pylist()
    assert [r["symbol"] for r in rows] == ["A", "B"]
    a, b = rows
    assert a["quantity"] == 0.0
    assert a["avg_cost"] is None
    assert a["mark_price"] is None
    assert a["market_value"] == 0.0
    assert a["realized_pnl"] == 2.0
    assert b["avg_cost"] == 100.0
    assert b["mark_price"] == 110.0
    assert b["market_value"] == 1_100.0
    assert b["unrealized_pnl"] == 100.0
    assert b["fees"] == 1.0
    assert table.column("ts").cast(pa.int64()).to_pylist() == [1_700_000_000_000_000_000] * 2


def test_positions_table_of_an_empty_portfolio(p: Portfolio) -> None:
    table = p.positions_table(ts=5)
    assert table.schema == POSITIONS
    assert table.num_rows == 0


def test_pnl_row_holds_the_totals(p: Portfolio) -> None:
    p.apply_fill(buy(10, 100.0, fee=1.0))
    p.mark("ACME", 90.0, ts=2)
    row = p.pnl_row(ts=3)
    assert set(row) == set(PNL.names)
    assert row == {
        "ts": 3,
        "cash": START - 1_001,
        "equity": START - 1_001 + 900,
        "gross_exposure": 900.0,
        "net_exposure": 900.0,
        "realized_pnl": 0.0,
        "unrealized_pnl": -100.0,
        "fees": 1.0,
    }


def test_pnl_recorder_samples_on_the_interval_grid_and_on_demand(p: Portfolio) -> None:
    recorder = PnlRecorder(p, interval_ns=1_000)
    assert recorder.on_time(100)  # the first event always samples
    assert not recorder.on_time(999)
    p.apply_fill(buy(1, 50.0))
    assert recorder.on_time(1_000)
    assert not recorder.on_time(1_999)
    assert recorder.on_time(3_500)  # a quiet stretch gives one sample, not one per missed step
    assert not recorder.on_time(3_999)
    recorder.record(3_999)
    assert len(recorder) == 4
    table = recorder.table()
    assert table.schema == PNL
    assert table.column("ts").cast(pa.int64()).to_pylist() == [100, 1_000, 3_500, 3_999]
    assert table.column("cash").to_pylist() == [START, START - 50, START - 50, START - 50]
    drained = recorder.drain()
    assert drained.equals(table)
    assert len(recorder) == 0
    assert recorder.table().num_rows == 0


def test_pnl_recorder_without_interval_records_only_on_demand(p: Portfolio) -> None:
    recorder = PnlRecorder(p)
    assert not recorder.on_time(10**12)
    recorder.record(1)
    assert recorder.table().num_rows == 1
    with pytest.raises(ValueError, match="interval_ns"):
        PnlRecorder(p, interval_ns=0)


def test_running_totals_survive_a_resync(p: Portfolio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portfolio_module, "_RESYNC_EVERY", 3)
    for i in range(20):
        p.apply_fill(buy(1 + i % 3, 100.0 + i, fee=0.1, symbol="AB"[i % 2]))
        p.mark("A", 100.0 + 2 * i, ts=i)
        assert_identities(p)
    assert p.fees == pytest.approx(2.0)


# ---------------------------------------------------------------------------- property test

SYMBOLS = ("A", "B")
# Prices and fees on a binary grid and whole quantities: the reference below is exact.
prices = st.integers(1, 800).map(lambda k: k / 4)
fees = st.integers(-8, 16).map(lambda k: k / 8)
fill_ops = st.tuples(
    st.just("fill"),
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 40),
    prices,
    fees,
)
mark_ops = st.tuples(
    st.just("mark"), st.sampled_from(SYMBOLS), st.one_of(prices, st.just(math.nan), st.just(0.0))
)


class Reference:
    """Average cost written as a cost basis, in exact arithmetic."""

    def __init__(self) -> None:
        self.quantity: dict[str, int] = dict.fromkeys(SYMBOLS, 0)
        self.basis: dict[str, Fraction] = dict.fromkeys(SYMBOLS, Fraction(0))
        self.realized: dict[str, Fraction] = dict.fromkeys(SYMBOLS, Fraction(0))
        self.mark: dict[str, Fraction | None] = dict.fromkeys(SYMBOLS)
        self.cash_flow: dict[str, Fraction] = dict.fromkeys(SYMBOLS, Fraction(0))

    def fill(self, symbol: str, signed: int, price: float) -> None:
        q, basis, p = self.quantity[symbol], self.basis[symbol], Fraction(price)
        self.cash_flow[symbol] -= signed * p
        if q == 0 or (q > 0) == (signed > 0):
            self.quantity[symbol], self.basis[symbol] = q + signed, basis + signed * p
            return
        closed = min(abs(q), abs(signed))
        unit_cost = basis / q
        direction = 1 if q > 0 else -1
        self.realized[symbol] += closed * direction * (p - unit_cost)
        remaining = q + signed
        if remaining == 0:
            basis = Fraction(0)
        elif (remaining > 0) == (q > 0):
            basis = remaining * unit_cost
        else:
            basis = remaining * p
        self.quantity[symbol], self.basis[symbol] = remaining, basis

    def unrealized(self, symbol: str) -> Fraction:
        mark = self.mark[symbol]
        if self.quantity[symbol] == 0 or mark is None:
            return Fraction(0)
        return mark * self.quantity[symbol] - self.basis[symbol]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(fill_ops, mark_ops), max_size=60))
def test_portfolio_matches_an_exact_average_cost_reference(ops: list[tuple]) -> None:
    p = Portfolio(START)
    ref = Reference()
    total_fees = Fraction(0)
    cash = Fraction(START)
    for i, op in enumerate(ops):
        if op[0] == "fill":
            _, symbol, side, quantity, price, fee = op
            p.apply_fill(fill(symbol, side, float(quantity), price, fee, ts=i))
            signed = quantity if side == Side.BUY else -quantity
            ref.fill(symbol, signed, price)
            total_fees += Fraction(fee)
            cash -= signed * Fraction(price) + Fraction(fee)
        else:
            _, symbol, price = op
            p.mark(symbol, price, ts=i)
            if price > 0:
                ref.mark[symbol] = Fraction(price)
        for symbol in SYMBOLS:
            assert p.position(symbol) == ref.quantity[symbol]
            pos = p.get(symbol)
            if pos is None:
                continue
            assert pos.realized_pnl == pytest.approx(float(ref.realized[symbol]), abs=1e-6)
            assert pos.unrealized_pnl == pytest.approx(float(ref.unrealized(symbol)), abs=1e-6)
            if ref.quantity[symbol] == 0:
                assert math.isnan(pos.avg_cost)
                # Flat again: realised PnL is exactly the cash the symbol's trades made.
                assert pos.realized_pnl == pytest.approx(float(ref.cash_flow[symbol]), abs=1e-6)
            else:
                assert pos.avg_cost == pytest.approx(
                    float(ref.basis[symbol] / ref.quantity[symbol])
                )
        assert p.cash == pytest.approx(float(cash), abs=1e-6)
        assert p.fees == pytest.approx(float(total_fees), abs=1e-9)
        realized = float(sum(ref.realized.values()))
        unrealized = float(sum(ref.unrealized(s) for s in SYMBOLS))
        assert p.realized_pnl == pytest.approx(realized, abs=1e-6)
        assert p.unrealized_pnl == pytest.approx(unrealized, abs=1e-6)
        assert p.equity == pytest.approx(
            START + realized + unrealized - float(total_fees), abs=1e-6
        )
        assert_identities(p)
