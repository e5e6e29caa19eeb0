"""Conventions: presets, the risk-free conversion, bar frequencies and validation."""

from __future__ import annotations

import dataclasses
import math

import pytest

from shriven.analytics.conventions import CRYPTO, EQUITIES, Conventions, periods_per_year_for


def test_presets_differ_only_in_periods_per_year():
    assert EQUITIES.periods_per_year == 252
    assert CRYPTO.periods_per_year == 365
    assert dataclasses.replace(CRYPTO, periods_per_year=252) == EQUITIES
    assert EQUITIES.ddof == 1  # sample standard deviation
    assert EQUITIES.var_method == "historical"
    assert EQUITIES.quantile_method == "linear"


def test_conventions_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EQUITIES.periods_per_year = 365  # type: ignore[misc]


def test_risk_free_compound_conversion_round_trips_to_the_annual_rate():
    c = EQUITIES.with_(risk_free_rate=0.05)
    assert c.risk_free_per_period == pytest.approx(1.05 ** (1 / 252) - 1, rel=1e-15)
    assert (1 + c.risk_free_per_period) ** 252 == pytest.approx(1.05, rel=1e-12)


def test_risk_free_simple_conversion_is_rate_over_periods():
    c = EQUITIES.with_(risk_free_rate=0.05, rf_conversion="simple")
    assert c.risk_free_per_period == pytest.approx(0.05 / 252, rel=1e-15)
    # the simple rate compounds to more than the annual rate
    assert (1 + c.risk_free_per_period) ** 252 > 1.05


def test_zero_risk_free_is_zero_per_period_both_ways():
    assert EQUITIES.risk_free_per_period == 0.0
    assert EQUITIES.with_(rf_conversion="simple").risk_free_per_period == 0.0


@pytest.mark.parametrize(
    ("interval", "market", "expected"),
    [
        ("1d", "equities", 252.0),
        ("1d", "crypto", 365.0),
        ("1w", "equities", 252.0 / 5),
        ("1h", "equities", 252 * 6.5),
        ("1h", "crypto", 365 * 24.0),
        ("1m", "crypto", 365 * 24 * 60.0),
        ("5m", "equities", 252 * 6.5 * 12),
        ("1s", "crypto", 365 * 86_400.0),
    ],
)
def test_periods_per_year_for_bars(interval, market, expected):
    assert periods_per_year_for(interval, market) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("interval", ["", "h", "1y", "0h", "-1d", "1.5h"])
def test_periods_per_year_for_rejects_bad_intervals(interval):
    with pytest.raises(ValueError, match="interval"):
        periods_per_year_for(interval, "crypto")


def test_periods_per_year_for_rejects_unknown_market():
    with pytest.raises(ValueError, match="market"):
        periods_per_year_for("1d", "forex")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"periods_per_year": 0}, "periods_per_year"),
        ({"periods_per_year": math.nan}, "periods_per_year"),
        ({"risk_free_rate": -1.0}, "risk_free_rate"),
        ({"rf_conversion": "continuous"}, "rf_conversion"),
        ({"ddof": 2}, "ddof"),
        ({"var_method": "monte_carlo"}, "var_method"),
        ({"var_confidence": 1.0}, "var_confidence"),
        ({"quantile_method": "cubic"}, "quantile_method"),
        ({"seconds_per_year": 0.0}, "seconds_per_year"),
    ],
)
def test_bad_conventions_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        Conventions(**changes)
