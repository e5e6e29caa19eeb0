"""Strategies from TOML: the example file, typed params per kind, and errors that name the culprit."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import msgspec
import pytest

from shriven.strategy.config import (
    STRATEGY_KINDS,
    MomentumParams,
    build_strategy,
    load_strategies,
    parse_strategy_specs,
)
from shriven.strategy.market_maker import MarketMaker
from shriven.strategy.mean_reversion import MeanReversion
from shriven.strategy.momentum import Momentum
from shriven.strategy.signal_follower import SignalFollower

MOMENTUM = """
[[strategy]]
kind = "momentum"
id = "mom-1"
symbols = ["ACME", "BOLT"]
[strategy.params]
fast = 10
slow = 30
quantity = 100
"""


def example_text() -> str:
    return resources.files("shriven").joinpath("strategies.example.toml").read_text()


def test_the_example_file_has_one_of_each_kind() -> None:
    strategies = load_strategies(example_text())
    assert [type(s) for s in strategies] == [SignalFollower, Momentum, MeanReversion, MarketMaker]
    assert len({s.strategy_id for s in strategies}) == 4
    assert {kind.strategy_type for kind in STRATEGY_KINDS.values()} == {type(s) for s in strategies}


def test_params_reach_the_strategy() -> None:
    (strategy,) = load_strategies(MOMENTUM)
    assert isinstance(strategy, Momentum)
    assert strategy.strategy_id == "mom-1"
    assert strategy.symbols == ("ACME", "BOLT")
    assert (strategy.fast, strategy.slow, strategy.quantity, strategy.allow_short) == (
        10,
        30,
        100.0,
        True,
    )


def test_market_maker_params_and_defaults() -> None:
    text = """
