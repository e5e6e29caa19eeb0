"""Strategies from a TOML file: one ``[[strategy]]`` table each, with typed params per kind.

::

    [[strategy]]
    kind = "momentum"        # signal_follower | momentum | mean_reversion | market_maker
    id = "mom-1"
    symbols = ["ACME", "BOLT"]   # optional; empty: every instrument of the engine
    [strategy.params]
    fast = 10
    slow = 30
    quantity = 100

Each kind's params are a frozen msgspec Struct that rejects unknown fields, and the strategy is
built with them as keyword arguments. Every error is a ValueError naming the strategy id and the
offending field. The edge reads the file; the core receives built strategies.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from shriven.config import NonNegativeFloat, PositiveFloat, PositiveInt
from shriven.strategy.base import Strategy
from shriven.strategy.market_maker import MarketMaker
from shriven.strategy.mean_reversion import MeanReversion
from shriven.strategy.momentum import Momentum
from shriven.strategy.signal_follower import SignalFollower

__all__ = [
    "STRATEGY_KINDS",
    "MarketMakerParams",
    "MeanReversionParams",
    "MomentumParams",
    "SignalFollowerParams",
    "StrategyKind",
    "StrategySpec",
    "build_strategy",
    "load_strategies",
    "parse_strategy_specs",
]


class _Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class SignalFollowerParams(_Params):
    """Params of :class:`~shriven.strategy.signal_follower.SignalFollower`."""

    max_position: PositiveFloat = math.inf
    price_source: Literal["microprice", "mid"] = "microprice"


class MomentumParams(_Params):
    """Params of :class:`~shriven.strategy.momentum.Momentum` (EMA spans in bars)."""

    fast: PositiveInt
    slow: PositiveInt
    quantity: PositiveFloat
    allow_short: bool = True

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")


class MeanReversionParams(_Params):
    """Params of :class:`~shriven.strategy.mean_reversion.MeanReversion`."""

    window: Annotated[int, Meta(ge=2)]
    quantity: PositiveFloat
    entry_z: PositiveFloat = 2.0
    exit_z: NonNegativeFloat = 0.5
    allow_short: bool = True

    def __post_init__(self) -> None:
        if self.exit_z >= self.entry_z:
            raise ValueError(f"exit_z ({self.exit_z}) must be below entry_z ({self.entry_z})")


class MarketMakerParams(_Params):
    """Params of :class:`~shriven.strategy.market_maker.MarketMaker`."""

    quote_size: PositiveFloat
    half_spread_ticks: PositiveFloat
    max_position: PositiveFloat
    skew_ticks_per_unit: NonNegativeFloat = 0.0
    requote_ticks: PositiveInt = 1
    post_only: bool = False

    def __post_init__(self) -> None:
        if self.max_position < self.quote_size:
            raise ValueError(
                f"max_position ({self.max_position}) must be at least quote_size ({self.quote_size})"
            )


@dataclass(frozen=True)
class StrategyKind:
    """A registered kind: its params type and the class built from them (params as kwargs)."""

    params_type: type[_Params]
    strategy_type: type[Strategy]


#: kind name (the ``kind`` of a ``[[strategy]]`` table) -> how to build it.
STRATEGY_KINDS: Mapping[str, StrategyKind] = {
    "signal_follower": StrategyKind(SignalFollowerParams, SignalFollower),
    "momentum": StrategyKind(MomentumParams, Momentum),
    "mean_reversion": StrategyKind(MeanReversionParams, MeanReversion),
    "market_maker": StrategyKind(MarketMakerParams, MarketMaker),
}


class StrategySpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One ``[[strategy]]`` table before its params are typed."""

    kind: str
    id: Annotated[str, Meta(min_length=1)]
    symbols: tuple[str, ...] = ()
    params: dict[str, Any] = {}


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    strategy: tuple[dict[str, Any], ...] = ()


def build_strategy(
    kind: str,
    strategy_id: str,
    symbols: tuple[str, ...] = (),
    params: Mapping[str, Any] | None = None,
) -> Strategy:
    """Build one strategy from raw params; a ValueError names the id and the bad field."""
    return _build(kind, strategy_id, tuple(symbols), params or {}, origin="")


