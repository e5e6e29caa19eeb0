"""Trigger a flow run of any deployment through the Prefect API (REST; the gateway never imports prefect)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Path, Request, status

from gateway.api_models import FlowRunBody, FlowRunCreated, Problem
from gateway.auth import problem, trader
from shriven.observability.logs import current_correlation_id
from shriven.security.roles import Principal

router = APIRouter(prefix="/v1/flows", tags=["flows"])
Name = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
_TIMEOUT_S = 5.0


@router.post(
    "/{flow_name}/{deployment_name}/runs", status_code=status.HTTP_202_ACCEPTED, response_model=FlowRunCreated,
    responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem},
               429: {"model": Problem}, 503: {"model": Problem}},
    summary="Create a flow run of a deployment (its work pool's worker picks it up)",
)  # fmt: skip
def create_flow_run(
    request: Request, flow_name: Name, deployment_name: Name, body: FlowRunBody | None = None,
    principal: Principal = Depends(trader),
) -> FlowRunCreated:  # fmt: skip
    services = request.app.state.services
    api = services.prefect_api_url
    if not api:
        raise problem(503, "no_prefect", "no Prefect server is configured (set PREFECT_API_URL; `make serve` starts one)")
    parameters = body.parameters if body else {}
    request.state.audit_detail = {"deployment": f"{flow_name}/{deployment_name}", "parameters": sorted(parameters)}
    try:
        with httpx.Client(base_url=api.rstrip("/") + "/", timeout=_TIMEOUT_S) as client:
            found = client.get(f"deployments/name/{flow_name}/{deployment_name}")
            if found.status_code == 404:
                raise problem(404, "unknown_deployment", f"no deployment {flow_name}/{deployment_name}")
            found.raise_for_status()
            created = client.post(
                f"deployments/{found.json()['id']}/create_flow_run",
                json={"parameters": parameters, "tags": _tags(principal)},
            )
            if created.status_code in (409, 422):
                raise problem(422, "invalid_parameters", created.json().get("detail", created.text)[:500]
                              if created.headers.get("content-type", "").startswith("application/json") else created.text[:500])
            created.raise_for_status()
    except httpx.HTTPError as exc:
        raise problem(503, "prefect_unavailable", f"the Prefect API at {api} did not answer: {type(exc).__name__}") from None
    run = created.json()
    return FlowRunCreated(
        flow_run_id=run["id"], name=run.get("name", ""), deployment=f"{flow_name}/{deployment_name}",
        state=(run.get("state") or {}).get("type", "SCHEDULED"),
    )  # fmt: skip


def _tags(principal: Principal) -> list[str]:
    """Who asked, and the request's correlation id: the flow run can be found from the gateway's logs."""
    tags = ["gateway", f"by:{principal.subject}"]
    cid = current_correlation_id()
    return [*tags, f"correlation:{cid}"] if cid else tags
