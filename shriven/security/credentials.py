"""Exchange credentials for connectors, read from the vault under ``exchange.<id>.*`` names."""

from __future__ import annotations

from dataclasses import dataclass

from shriven.security.vault import Secret, SecretNotFound, Vault, validate_name


@dataclass(frozen=True)
class ExchangeCredentials:
    """One exchange account's API credentials, still wrapped so they print as ``Secret('***')``."""

    api_key: Secret
    secret: Secret
    password: Secret | None = None


def credential_names(exchange_id: str) -> tuple[str, str, str]:
    """The vault names (api_key, secret, password) of an exchange's credentials."""
    prefix = f"exchange.{exchange_id}"
    validate_name(exchange_id)
    return f"{prefix}.api_key", f"{prefix}.secret", f"{prefix}.password"


def exchange_credentials(vault: Vault, exchange_id: str) -> ExchangeCredentials:
    """Credentials of ``exchange_id``; SecretNotFound names the missing vault entry."""
    api_key_name, secret_name, password_name = credential_names(exchange_id)
    return ExchangeCredentials(
        api_key=vault.get(api_key_name),
        secret=vault.get(secret_name),
        password=vault.get_optional(password_name),
    )


def as_ccxt_config(creds: ExchangeCredentials) -> dict[str, str]:
    """The ccxt constructor keys in clear: the one place values leave Secret, for a connector.

    Pass the result straight to the ccxt exchange constructor and never log, store or return it.
    """
    config = {"apiKey": creds.api_key.reveal(), "secret": creds.secret.reveal()}
    if creds.password is not None:
        config["password"] = creds.password.reveal()
    return config


__all__ = [
    "ExchangeCredentials",
    "SecretNotFound",
    "as_ccxt_config",
    "credential_names",
    "exchange_credentials",
]
