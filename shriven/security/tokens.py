"""Short-lived HS256 JWTs for the gateway, verified against an injected clock.

PyJWT checks the signature (algorithm pinned to HS256, so ``alg=none`` and algorithm-confusion
tokens fail), the issuer, the audience and that the required claims are present; the time claims
(``exp``, ``nbf``, ``iat``) are checked here against the injected clock, because PyJWT reads the
wall clock and tests, backtests and replays must not.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from shriven.durable import fsync_dir
from shriven.security.roles import Principal, Role

__all__ = [
    "TokenError",
    "TokenIssuer",
    "TokenReason",
    "TokenSettings",
    "load_or_create_signing_key",
]

#: The only algorithm accepted; a token whose header names any other is rejected before decoding.
ALGORITHM = "HS256"
#: Shortest accepted HMAC secret (RFC 7518 3.2: at least the hash size, 256 bits).
MIN_SECRET_BYTES = 32
#: Tokens longer than this are refused unparsed (a bound on work per request).
MAX_TOKEN_CHARS = 8192
_REQUIRED_CLAIMS = ("exp", "nbf", "iat", "iss", "aud", "sub")


class TokenReason(StrEnum):
    """Why a token was refused; safe to return to a client."""

    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    BAD_CLAIMS = "bad_claims"


_MESSAGES: dict[TokenReason, str] = {
    TokenReason.MISSING: "no bearer token was sent",
    TokenReason.MALFORMED: "the token is not a well-formed JWT",
    TokenReason.BAD_SIGNATURE: "the token signature or algorithm is not accepted",
    TokenReason.EXPIRED: "the token has expired",
    TokenReason.NOT_YET_VALID: "the token is not valid yet",
    TokenReason.WRONG_ISSUER: "the token was issued by someone else",
    TokenReason.WRONG_AUDIENCE: "the token is meant for another audience",
    TokenReason.BAD_CLAIMS: "the token claims are missing or invalid",
}


class TokenError(Exception):
    """A refused token; the message names the reason only, never token or key material."""

    def __init__(self, reason: TokenReason, detail: str = "") -> None:
        self.reason = TokenReason(reason)
        message = _MESSAGES[self.reason] + (f" ({detail})" if detail else "")
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """Signing secret and the claims every token must carry; the secret is kept out of repr."""

    secret: bytes = field(repr=False)
    issuer: str = "shrivenquant"
    audience: str = "shriven-gateway"
    ttl_s: int = 900
    leeway_s: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes | bytearray):
            raise TypeError("token secret must be bytes")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"token secret must be at least {MIN_SECRET_BYTES} bytes")
        if not self.issuer or not self.audience:
            raise ValueError("token issuer and audience must be non-empty")
        if isinstance(self.ttl_s, bool) or not isinstance(self.ttl_s, int) or self.ttl_s <= 0:
            raise ValueError("token ttl_s must be a positive integer")
        if isinstance(self.leeway_s, bool) or not isinstance(self.leeway_s, int) or self.leeway_s < 0:
            raise ValueError("token leeway_s must be a non-negative integer")


class TokenIssuer:
    """Issues and verifies the gateway's bearer tokens with one secret and one clock."""

    def __init__(self, settings: TokenSettings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._key = bytes(settings.secret)
        self._clock = clock

    def __repr__(self) -> str:
        s = self._settings
        return f"TokenIssuer(issuer={s.issuer!r}, audience={s.audience!r}, ttl_s={s.ttl_s})"

    def issue(
        self,
        principal: Principal,
        *,
        ttl_s: int | None = None,
        not_before_s: float | None = None,
    ) -> str:
        """Sign a token for ``principal`` valid from ``not_before_s`` (default now) for ``ttl_s``."""
        ttl = self._settings.ttl_s if ttl_s is None else ttl_s
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise ValueError("ttl_s must be a positive integer")
        now = int(self._clock())
        nbf = now if not_before_s is None else int(math.floor(not_before_s))
        claims: dict[str, Any] = {
            "sub": principal.subject,
            "role": Role(principal.role).value,
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "iat": now,
            "nbf": nbf,
            "exp": max(now, nbf) + ttl,
            "jti": secrets.token_urlsafe(16),
        }
        if principal.key_id is not None:
            claims["kid"] = principal.key_id
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": "JWT"})

    def verify(self, token: str | None) -> Principal:
        """Return the principal a valid token names, or raise :class:`TokenError` with the reason."""
        if token is None or token == "":
            raise TokenError(TokenReason.MISSING)
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise TokenError(TokenReason.MALFORMED)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError(TokenReason.MALFORMED) from None
        if header.get("alg") != ALGORITHM:
            raise TokenError(TokenReason.BAD_SIGNATURE, "algorithm must be HS256")
        claims = self._decode(token)
        self._check_times(claims)
        return _principal(claims)

    def _decode(self, token: str) -> dict[str, Any]:
        s = self._settings
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=s.audience,
                issuer=s.issuer,
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    # Time claims are checked against the injected clock in _check_times.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            raise TokenError(TokenReason.BAD_SIGNATURE) from None
        except jwt.InvalidAudienceError:
            raise TokenError(TokenReason.WRONG_AUDIENCE) from None
        except jwt.InvalidIssuerError:
            raise TokenError(TokenReason.WRONG_ISSUER) from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(TokenReason.BAD_CLAIMS, f"missing {exc.claim}") from None
        except jwt.DecodeError:
            raise TokenError(TokenReason.MALFORMED) from None
        except jwt.PyJWTError:
            raise TokenError(TokenReason.BAD_CLAIMS) from None

    def _check_times(self, claims: dict[str, Any]) -> None:
        times = {}
        for name in ("exp", "nbf", "iat"):
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise TokenError(TokenReason.BAD_CLAIMS, f"{name} must be a number")
            times[name] = float(value)
        now = float(self._clock())
        leeway = self._settings.leeway_s
        if now >= times["exp"] + leeway:
            raise TokenError(TokenReason.EXPIRED)
        if now + leeway < times["nbf"] or now + leeway < times["iat"]:
            raise TokenError(TokenReason.NOT_YET_VALID)


def _principal(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenError(TokenReason.BAD_CLAIMS, "sub must be a non-empty string")
    try:
        role = Role(claims.get("role"))
    except ValueError:
        raise TokenError(TokenReason.BAD_CLAIMS, "unknown role") from None
    key_id = claims.get("kid")
    if key_id is not None and not isinstance(key_id, str):
        raise TokenError(TokenReason.BAD_CLAIMS, "kid must be a string")
    return Principal(subject=subject, role=role, key_id=key_id)


_KEY_TEXT = re.compile(r"[0-9a-f]{64}")


def load_or_create_signing_key(path: str | os.PathLike[str]) -> bytes:
    """Read the 32-byte signing key at ``path``, creating it (0600, atomically) on first use.

    The key is written to a private temp file that is then hard-linked into place: the link fails
    if another process won the race, so every process ends up with the same, complete key.
    """
    target = Path(path)
    try:
        return _read_signing_key(target)
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkstemp opens with O_CREAT | O_EXCL and mode 0600.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.write(fd, (secrets.token_bytes(32).hex() + "\n").encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(tmp, target)
        except FileExistsError:
            pass  # another process created it first; use theirs
        else:
            fsync_dir(target.parent)
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)
    return _read_signing_key(target)


def _read_signing_key(path: Path) -> bytes:
    with open(path, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        text = fh.read(256).decode("ascii", errors="replace").strip()
    if mode & 0o077:
        raise PermissionError(
            f"signing key file {path} is readable by group or others (mode {mode & 0o777:o}); chmod 600 it"
        )
    if not _KEY_TEXT.fullmatch(text):
        raise ValueError(f"signing key file {path} does not hold 64 lowercase hex characters")
    return bytes.fromhex(text)

