"""The encrypted secrets vault: exchange keys and tokens at rest, never in files or logs in clear.

One file, ``<state_dir>/secrets.vault``, of two text lines:

1. a compact JSON header ``{"format": "shriven-vault", "version": 1, "cipher": "AES-256-GCM",
   "kdf": {...}}`` whose exact bytes are the AES-GCM associated data, so any edit to it fails
   authentication. ``kdf`` is ``{"name": "scrypt", "n", "r", "p", "salt"}`` for a passphrase
   (the cost is stored so it can be raised later) or ``{"name": "keyfile", "salt"}`` for a key
   file (HKDF-SHA256 over its bytes);
2. base64 of a fresh 96-bit nonce followed by the ciphertext of the JSON body
   ``{name: {"value", "version", "created_at", "updated_at"}}``.

Writes are atomic (temp file in the same directory, fsync, ``os.replace``, fsync of the
directory), the file is mode 0600, and every change re-reads the file under an exclusive
``fcntl`` lock on ``secrets.vault.lock``, so two processes setting secrets at once lose nothing.
Reads also reload under a shared lock, so a long-lived :class:`Vault` sees other processes' edits.

Secret values only ever leave as :class:`Secret`, whose ``repr``/``str`` is ``Secret('***')``;
no exception or log message of this module contains a value or the master passphrase.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import fcntl
import hmac
import json
import logging
import os
import re
import secrets as _random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from shriven.durable import write_bytes_atomic

if TYPE_CHECKING:
    from shriven.config import Settings

log = logging.getLogger(__name__)

VAULT_FILE_NAME = "secrets.vault"
PASSPHRASE_ENV = "SHRIVEN_VAULT_PASSPHRASE"
KEY_FILE_ENV = "SHRIVEN_VAULT_KEY_FILE"

FORMAT_NAME = "shriven-vault"
FORMAT_VERSION = 1
CIPHER = "AES-256-GCM"
KDF_SCRYPT = "scrypt"
KDF_KEYFILE = "keyfile"

#: Default scrypt cost: 32 MiB and ~0.1 s per derivation; stored per file, so it can be raised.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
#: Bounds accepted from a header, so a tampered header cannot ask for gigabytes of memory.
_SCRYPT_N_RANGE = (2**10, 2**22)
_SCRYPT_R_RANGE = (1, 32)
_SCRYPT_P_RANGE = (1, 16)

KEY_FILE_MIN_BYTES = 32
_KEY_BYTES = 32
_SALT_BYTES = 16
_NONCE_BYTES = 12
_HKDF_INFO = b"shriven-vault v1 keyfile"
_MAX_FILE_BYTES = 64 * 1024 * 1024

_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_WRONG_KEY = "wrong passphrase or key file, or the vault file was modified"


class VaultError(Exception):
    """Any vault problem; the message never contains a secret value, so it is safe to print."""


class WrongPassphrase(VaultError):
    """The file did not authenticate: wrong passphrase or key file, or a modified vault file."""


class SecretNotFound(VaultError, KeyError):
    """No secret of that name; also a KeyError so mapping-style callers can catch it."""

    def __str__(self) -> str:
        """The plain message (KeyError would quote it)."""
        return str(self.args[0]) if self.args else ""


class Secret:
    """A secret string that prints as ``Secret('***')`` so it cannot leak through logs or reprs."""

    __slots__ = ("_value",)
    __hash__ = None  # type: ignore[assignment]  # a hash would be an oracle on the value

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The plaintext; call only where the value must leave the process (a connector)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; it would land in clear in artifacts or caches")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a secret: never its value."""

    name: str
    version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class MasterKey:
    """The material that unlocks a vault (a passphrase or a key file's bytes); repr hides it."""

    kind: str  # KDF_SCRYPT or KDF_KEYFILE
    material: bytes = field(repr=False)
    scrypt_n: int = SCRYPT_N
    scrypt_r: int = SCRYPT_R
    scrypt_p: int = SCRYPT_P
    source: str = ""  # where it came from (a path or variable name), for messages

    @classmethod
    def from_passphrase(
        cls,
        passphrase: str,
        *,
        scrypt_n: int = SCRYPT_N,
        scrypt_r: int = SCRYPT_R,
        scrypt_p: int = SCRYPT_P,
    ) -> MasterKey:
        """A master key from a passphrase, stretched with scrypt at this cost for new files."""
        if not isinstance(passphrase, str) or not passphrase:
            raise VaultError("the vault passphrase is empty")
        _check_scrypt_params(scrypt_n, scrypt_r, scrypt_p)
        return cls(KDF_SCRYPT, passphrase.encode(), scrypt_n, scrypt_r, scrypt_p, "passphrase")

    @classmethod
    def from_key_file(cls, path: str | os.PathLike[str]) -> MasterKey:
        """A master key from a file of at least 32 random bytes (surrounding whitespace ignored)."""
        path = Path(path)
        try:
            material = path.read_bytes().strip()
        except FileNotFoundError:
            raise VaultError(f"vault key file {path} does not exist") from None
        except OSError as exc:
            raise VaultError(f"cannot read vault key file {path}: {exc.strerror}") from None
        if len(material) < KEY_FILE_MIN_BYTES:
            raise VaultError(
                f"vault key file {path} holds {len(material)} bytes; it needs at least "
                f"{KEY_FILE_MIN_BYTES} (make one with `shriven secrets keygen PATH`)"
            )
        return cls(KDF_KEYFILE, material, source=str(path))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> MasterKey:
        """The master key named by SHRIVEN_VAULT_PASSPHRASE or SHRIVEN_VAULT_KEY_FILE."""
        passphrase = environ.get(PASSPHRASE_ENV)
        key_file = environ.get(KEY_FILE_ENV)
        if passphrase and key_file:
            raise VaultError(f"both {PASSPHRASE_ENV} and {KEY_FILE_ENV} are set; set only one")
        if key_file:
            return cls.from_key_file(key_file)
        if passphrase:
            return cls.from_passphrase(passphrase)
        raise VaultError(
            f"no vault master key: set {PASSPHRASE_ENV} (a passphrase) or "
            f"{KEY_FILE_ENV} (the path of a key file)"
        )

    def _new_kdf_header(self) -> dict[str, Any]:
        salt = base64.b64encode(_random.token_bytes(_SALT_BYTES)).decode()
        if self.kind == KDF_KEYFILE:
            return {"name": KDF_KEYFILE, "salt": salt}
        return {"name": KDF_SCRYPT, "n": self.scrypt_n, "r": self.scrypt_r, "p": self.scrypt_p, "salt": salt}

    def _derive(self, kdf: Mapping[str, Any]) -> bytes:
        """The 256-bit file key for a header's kdf block; VaultError if the block is unusable."""
        name = kdf.get("name")
        salt = _b64(kdf.get("salt"), "kdf salt")
        if name != self.kind:
            want = "a key file" if name == KDF_KEYFILE else "a passphrase"
            given = "a key file" if self.kind == KDF_KEYFILE else "a passphrase"
            if name not in (KDF_KEYFILE, KDF_SCRYPT):
                raise VaultError(f"the vault file names an unknown key derivation {name!r}")
            raise WrongPassphrase(f"this vault is locked by {want}, but {given} was given")
        if name == KDF_KEYFILE:
            hkdf = HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=salt, info=_HKDF_INFO)
            return hkdf.derive(self.material)
        n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
        _check_scrypt_params(n, r, p)
        return Scrypt(salt=salt, length=_KEY_BYTES, n=n, r=r, p=p).derive(self.material)