[[strategy]]
kind = "market_maker"
id = "mm"
[strategy.params]
quote_size = 5
half_spread_ticks = 1.5
max_position = 50
"""
    (strategy,) = load_strategies(text)
    assert isinstance(strategy, MarketMaker)
    assert strategy.symbols == ()
    assert (strategy.quote_size, strategy.half_spread_ticks, strategy.max_position) == (
        5.0,
        1.5,
        50.0,
    )
    assert (strategy.skew_ticks_per_unit, strategy.requote_ticks) == (0.0, 1)


def test_signal_follower_needs_no_params() -> None:
    (strategy,) = load_strategies('[[strategy]]\nkind = "signal_follower"\nid = "sf"\n')
    assert isinstance(strategy, SignalFollower)
    assert strategy.max_position == float("inf")


def test_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "strategies.toml"
    path.write_text(MOMENTUM)
    assert [s.strategy_id for s in load_strategies(path)] == ["mom-1"]
    assert [s.strategy_id for s in load_strategies(str(path))] == ["mom-1"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_strategies(tmp_path / "nope.toml")


def test_empty_file_has_no_strategies(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("# nothing yet\n")
    assert load_strategies(path) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("fast = 10\nslow = 30\nquantity = 100\nqty = 1", "unknown field `params.qty`"),
        ("slow = 30\nquantity = 100", "missing required field `params.fast`"),
        ('fast = "ten"\nslow = 30\nquantity = 100', "`params.fast`"),
        ("fast = 0\nslow = 30\nquantity = 100", "`params.fast`"),
        ("fast = 10\nslow = 30\nquantity = -1", "`params.quantity`"),
        ("fast = 30\nslow = 10\nquantity = 100", "fast .30. must be below slow .10."),
    ],
)
def test_bad_params_name_the_strategy_and_the_field(params: str, expected: str) -> None:
    text = f'[[strategy]]\nkind = "momentum"\nid = "mom-7"\n[strategy.params]\n{params}\n'
    with pytest.raises(ValueError, match=expected) as info:
        load_strategies(text)
    assert "strategy 'mom-7'" in str(info.value)


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("mean_reversion", "window = 1\nquantity = 1", "`params.window`"),
        ("mean_reversion", "window = 5\nquantity = 1\nentry_z = 1.0\nexit_z = 1.0", "exit_z"),
        (
            "market_maker",
            "quote_size = 10\nhalf_spread_ticks = 1\nmax_position = 5",
            "max_position",
        ),
        (
            "market_maker",
            "quote_size = 1\nhalf_spread_ticks = 0\nmax_position = 5",
            "`params.half_spread_ticks`",
        ),
        (
            "market_maker",
            "quote_size = 1\nhalf_spread_ticks = 1\nmax_position = 5\nrequote_ticks = 1.5",
            "`params.requote_ticks`",
        ),
        ("signal_follower", 'price_source = "last"', "`params.price_source`"),
        ("signal_follower", "max_position = 0", "`params.max_position`"),
    ],
)
def test_each_kind_checks_its_params(kind: str, params: str, expected: str) -> None:
    text = f'[[strategy]]\nkind = "{kind}"\nid = "x-1"\n[strategy.params]\n{params}\n'
    with pytest.raises(ValueError, match=expected) as info:
        load_strategies(text)
    assert "'x-1'" in str(info.value)


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown kind 'momentun'") as info:
        load_strategies('[[strategy]]\nkind = "momentun"\nid = "m"\n')
    for kind in STRATEGY_KINDS:
        assert kind in str(info.value)
    assert "'m'" in str(info.value)


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="'mom-1'.*duplicate strategy id"):
        load_strategies(MOMENTUM + MOMENTUM)


def test_unknown_table_field_is_rejected() -> None:
    text = MOMENTUM.replace('id = "mom-1"', 'id = "mom-1"\nsymbol = "ACME"')
    with pytest.raises(ValueError, match="'mom-1'.*unknown field `symbol`"):
        load_strategies(text)


def test_missing_id_names_the_table_number() -> None:
    with pytest.raises(ValueError, match="strategy #2.*missing required field `id`"):
        load_strategies(MOMENTUM + '[[strategy]]\nkind = "momentum"\n')


def test_duplicate_symbols_are_rejected() -> None:
    with pytest.raises(ValueError, match="'mom-1'.*duplicate symbols"):
        load_strategies(MOMENTUM.replace('["ACME", "BOLT"]', '["ACME", "ACME"]'))


def test_only_strategy_tables_are_allowed() -> None:
    with pytest.raises(ValueError, match="unknown field `strategies`"):
        load_strategies(MOMENTUM.replace("[[strategy]]", "[[strategies]]"))


def test_invalid_toml_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not valid TOML"):
        load_strategies("[[strategy]\nkind = 1")


def test_specs_can_be_checked_without_building() -> None:
    (spec,) = parse_strategy_specs(MOMENTUM)
    assert (spec.kind, spec.id, spec.symbols) == ("momentum", "mom-1", ("ACME", "BOLT"))
    assert spec.params == {"fast": 10, "slow": 30, "quantity": 100}


def test_build_strategy_from_a_mapping() -> None:
    strategy = build_strategy("momentum", "m", ("ACME",), {"fast": 2, "slow": 5, "quantity": 1})
    assert isinstance(strategy, Momentum)
    with pytest.raises(ValueError, match="strategy 'm' \\(momentum\\): unknown field `params.fst`"):
        build_strategy("momentum", "m", (), {"fst": 2, "slow": 5, "quantity": 1})


@pytest.mark.parametrize("kind", sorted(STRATEGY_KINDS))
def test_every_params_type_is_frozen_and_strict(kind: str) -> None:
    params_type = STRATEGY_KINDS[kind].params_type
    config = params_type.__struct_config__
    assert config.frozen
    assert config.forbid_unknown_fields
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"not_a_field": 1}, params_type)


def test_params_are_immutable() -> None:
    params = MomentumParams(fast=1, slow=2, quantity=1.0)
    with pytest.raises(AttributeError):
        params.fast = 3  # type: ignore[misc]
