"""A portfolio's state on disk, so the OMS journal can be compacted without losing the books.

The snapshot lists the trade ids of the fills it already holds: on recovery only journal fills
not in that list are applied, so a crash between writing the snapshot and compacting the
journal (or before either) never books a fill twice or drops one.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import msgspec

from shriven.portfolio.portfolio import Portfolio
from shriven.portfolio.position import Position

__all__ = ["PortfolioSnapshot", "PositionState", "load_snapshot", "restore", "save_snapshot", "snapshot"]


class PositionState(msgspec.Struct, frozen=True, kw_only=True):
    """One position as saved (NaN average cost and mark are saved as null)."""

    symbol: str
    quantity: float
    avg_cost: float | None
    realized_pnl: float
    fees: float
    mark_price: float | None
    mark_ts: int
    ts: int


class PortfolioSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Cash, positions and the fills already booked into them."""

    starting_cash: float
    currency: str
    cash: float
    positions: tuple[PositionState, ...]
    included_trade_ids: tuple[str, ...]
    #: (strategy id, symbol, quantity): each strategy's own position, which the engine keeps.
    strategy_positions: tuple[tuple[str, str, float], ...] = ()


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else x


def snapshot(
    portfolio: Portfolio,
    included_trade_ids: list[str],
    strategy_positions: dict[tuple[str, str], float] | None = None,
) -> PortfolioSnapshot:
    """The portfolio's state, holding the fills with ``included_trade_ids``."""
    positions = tuple(
        PositionState(
            symbol=p.symbol, quantity=p.quantity, avg_cost=_none_if_nan(p.avg_cost), realized_pnl=p.realized_pnl,
            fees=p.fees, mark_price=_none_if_nan(p.mark_price), mark_ts=p.mark_ts, ts=p.ts,
        )  # fmt: skip
        for p in portfolio.positions().values()
    )
    return PortfolioSnapshot(
        starting_cash=portfolio.starting_cash, currency=portfolio.currency, cash=portfolio.cash,
        positions=positions, included_trade_ids=tuple(included_trade_ids),
        strategy_positions=tuple((sid, sym, q) for (sid, sym), q in sorted((strategy_positions or {}).items())),
    )  # fmt: skip


def restore(snap: PortfolioSnapshot) -> Portfolio:
    """A portfolio in the saved state (its running totals recomputed exactly)."""
    portfolio = Portfolio(snap.starting_cash, currency=snap.currency)
    portfolio._cash = snap.cash
    for s in snap.positions:
        pos = Position(s.symbol)
        pos.quantity, pos.realized_pnl, pos.fees = s.quantity, s.realized_pnl, s.fees
        pos.avg_cost = math.nan if s.avg_cost is None else s.avg_cost
        pos.mark_price = math.nan if s.mark_price is None else s.mark_price
        pos.mark_ts, pos.ts = s.mark_ts, s.ts
        portfolio._positions[s.symbol] = pos
    portfolio._resync()
    return portfolio


def save_snapshot(path: str | os.PathLike[str], snap: PortfolioSnapshot) -> None:
    """Write atomically (temp file, fsync, rename, directory fsync)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(msgspec.json.encode(snap))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_snapshot(path: str | os.PathLike[str]) -> PortfolioSnapshot | None:
    """The saved snapshot, or None when there is none (a corrupt one raises: never guess books)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return msgspec.json.decode(data, type=PortfolioSnapshot)
    except msgspec.DecodeError as exc:
        raise ValueError(f"portfolio snapshot {path} is corrupt: {exc}") from None
