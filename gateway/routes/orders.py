"""Orders: submit and cancel through the durable command log; list them from the engine's status.

A 202 means the command is fsync'd in the log: the engine acts on it exactly once, even if the
gateway or the engine crashes right after. Retrying with the same ``Idempotency-Key`` returns
the same command (``replayed: true``); the same key for a different order is a 409.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, status

from gateway.api_models import OrderAccepted, OrderList, OrderRequestBody, OrderView, Problem
from gateway.auth import problem, trader, viewer
from shriven.engine.commands import Command
from shriven.model.enums import OrderType, Side
from shriven.observability.logs import current_correlation_id
from shriven.security.roles import Principal

router = APIRouter(prefix="/v1/orders", tags=["orders"])

IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                description="Your unique key for this request: a retry with it never queues twice")
]  # fmt: skip
OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
_ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}}


def _queued_view(command: Command) -> OrderView:
    return OrderView(
        client_order_id=command.client_order_id, symbol=command.symbol,
        side=command.side.name.lower() if command.side else "", order_type=command.order_type.name.lower(),
        quantity=command.quantity, price=command.price, state="queued", strategy_id="gateway",
        created_ts=command.ts, updated_ts=command.ts,
    )  # fmt: skip


def _accepted(request: Request, command: Command, created: bool) -> OrderAccepted:
    request.app.state.metrics.orders.labels(command.kind.value, str(not created).lower()).inc()
    request.state.audit_detail = {
        "command_offset": command.offset, "client_order_id": command.client_order_id, "replayed": not created,
        "symbol": command.symbol, "side": command.side.name.lower() if command.side else None,
        "quantity": command.quantity, "order_type": command.order_type.name.lower(), "price": command.price,
    }  # fmt: skip
    return OrderAccepted(command_offset=command.offset, client_order_id=command.client_order_id, replayed=not created)


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=OrderAccepted,
    responses={**_ERRORS, 409: {"model": Problem}, 422: {"model": Problem}},
    summary="Queue an order for the running engine (risk-checked there like every order)",
)  # fmt: skip
def submit_order(
    request: Request, body: OrderRequestBody, idempotency_key: IdempotencyKey,
    principal: Principal = Depends(trader),
) -> OrderAccepted:  # fmt: skip
    services = request.app.state.services
    if body.symbol not in services.settings.universe:
        raise problem(422, "unknown_symbol", f"{body.symbol!r} is not in the universe {list(services.settings.universe)}")
    # IdempotencyConflict (409) and InvalidCommand (422) become problems in gateway.app
    command, created = services.commands.submit_order(
        principal=principal.subject, idempotency_key=idempotency_key, symbol=body.symbol,
        side=Side[body.side.upper()], quantity=body.quantity,
        order_type=OrderType[body.order_type.upper()], price=body.price,
        correlation_id=current_correlation_id() or "",
    )  # fmt: skip
    return _accepted(request, command, created)


@router.delete(
    "/{client_order_id}", status_code=status.HTTP_202_ACCEPTED, response_model=OrderAccepted,
    responses={**_ERRORS, 404: {"model": Problem}, 409: {"model": Problem}},
    summary="Queue a cancel (a no-op for an order that is already finished)",
)  # fmt: skip
def cancel_order(
    request: Request, client_order_id: OrderId,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128, pattern=r"^[\x21-\x7e]+$")] = None,
    principal: Principal = Depends(trader),
) -> OrderAccepted:  # fmt: skip
    services = request.app.state.services
    known = bool(services.commands.for_order(client_order_id))
    if not known:
        status_file = services.engine_status()
        known = status_file is not None and any(o.client_order_id == client_order_id for o in status_file.orders)
    if not known:
        raise problem(404, "unknown_order", f"no order {client_order_id!r} is known to the gateway or the engine")
    command, created = services.commands.cancel_order(
        principal=principal.subject, idempotency_key=idempotency_key or f"cancel:{client_order_id}",
        client_order_id=client_order_id, correlation_id=current_correlation_id() or "",
    )  # fmt: skip
    return _accepted(request, command, created)


def _orders(services, *, pending_limit: int | None = None) -> tuple[OrderList, dict[str, OrderView]]:
    status_file = services.engine_status()
    views: dict[str, OrderView] = {}
    after = -1
    if status_file is not None:
        after = status_file.last_command_offset
        for o in status_file.orders:
            views[o.client_order_id] = OrderView(**{f: getattr(o, f) for f in OrderView.model_fields})
    pending = services.commands.indexed_after(after, limit=pending_limit)
    for command in pending:  # logged, not yet acted on by the engine
        if command.client_order_id not in views and command.side is not None:
            views[command.client_order_id] = _queued_view(command)
    source = "engine" if status_file is not None else "none"
    as_of = status_file.written_at_ns if status_file is not None else None
    return OrderList(source=source, as_of_ns=as_of, orders=list(views.values())), views


@router.get("", response_model=OrderList, responses=_ERRORS,
            summary="Open, recent and queued orders of the gateway's account")  # fmt: skip
def list_orders(
    request: Request,
    state: Annotated[Literal["all", "open", "queued"], Query()] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    _: Principal = Depends(viewer),
) -> OrderList:  # fmt: skip
    listing, _views = _orders(request.app.state.services, pending_limit=None if state == "open" else limit)
    open_states = {"submitted", "accepted", "pending_update", "pending_cancel", "partially_filled", "triggered"}
    if state == "open":
        listing.orders = [o for o in listing.orders if o.state in open_states]
    elif state == "queued":
        listing.orders = [o for o in listing.orders if o.state == "queued"]
    listing.orders = listing.orders[:limit]
    return listing


@router.get("/{client_order_id}", response_model=OrderView, responses={**_ERRORS, 404: {"model": Problem}},
            summary="One order: queued (in the log) or as the engine last reported it")  # fmt: skip
def get_order(request: Request, client_order_id: OrderId, _: Principal = Depends(viewer)) -> OrderView:
    services = request.app.state.services
    _listing, views = _orders(services)
    if client_order_id in views:
        return views[client_order_id]
    # older than the status file's window: the last lake checkpoint has it
    rows = services.query(
        f"""SELECT {_LAKE_COLUMNS}, epoch_ns(ts) AS created_ts, epoch_ns(updated_ts) AS updated_ts
            FROM orders WHERE account = ? AND client_order_id = ? ORDER BY updated_ts DESC LIMIT 1""",
        [services.account, client_order_id],
    )  # fmt: skip
    if rows:
        return OrderView(**rows[0])
    raise problem(404, "unknown_order", f"no order {client_order_id!r}")


_LAKE_COLUMNS = ", ".join(
    f for f in OrderView.model_fields if f not in ("created_ts", "updated_ts")
)
