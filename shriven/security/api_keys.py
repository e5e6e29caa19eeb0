"""API keys for machines and scripts: ``sqk_<key_id>_<secret>``, stored only as salted scrypt hashes.

The store is one JSON file (0600) replaced atomically; writers from any process are serialised
by ``flock`` on a lock file beside it. scrypt is slow on purpose, so a verified key is cached in
memory by the SHA-256 of the key; the file's identity (inode, mtime, size) is checked on every
call, so a key revoked by another process is refused on the next request.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shriven.durable import write_bytes_atomic
from shriven.security.roles import Principal, Role

__all__ = ["KEY_PREFIX", "ApiKeyInfo", "ApiKeyStore", "AuthError"]

#: First part of every key, so leaked keys are easy to recognise (secret scanners, logs).
KEY_PREFIX = "sqk"
_KEY_PATTERN = re.compile(r"sqk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{12}")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _HASH_BYTES = 2**14, 8, 1, 32
_KDF = f"scrypt:{_SCRYPT_N}:{_SCRYPT_R}:{_SCRYPT_P}"
_FILE_VERSION = 1
_MAX_CACHE = 10_000
_MAX_SUBJECT_CHARS = 128
_AUTH_REASONS = frozenset({"unknown_key", "revoked", "malformed"})


class AuthError(Exception):
    """A refused API key; ``reason`` is one of unknown_key, revoked, malformed (no key material)."""

    def __init__(self, reason: str) -> None:
        if reason not in _AUTH_REASONS:
            raise ValueError(f"unknown auth error reason {reason!r}")
        self.reason = reason
        super().__init__(f"API key refused: {reason}")


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What may be shown about a key: identity, owner, role and lifetime, never its hash or salt."""

    key_id: str
    subject: str
    role: Role
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        """Whether the key still authenticates."""
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class _Record:
    info: ApiKeyInfo
    salt: bytes
    digest: bytes

    def __repr__(self) -> str:  # never print the hash or salt
        return f"_Record({self.info!r})"


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        secret.encode("ascii"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_HASH_BYTES
    )


