"""Where the security state lives under ``<state_dir>``: one place, so the CLI that creates API
keys, the gateway that checks them and the warehouse that shows the audit always agree."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["api_keys_path", "audit_directory", "security_dir", "signing_key_path"]


def security_dir(state_dir: str | os.PathLike[str]) -> Path:
    """``<state_dir>/security``: API keys, the JWT signing key file, the audit log."""
    return Path(state_dir) / "security"


def api_keys_path(state_dir: str | os.PathLike[str]) -> Path:
    """The API key store (salted hashes only)."""
    return security_dir(state_dir) / "api_keys.json"


def signing_key_path(state_dir: str | os.PathLike[str]) -> Path:
    """The gateway's JWT signing key file, used when the secrets vault holds no key."""
    return security_dir(state_dir) / "jwt_signing.key"


def audit_directory(state_dir: str | os.PathLike[str]) -> Path:
    """The audit log's day partitions."""
    return security_dir(state_dir) / "audit"
