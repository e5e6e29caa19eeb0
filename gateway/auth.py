"""Who is calling and may they: bearer-token validation, roles and rate limits as dependencies.

Every protected route declares ``Depends(require(Role.X))``. The token is validated in full
(signature, algorithm, expiry, not-before, issuer, audience); the failure reason goes back in the
body, never the token. Rate limits are per principal after authentication.
"""

from __future__ import annotations

import math

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shriven.security.roles import Principal, Role
from shriven.security.tokens import TokenError

bearer = HTTPBearer(auto_error=False, description="A JWT from POST /v1/auth/token")


def problem(code: int, reason: str, message: str, headers: dict[str, str] | None = None) -> HTTPException:
    """An HTTPException whose body is a :class:`~gateway.api_models.Problem`."""
    return HTTPException(status_code=code, detail={"reason": reason, "message": message}, headers=headers)


def rate_limited(decision) -> HTTPException:
    """429 with Retry-After (whole seconds, at least 1)."""
    return problem(
        status.HTTP_429_TOO_MANY_REQUESTS, "rate_limited",
        f"rate limit of {decision.limit} requests exceeded; retry after {decision.retry_after_s:.2f} s",
        headers={"Retry-After": str(max(1, math.ceil(decision.retry_after_s))), "X-RateLimit-Limit": str(decision.limit),
                 "X-RateLimit-Remaining": "0"},
    )  # fmt: skip


def require(role: Role):
    """A dependency that returns the caller's :class:`Principal` if its role allows ``role``."""

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Principal:
        services = request.app.state.services
        try:
            principal = services.tokens.verify(credentials.credentials if credentials else None)
        except TokenError as exc:
            raise problem(
                status.HTTP_401_UNAUTHORIZED, exc.reason.value, str(exc),
                headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc.reason.value}"'},
            ) from None  # fmt: skip
        if principal.key_id is not None and not services.keys.is_active(principal.key_id):
            raise problem(
                status.HTTP_401_UNAUTHORIZED, "revoked", "the API key this token was issued for is revoked",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="revoked"'},
            )  # fmt: skip
        request.state.principal = principal
        if not principal.role.allows(role):
            raise problem(
                status.HTTP_403_FORBIDDEN, "forbidden",
                f"role {principal.role.value} may not do this; it needs {role.value}",
            )  # fmt: skip
        decision = services.limiter.acquire(principal.subject)
        if not decision.allowed:
            raise rate_limited(decision)
        return principal

    return dependency


viewer = require(Role.VIEWER)
trader = require(Role.TRADER)
admin = require(Role.ADMIN)