class ApiKeyStore:
    """The API keys of one deployment, in one JSON file shared by the CLI and the gateway."""

    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._clock = clock
        self._mutex = threading.RLock()
        self._seen: tuple[int, int, int] | None = None
        self._records: dict[str, _Record] = {}
        #: sha256(full key) -> scrypt digest it was verified against
        self._verified: dict[bytes, bytes] = {}

    def __repr__(self) -> str:
        return f"ApiKeyStore({str(self.path)!r})"

    # -- writes -------------------------------------------------------------------------------

    def create(self, subject: str, role: Role) -> str:
        """Add a key for ``subject`` with ``role`` and return the plaintext key (shown only once)."""
        if not isinstance(subject, str) or not subject.strip():
            raise ValueError("API key subject must be a non-empty string")
        if len(subject) > _MAX_SUBJECT_CHARS or not subject.isprintable():
            raise ValueError(f"API key subject must be printable and at most {_MAX_SUBJECT_CHARS} chars")
        role = Role(role)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        digest = _hash(secret, salt)
        with self._exclusive():
            records = self._read_file()
            key_id = secrets.token_hex(6)
            while key_id in records:
                key_id = secrets.token_hex(6)
            info = ApiKeyInfo(key_id, subject, role, float(self._clock()), None)
            records[key_id] = _Record(info, salt, digest)
            self._write_file(records)
        return f"{KEY_PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        """Revoke a key now; False if no such key or it was already revoked."""
        if not isinstance(key_id, str) or not _KEY_ID_PATTERN.fullmatch(key_id):
            return False
        with self._exclusive():
            records = self._read_file()
            record = records.get(key_id)
            if record is None or record.info.revoked_at is not None:
                return False
            info = record.info
            revoked = ApiKeyInfo(info.key_id, info.subject, info.role, info.created_at, float(self._clock()))
            records[key_id] = _Record(revoked, record.salt, record.digest)
            self._write_file(records)
        return True

    # -- reads --------------------------------------------------------------------------------

    def authenticate(self, key: str) -> Principal:
        """Return the principal of a valid, unrevoked key or raise :class:`AuthError`."""
        if not isinstance(key, str):
            raise AuthError("malformed")
        match = _KEY_PATTERN.fullmatch(key)
        if match is None:
            raise AuthError("malformed")
        key_id, secret = match.group(1), match.group(2)
        fingerprint = hashlib.sha256(key.encode("ascii")).digest()
        with self._mutex:
            record = self._current().get(key_id)
            cached = self._verified.get(fingerprint)
        # A wrong secret for a known id is reported as unknown, like an unknown id.
        if record is None:
            raise AuthError("unknown_key")
        if cached is None or not hmac.compare_digest(cached, record.digest):
            if not hmac.compare_digest(_hash(secret, record.salt), record.digest):
                raise AuthError("unknown_key")
            with self._mutex:
                if len(self._verified) >= _MAX_CACHE:
                    self._verified.clear()
                self._verified[fingerprint] = record.digest
        if record.info.revoked_at is not None:
            raise AuthError("revoked")
        return Principal(subject=record.info.subject, role=record.info.role, key_id=key_id)

    def list(self) -> list[ApiKeyInfo]:
        """Every key, oldest first, without hashes or salts."""
        with self._mutex:
            records = self._current()
        return sorted((r.info for r in records.values()), key=lambda i: (i.created_at, i.key_id))

    def is_active(self, key_id: str) -> bool:
        """Whether the key exists and is not revoked: a revoke also stops the tokens it bought."""
        with self._mutex:
            record = self._current().get(key_id)
        return record is not None and record.info.revoked_at is None

    def has_keys(self) -> bool:
        """Whether any key was ever created (revoked ones count, so revoking all never opens the gate)."""
        with self._mutex:
            return bool(self._current())

    # -- file ---------------------------------------------------------------------------------

    def _current(self) -> dict[str, _Record]:
        """The records, re-read only when the file changed (one stat per call otherwise)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._records = None, {}
            return self._records
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen != self._seen:
            self._records = self._read_file()
            self._seen = seen
        return self._records

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the in-process mutex and the cross-process flock on the lock file."""
        with self._mutex:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def _read_file(self) -> dict[str, _Record]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            document = json.loads(raw)
            if document.get("version") != _FILE_VERSION:
                raise ValueError(f"unsupported version {document.get('version')!r}")
            records = {}
            for item in document["keys"]:
                records[item["key_id"]] = _parse_record(item)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"API key store {self.path} is corrupt: {type(exc).__name__}") from None
        return records

    def _write_file(self, records: dict[str, _Record]) -> None:
        document = {
            "version": _FILE_VERSION,
            "keys": [_dump_record(r) for r in sorted(records.values(), key=lambda r: r.info.key_id)],
        }
        data = (json.dumps(document, indent=1) + "\n").encode("utf-8")
        write_bytes_atomic(self.path, data, private=True)


def _dump_record(record: _Record) -> dict[str, Any]:
    info = record.info
    return {
        "key_id": info.key_id,
        "subject": info.subject,
        "role": info.role.value,
        "created_at": info.created_at,
        "revoked_at": info.revoked_at,
        "kdf": _KDF,
        "salt": record.salt.hex(),
        "hash": record.digest.hex(),
    }


def _parse_record(item: dict[str, Any]) -> _Record:
    if item["kdf"] != _KDF:
        raise ValueError("unsupported kdf")
    key_id = item["key_id"]
    if not isinstance(key_id, str) or not _KEY_ID_PATTERN.fullmatch(key_id):
        raise ValueError("bad key_id")
    revoked_at = item["revoked_at"]
    info = ApiKeyInfo(
        key_id=key_id,
        subject=str(item["subject"]),
        role=Role(item["role"]),
        created_at=float(item["created_at"]),
        revoked_at=None if revoked_at is None else float(revoked_at),
    )
    return _Record(info, bytes.fromhex(item["salt"]), bytes.fromhex(item["hash"]))
