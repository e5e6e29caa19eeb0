"""Request and response bodies of the gateway: typed, validated, and the OpenAPI schema's source.

Numbers are finite (NaN and infinities are refused, JSON has neither), text fields are bounded
and symbols are checked against the universe by the route, so a bad request is a 4xx with a
message and never reaches the engine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False, le=1e12)]
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:/-]+$")]
ShortText = Annotated[str, Field(max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Model):
    """Every 4xx/5xx body: a machine-readable reason and a sentence for a person."""

    reason: str
    message: str


class TokenRequest(_Model):
    api_key: Annotated[str, Field(min_length=1, max_length=256)] | None = None


class TokenResponse(_Model):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str
    subject: str


class OrderRequestBody(_Model):
    symbol: Symbol
    side: Literal["buy", "sell"]
    quantity: PositiveFloat
    order_type: Literal["limit", "market", "ioc", "fok", "post_only"] = "limit"
    price: PositiveFloat | None = None


class OrderAccepted(_Model):
    """An order (or cancel) is in the durable command log: the engine acts on it once."""

    command_offset: int
    client_order_id: str
    status: Literal["queued"] = "queued"
    replayed: bool = Field(description="true when this Idempotency-Key was seen before: nothing new was queued")


class OrderView(_Model):
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: float
    price: float | None
    state: str
    filled_quantity: float = 0.0
    avg_fill_price: float | None = None
    fees: float = 0.0
    reason: str = ""
    strategy_id: str = ""
    venue: str = ""
    created_ts: int | None = None
    updated_ts: int | None = None


class OrderList(_Model):
    source: Literal["engine", "none"]
    as_of_ns: int | None
    orders: list[OrderView]


class PositionView(_Model):
    symbol: str
    quantity: float
    avg_cost: float | None = None
    mark_price: float | None = None
    market_value: float | None = None
    realized_pnl: float | None = None
    unrealized_pnl: float | None = None
    fees: float | None = None


class PositionList(_Model):
    source: Literal["engine", "lake", "none"]
    as_of_ns: int | None
    positions: list[PositionView]


class PnlView(_Model):
    source: Literal["engine", "lake", "none"]
    as_of_ns: int | None
    pnl: dict[str, float]


class RiskView(_Model):
    trading_state: str
    kill_switch: bool
    kill_switch_reason: str
    kill_switch_by: str
    engine_as_of_ns: int | None
    recent_events: list[dict[str, Any]]


class KillSwitchBody(_Model):
    on: bool
    reason: ShortText = ""


class KillSwitchView(_Model):
    on: bool
    ts: int
    reason: str
    by: str


class SignalBody(_Model):
    symbol: Symbol
    target: Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]
    kind: Literal["position", "weight"] = "position"
    model_version: ShortText = ""


class SignalsBody(_Model):
    signals: Annotated[list[SignalBody], Field(min_length=1, max_length=1000)]


class SignalsAppended(_Model):
    first_offset: int
    last_offset: int
    appended: int
    quarantined: int
    reasons: dict[str, int]


class SignalView(_Model):
    offset: int
    ts: int
    symbol: str
    target: float
    kind: str
    source: str
    model_version: str


class FlowRunBody(_Model):
    parameters: dict[str, Any] = Field(default_factory=dict)


class FlowRunCreated(_Model):
    flow_run_id: str
    name: str
    deployment: str
    state: str


class AuditView(_Model):
    ts_ns: int
    correlation_id: str
    principal: str
    role: str
    action: str
    target: str
    result: str
    status: int
    detail: str
