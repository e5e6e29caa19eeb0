"""Positions and PnL: the running engine's status, else the lake's last checkpoint."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from gateway.api_models import PnlView, PositionList, PositionView, Problem
from gateway.auth import viewer
from shriven.security.roles import Principal

router = APIRouter(prefix="/v1", tags=["portfolio"])
_ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}}


@router.get("/positions", response_model=PositionList, responses=_ERRORS, summary="Positions of the account")
def positions(request: Request, _: Principal = Depends(viewer)) -> PositionList:
    services = request.app.state.services
    status = services.engine_status()
    if status is not None:
        return PositionList(
            source="engine", as_of_ns=status.written_at_ns, positions=[PositionView(**p) for p in status.positions]
        )
    rows = services.query(
        """SELECT * EXCLUDE (ts, account), epoch_ns(ts) AS as_of FROM positions
           WHERE account = ? QUALIFY ts = max(ts) OVER () ORDER BY symbol""",
        [services.account],
    )
    if not rows:
        return PositionList(source="none", as_of_ns=None, positions=[])
    as_of = rows[0]["as_of"]
    fields = PositionView.model_fields
    return PositionList(
        source="lake", as_of_ns=as_of, positions=[PositionView(**{k: v for k, v in r.items() if k in fields}) for r in rows]
    )


@router.get("/pnl", response_model=PnlView, responses=_ERRORS, summary="Cash, equity, exposure and PnL totals")
def pnl(request: Request, _: Principal = Depends(viewer)) -> PnlView:
    services = request.app.state.services
    status = services.engine_status()
    if status is not None:
        return PnlView(source="engine", as_of_ns=status.written_at_ns, pnl=status.pnl)
    rows = services.query(
        "SELECT * EXCLUDE (ts, account), epoch_ns(ts) AS as_of FROM pnl WHERE account = ? ORDER BY ts DESC LIMIT 1",
        [services.account],
    )
    if not rows:
        return PnlView(source="none", as_of_ns=None, pnl={})
    row = rows[0]
    as_of = row.pop("as_of")
    return PnlView(source="lake", as_of_ns=as_of, pnl={k: float(v) for k, v in row.items() if isinstance(v, int | float)})