def _check_scrypt_params(n: Any, r: Any, p: Any) -> None:
    ok = (
        all(type(v) is int for v in (n, r, p))
        and _SCRYPT_N_RANGE[0] <= n <= _SCRYPT_N_RANGE[1]
        and n & (n - 1) == 0
        and _SCRYPT_R_RANGE[0] <= r <= _SCRYPT_R_RANGE[1]
        and _SCRYPT_P_RANGE[0] <= p <= _SCRYPT_P_RANGE[1]
    )
    if not ok:
        raise VaultError(
            "unsupported scrypt parameters (n a power of two in [2**10, 2**22], "
            "r in [1, 32], p in [1, 16])"
        )


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise VaultError(f"the vault file is damaged: {what} is missing")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VaultError(f"the vault file is damaged: {what} is not base64") from None


def generate_key_file(path: str | os.PathLike[str]) -> Path:
    """Write a new random key file (64 hex characters, mode 0600); never overwrites one."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(_random.token_hex(_KEY_BYTES) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path


def validate_name(name: str) -> str:
    """The name, if it is 1-128 characters of A-Z a-z 0-9 _ . - (so it is safe in messages)."""
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        # The rejected text is not echoed: a value pasted as a name must not reach the terminal.
        raise ValueError(
            "invalid secret name: use 1-128 characters of A-Z a-z 0-9 _ . - "
            "(for example exchange.binance.api_key)"
        )
    return name


def default_vault_path(settings: Settings) -> Path:
    """``<state_dir>/secrets.vault``: the vault lives beside the platform's other local state."""
    state_dir = settings.state_dir
    if "://" in state_dir:
        raise VaultError(f"the vault must be on a local disk, but state_dir is {state_dir}")
    return Path(state_dir) / VAULT_FILE_NAME


