"""Risk configs: frozen, typed, unknown fields and bad ranges rejected, TOML in."""

from __future__ import annotations

import math

import msgspec
import pytest

from shriven.risk import InstrumentLimits, RiskConfig, RiskLimits


def test_defaults_disable_everything_but_collar_and_counts() -> None:
    limits = RiskLimits()
    assert limits.max_gross_exposure == math.inf
    assert limits.price_collar == 0.1
    assert (limits.max_open_orders, limits.max_orders_per_second) == (1000, 1000)
    assert limits.breach_state == "halted"
    instrument = InstrumentLimits(symbol="AAA")
    assert (instrument.tick_size, instrument.lot_size, instrument.max_position) == (
        0.01,
        1.0,
        math.inf,
    )


def test_frozen() -> None:
    with pytest.raises(AttributeError):
        RiskLimits().max_open_orders = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "mapping",
    [
        {"limits": {"max_open_order": 3}},  # typo
        {"limits": {"price_collar": 0.0}},
        {"limits": {"max_drawdown": 1.5}},
        {"limits": {"max_orders_per_second": 0}},
        {"limits": {"breach_state": "panic"}},
        {"instruments": [{"symbol": "A", "tick_size": -0.01}]},
        {"instruments": [{"symbol": "A", "lot_size": 0.0}]},
        {"instruments": [{"symbol": "A", "max_position": -1.0}]},
        {"instruments": [{"symbol": "A", "colour": "red"}]},
    ],
)
def test_bad_configs_are_rejected(mapping: dict) -> None:
    with pytest.raises(msgspec.ValidationError):
        RiskConfig.from_mapping(mapping)


def test_cross_field_rules() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        RiskConfig(instruments=(InstrumentLimits(symbol="A"), InstrumentLimits(symbol="A")))
    with pytest.raises(ValueError, match="min_quantity"):
        InstrumentLimits(symbol="A", min_quantity=5.0, max_quantity=1.0)


def test_from_toml(tmp_path) -> None:
    text = """
[limits]
max_gross_exposure = 1e6
daily_loss_limit = inf
restricted = ["XYZ"]
breach_state = "reducing"

[[instruments]]
symbol = "AAA"
tick_size = 0.05
max_position = 100

[[instruments]]
symbol = "BBB"
"""
    path = tmp_path / "risk.toml"
    path.write_text(text)
    config = RiskConfig.from_toml(path)
    assert config == RiskConfig.from_toml_text(text)
    assert config.limits.max_gross_exposure == 1e6
    assert config.limits.restricted == ("XYZ",)
    assert config.instrument("AAA").tick_size == 0.05
    assert config.instrument("AAA").max_position == 100.0
    with pytest.raises(KeyError):
        config.instrument("ZZZ")
