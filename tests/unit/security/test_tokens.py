"""JWTs: round trip, every refusal reason, algorithm pinning, injected-clock time checks, key file."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import jwt
import pytest

from shriven.security.roles import Principal, Role
from shriven.security.tokens import (
    TokenError,
    TokenIssuer,
    TokenReason,
    TokenSettings,
    load_or_create_signing_key,
)

SECRET = b"k" * 32
OTHER_SECRET = b"o" * 32
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    """A settable clock so expiry is tested without sleeping."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer(clock: FakeClock) -> TokenIssuer:
    return TokenIssuer(TokenSettings(secret=SECRET, ttl_s=60), clock=clock)


ALICE = Principal("alice", Role.TRADER, key_id="0123456789ab")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "alice",
        "role": "trader",
        "iss": "shrivenquant",
        "aud": "shriven-gateway",
        "iat": int(T0),
        "nbf": int(T0),
        "exp": int(T0) + 60,
        "jti": "x",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _reason(issuer: TokenIssuer, token: str | None) -> TokenReason:
    with pytest.raises(TokenError) as info:
        issuer.verify(token)
    return info.value.reason


def test_round_trip_returns_the_principal(issuer: TokenIssuer) -> None:
    token = issuer.issue(ALICE)
    assert issuer.verify(token) == ALICE
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["kid"] == "0123456789ab"
    assert (claims["iss"], claims["aud"], claims["role"]) == ("shrivenquant", "shriven-gateway", "trader")
    assert claims["exp"] - claims["iat"] == 60
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_token_without_key_id_and_unique_jti(issuer: TokenIssuer) -> None:
    viewer = Principal("bob", Role.VIEWER)
    first, second = issuer.issue(viewer), issuer.issue(viewer)
    assert issuer.verify(first) == viewer
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in (first, second)}
    assert len(jtis) == 2


def test_expires_at_exp_on_the_injected_clock(issuer: TokenIssuer, clock: FakeClock) -> None:
    token = issuer.issue(ALICE)
    clock.now = T0 + 59.9
    assert issuer.verify(token) == ALICE
    clock.now = T0 + 60
    assert _reason(issuer, token) is TokenReason.EXPIRED


def test_ttl_override(issuer: TokenIssuer, clock: FakeClock) -> None:
    token = issuer.issue(ALICE, ttl_s=5)
    clock.now = T0 + 5
    assert _reason(issuer, token) is TokenReason.EXPIRED
    with pytest.raises(ValueError, match="ttl_s"):
        issuer.issue(ALICE, ttl_s=0)


def test_not_yet_valid_until_nbf(issuer: TokenIssuer, clock: FakeClock) -> None:
    token = issuer.issue(ALICE, not_before_s=T0 + 30)
    assert _reason(issuer, token) is TokenReason.NOT_YET_VALID
    clock.now = T0 + 30
    assert issuer.verify(token) == ALICE


def test_future_iat_is_not_yet_valid(issuer: TokenIssuer, clock: FakeClock) -> None:
    token = issuer.issue(ALICE)
    clock.now = T0 - 10
    assert _reason(issuer, token) is TokenReason.NOT_YET_VALID


def test_leeway_widens_both_ends(clock: FakeClock) -> None:
    lenient = TokenIssuer(TokenSettings(secret=SECRET, ttl_s=60, leeway_s=10), clock=clock)
    strict = TokenIssuer(TokenSettings(secret=SECRET, ttl_s=60), clock=clock)
    late = lenient.issue(ALICE)
    early = lenient.issue(ALICE, not_before_s=T0 + 5)
    clock.now = T0 + 65  # expired 5 s ago: within 10 s leeway
    assert lenient.verify(late) == ALICE
    assert _reason(strict, late) is TokenReason.EXPIRED
    clock.now = T0 + 70
    assert _reason(lenient, late) is TokenReason.EXPIRED
    clock.now = T0  # 5 s before nbf: within leeway
    assert lenient.verify(early) == ALICE
    assert _reason(strict, early) is TokenReason.NOT_YET_VALID
    clock.now = T0 - 11
    assert _reason(lenient, early) is TokenReason.NOT_YET_VALID


def test_time_claims_do_not_depend_on_the_wall_clock() -> None:
    # A token valid only in 2001 verifies against a clock set to 2001, whatever today is.
    past = 978_307_200.0
    issuer = TokenIssuer(TokenSettings(secret=SECRET), clock=lambda: past)
    assert issuer.verify(issuer.issue(ALICE)) == ALICE


def test_signed_with_another_key_is_bad_signature(issuer: TokenIssuer, clock: FakeClock) -> None:
    forger = TokenIssuer(TokenSettings(secret=OTHER_SECRET), clock=clock)
    assert _reason(issuer, forger.issue(ALICE)) is TokenReason.BAD_SIGNATURE


