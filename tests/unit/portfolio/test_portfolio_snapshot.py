"""A saved and restored portfolio is the same portfolio."""

from __future__ import annotations

import pytest

from shriven.model.enums import Side
from shriven.model.records import Fill
from shriven.portfolio.portfolio import Portfolio
from shriven.portfolio.snapshot import load_snapshot, restore, save_snapshot, snapshot


def _fill(i: int, sym: str, side: Side, qty: float, price: float) -> Fill:
    return Fill(ts=i, client_order_id=f"o{i}", symbol=sym, side=side, price=price, quantity=qty, fee=0.1, trade_id=f"t{i}")


def test_round_trip_keeps_every_figure(tmp_path) -> None:
    p = Portfolio(10_000.0)
    for f in [_fill(1, "A", Side.BUY, 10, 100.0), _fill(2, "A", Side.SELL, 4, 103.0), _fill(3, "B", Side.SELL, 5, 50.0)]:
        p.apply_fill(f)
    p.mark("A", 104.0, 9)
    path = tmp_path / "portfolio.json"
    save_snapshot(path, snapshot(p, ["t1", "t2", "t3"]))
    snap = load_snapshot(path)
    assert snap.included_trade_ids == ("t1", "t2", "t3")
    q = restore(snap)
    for attr in ("cash", "equity", "realized_pnl", "unrealized_pnl", "fees", "gross_exposure", "net_exposure"):
        assert getattr(q, attr) == pytest.approx(getattr(p, attr)), attr
    assert q.position("A") == 6
    assert q.position("B") == -5
    q.apply_fill(_fill(4, "B", Side.BUY, 5, 48.0))  # keeps working after restore
    assert q.position("B") == 0
    assert q.realized_pnl == pytest.approx(p.realized_pnl + 10.0)


def test_missing_snapshot_is_none_and_corrupt_one_raises(tmp_path) -> None:
    assert load_snapshot(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="corrupt"):
        load_snapshot(tmp_path / "bad.json")