class Vault:
    """An encrypted name -> secret store in one file, safe to share between processes."""

    def __init__(self, path: Path, master: MasterKey, clock: Callable[[], float]) -> None:
        """Use :meth:`create`, :meth:`open` or :meth:`open_or_create`."""
        self._path = Path(path)
        self._lock_path = self._path.with_name(self._path.name + ".lock")
        self._master = master
        self._clock = clock
        self._key_cache: tuple[str, bytes] | None = None  # (kdf header JSON, derived key)

    def __repr__(self) -> str:
        return f"Vault({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The vault file."""
        return self._path

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        master: MasterKey,
        clock: Callable[[], float] = time.time,
    ) -> Vault:
        """A new empty vault at ``path``; FileExistsError if a vault is already there."""
        vault = cls(Path(path), master, clock)
        vault._path.parent.mkdir(parents=True, exist_ok=True)
        with vault._locked(exclusive=True):
            if vault._path.exists():
                raise FileExistsError(f"a vault already exists at {vault._path}")
            vault._write(master, master._new_kdf_header(), {})
        log.info("created vault %s", vault._path)
        return vault

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        master: MasterKey,
        clock: Callable[[], float] = time.time,
    ) -> Vault:
        """The existing vault at ``path``, checked against ``master`` (WrongPassphrase if not)."""
        vault = cls(Path(path), master, clock)
        if not vault._path.exists():
            raise FileNotFoundError(
                f"no vault at {vault._path}; create one with `shriven secrets init` "
                "(or Vault.create)"
            )
        with vault._locked(exclusive=False):
            vault._load()
        return vault

    @classmethod
    def open_or_create(
        cls,
        path: str | os.PathLike[str],
        master: MasterKey,
        clock: Callable[[], float] = time.time,
    ) -> Vault:
        """Open the vault at ``path``, creating an empty one first if there is none."""
        try:
            return cls.open(path, master, clock)
        except FileNotFoundError:
            pass
        try:
            return cls.create(path, master, clock)
        except FileExistsError:  # another process created it meanwhile
            return cls.open(path, master, clock)

    # ---- public operations --------------------------------------------------------------

    def set(self, name: str, value: str | Secret) -> SecretInfo:
        """Store ``value`` under ``name``; the version increments when the name already exists."""
        validate_name(name)
        plain = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(plain, str):
            raise TypeError(f"a secret value is a str or Secret, not {type(value).__name__}")
        if not plain:
            raise ValueError(f"refusing to store an empty value for {name}")
        with self._locked(exclusive=True):
            header, records = self._load()
            now = float(self._clock())
            old = records.get(name)
            record = {
                "value": plain,
                "version": old["version"] + 1 if old else 1,
                "created_at": old["created_at"] if old else now,
                "updated_at": now,
            }
            records[name] = record
            self._write(self._master, header["kdf"], records)
        log.info("vault %s: set %s (version %d)", self._path, name, record["version"])
        return _info(name, record)

    def get(self, name: str) -> Secret:
        """The secret stored under ``name``; SecretNotFound names it when absent."""
        secret = self.get_optional(name)
        if secret is None:
            raise SecretNotFound(
                f"no secret named {name} in vault {self._path}; "
                f"add it with `shriven secrets set {name}`"
            )
        return secret

    def get_optional(self, name: str) -> Secret | None:
        """The secret stored under ``name``, or None (for optional credentials)."""
        validate_name(name)
        with self._locked(exclusive=False):
            _, records = self._load()
        record = records.get(name)
        return None if record is None else Secret(record["value"])

    def list(self) -> builtins.list[SecretInfo]:
        """Name, version and times of every secret, sorted by name; never the values."""
        with self._locked(exclusive=False):
            _, records = self._load()
        return [_info(name, records[name]) for name in sorted(records)]

    def delete(self, name: str) -> bool:
        """Remove ``name``; False when it was not there (nothing is written then)."""
        validate_name(name)
        with self._locked(exclusive=True):
            header, records = self._load()
            if records.pop(name, None) is None:
                return False
            self._write(self._master, header["kdf"], records)
        log.info("vault %s: deleted %s", self._path, name)
        return True

    def rotate(self, new_master: MasterKey) -> None:
        """Re-encrypt everything under ``new_master`` with a fresh salt; the old key stops working."""
        with self._locked(exclusive=True):
            _, records = self._load()
            self._write(new_master, new_master._new_kdf_header(), records)
            self._master = new_master
        log.info("vault %s: rotated the master key (%d secrets)", self._path, len(records))

    def reveal_all(self) -> set[str]:
        """Every plaintext value, for the log redaction filter only."""
        with self._locked(exclusive=False):
            _, records = self._load()
        return {record["value"] for record in records.values()}

    # ---- file handling ------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the vault's fcntl lock: exclusive for read-modify-write, shared for reads."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _load(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Read and decrypt the file: (header, records). Call under the lock."""
        try:
            with open(self._path, "rb") as f:
                data = f.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise VaultError(f"the vault file {self._path} disappeared") from None
        if len(data) > _MAX_FILE_BYTES:
            _damaged(self._path, "it is too large")
        lines = data.split(b"\n")
        if len(lines) != 3 or lines[2] != b"":
            _damaged(self._path, "it is not two lines")
        header_bytes, payload_text = lines[0], lines[1]
        try:
            header = json.loads(header_bytes)
        except (UnicodeDecodeError, ValueError):
            _damaged(self._path, "its header is not JSON")
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            _damaged(self._path, "it is not a shriven vault")
        if header.get("version") != FORMAT_VERSION or header.get("cipher") != CIPHER:
            raise VaultError(
                f"vault {self._path} has format version {header.get('version')!r} / cipher "
                f"{header.get('cipher')!r}; this build reads version {FORMAT_VERSION} {CIPHER}"
            )
        kdf = header.get("kdf")
        if not isinstance(kdf, dict):
            _damaged(self._path, "its header has no kdf block")
        try:
            payload = _b64(payload_text.decode("ascii"), "ciphertext")
        except UnicodeDecodeError:
            _damaged(self._path, "its ciphertext is not base64")
        if base64.b64encode(payload) != payload_text:  # stray bits in the last character
            _damaged(self._path, "its ciphertext is not canonical base64")
        if len(payload) < _NONCE_BYTES + 16:
            _damaged(self._path, "its ciphertext is truncated")
        key = self._key_for(kdf)
        try:
            body = AESGCM(key).decrypt(payload[:_NONCE_BYTES], payload[_NONCE_BYTES:], header_bytes)
        except InvalidTag:
            raise WrongPassphrase(f"cannot open vault {self._path}: {_WRONG_KEY}") from None
        try:
            records = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            records = None
        if not isinstance(records, dict) or not all(_valid_record(r) for r in records.values()):
            _damaged(self._path, "its decrypted body is malformed")
        return header, records

    def _key_for(self, kdf: Mapping[str, Any]) -> bytes:
        """The derived file key, cached while the salt and parameters stay the same."""
        tag = json.dumps(kdf, sort_keys=True)
        if self._key_cache is None or self._key_cache[0] != tag:
            self._key_cache = (tag, self._master._derive(kdf))
        return self._key_cache[1]

    def _write(
        self, master: MasterKey, kdf: dict[str, Any], records: dict[str, dict[str, Any]]
    ) -> None:
        """Encrypt and atomically replace the file. Call under the exclusive lock."""
        header = {"cipher": CIPHER, "format": FORMAT_NAME, "kdf": kdf, "version": FORMAT_VERSION}
        header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        tag = json.dumps(kdf, sort_keys=True)
        if master is self._master and self._key_cache is not None and self._key_cache[0] == tag:
            key = self._key_cache[1]
        else:
            key = master._derive(kdf)
        nonce = _random.token_bytes(_NONCE_BYTES)
        body = json.dumps(records, sort_keys=True, separators=(",", ":")).encode()
        ciphertext = AESGCM(key).encrypt(nonce, body, header_bytes)
        data = header_bytes + b"\n" + base64.b64encode(nonce + ciphertext) + b"\n"
        write_bytes_atomic(self._path, data, private=True)
        if master is self._master:
            self._key_cache = (tag, key)
        else:
            self._key_cache = None  # rotate() switches master right after this write
        log.debug("vault %s: wrote %d secrets (%d bytes)", self._path, len(records), len(data))


def _valid_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("value"), str)
        and type(record.get("version")) is int
        and isinstance(record.get("created_at"), int | float)
        and isinstance(record.get("updated_at"), int | float)
    )


def _info(name: str, record: Mapping[str, Any]) -> SecretInfo:
    return SecretInfo(name, record["version"], float(record["created_at"]), float(record["updated_at"]))


def _damaged(path: Path, why: str) -> NoReturn:
    raise VaultError(f"vault {path} is damaged, modified or not a vault file: {why}")
