"""Token issue: an API key buys a short-lived JWT."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, status

from gateway.api_models import Problem, TokenRequest, TokenResponse
from gateway.auth import problem, rate_limited
from shriven.security.api_keys import AuthError

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post(
    "/token", response_model=TokenResponse,
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
    summary="Exchange an API key (X-API-Key header or body) for a bearer token",
)  # fmt: skip
def issue_token(
    request: Request,
    body: TokenRequest | None = None,
    x_api_key: Annotated[str | None, Header(max_length=256)] = None,
) -> TokenResponse:
    services = request.app.state.services
    client = request.client.host if request.client else "unknown"
    decision = services.token_limiter.acquire(f"token:{client}")
    if not decision.allowed:
        raise rate_limited(decision)
    key = x_api_key or (body.api_key if body else None)
    if not key:
        raise problem(status.HTTP_401_UNAUTHORIZED, "missing", "send an API key in X-API-Key or the body")
    try:
        principal = services.keys.authenticate(key)
    except AuthError as exc:
        raise problem(status.HTTP_401_UNAUTHORIZED, exc.reason, "invalid API key") from None
    request.state.principal = principal
    ttl = services.settings.gateway.token_ttl_s
    return TokenResponse(
        access_token=services.tokens.issue(principal, ttl_s=ttl), expires_in=ttl,
        role=principal.role.value, subject=principal.subject,
    )  # fmt: skip
