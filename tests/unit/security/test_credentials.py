"""Exchange credentials read from the vault for connectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from shriven.security.credentials import (
    ExchangeCredentials,
    as_ccxt_config,
    credential_names,
    exchange_credentials,
)
from shriven.security.vault import MasterKey, Secret, SecretNotFound, Vault

API_KEY = "binance-api-key-0123456789"
SECRET = "binance-secret-abcdefghij"
PASSWORD = "okx-passphrase-zyxwvut"


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    master = MasterKey.from_passphrase("credentials-test-passphrase", scrypt_n=2**10)
    return Vault.create(tmp_path / "secrets.vault", master)


def test_credentials_without_password(vault: Vault) -> None:
    vault.set("exchange.binance.api_key", API_KEY)
    vault.set("exchange.binance.secret", SECRET)
    creds = exchange_credentials(vault, "binance")
    assert creds == ExchangeCredentials(Secret(API_KEY), Secret(SECRET), None)
    assert as_ccxt_config(creds) == {"apiKey": API_KEY, "secret": SECRET}
    assert API_KEY not in repr(creds)
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)


def test_credentials_with_password(vault: Vault) -> None:
    for name, value in zip(credential_names("okx"), (API_KEY, SECRET, PASSWORD), strict=True):
        vault.set(name, value)
    creds = exchange_credentials(vault, "okx")
    assert creds.password == Secret(PASSWORD)
    assert as_ccxt_config(creds) == {"apiKey": API_KEY, "secret": SECRET, "password": PASSWORD}
    assert PASSWORD not in repr(creds)


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ((), "exchange.kraken.api_key"),
        (("exchange.kraken.api_key",), "exchange.kraken.secret"),
        (("exchange.kraken.secret",), "exchange.kraken.api_key"),
    ],
)
def test_missing_credential_names_the_vault_entry(
    vault: Vault, present: tuple[str, ...], missing: str
) -> None:
    for name in present:
        vault.set(name, "present-value-123")
    with pytest.raises(SecretNotFound, match=missing) as info:
        exchange_credentials(vault, "kraken")
    assert "present-value-123" not in str(info.value)
    assert f"shriven secrets set {missing}" in str(info.value)


def test_invalid_exchange_id(vault: Vault) -> None:
    with pytest.raises(ValueError, match="invalid secret name"):
        exchange_credentials(vault, "bin ance")
