"""Positions, cash and PnL of an account, booked from fills and valued by marks."""

from shriven.portfolio.portfolio import PnlRecorder, Portfolio
from shriven.portfolio.position import Position

__all__ = ["PnlRecorder", "Portfolio", "Position"]