def _build(
    kind: str, strategy_id: str, symbols: tuple[str, ...], params: Mapping[str, Any], *, origin: str
) -> Strategy:
    where = f" in {origin}" if origin else ""
    label = f"strategy {strategy_id!r}{where} ({kind})"
    known = STRATEGY_KINDS.get(kind)
    if known is None:
        raise ValueError(
            f"strategy {strategy_id!r}{where}: unknown kind {kind!r}; known kinds: {', '.join(sorted(STRATEGY_KINDS))}"
        )
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"{label}: duplicate symbols {list(symbols)}")
    try:
        typed = msgspec.convert(dict(params), known.params_type)
    except msgspec.ValidationError as exc:  # __post_init__ ValueErrors arrive as this too
        raise ValueError(f"{label}: {_with_path(str(exc), 'params.')}") from None
    try:
        return known.strategy_type(strategy_id, symbols, **msgspec.structs.asdict(typed))
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None


def parse_strategy_specs(path_or_text: str | os.PathLike[str]) -> list[StrategySpec]:
    """Read and check the ``[[strategy]]`` tables (kinds, ids, fields) without building them."""
    return _parse(path_or_text)[0]


def _parse(path_or_text: str | os.PathLike[str]) -> tuple[list[StrategySpec], str]:
    text, origin = _read(path_or_text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"strategies in {origin} are not valid TOML: {exc}") from None
    try:
        tables = msgspec.convert(raw, _File).strategy
    except msgspec.ValidationError as exc:
        raise ValueError(
            f"strategies in {origin}: {_with_path(str(exc), '')}; expected only [[strategy]] tables"
        ) from None
    specs: list[StrategySpec] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, start=1):
        label = repr(table["id"]) if isinstance(table.get("id"), str) else f"#{number}"
        try:
            spec = msgspec.convert(table, StrategySpec)
        except msgspec.ValidationError as exc:
            raise ValueError(f"strategy {label} in {origin}: {_with_path(str(exc), '')}") from None
        if spec.kind not in STRATEGY_KINDS:
            raise ValueError(
                f"strategy {spec.id!r} in {origin}: unknown kind {spec.kind!r}; "
                f"known kinds: {', '.join(sorted(STRATEGY_KINDS))}"
            )
        if spec.id in seen:
            raise ValueError(f"strategy {spec.id!r} in {origin}: duplicate strategy id")
        seen.add(spec.id)
        specs.append(spec)
    return specs, origin


def load_strategies(path_or_text: str | os.PathLike[str]) -> list[Strategy]:
    """Build the strategies of a TOML file (a path, or the TOML text itself), in file order.

    A ``str`` holding a newline, ``[`` or ``=`` is taken as TOML text; any other ``str`` and
    every ``os.PathLike`` as a path.
    """
    specs, origin = _parse(path_or_text)
    return [_build(spec.kind, spec.id, spec.symbols, spec.params, origin=origin) for spec in specs]


def _read(path_or_text: str | os.PathLike[str]) -> tuple[str, str]:
    if isinstance(path_or_text, str) and _is_text(path_or_text):
        return path_or_text, "<text>"
    path = Path(path_or_text)
    try:
        return path.read_text(), str(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"strategies file {path} does not exist") from None


def _is_text(value: str) -> bool:
    return any(c in value for c in "\n[=")


_FIELD_ERROR = re.compile(
    r"Object (contains unknown|missing required) field `([^`]*)`(?: - at `\$\.?([^`]*)`)?$"
)


def _with_path(message: str, prefix: str) -> str:
    """Rewrite msgspec's ``$``-rooted paths so the field reads ``params.fast`` (or ``symbols``)."""
    field_error = _FIELD_ERROR.match(message)
    if field_error is not None:
        what, name, parent = field_error.groups()
        path = f"{prefix}{parent + '.' if parent else ''}{name}"
        return f"{'unknown' if what == 'contains unknown' else 'missing required'} field `{path}`"
    return re.sub(
        r"`\$\.?([^`]*)`", lambda m: f"`{prefix}{m.group(1)}`".replace(".`", "`"), message
    )