def test_tampered_payload_is_bad_signature(issuer: TokenIssuer) -> None:
    header, payload, signature = issuer.issue(Principal("alice", Role.VIEWER)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    assert _reason(issuer, forged) is TokenReason.BAD_SIGNATURE


def test_wrong_audience_and_issuer(issuer: TokenIssuer) -> None:
    assert _reason(issuer, jwt.encode(_claims(aud="other"), SECRET, "HS256")) is TokenReason.WRONG_AUDIENCE
    assert _reason(issuer, jwt.encode(_claims(iss="evil"), SECRET, "HS256")) is TokenReason.WRONG_ISSUER


def test_alg_none_is_rejected(issuer: TokenIssuer) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims(role="admin")).encode())
    assert _reason(issuer, f"{header}.{body}.") is TokenReason.BAD_SIGNATURE
    assert _reason(issuer, jwt.encode(_claims(), None, algorithm="none")) is TokenReason.BAD_SIGNATURE


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_hmac_algorithm_is_rejected(issuer: TokenIssuer) -> None:
    # Signed with the right secret: only the algorithm is wrong.
    token = jwt.encode(_claims(), SECRET, algorithm="HS512")
    assert _reason(issuer, token) is TokenReason.BAD_SIGNATURE


def test_rs256_header_with_hmac_signature_is_rejected(issuer: TokenIssuer) -> None:
    # Algorithm confusion: an attacker signs with HMAC over the shared secret but claims RS256.
    import hashlib
    import hmac

    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    signature = _b64(hmac.new(SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest())
    assert _reason(issuer, f"{header}.{body}.{signature}") is TokenReason.BAD_SIGNATURE


@pytest.mark.parametrize("token", [None, ""])
def test_missing(issuer: TokenIssuer, token: str | None) -> None:
    assert _reason(issuer, token) is TokenReason.MISSING


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "....", "Bearer x", "x" * 10_000, "eyJhbGciOiJIUzI1NiJ9.!!!.sig"]
)
def test_garbage_is_malformed(issuer: TokenIssuer, token: str) -> None:
    assert _reason(issuer, token) is TokenReason.MALFORMED


def test_non_string_is_malformed(issuer: TokenIssuer) -> None:
    assert _reason(issuer, b"abc") is TokenReason.MALFORMED  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "claims",
    [
        _claims(role="root"),
        _claims(role=None),
        _claims(sub=None),
        _claims(sub=""),
        _claims(sub=42),
        _claims(exp=None),
        _claims(nbf=None),
        _claims(iat=None),
        _claims(exp="tomorrow"),
        _claims(kid=7),
    ],
    ids=["unknown-role", "no-role", "no-sub", "empty-sub", "int-sub", "no-exp", "no-nbf", "no-iat",
         "string-exp", "int-kid"],
)
def test_bad_claims(issuer: TokenIssuer, claims: dict[str, object]) -> None:
    assert _reason(issuer, jwt.encode(claims, SECRET, "HS256")) is TokenReason.BAD_CLAIMS


def test_hand_built_token_with_good_claims_verifies(issuer: TokenIssuer) -> None:
    # Guards the bad-claims cases above: only the overridden claim makes them fail.
    assert issuer.verify(jwt.encode(_claims(), SECRET, "HS256")) == Principal("alice", Role.TRADER)


def test_errors_and_reprs_leak_no_token_or_key(issuer: TokenIssuer, clock: FakeClock) -> None:
    token = issuer.issue(ALICE)
    forged = TokenIssuer(TokenSettings(secret=OTHER_SECRET), clock=clock).issue(ALICE)
    clock.now = T0 + 3600
    messages = []
    for candidate in (token, forged, token + "x", token[:-5]):
        with pytest.raises(TokenError) as info:
            issuer.verify(candidate)
        messages.append(str(info.value) + repr(info.value))
        # No chained PyJWT exception (whose text could quote the token) travels with the error.
        error = info.value
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__
    for text in messages + [repr(issuer), repr(TokenSettings(secret=SECRET))]:
        for part in token.split(".") + forged.split("."):
            assert part not in text
        assert SECRET.decode() not in text
        assert SECRET.hex() not in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": b"short"},
        {"secret": "k" * 32},
        {"secret": SECRET, "ttl_s": 0},
        {"secret": SECRET, "ttl_s": -5},
        {"secret": SECRET, "leeway_s": -1},
        {"secret": SECRET, "issuer": ""},
    ],
)
def test_settings_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        TokenSettings(**kwargs)  # type: ignore[arg-type]


def test_signing_key_created_once_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "jwt.key"
    key = load_or_create_signing_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_signing_key(path) == key
    assert path.read_text().strip() == key.hex()
    assert [p.name for p in path.parent.iterdir()] == ["jwt.key"]  # no temp file left


def test_signing_key_race_every_caller_gets_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "jwt.key"
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        keys.append(load_or_create_signing_key(path))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["jwt.key"]


def test_signing_key_file_checks(tmp_path: Path) -> None:
    path = tmp_path / "jwt.key"
    path.write_text("not hex")
    os.chmod(path, 0o600)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        load_or_create_signing_key(path)
    path.write_text("ab" * 32)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_signing_key(path)
    os.chmod(path, 0o600)
    assert load_or_create_signing_key(path) == bytes.fromhex("ab" * 32)


def test_signing_key_works_as_token_secret(tmp_path: Path) -> None:
    issuer = TokenIssuer(TokenSettings(secret=load_or_create_signing_key(tmp_path / "k")))
    assert issuer.verify(issuer.issue(ALICE)) == ALICE
