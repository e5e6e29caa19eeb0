"""Everything the gateway's routes use, built once from settings (tests build their own).

The gateway never talks to the engine directly: orders and cancels go into the durable command
log, state comes back through the engine's status file, the kill-switch file and the lake views
(an in-memory DuckDB per gateway, so it never holds the warehouse file's lock).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from shriven.config import Settings
from shriven.engine.commands import CommandLog, commands_path
from shriven.engine.killswitch import KillSwitch
from shriven.engine.status import EngineStatus, read_status, status_path
from shriven.lake.views import create_views
from shriven.observability.logs import register_secret
from shriven.observability.metrics import METRICS_DIR_NAME
from shriven.security.api_keys import ApiKeyStore
from shriven.security.audit import AuditLog
from shriven.security.paths import api_keys_path, audit_directory, signing_key_path
from shriven.security.rate_limit import RateLimiter
from shriven.security.tokens import TokenIssuer, TokenSettings, load_or_create_signing_key
from shriven.signals.log import SignalLog

logger = logging.getLogger("shriven.gateway")

#: The vault entry holding the JWT signing key, when a vault is configured.
SIGNING_KEY_SECRET = "gateway.jwt_signing_key"
#: Lake views are re-created this often (a dataset that had no files gets its real view).
VIEWS_REFRESH_S = 10.0


def signing_key(settings: Settings, environ: Mapping[str, str]) -> bytes:
    """The JWT signing key: from the secrets vault when one is unlocked, else a 0600 key file."""
    if environ.get("SHRIVEN_VAULT_PASSPHRASE") or environ.get("SHRIVEN_VAULT_KEY_FILE"):
        from shriven.security.vault import MasterKey, Vault, default_vault_path

        path = default_vault_path(settings)
        if path.exists():
            vault = Vault.open(path, MasterKey.from_environ(environ))
            for value in vault.reveal_all():
                register_secret(value)  # no vault value may reach the gateway's logs
            secret = vault.get_optional(SIGNING_KEY_SECRET)
            if secret is not None:
                return secret.reveal().encode()
    return load_or_create_signing_key(signing_key_path(settings.state_dir))


@dataclass
class GatewayServices:
    """The gateway's collaborators; ``create_app`` takes one of these."""

    settings: Settings
    account: str
    tokens: TokenIssuer
    keys: ApiKeyStore
    limiter: RateLimiter
    token_limiter: RateLimiter
    audit: AuditLog
    commands: CommandLog
    kill_switch: KillSwitch
    signals: SignalLog
    prefect_api_url: str | None
    metrics_dir: Path
    clock_ns: Callable[[], int] = time.time_ns
    _views: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)
    _views_at: float = field(default=-1e18, repr=False)
    _views_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _status: EngineStatus | None = field(default=None, repr=False)
    _status_seen: tuple[int, int, int] | None = field(default=None, repr=False)
    _status_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> GatewayServices:
        """Build every collaborator from settings and the environment (the vault, Prefect's URL)."""
        env = os.environ if environ is None else environ
        g = settings.gateway
        account = g.account or settings.trading.account
        tokens = TokenIssuer(
            TokenSettings(secret=signing_key(settings, env), issuer=g.issuer, audience=g.audience, ttl_s=g.token_ttl_s),
            clock=clock,
        )  # fmt: skip
        return cls(
            settings=settings, account=account, tokens=tokens, keys=ApiKeyStore(api_keys_path(settings.state_dir), clock=clock),
            limiter=RateLimiter(g.rate_per_s, g.burst, clock=monotonic),
            token_limiter=RateLimiter(g.token_rate_per_s, g.token_burst, clock=monotonic),
            audit=AuditLog(audit_directory(settings.state_dir)), commands=CommandLog(commands_path(settings.trading_dir, account)),
            kill_switch=KillSwitch(settings.state_dir), signals=SignalLog(settings.signal_log_root, symbols=settings.universe),
            prefect_api_url=env.get("PREFECT_API_URL") or None,
            metrics_dir=Path(settings.state_dir) / METRICS_DIR_NAME,
        )  # fmt: skip

    def engine_status(self) -> EngineStatus | None:
        """The running (or last) engine's status file for the gateway's account, decoded again only
        when the engine has replaced it (one stat per request otherwise)."""
        path = status_path(self.settings.trading_dir, self.account)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)  # each rewrite is a rename: a new inode
        with self._status_lock:
            if seen != self._status_seen:
                self._status, self._status_seen = read_status(path), seen
            return self._status

    def query(self, sql: str, params: list | None = None) -> list[dict]:
        """Rows of a query over the lake views (a cursor per call: DuckDB connections aren't shared)."""
        with self._views_lock:
            if self._views is None:
                self._views = duckdb.connect()
            if time.monotonic() - self._views_at > VIEWS_REFRESH_S:
                # a dataset without files gets an empty placeholder view: redo it once files exist
                create_views(
                    self._views, self.settings.lake_root, audit_dir=audit_directory(self.settings.state_dir),
                    signals_root=self.settings.signal_log_root,
                )  # fmt: skip
                self._views_at = time.monotonic()
            cursor = self._views.cursor()
        try:
            rel = cursor.execute(sql, params or [])
            names = [d[0] for d in rel.description]
            return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the views connection (the app's shutdown)."""
        with self._views_lock:
            if self._views is not None:
                self._views.close()
                self._views = None
